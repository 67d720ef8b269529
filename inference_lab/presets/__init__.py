"""Presets shipped inside the package: configs (`configs/`) and the adapter benchmark's experiment templates
(`experiments/`). In a checkout, the repository's `configs/` and `experiments/` are links to these folders, so
`./run.sh run configs/quick.json` and an installed `inference-lab run quick` read the same file.

A config argument is a path when such a file exists, else the name of a preset (`quick`, `quick.json`).
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import UserError

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
EXPERIMENTS = HERE / "experiments"
SUFFIXES = (".json", ".yaml", ".yml")


def config_names() -> list[str]:
    return sorted(p.name for p in CONFIGS.iterdir() if p.suffix in SUFFIXES)


def find_config(name: str | Path) -> Path:
    path = Path(name).expanduser()
    if path.exists():
        return path
    for candidate in (CONFIGS / str(name), *(CONFIGS / f"{name}{suffix}" for suffix in SUFFIXES)):
        if candidate.is_file() and "/" not in str(name):
            return candidate
    raise UserError(f"config file not found: {name} (nor a preset of that name: {', '.join(config_names())})")


def default_config(name: str | None) -> Path | None:
    return CONFIGS / name if name else None


def experiments_root() -> Path:
    """`./experiments` when the current folder has one (a checkout, or the user's own), else the templates."""
    local = Path("experiments")
    return local if (local / "default_benchmark_params.json").is_file() else EXPERIMENTS
