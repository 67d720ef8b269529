"""What a config will run, before it runs: methods x prompts x completions, batches, tokens to generate.

`method_previews` is pure (no model): the same plans and batching the comparator uses (`build_plans`,
`planning.batches` / `per_prompt`), so the preview cannot disagree with the run. Token counts are upper
bounds: a completion stops early at its end-of-sequence token.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .config import MethodsConfig
from .planning import batches, flatten, per_prompt
from .registry import Skip, build_plans


@dataclass(frozen=True)
class MethodPreview:
    name: str
    rows_per_call: int | None  # None: skipped
    calls_per_run: int
    max_new_tokens: int  # upper bound over warm-up + timed runs
    notes: tuple[str, ...]


def method_previews(config: MethodsConfig) -> list[MethodPreview]:
    items = flatten(config.effective_prompts(), config.completions_per_prompt())
    assistant_error = None if config.assistant_model else "no assistant_model configured"
    previews = []
    for plan in build_plans(config, assistant_error=assistant_error):
        if isinstance(plan, Skip):
            previews.append(MethodPreview(plan.name, None, 0, 0, (plan.reason,)))
            continue
        groups = per_prompt(items) if plan.beams_per_prompt else batches(items, plan.batch_size)
        timed = len(items) * config.num_runs
        warm = len(groups[0]) * config.warmup_runs
        rows = max(len(g) for g in groups) if plan.beams_per_prompt else plan.batch_size
        previews.append(MethodPreview(plan.name, rows, len(groups), (timed + warm) * config.effective_max_new_tokens(),
                                      plan.notes))
    return previews


def total_tokens(previews: list[MethodPreview]) -> int:
    return sum(p.max_new_tokens for p in previews)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def preview_table(config: MethodsConfig, title: str = "What will run") -> Group:
    """The preview table with numbered notes under it (long notes would make every row three lines tall)."""
    previews = method_previews(config)
    counts = config.completions_per_prompt()
    per_prompt_text = str(counts[0]) if len(set(counts)) == 1 else "/".join(map(str, counts))
    runnable = sum(p.rows_per_call is not None for p in previews)
    prompts = len(config.effective_prompts())
    caption = (f"{_plural(runnable, 'method')} x {_plural(prompts, 'prompt')} x {per_prompt_text} "
               f"completions = {sum(counts)} completions per round; {_plural(config.num_runs, 'timed round')} "
               f"(+{config.warmup_runs} warm-up); up to {total_tokens(previews):,} new tokens in total "
               f"(max_new_tokens {config.effective_max_new_tokens()})"
               + ("; batch_size auto: rows per call settle at warm-up"
                  if config.effective_batch_size() == "auto" else "")
               + (f"; synthetic workload, {config.weights} weights" if config.workload is not None else ""))
    assistant = config.assistant_model or "none"
    table = Table(title=f"{title}: model {config.main_model}, assistant {assistant}, device {config.device}",
                  caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left")
    for name, justify in (("method", "left"), ("rows / call", "right"), ("calls / run", "right"),
                          ("new tokens (max)", "right"), ("notes", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    notes: list[str] = []
    for p in previews:
        refs = []
        for note in p.notes:
            if note not in notes:
                notes.append(note)
            refs.append(f"[{notes.index(note) + 1}]")
        if p.rows_per_call is None:
            table.add_row(p.name, "-", "-", "-", f"skipped {' '.join(refs)}", style="yellow")
        else:
            table.add_row(p.name, str(p.rows_per_call), str(p.calls_per_run), f"{p.max_new_tokens:,}", " ".join(refs))
    lines = Text("\n".join(f"  [{i}] {note}" for i, note in enumerate(notes, start=1)), style="dim")
    return Group(table, lines) if notes else Group(table)
