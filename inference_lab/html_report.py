"""Reports people would rather look at than read: `report.html` (tables + plotly charts) and `summary.csv`.

`report.html` is self-contained: plotly.js is embedded once in the page, so it opens offline and can be
mailed around. Charts: tokens/s per method (median of runs, whiskers min..max), batch latency distribution
(one box per method, from results.jsonl) and peak memory per method. The table rows are the same
`tables.method_rows` the terminal and summary.md show, so the three never disagree.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from .results import BatchRecord, load_records
from .storage import write_text_atomic
from .tables import _header, columns, method_rows, notes_lines, rankings_lines

# Units in the names, one row per method; the same figures as summary.json, flattened.
CSV_COLUMNS = (
    "method", "base_method", "variant", "status", "effective_batch_size", "completions", "runs",
    "new_tokens_per_run", "tokens_per_s_median", "tokens_per_s_min", "tokens_per_s_max", "latency_median_ms",
    "latency_p90_ms", "latency_min_ms", "latency_max_ms", "ttft_median_ms", "tpot_median_ms", "peak_rss_mib",
    "peak_gpu_mib", "acceptance_rate", "tokens_per_forward", "reason", "notes",
)

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { color: #a33; } .muted { color: #666; font-size: 0.85rem; } ul.notes { list-style: none; padding: 0; }
"""


def _stat(stats: dict | None, key: str, scale: float = 1.0) -> float | None:
    if not stats or stats.get(key) is None:
        return None
    return round(stats[key] * scale, 4)


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


def csv_rows(summary: dict) -> list[dict]:
    """One flat row per method (pure)."""
    rows = []
    for m in summary["methods"]:
        tok, lat = m.get("run_tokens_per_s"), m.get("latency_s")
        rows.append({
            "method": m["method"], "base_method": m.get("base_method"), "variant": m.get("variant"),
            "status": m["status"], "effective_batch_size": m.get("effective_batch_size"),
            "completions": m.get("completions"), "runs": m.get("runs"),
            "new_tokens_per_run": m.get("new_tokens_per_run"),
            "tokens_per_s_median": _stat(tok, "median"), "tokens_per_s_min": _stat(tok, "min"),
            "tokens_per_s_max": _stat(tok, "max"),
            "latency_median_ms": _stat(lat, "median", 1000), "latency_p90_ms": _stat(lat, "p90", 1000),
            "latency_min_ms": _stat(lat, "min", 1000), "latency_max_ms": _stat(lat, "max", 1000),
            "ttft_median_ms": _stat(m.get("ttft_s"), "median", 1000),
            "tpot_median_ms": _stat(m.get("tpot_s"), "median", 1000),
            "peak_rss_mib": _mib(m.get("peak_rss_bytes")), "peak_gpu_mib": _mib(m.get("peak_gpu_bytes")),
            "acceptance_rate": m.get("acceptance_rate"), "tokens_per_forward": m.get("tokens_per_forward"),
            "reason": m.get("reason") or "", "notes": "; ".join(m.get("notes") or []),
        })
    return rows


