"""Where the menu reads configs and writes / browses comparator runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import InferenceConfig

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class MenuPaths:
    configs_dir: Path = REPO / "configs"
    output_dir: Path | None = None  # None: each config's own output_dir

    def results_dir(self) -> Path:
        return self.output_dir or Path(InferenceConfig.model_fields["output_dir"].default)
