"""The prompts step (add / edit / remove) and the completions step (one number, or one per prompt).

When the prompt count changes and num_completions is a per-prompt list, the list follows (a new prompt gets
the last count, a removed prompt takes its count with it), so the config stays valid between steps.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from .fields import problem
from .io import UI, Back


def prompts_table(data: dict[str, Any]) -> Table:
    counts = data.get("num_completions", 3)
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    table.add_column("prompt", overflow="fold")
    table.add_column("completions", justify="right")
    for i, prompt in enumerate(data["prompts"]):
        table.add_row(str(i + 1), prompt, str(counts[i] if isinstance(counts, list) else counts))
    return table


def _with_prompts(data: dict[str, Any], prompts: list[str], removed: int | None = None) -> dict[str, Any]:
    counts = data.get("num_completions", 3)
    if isinstance(counts, list):
        counts = [c for i, c in enumerate(counts) if i != removed]
        counts = (counts + [counts[-1] if counts else 1] * len(prompts))[: len(prompts)]
    return {**data, "prompts": prompts, "num_completions": counts}


def _ask_prompt_text(ui: UI, data: dict[str, Any], message: str, default: str = "") -> str:
    # Checked as a one-prompt config: only the prompt's own rules apply, not the completions count.
    def validate(text: str) -> bool | str:
        return problem({**data, "num_completions": 1}, "prompts", [text]) or True

    return ui.text(message, default=default, validate=validate).strip()


def _pick_prompt(ui: UI, data: dict[str, Any], message: str) -> int:
    options = [(f"{i + 1}. {p[:70]}{'...' if len(p) > 70 else ''}", i) for i, p in enumerate(data["prompts"])]
    return ui.select(message, options)


def edit_prompts(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    """Loop until 'Done'; Ctrl-C inside an action returns to this list, Ctrl-C at the list raises Back."""
    while True:
        ui.say(prompts_table(data))
        count = len(data["prompts"])
        action = ui.select("Prompts: add, edit or remove, then Done",
                           [(f"Done ({count} prompt{'s' * (count != 1)})", "done"), ("Add a prompt", "add"),
                            ("Edit a prompt", "edit"), ("Remove a prompt", "remove")])
        if action == "done":
            return data
        try:
            if action == "add":
                data = _with_prompts(data, [*data["prompts"], _ask_prompt_text(ui, data, "New prompt")])
            elif action == "edit":
                index = _pick_prompt(ui, data, "Edit which prompt?")
                prompts = list(data["prompts"])
                prompts[index] = _ask_prompt_text(ui, data, f"Prompt {index + 1}", default=prompts[index])
                data = {**data, "prompts": prompts}
            elif count == 1:
                ui.say("A config needs at least one prompt: add another before removing this one.", style="yellow")
            else:
                index = _pick_prompt(ui, data, "Remove which prompt?")
                data = _with_prompts(data, [p for i, p in enumerate(data["prompts"]) if i != index], removed=index)
        except Back:
            continue


def ask_completions(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    counts = data.get("num_completions", 3)
    per_prompt = ui.select("num_completions: completions per prompt",
                           [("The same number for every prompt", False), ("A number per prompt", True)],
                           default=isinstance(counts, list))

    def number(message: str, default: int, check) -> int:
        def validate(text: str) -> bool | str:
            try:
                value = int(text.strip())
            except ValueError:
                return "enter a whole number"
            return check(value) or True

        return int(ui.text(message, default=str(default), validate=validate).strip())

    if not per_prompt:
        value = number("Completions for every prompt", counts[0] if isinstance(counts, list) else counts,
                       lambda v: problem(data, "num_completions", v))
        return {**data, "num_completions": value}
    values: list[int] = []
    for i, prompt in enumerate(data["prompts"]):
        default = counts[i] if isinstance(counts, list) else counts
        values.append(number(f"Completions for prompt {i + 1} ({prompt[:40]})", default,
                             lambda v: problem(data, "num_completions", [v] * len(data["prompts"]))))
    return {**data, "num_completions": values}
