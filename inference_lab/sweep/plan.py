"""The `sweep` block of a mode's config and its expansion into points (pure: no I/O, no model imports).

Shape (every key is a dotted path into the mode's config, meaning exactly what `--set key.sub=value` means):

    "sweep": {
      "grid":    {"batch_size": [1, 2, 4], "methods_to_test": [["standard"], ["batched"]]},
      "zip":     [{"cache_implementation": ["dynamic", "static"], "max_new_tokens": [32, 64]}],
      "repeats": 2
    }

- each `grid` key is one axis; each `zip` group is one axis whose lists advance together (equal lengths);
- the plan is the Cartesian product of all axes (grid keys in their order, then zip groups), times `repeats`;
- repeats are the outer loop (the whole grid, then the whole grid again), so a slow drift of the machine
  spreads over every configuration instead of landing on one.

A point's id is a hash of its values and repeat index, so the same plan always names the same folders,
whatever the order of keys in the file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, ValidationError

from ..core.config import StrictModel, apply_overrides, format_validation_error
from ..core.errors import UserError
from . import SWEEP_KEY


class SweepSpec(StrictModel):
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="key -> values; one axis per key")
    zip: list[dict[str, list[Any]]] = Field(
        default_factory=list, description="groups of keys whose value lists advance together (equal lengths)")
    repeats: int = Field(1, ge=1, le=1000, description="how many times each point is measured (each in its own "
                                                       "process)")

    def keys(self) -> list[str]:
        return list(self.grid) + [key for group in self.zip for key in group]

    def axes(self) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        """[(keys, value tuples)] in plan order: one single-key axis per grid key, one axis per zip group."""
        axes = [([key], [(v,) for v in values]) for key, values in self.grid.items()]
        axes += [(list(group), list(zip(*group.values()))) for group in self.zip]
        return axes

    def size(self) -> int:
        count = self.repeats
        for _keys, values in self.axes():
            count *= len(values)
        return count

    def shape(self) -> str:
        """'5 batch_size x 3 methods_to_test x 2 repeats' (how the size comes about)."""
        parts = [f"{len(values)} {'+'.join(keys)}" for keys, values in self.axes()]
        parts.append(f"{self.repeats} repeat{'s' if self.repeats > 1 else ''}")
        return " x ".join(parts)


def check_spec(spec: SweepSpec) -> None:
    """The rules pydantic's types cannot say; the first broken one as a ValueError naming the key."""
    for key, values in spec.grid.items():
        _check_axis(f"sweep.grid.{key}", key, values)
    for n, group in enumerate(spec.zip):
        if not group:
            raise ValueError(f"sweep.zip[{n}]: empty group; give it keys mapped to lists")
        lengths = {key: len(values) for key, values in group.items()}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{k} has {v}" for k, v in lengths.items())
            raise ValueError(f"sweep.zip[{n}]: lists must have equal lengths ({sizes})")
        for key, values in group.items():  # a value may repeat down one list of a zip group...
            _check_axis(f"sweep.zip[{n}].{key}", key, values, unique=False)
        rows = [canonical(dict(zip(group, row))) for row in zip(*group.values())]
        for i, row in enumerate(rows):  # ...but not a whole row: that would be the same point twice
            if row in rows[:i]:
                raise ValueError(f"sweep.zip[{n}]: row {row} is listed twice")
    keys = spec.keys()
    for i, a in enumerate(keys):
        if a in keys[i + 1:]:
            raise ValueError(f"sweep: key '{a}' is swept twice (in grid and zip, or in two zip groups)")
        for b in keys:
            if b.startswith(a + "."):  # 'inference' and 'inference.chunk_size' would overwrite each other
                raise ValueError(f"sweep: keys '{a}' and '{b}' overlap; sweep the section or its key, not both")
    if not keys and spec.repeats == 1:
        raise ValueError("sweep: nothing to sweep; add grid with a key mapped to a list of values (or repeats > 1)")


def _check_axis(where: str, key: str, values: list[Any], unique: bool = True) -> None:
    if not key or key.startswith(".") or key.endswith(".") or ".." in key:
        raise ValueError(f"{where}: not a key path (use dotted names like inference.chunk_size)")
    if key == SWEEP_KEY or key.startswith(SWEEP_KEY + "."):
        raise ValueError(f"{where}: a sweep cannot sweep itself")
    if not values:
        raise ValueError(f"{where}: empty list; give at least one value")
    seen: set[str] = set()
    for value in values if unique else []:
        text = canonical(value)
        if text in seen:
            raise ValueError(f"{where}: value {text} is listed twice")
        seen.add(text)


@dataclass(frozen=True)
class Point:
    id: str
    label: str
    values: dict[str, Any]
    repeat: int
    config: dict[str, Any] = field(repr=False, compare=False)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def point_id(values: dict[str, Any], repeat: int) -> str:
    return hashlib.sha256(canonical({"values": values, "repeat": repeat}).encode()).hexdigest()[:10]


def value_text(value: Any) -> str:
    """How a value reads in a label: strings bare, lists joined with '+', anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return "+".join(str(v) for v in value)
    return canonical(value)


def point_label(values: dict[str, Any], repeat: int = 0, repeats: int = 1) -> str:
    parts = [f"{key}={value_text(value)}" for key, value in values.items()]
    return ",".join(parts + ([f"repeat={repeat + 1}"] if repeats > 1 else []))


class _Holder(StrictModel):
    """Validating {"sweep": block} makes pydantic's own messages name 'sweep.grid.x' rather than 'grid.x'."""

    sweep: SweepSpec


def parse_spec(block: Any, source: str = "config") -> SweepSpec:
    if isinstance(block, SweepSpec):
        spec = block
    else:
        try:
            spec = _Holder.model_validate({SWEEP_KEY: block}).sweep
        except ValidationError as err:
            raise UserError(format_validation_error(err, _Holder, source)) from None
    try:
        check_spec(spec)
    except ValueError as err:
        raise UserError(f"{source}: {err}") from None
    return spec


def split_sweep(data: dict[str, Any], source: str = "config") -> tuple[dict[str, Any], SweepSpec | None]:
    """(the config without its sweep block, the parsed block or None)."""
    if SWEEP_KEY not in data:
        return dict(data), None
    base = {k: v for k, v in data.items() if k != SWEEP_KEY}
    return base, parse_spec(data[SWEEP_KEY], source)


def apply_values(base_config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The base config with each dotted key set, exactly as `--set key=value` would (one code path for both)."""
    return apply_overrides(base_config, [f"{key}={canonical(value)}" for key, value in values.items()])


def expand(base_config: dict[str, Any], sweep: SweepSpec | dict[str, Any]) -> list[Point]:
    spec = parse_spec(sweep)
    if SWEEP_KEY in base_config:
        raise UserError("expand: remove the sweep block from the base config first (split_sweep)")
    axes = spec.axes()
    points: list[Point] = []
    for repeat in range(spec.repeats):
        for combination in itertools.product(*(values for _keys, values in axes)):
            values: dict[str, Any] = {}
            for (keys, _all), chosen in zip(axes, combination):
                values.update(zip(keys, chosen))
            points.append(Point(id=point_id(values, repeat), label=point_label(values, repeat, spec.repeats),
                                values=values, repeat=repeat, config=apply_values(base_config, values)))
    return points
