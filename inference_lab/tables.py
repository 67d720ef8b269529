"""Tables of comparator runs: one run's methods (rich and Markdown) and several runs side by side.

Both renderings come from the same rows (`method_rows`), so the terminal, summary.md and the HTML report
never disagree.
"""

from __future__ import annotations

from rich.table import Table

from .report import compact_table, fmt_bytes, fmt_rate, fmt_seconds

# Units live in the headers so cells stay narrow enough for a 100-column terminal.
COLUMNS = ("method", "batch", "p50 ms", "p90 ms", "tok/s", "TTFT ms", "TPOT ms", "peak RSS MiB",
           "peak GPU MiB", "accept", "status / note")


def _median(stats: dict | None) -> float | None:
    return stats["median"] if stats else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def columns(summary: dict) -> list[str]:
    """All columns, less 'peak GPU MiB' for runs that had no GPU."""
    has_gpu = any(m.get("peak_gpu_bytes") is not None for m in summary["methods"])
    return [c for c in COLUMNS if has_gpu or c != "peak GPU MiB"]


def method_notes(summary: dict) -> list[str]:
    """Distinct notes and skip reasons, numbered in the order the methods reference them."""
    notes: list[str] = []
    for m in summary["methods"]:
        for note in ([m["reason"]] if m.get("reason") else []) + list(m.get("notes") or []):
            if note not in notes:
                notes.append(note)
    return notes


def method_rows(summary: dict) -> list[list[str]]:
    rows = []
    numbered = method_notes(summary)
    for m in summary["methods"]:
        own = ([m["reason"]] if m.get("reason") else []) + list(m.get("notes") or [])
        refs = [str(numbered.index(n) + 1) for n in own]
        notes = ",".join(dict.fromkeys(refs))
        notes = " ".join(part for part in (m["status"] if m["status"] != "ok" else "", f"[{notes}]" if notes else "")
                         if part)
        accept = m.get("acceptance_rate")
        tok_s = _median(m.get("run_tokens_per_s"))
        cells = {
            "method": m["method"],
            "batch": str(m.get("effective_batch_size") or "-"),
            "p50 ms": _ms(_median(m.get("latency_s"))),
            "p90 ms": _ms(m["latency_s"]["p90"] if m.get("latency_s") else None),
            "tok/s": "-" if tok_s is None else f"{tok_s:,.1f}",
            "TTFT ms": _ms(_median(m.get("ttft_s"))), "TPOT ms": _ms(_median(m.get("tpot_s"))),
            "peak RSS MiB": _mib(m.get("peak_rss_bytes")), "peak GPU MiB": _mib(m.get("peak_gpu_bytes")),
            "accept": f"{accept:.0%}" if accept is not None else "-", "status / note": notes,
        }
        rows.append([cells[c] for c in columns(summary)])
    return rows


def _header(summary: dict) -> str:
    env, main = summary["environment"], summary["models"]["main"]
    return (f"{summary['run_id']}  ·  {main['name']} on {env['device']} ({main['dtype']}, {main['attention']}, "
            f"quantization {main['quantization']})  ·  {summary['status']}")


def run_table(summary: dict) -> Table:
    work = summary["work"]
    table = compact_table(title=_header(summary),
                  caption=f"{work['completions']} completions x {work['num_runs']} timed runs "
                          f"(+{work['warmup_runs']} warm-up), max_new_tokens {work['max_new_tokens']}; "
                          "p50/p90 = batch latency; tok/s = new tokens / wall time of a whole run (median of runs)")
    for col in columns(summary):
        header = col.replace(" ms", "\nms").replace(" MiB", "\nMiB").replace("peak ", "peak\n")
        table.add_column(header, justify="left" if col in {"method", "status / note"} else "right", no_wrap=True)
    styles = {"ok": None, "skipped": "yellow", "unsupported": "yellow"}
    for m, row in zip(summary["methods"], method_rows(summary)):
        table.add_row(*row, style=styles.get(m["status"], "red"))
    return table


def notes_lines(summary: dict) -> list[str]:
    return [f"[{i}] {note}" for i, note in enumerate(method_notes(summary), start=1)]


def rankings_lines(summary: dict) -> list[str]:
    labels = {"fastest_tokens_per_s": "Fastest (tok/s)", "lowest_latency": "Lowest latency per batch",
              "lowest_ttft": "Lowest time to first token", "least_memory": "Least memory"}
    return [f"{labels[k]}: {v}" for k, v in summary.get("rankings", {}).items() if v]


def summary_markdown(summary: dict) -> str:
    cols = columns(summary)
    lines = [f"# {summary['run_id']}", "", _header(summary), "", "| " + " | ".join(cols) + " |",
             "|" + "---|" * len(cols)]
    for row in method_rows(summary):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    lines += ["", *notes_lines(summary), "", *[f"- {line}" for line in rankings_lines(summary)], ""]
    env = summary["environment"]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    lines += [f"Environment: {env['device_name']} ({env['device']}), Python {env['python']}, {packages}, "
              f"git {env['git_commit']}, seed {summary['config']['seed']}", ""]
    return "\n".join(lines)


def compare_table(summaries: list[dict], baseline: int = 0) -> Table:
    """Per method: tok/s, median latency and memory of each run, with the ratio to the baseline run."""
    base = summaries[baseline]
    table = Table(title=f"{len(summaries)} runs compared (baseline: {base['run_id']})",
                  caption="ratio = this run / baseline (tok/s: higher is faster; latency and memory: lower is better)")
    table.add_column("method")
    for s in summaries:
        table.add_column(s["run_id"], justify="right", overflow="fold")
    methods = list(dict.fromkeys(m["method"] for s in summaries for m in s["methods"]))
    lookup = [{m["method"]: m for m in s["methods"]} for s in summaries]

    def cell(m: dict | None, b: dict | None, key: str, fmt) -> str:
        if not m or m["status"] != "ok":
            return m["status"] if m else "-"
        value = _median(m.get(key)) if key != "peak" else (m.get("peak_gpu_bytes") or m.get("peak_rss_bytes"))
        ref = None
        if b and b["status"] == "ok":
            ref = _median(b.get(key)) if key != "peak" else (b.get("peak_gpu_bytes") or b.get("peak_rss_bytes"))
        ratio = f" (x{value / ref:.2f})" if value is not None and ref else ""
        return fmt(value) + ratio

    for method in methods:
        for label, key, fmt in (("tok/s", "run_tokens_per_s", fmt_rate), ("latency", "latency_s", fmt_seconds),
                                ("peak mem", "peak", fmt_bytes)):
            table.add_row(f"{method} · {label}",
                          *[cell(lk.get(method), lookup[baseline].get(method), key, fmt) for lk in lookup])
        table.add_section()
    return table