def summary_csv(summary: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(summary):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


# --- charts ---------------------------------------------------------------------------------------------


def _measured(summary: dict) -> list[dict]:
    return [m for m in summary["methods"] if m.get("run_tokens_per_s")]


def figures(summary: dict, records: list[BatchRecord]) -> list:
    """(plotly Figures) tok/s per method, latency distribution, memory per method; empty parts left out."""
    import plotly.graph_objects as go

    layout = {"template": "plotly_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    measured = _measured(summary)
    out = []
    if measured:
        tok = [m["run_tokens_per_s"] for m in measured]
        out.append(go.Figure(
            go.Bar(x=[m["method"] for m in measured], y=[t["median"] for t in tok],
                   error_y={"type": "data", "symmetric": False, "array": [t["max"] - t["median"] for t in tok],
                            "arrayminus": [t["median"] - t["min"] for t in tok]},
                   hovertemplate="%{x}: %{y:,.1f} tok/s<extra></extra>"),
            layout={**layout, "title": "Throughput per method (median of runs; whiskers min..max)",
                    "yaxis_title": "new tokens / s"}))
    by_method: dict[str, list[float]] = {}
    for record in records:
        by_method.setdefault(record.method, []).append(record.latency_s * 1000)
    if by_method:
        out.append(go.Figure(
            [go.Box(y=values, name=method, boxpoints="all", jitter=0.3, pointpos=0, hovertemplate="%{y:.1f} ms")
             for method, values in by_method.items()],
            layout={**layout, "title": "Batch latency distribution (every timed batch)",
                    "yaxis_title": "latency per batch (ms)", "showlegend": False}))
    memory = [m for m in summary["methods"] if m.get("peak_rss_bytes") or m.get("peak_gpu_bytes")]
    if memory:
        names = [m["method"] for m in memory]
        bars = [go.Bar(name="peak RSS", x=names, y=[_mib(m.get("peak_rss_bytes")) for m in memory],
                       hovertemplate="%{x}: %{y:,.0f} MiB")]
        if any(m.get("peak_gpu_bytes") is not None for m in memory):
            bars.append(go.Bar(name="peak GPU", x=names, y=[_mib(m.get("peak_gpu_bytes")) for m in memory],
                               hovertemplate="%{x}: %{y:,.0f} MiB"))
        out.append(go.Figure(bars, layout={**layout, "title": "Peak memory per method", "barmode": "group",
                                           "yaxis_title": "MiB"}))
    return out


# --- page -----------------------------------------------------------------------------------------------


def _table_html(summary: dict) -> str:
    cols = columns(summary)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for m, row in zip(summary["methods"], method_rows(summary)):
        cells = "".join(f'<td class="{"" if c in {"method", "status / note"} else "num"}">{html.escape(v)}</td>'
                        for c, v in zip(cols, row))
        body.append(f'<tr class="{"" if m["status"] == "ok" else "bad"}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plotly_js() -> str | None:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs()


def render_html(summary: dict, records: list[BatchRecord]) -> str:
    esc = html.escape
    js = _plotly_js()
    charts = ([fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
               for fig in figures(summary, records)] if js else
              ['<p class="muted">Charts need the plotly package (pip install plotly).</p>'])
    work = summary["work"]
    env = summary["environment"]
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if v)
    notes = "".join(f"<li>{esc(line)}</li>" for line in notes_lines(summary))
    ranks = "".join(f"<li>{esc(line)}</li>" for line in rankings_lines(summary))
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(summary['run_id'])} · inference-lab</title><style>{_STYLE}</style>",
        f'<script type="text/javascript">{js}</script>' if js else "", "</head><body>",
        f"<h1>{esc(summary['run_id'])}</h1><p>{esc(_header(summary))}</p>",
        f'<p class="muted">{work["completions"]} completions x {work["num_runs"]} timed runs '
        f'(+{work["warmup_runs"]} warm-up), max_new_tokens {work["max_new_tokens"]}; wall time '
        f'{summary.get("wall_seconds", 0):.1f} s. p50/p90 = batch latency; tok/s = new tokens / wall time of a '
        "whole run (median of runs).</p>",
        _table_html(summary),
        f"<ul class='muted notes'>{notes}</ul>" if notes else "",
        f"<h2>Rankings</h2><ul>{ranks}</ul>" if ranks else "",
        "<h2>Charts</h2>", *charts,
        "<h2>Environment</h2>",
        f"<p class='muted'>{esc(str(env.get('device_name')))} ({esc(str(env.get('device')))}), Python "
        f"{esc(str(env.get('python')))}, {esc(packages)}; git {esc(str(env.get('git_commit')))}; seed "
        f"{esc(str(summary['config'].get('seed')))}</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_reports(folder: Path, summary: dict, records: list[BatchRecord] | None = None) -> tuple[Path, Path]:
    """Write `report.html` and `summary.csv` into the run folder; records default to its results.jsonl."""
    folder = Path(folder)
    if records is None:
        records = load_records(folder) if (folder / "results.jsonl").is_file() else []
    csv_path, html_path = folder / "summary.csv", folder / "report.html"
    write_text_atomic(csv_path, summary_csv(summary))
    write_text_atomic(html_path, render_html(summary, records))
    return html_path, csv_path
