"""Config files in configs/ by kind: which ones validate as a comparator config, or as another mode's config.

The kinds are those of `inference-lab schema` (`commands.schema.SCHEMAS`), so a mode that adds its config
type there is found here too. A mode whose package is missing simply has no configs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from ..config import load_config, read_mapping
from ..errors import UserError

SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class ConfigFile:
    name: str
    path: Path
    config: BaseModel


def config_files(configs_dir: Path) -> list[Path]:
    if not configs_dir.is_dir():
        return []
    return sorted(p for p in configs_dir.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def config_class(kind: str) -> type[BaseModel] | None:
    from ..commands.schema import SCHEMAS

    module_name, _, class_name = SCHEMAS[kind].partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return None


def configs_of_kind(configs_dir: Path, kind: str) -> tuple[list[ConfigFile], list[str]]:
    """(files that validate as `kind`, one-line problems of files that name `kind`'s keys but do not validate)."""
    model_cls = config_class(kind)
    if model_cls is None:
        return [], []
    found, problems = [], []
    own_keys = set(model_cls.model_fields)
    for path in config_files(configs_dir):
        try:
            found.append(ConfigFile(path.stem, path, load_config(model_cls, path)))
        except UserError as err:
            try:
                keys = set(read_mapping(path))
            except UserError:
                keys = set()
            if keys and len(keys & own_keys) / len(keys) > 0.8:  # meant as this kind, but broken
                problems.append(str(err))
    return found, problems
