"""The MCQ mode on screen: accuracy per subject and variant (base, adapter), the other normalisations, time and
forward passes; a one-line description; the preview shown before a run. Pure: no torch."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ...ui.console import compact_table, fmt_seconds

NORMALISATIONS = ("sum", "per_token", "per_char")


CAPTION = "overall accuracy [95% Wilson interval over the questions]"


def _with_ci(variant: dict) -> str:
    ci = variant.get("accuracy_ci")
    return f"{variant['accuracy']:.1%}" + (f" [{ci[0]:.0%}-{ci[1]:.0%}]" if ci else "")


def table_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    variants = summary.get("variants") or []
    columns = ["subject", "n", *[v["variant"] for v in variants]]
    rows: list[list[str]] = []
    subjects = sorted({name for v in variants for name in v["per_subject"]})
    for subject in subjects:
        cells = []
        for v in variants:
            entry = v["per_subject"].get(subject)
            cells.append(f"{entry['accuracy']:.1%} ({entry['correct']}/{entry['n']})" if entry else "")
        n = next(v["per_subject"][subject]["n"] for v in variants if subject in v["per_subject"])
        rows.append([subject, str(n), *cells])
    if variants:
        rows.append(["overall", str(variants[0]["n_questions"]), *[_with_ci(v) for v in variants]])
        for norm in NORMALISATIONS:
            if norm != summary.get("normalisation"):
                accs = [f"{v['accuracy_by_normalisation'][norm]:.1%}" for v in variants]
                rows.append([f"overall, {norm}", "", *accs])
        rows.append(["time", "", *[fmt_seconds(v["seconds"]) for v in variants]])
        passes = [f"{v['forward_passes']} (batch {v['batch_size_used']})" for v in variants]
        rows.append(["forward passes", "", *passes])
    return columns, rows


def title(summary: dict) -> str:
    name = (summary.get("config") or {}).get("test_file", "?")
    how = f"{summary.get('scoring')} mode, {summary.get('normalisation')}"
    return f"{summary.get('run_id', '')}  ·  MCQ accuracy ({how}) on {Path(name).name}  ·  {summary.get('status', '')}"


def show(summary: dict, console: Console) -> None:
    columns, rows = table_rows(summary)
    table = compact_table(title=title(summary), caption=CAPTION)
    for column in columns:
        table.add_column(column, justify="left" if column == "subject" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for flag in summary.get("flags") or []:
        console.print(f"  ! {flag}", style="yellow")


def describe(summary: dict) -> str:
    variants = summary.get("variants") or []
    accs = ", ".join(f"{v['variant']} {v['accuracy']:.0%}" for v in variants)
    return f"{summary.get('questions', '?')} questions, {accs or 'no variant finished'}"


def preview(config) -> Table:
    from .data import read_mcq, resolve_data_file

    items = read_mcq(resolve_data_file(config.test_file), config.letters)
    n = min(len(items), config.limit) if config.limit else len(items)
    table = compact_table(title=f"What will run: {config.main_model} on {config.test_file}")
    table.add_column("setting")
    table.add_column("value")
    variants = "base" + (f" and {config.adapter}" if config.adapter else "")
    for key, value in (("questions", n), ("choices scored", sum(len(i.choices) for i in items[:n])),
                       ("variants", variants), ("scoring", config.mode), ("normalisation", config.normalisation),
                       ("batch size", config.batch_size)):
        table.add_row(key, str(value))
    return table


def markdown(summary: dict) -> str:
    from ...ui.html import markdown_table

    columns, rows = table_rows(summary)
    return "\n".join([title(summary), "", *markdown_table(columns, rows)])


