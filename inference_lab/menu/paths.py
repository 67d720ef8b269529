"""Where the menu reads configs and writes / browses runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..presets import CONFIGS


def default_configs_dir() -> Path:
    """`./configs` when the current folder has one (a checkout or the user's own), else the packaged presets."""
    local = Path("configs")
    return local if local.is_dir() else CONFIGS


@dataclass(frozen=True)
class MenuPaths:
    configs_dir: Path = None  # type: ignore[assignment]  # set in __post_init__
    output_dir: Path | None = None  # None: each config's own output_dir

    def __post_init__(self) -> None:
        if self.configs_dir is None:
            object.__setattr__(self, "configs_dir", default_configs_dir())

    def results_dir(self) -> Path:
        return self.output_dir or Path("results")
