"""What a model, adapter or data name in a config refers to: one rule, used by loading, the setup check and the
menu alike. Pure: no torch.

- a demo kit name (`demo`, `demo-lora`, `demo-tiny-task`, ...) -> its file in the kit (which must be built;
  commands build the kits their config names before they start);
- an existing local path -> itself;
- a name that is rooted (`/`, `.`, `~`) or has more than one `/` -> a local path that does not exist: an error;
- anything else (`name` or `org/name`) -> a Hugging Face hub id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core.errors import UserError
from ..demo_kit.names import demo_path

Kind = Literal["demo", "local", "missing", "hub"]


@dataclass(frozen=True)
class Name:
    kind: Kind
    text: str
    path: Path | None = None
    variant: str | None = None
    built: bool = True


def looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.strip("/").count("/") > 1


def classify(name: str) -> Name:
    demo = demo_path(name)
    if demo is not None:
        path, variant, built = demo
        return Name("demo", name, path, variant, built)
    path = Path(name).expanduser()
    if path.exists():
        return Name("local", name, path)
    if looks_local(name):
        return Name("missing", name, path)
    return Name("hub", name)


def resolve_source(name: str, field: str = "main_model") -> str:
    """A local path or a hub id that `from_pretrained` can take; a problem is a UserError naming `field`."""
    found = classify(name)
    if found.kind == "demo":
        if not found.built:
            raise UserError(f"{field}: the demo kit '{found.variant}' is not built yet (./run.sh demo builds it)")
        return str(found.path)
    if found.kind == "missing":
        raise UserError(f"{field}: path '{name}' does not exist")
    return str(found.path) if found.path else name


def resolve_file(name: str, field: str) -> Path:
    """A data file: a demo kit data name or a local file that must exist."""
    found = classify(name)
    if found.kind == "demo":
        if not found.built:
            raise UserError(f"{field}: the demo kit '{found.variant}' is not built yet (./run.sh demo builds it)")
        path = found.path
    else:
        path = Path(name).expanduser()
    if path.is_dir():
        raise UserError(f"{field}: {name} is a folder, not a file")
    if not path.is_file():
        raise UserError(f"{field}: file not found: {name}")
    return path
