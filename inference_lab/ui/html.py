"""The report files of every run folder: `report.html`, `summary.csv` and `summary.md`, from the `ReportParts` a
mode's report module builds. Pure rendering plus one writer; no torch.

`report.html` is self-contained: plotly.js is embedded once in the page, so it opens offline and can be mailed
around. Its head is the same for every mode (run id, mode, status and flags, where and how it ran); the body is
the mode's sections (tables, charts); the foot is the environment. `summary.csv` has one row per item (method,
variant, experiment, ...) and always starts with `run_id` and `mode`.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.rundir import CSV, HTML, MARKDOWN
from ..core.storage import write_text_atomic

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1150px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 0.5rem 0; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { color: #a33; } .muted { color: #666; font-size: 0.85rem; } ul.notes { list-style: none; padding: 0; }
.flag { background: #fff3cd; padding: 0.4rem 0.8rem; border-left: 4px solid #e0a800; margin: 0.5rem 0; }
pre { white-space: pre-wrap; font-size: 0.8rem; background: #f8f8f8; padding: 0.4rem; margin: 0; }
"""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    numeric: set[str] = field(default_factory=set)  # right-aligned columns
    bad_rows: set[int] = field(default_factory=set)  # indices of rows shown in red
    preformatted: set[str] = field(default_factory=set)  # columns holding long text (model responses)


@dataclass
class Section:
    title: str
    table: Table | None = None
    text: list[str] = field(default_factory=list)  # paragraphs / notes under the title
    figures: list = field(default_factory=list)  # plotly Figures


@dataclass
class ReportParts:
    """What a mode contributes to its run's report files."""

    csv_columns: list[str]
    csv_rows: list[dict]
    sections: list[Section]
    markdown: str


def render_csv(summary: dict, parts: ReportParts) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["run_id", "mode", *parts.csv_columns], lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in parts.csv_rows:
        full = {"run_id": summary.get("run_id"), "mode": summary.get("mode"), **row}
        writer.writerow({k: "" if v is None else v for k, v in full.items()})
    return buffer.getvalue()


def _cell(value: Any, column: str, table: Table) -> str:
    text = html.escape("" if value is None else str(value))
    if column in table.preformatted:
        return f"<td><pre>{text}</pre></td>"
    return f'<td class="{"num" if column in table.numeric else ""}">{text}</td>'


def table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    for index, row in enumerate(table.rows):
        cells = "".join(_cell(v, c, table) for c, v in zip(table.columns, row))
        body.append(f'<tr class="{"bad" if index in table.bad_rows else ""}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plotly_js() -> str | None:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs()


def header_line(summary: dict) -> str:
    env = summary.get("environment") or {}
    threads = (env.get("threads") or {}).get("intra_op")
    load = (env.get("machine") or {}).get("load_average")
    bits = [f"mode {summary.get('mode')}", f"status {summary.get('status')}",
            f"{env.get('device_name', '?')} ({env.get('device', '?')})"]
    if threads is not None:
        bits.append(f"{threads} torch thread{'s' * (threads != 1)}")
    if load:
        bits.append(f"load {load[0]:.2f} at start")
    return "  ·  ".join(bits)


def environment_line(summary: dict) -> str:
    env = summary.get("environment") or {}
    packages = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)
    machine = env.get("machine") or {}
    return (f"{machine.get('cpu_model', env.get('device_name', '?'))}, {machine.get('logical_cores', '?')} cores, "
            f"Python {env.get('python')}, {packages}; git {env.get('git_commit')}; config hash "
            f"{summary.get('config_hash')}")


def render_html(summary: dict, parts: ReportParts) -> str:
    esc = html.escape
    # plotly.js is 3.5 MB: embedded only in pages that have charts.
    js = _plotly_js() if any(section.figures for section in parts.sections) else None
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(str(summary.get('run_id')))} · inference-lab</title><style>{STYLE}</style>",
           f'<script type="text/javascript">{js}</script>' if js else "", "</head><body>",
           f"<h1>{esc(str(summary.get('run_id')))}</h1><p>{esc(header_line(summary))}</p>"]
    out += [f'<div class="flag">{esc(str(flag))}</div>' for flag in summary.get("flags") or []]
    for section in parts.sections:
        out.append(f"<h2>{esc(section.title)}</h2>")
        if section.table is not None:
            out.append(table_html(section.table))
        if section.text:
            out.append("<ul class='muted notes'>" + "".join(f"<li>{esc(t)}</li>" for t in section.text) + "</ul>")
        for fig in section.figures:
            if js:
                out.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
            else:
                out.append('<p class="muted">Charts need the plotly package (pip install plotly).</p>')
                break
    out += ["<h2>Environment</h2>", f"<p class='muted'>{esc(environment_line(summary))}</p>", "</body></html>"]
    return "\n".join(p for p in out if p)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "/").replace("\n", " ")
                                       for v in row) + " |")
    return lines


def write_report_files(folder: Path, summary: dict, parts: ReportParts) -> Path:
    """summary.csv, summary.md and report.html into the run folder; returns the HTML path."""
    folder = Path(folder)
    # Rebuilt from the run's records at any time: atomic, not fsync'd (see storage.write_text_atomic).
    write_text_atomic(folder / CSV, render_csv(summary, parts), durable=False)
    md_head = [f"# {summary.get('run_id')}", "", header_line(summary), ""]
    md_head += [f"> {flag}" for flag in summary.get("flags") or []]
    md_foot = ["", f"Environment: {environment_line(summary)}", ""]
    write_text_atomic(folder / MARKDOWN, "\n".join([*md_head, "", parts.markdown, *md_foot]), durable=False)
    return write_text_atomic(folder / HTML, render_html(summary, parts), durable=False)
