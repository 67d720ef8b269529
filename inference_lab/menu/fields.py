"""One question per config field, each answer validated by the same pydantic model the CLI uses.

The builder keeps `data` (a plain dict) valid at every step; a candidate answer is checked by validating
`{**data, key: answer}` as an `MethodsConfig`, and the first problem is shown under the prompt, so the
rules (ranges, known methods, completions vs prompts) live in config.py only. The question type follows
the field: a Literal is a list, a bool is yes/no, anything else is typed text with the current value filled in.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import ValidationError

from ..modes.methods.config import MethodsConfig
from .io import UI, Option

# Fields whose choices are not a plain Literal.
CHOICES: dict[str, list[Option]] = {
    "use_quantization": [("off", False), ("auto (4-bit only when CUDA is present)", "auto"),
                         ("4bit (bitsandbytes nf4)", "4bit"), ("8bit (bitsandbytes)", "8bit")],
    "device": [("auto (CUDA when present, else CPU)", "auto"), ("cpu", "cpu"), ("cuda", "cuda")],
}


def default_of(key: str) -> Any:
    return MethodsConfig.model_fields[key].get_default(call_default_factory=True)


def describe_field(key: str) -> str:
    return MethodsConfig.model_fields[key].description or ""


def problem(data: dict[str, Any], key: str, value: Any) -> str | None:
    """Why `value` is not acceptable for `key` given the rest of `data` (None when it is)."""
    try:
        MethodsConfig.model_validate({**data, key: value}, strict=False)  # typed text: "150" means 150 here
    except ValidationError as err:
        errors = err.errors()
        mine = [e for e in errors if e["loc"][:1] == (key,)] or errors
        first = mine[0]
        return first["msg"].removeprefix("Value error, ")
    return None


def coerce(data: dict[str, Any], key: str, value: Any) -> Any:
    """The value as the model stores it ("150" -> 150)."""
    return getattr(MethodsConfig.model_validate({**data, key: value}, strict=False), key)


def _literal_options(key: str) -> list[Option] | None:
    if key in CHOICES:
        return CHOICES[key]
    annotation = MethodsConfig.model_fields[key].annotation
    if typing.get_origin(annotation) is typing.Literal:
        return [(str(v), v) for v in typing.get_args(annotation)]
    return None


def _allows_none(key: str) -> bool:
    return type(None) in typing.get_args(MethodsConfig.model_fields[key].annotation)


def show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def ask_field(ui: UI, data: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask for one field; returns the updated data (Ctrl-C raises Back with `data` unchanged)."""
    current = data.get(key, default_of(key))
    instruction = f"(default {show(default_of(key))})"
    options = _literal_options(key)
    if describe_field(key) and key not in CHOICES:
        ui.say(f"[dim]{key}: {describe_field(key)}[/dim]")
    if options is not None:
        if not any(v == current and type(v) is type(current) for _t, v in options):  # e.g. device cuda:1
            options = [(f"{show(current)} (current)", current), *options]
        value = ui.select(key, options, default=current, instruction=instruction)
    elif MethodsConfig.model_fields[key].annotation is bool:
        value = ui.confirm(key, default=bool(current))
    else:
        def parse(text: str) -> Any:
            text = text.strip()
            return None if text in {"", "none"} and _allows_none(key) else text

        def validate(text: str) -> bool | str:
            return problem(data, key, parse(text)) or True

        text = ui.text(key, default="" if current is None else str(current), validate=validate,
                       instruction=instruction)
        value = parse(text)
    return {**data, key: coerce(data, key, value)}


def ask_fields(ui: UI, data: dict[str, Any], keys: tuple[str, ...], title: str) -> dict[str, Any]:
    """A group of fields behind one 'change them?' question showing their current values."""
    summary = ", ".join(f"{k} {show(data.get(k, default_of(k)))}" for k in keys)
    ui.say(f"[bold]{title}[/bold]: {summary}")
    if not ui.confirm(f"Change the {title.lower()}?", default=False):
        return data
    for key in keys:
        data = ask_field(ui, data, key)
    return data
