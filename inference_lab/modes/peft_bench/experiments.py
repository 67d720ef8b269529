"""Experiment folders: `experiments/<method>/<name>/` with an `adapter_config.json` (a fresh adapter, written by
`LoraConfig(...).save_pretrained`) and/or a `benchmark_params.json` (overrides; `adapter_path` there measures
a trained adapter instead). The experiments root is the nearest folder up the tree that holds
`default_benchmark_params.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.errors import UserError

ADAPTER_CONFIG = "adapter_config.json"
DEFAULTS_FILE = "default_benchmark_params.json"
OVERRIDES_FILE = "benchmark_params.json"


@dataclass(frozen=True)
class Experiment:
    path: Path
    root: Path  # the folder with default_benchmark_params.json

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def method(self) -> str:
        return self.path.parent.name

    @property
    def id(self) -> str:
        """`lora/lora_r8`: the path below the experiments root."""
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return f"{self.method}/{self.name}"

    @property
    def adapter_config_path(self) -> Path | None:
        path = self.path / ADAPTER_CONFIG
        return path if path.is_file() else None

    @property
    def defaults_path(self) -> Path:
        return self.root / DEFAULTS_FILE


def is_experiment_dir(path: Path) -> bool:
    return path.is_dir() and ((path / ADAPTER_CONFIG).is_file() or (path / OVERRIDES_FILE).is_file())


def find_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / DEFAULTS_FILE).is_file():
            return folder
    raise UserError(f"{start}: no {DEFAULTS_FILE} in this folder or any parent (it holds the shared settings)")


def discover(target: str | Path) -> list[Experiment]:
    """One experiment folder, or every experiment folder below `target` (sorted, so runs are reproducible)."""
    path = Path(target)
    if not path.exists():
        raise UserError(f"experiment path '{target}' does not exist")
    root = find_root(path.resolve())
    if is_experiment_dir(path):
        return [Experiment(path.resolve(), root)]
    found = sorted(p.parent for p in path.rglob(ADAPTER_CONFIG)) + sorted(p.parent for p in path.rglob(OVERRIDES_FILE))
    experiments = [Experiment(p.resolve(), root) for p in sorted(set(found)) if p.resolve() != root]
    if not experiments:
        raise UserError(f"'{target}': no experiment folders below it (each needs {ADAPTER_CONFIG} or {OVERRIDES_FILE})")
    return experiments
