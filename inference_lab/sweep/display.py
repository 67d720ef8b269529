"""What a sweep prints: the plan before anything runs, one line per finished point, the findings at the end."""

from __future__ import annotations

from rich.console import Console

from ..ui.console import compact_table
from .index import Entry
from .plan import Point
from .point import Outcome
from .report import BEST_COLUMNS, Findings, best_rows

PLAN_ROWS_SHOWN = 40  # a 500-point plan is summarised, not scrolled past


def plan_table(points: list[Point], problems: dict[str, str], statuses: dict[str, str] | None = None,
               title: str = ""):
    table = compact_table(title=title or None, title_justify="left")
    for column in ("#", "point", "values", "status" if statuses else "check"):
        table.add_column(column, justify="right" if column == "#" else "left", overflow="fold")
    for n, p in enumerate(points[:PLAN_ROWS_SHOWN], start=1):
        if statuses:
            note = statuses.get(p.id, "pending")
            note = {"ok": "[green]ok (kept)[/green]", "failed": "[red]failed (kept)[/red]"}.get(note, f"{note} -> run")
        else:
            note = f"[red]invalid: {problems[p.id]}[/red]" if p.id in problems else "[green]ok[/green]"
        table.add_row(str(n), p.id, p.label, note)
    if len(points) > PLAN_ROWS_SHOWN:
        table.add_row("...", "", f"and {len(points) - PLAN_ROWS_SHOWN} more points", "")
    return table


def point_line(done: int, total: int, entry: Entry, result: Outcome, seconds: float) -> str:
    colour = {"ok": "green", "failed": "red", "interrupted": "yellow"}[result.status]
    tail = f": {result.error}" if result.error and result.status != "ok" else ""
    where = f" on {entry.worker}" if entry.worker and entry.worker != "cpu" else ""
    return f"[{done}/{total}] {entry.label} [{colour}]{result.status}[/{colour}] in {seconds:.1f} s{where}{tail}"


def print_findings(console: Console, result: Findings) -> None:
    table = compact_table(title="Best configurations", title_justify="left")
    for column in BEST_COLUMNS:
        table.add_column(column, justify="left" if column in {"choice", "configuration", "note"} else "right",
                         overflow="fold")
    for row in best_rows(result):
        table.add_row(*row)
    console.print(table)
    if result.front:
        console.print("Pareto front (lowest latency first): " + " -> ".join(p.label for p in result.front))
    if result.knee is not None:
        k = result.knee
        console.print(f"Knee: {k.label} ({k.tokens_per_s:,.1f}/s at {k.latency_ms:,.1f} ms)")
