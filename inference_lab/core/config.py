"""The one place configs are read and validated, for every mode.

Every config is a pydantic model deriving from `StrictModel`: unknown keys are errors with a did-you-mean hint,
values are strict (no `true` for a number, no `"3"` for an int), numbers are finite. `load_config` turns a JSON or
YAML file (plus `--set key=value` overrides) into one, and any problem into a one-line `UserError` naming the
file (with its line for syntax errors), the field and the value.

Two things every config accepts besides its own keys:
- `$schema`: the JSON Schema URL/path an editor uses (`inference-lab schema MODE` writes one); ignored.
- Old spellings of this project's own keys (`RENAMED` on the model class): they still work, with a one-line
  notice on stderr naming the new key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UserError
from .storage import check_value, loads, read_text, write_text_atomic


class StrictModel(BaseModel):
    """Base of every config section. `RENAMED` maps an old key of this section to its new name."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)
    RENAMED: ClassVar[dict[str, str]] = {}


M = TypeVar("M", bound=BaseModel)
IGNORED_KEYS = ("$schema",)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes an annotation names (itself, or the members of a union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]


def _field_path(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """`section.key` (and list indexes) from pydantic's error location, without its union-member tags
    (`batch_size.int`, `batch_size.literal['auto']` both mean the field `batch_size`)."""
    parts: list[str] = []
    fields: dict[str, Any] | None = model_cls.model_fields
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
            fields = None
        elif fields is not None and part in fields:
            parts.append(str(part))
            models = _models_in(fields[part].annotation)
            fields = models[0].model_fields if len(models) == 1 else None
        elif fields is None and any(part == m.__name__ for m in _model_classes(model_cls)):
            fields = next(m for m in _model_classes(model_cls) if m.__name__ == part).model_fields
        elif fields is None and ("[" in str(part) or str(part) in _TYPE_TAGS):
            continue
        else:
            parts.append(str(part))
    return ".".join(parts) or "config"


_TYPE_TAGS = {"int", "float", "str", "bool", "none", "list", "dict", "tuple", "function-after", "function-before",
              "function-wrap", "function-plain"}


def _model_classes(model_cls: type[BaseModel]) -> list[type[BaseModel]]:
    found, todo = [], [model_cls]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo += [m for f in cls.model_fields.values() for m in _models_in(f.annotation)]
    return found


def _section_class(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model class at the level of `loc` (for did-you-mean hints)."""
    cls: Any = model_cls
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        models = _models_in(getattr(field, "annotation", None))
        if len(models) != 1:
            return None
        cls = models[0]
    return cls


def format_validation_error(err: ValidationError, model_cls: type[BaseModel], source: str = "config",
                            overridden: set[str] | None = None) -> str:
    """The first problem as one line: `<source>: field 'x': <why> (got <value>)`. A field given with --set is
    reported against `--set`, not against the file that did not say it."""
    errors = err.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    field = _field_path(model_cls, loc)
    if overridden and any(field == key or field.startswith(key + ".") or key.startswith(field + ".")
                          for key in overridden):
        source = "--set"
    if first["type"] == "extra_forbidden":
        section = _section_class(model_cls, loc)
        known = list(getattr(section, "model_fields", {})) if section else []
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"{source}: unknown key '{field}'{suggestion}"
    message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    if first["type"] in {"value_error", "assertion_error"} and not loc:
        return f"{source}: {message}"
    got = json.dumps(first.get("input"), default=str)
    if len(got) > 80:
        got = got[:77] + "..."
    more = len({_field_path(model_cls, tuple(e["loc"])) for e in errors} - {field})
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: field '{field}': {message} (got {got}){tail}"


def rename_keys(model_cls: type[BaseModel], data: dict[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """Old key spellings -> current ones, section by section, with one notice line per renamed key."""
    out = dict(data)
    for old, new in getattr(model_cls, "RENAMED", {}).items():
        if old in out:
            if new in out:
                raise UserError(f"{source}: both '{prefix}{old}' (old spelling) and '{prefix}{new}' are set; "
                                f"keep '{new}'")
            out[new] = out.pop(old)
            print(f"notice: {source}: key '{prefix}{old}' is now '{prefix}{new}' (the old spelling still works)",
                  file=sys.stderr)
    for name, field in model_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(out.get(name), dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = rename_keys(annotation, out[name], source, f"{prefix}{name}.")
    return out


def validate_config(model_cls: type[M], data: dict[str, Any], source: str = "config",
                    overridden: set[str] | None = None) -> M:
    """`data` as `model_cls`, or one UserError line. `overridden`: the dotted keys that came from --set."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        check_value(data, allow_escaped_bytes=True)  # file names from the command line may carry such bytes
    except ValueError as err:
        raise UserError(f"{source}: {err}") from None
    data = {k: v for k, v in data.items() if k not in IGNORED_KEYS}
    data = rename_keys(model_cls, data, source)
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        raise UserError(format_validation_error(err, model_cls, source, overridden)) from None


def _syntax_error(path: Path, err: Exception) -> UserError:
    line = getattr(err, "lineno", None)
    mark = getattr(err, "problem_mark", None)  # yaml
    if line is None and mark is not None:
        line = mark.line + 1
    where = f"{path}:{line}" if line else str(path)
    kind = "YAML" if path.suffix.lower() in {".yaml", ".yml"} else "JSON"
    reason = getattr(err, "msg", None) or getattr(err, "problem", None) or (str(err).splitlines() or [""])[0]
    reason = " ".join(str(reason).split()) or type(err).__name__
    return UserError(f"{where}: not valid {kind} ({reason})")


def read_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """Read a JSON or YAML file into a dict; a missing or unparsable file is a UserError naming it."""
    path = Path(path)
    text = read_text(path, what)
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
            check_value(data)
        else:
            data = loads(text)
    except Exception as err:  # json and yaml errors both carry a line number
        raise _syntax_error(path, err) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys to values at the top level")
    return data


def flatten_keys(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested settings as dotted keys (to list what differs between two)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten_keys(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value); the value is read as JSON when it parses, else as a string."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise UserError(f"--set {item!r}: expected key=value (key may be dotted: section.key)")
    try:
        value = json.loads(raw, parse_constant=lambda name: name)  # NaN/Infinity stay text, which no number field takes
    except (ValueError, RecursionError):
        value = raw  # not JSON: the text itself
    try:
        check_value(value, allow_escaped_bytes=True)
    except ValueError as err:
        raise UserError(f"--set {key.strip()}: {err}") from None
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides or []:
        keys, value = parse_override(item)
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise UserError(f"--set {item!r}: '{key}' is not a section")
        target[keys[-1]] = value
    return data


def overridden_keys(overrides: list[str] | None) -> set[str]:
    return {".".join(parse_override(item)[0]) for item in overrides or []}


def load_config(model_cls: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    data = read_mapping(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    return validate_config(model_cls, apply_overrides(data, overrides), source, overridden_keys(overrides))


def config_dict(config: BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json")


# Where results go is not what was measured: a run folder can be moved, and the same config run elsewhere is the
# same work. These keys are left out of a config's identity (its hash, resume checks, compare).
PLACEMENT_KEYS = ("output_dir",)


def config_identity(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in PLACEMENT_KEYS}


def config_hash(config: BaseModel | dict) -> str:
    """A stable hash of what a config measures (key order and placement keys do not matter)."""
    data = config_dict(config) if isinstance(config, BaseModel) else config
    return hashlib.sha256(json.dumps(config_identity(data), sort_keys=True).encode()).hexdigest()[:16]


def save_config(config: BaseModel, path: str | Path) -> Path:
    path = Path(path)
    payload = config_dict(config)
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        text = yaml.safe_dump(payload, sort_keys=False)
    else:
        text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def json_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    schema = model_cls.model_json_schema()
    # Configs may name their schema ($schema), so the schema must allow that key.
    schema.setdefault("properties", {})["$schema"] = {"type": "string", "description": "JSON Schema of this file"}
    return schema


# A seed every library accepts (torch, numpy, random): the per-batch offsets added to it stay far below 2**64.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, description="random seed (0 to 2^32 - 1)")]
