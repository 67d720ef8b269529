"""Sweeps from the menu: "sweep this key over these values" (writes the config's `sweep` block), the plan shown
before running, and running a sweep config through the same `run_sweep` as the CLI.

Any mode's config class works: keys are its fields (or a dotted key typed in), values a JSON list, each value
checked by applying it to the config the way `--set` would and validating the result with the mode's class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..core import signals
from ..core.config import config_dict
from ..core.errors import UserError
from ..modes import ModeInfo
from .io import UI

OTHER_KEY = "__dotted__"


def values_problem(info: ModeInfo, data: dict[str, Any], key: str, text: str) -> str | None:
    """Why `text` is not a usable value list for `key` (None when every value makes a valid config)."""
    from ..sweep.plan import apply_values, parse_spec
    from ..sweep.point import precheck

    try:
        values = json.loads(text)
    except ValueError:
        return 'a JSON list, e.g. [1, 2, 4] or ["dynamic", "static"]'
    if not isinstance(values, list):
        return "a JSON list in [ ], e.g. [1, 2, 4]"
    try:
        parse_spec({"grid": {key: values}})
    except UserError as err:
        return str(err).split(": ", 1)[-1]
    for value in values:
        reason = precheck(info.name, apply_values(data, {key: value}), f"{key}={json.dumps(value)}")
        if reason:
            return reason
    return None


def ask_sweep(ui: UI, info: ModeInfo, data: dict[str, Any], sweep: dict[str, Any] | None) -> dict[str, Any]:
    """One more axis for the sweep block: a key of the mode's config and its values (grid: every combination)."""
    fields = list(info.config_class.model_fields)
    swept = dict((sweep or {}).get("grid") or {})
    options = [(f"{k} (now {json.dumps(data.get(k))[:40]})", k) for k in fields if k not in swept and k != "output_dir"]
    key = ui.select("Sweep which key?", [*options, ("another key, dotted (e.g. workload.batch_size)", OTHER_KEY)])
    if key == OTHER_KEY:
        key = ui.text("Key (dotted for a section's key)", validate=lambda t: bool(t.strip()) or "enter a key").strip()
    current = data
    for part in key.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    values = ui.text(f"Values of {key} as a JSON list", default=json.dumps([current]) if current is not None else "",
                     validate=lambda text: values_problem(info, data, key, text) or True,
                     instruction="(each value becomes a point; e.g. [1, 2, 4, 8])")
    return {**(sweep or {}), "grid": {**swept, key: json.loads(values)}}


def plan_summary(data: dict[str, Any], sweep: dict[str, Any]) -> str:
    from ..sweep.plan import parse_spec

    spec = parse_spec(sweep)
    return f"sweep: {spec.size()} point{'s' * (spec.size() != 1)} = {spec.shape()}, each in its own process"


def show_plan(ui: UI, info: ModeInfo, data: dict[str, Any], sweep: dict[str, Any]) -> None:
    from ..sweep.display import plan_table
    from ..sweep.plan import expand
    from ..sweep.point import precheck

    points = expand(data, sweep)
    problems = {p.id: reason for p in points if (reason := precheck(info.name, p.config, f"point {p.id}"))}
    ui.say(plan_table(points, problems, title=plan_summary(data, sweep)))


def run_sweep_config(ui: UI, info: ModeInfo, config: BaseModel | dict[str, Any], sweep: dict[str, Any], label: str,
                     output_dir: str | Path | None = None) -> int:
    """Run a sweep the user has seen the plan of and confirmed; returns its exit code."""
    from ..sweep.runner import run_sweep

    data = config_dict(config) if isinstance(config, BaseModel) else dict(config)
    try:
        code = run_sweep(info.name, {**data, "sweep": sweep}, label=label, source=label, output=output_dir, yes=True,
                         console=ui.console, plan_shown=True, log=lambda m: ui.say(f"[dim]{m}[/dim]"))
    except KeyboardInterrupt:
        signals.reset()
        ui.say("interrupted before the sweep started", style="yellow")
        return 130
    if code >= 128:
        signals.reset()
    return code
