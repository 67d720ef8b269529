"""Config files in configs/ by mode: which ones validate as a given mode's config (the modes table says which
class that is), and one-line problems for files clearly meant as that mode's config that do not validate.

A config with a `sweep` block is one of its mode's configs too (listed as a sweep): the block is checked on its
own (`sweep.plan.parse_spec`) and the rest validated without it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..core.config import read_mapping, validate_config
from ..core.errors import UserError

SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class ConfigFile:
    name: str
    path: Path
    config: BaseModel  # without the sweep block
    sweep: dict[str, Any] | None = None  # the sweep block, when the file is a sweep


def load_config_file(model_cls: type[BaseModel], path: Path) -> ConfigFile:
    """One file as a config of `model_cls`, its sweep block (if any) checked and kept apart."""
    from ..sweep.plan import split_sweep

    base, spec = split_sweep(read_mapping(path), str(path))
    config = validate_config(model_cls, base, str(path))
    return ConfigFile(path.stem, path, config, spec.model_dump(mode="json", exclude_defaults=True) if spec else None)


def config_files(configs_dir: Path) -> list[Path]:
    if not configs_dir.is_dir():
        return []
    return sorted(p for p in configs_dir.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def config_class(kind: str) -> type[BaseModel] | None:
    from ..modes import find

    info = find(kind)
    return info.config_class if info is not None else None


def configs_of_kind(configs_dir: Path, kind: str) -> tuple[list[ConfigFile], list[str]]:
    """(files that validate as `kind`, one-line problems of files that name `kind`'s keys but do not validate)."""
    model_cls = config_class(kind)
    if model_cls is None:
        return [], []
    found, problems = [], []
    own_keys = set(model_cls.model_fields) | {"sweep"}
    for path in config_files(configs_dir):
        try:
            found.append(load_config_file(model_cls, path))
        except UserError as err:
            try:
                keys = set(read_mapping(path))
            except UserError:
                keys = set()
            if keys and len(keys & own_keys) / len(keys) > 0.8:  # meant as this kind, but broken
                problems.append(str(err))
    return found, problems
