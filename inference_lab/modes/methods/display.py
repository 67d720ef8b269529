"""The methods mode on screen: the results table (terminal and Markdown from the same rows), notes, rankings,
a one-line description for run lists, and the preview shown before a run. Pure: no torch."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table

from ...ui.console import compact_table
from .results import RANKING_METRIC, ranking_lines

# Units live in the headers so cells stay narrow enough for a 100-column terminal.
COLUMNS = ("method", "batch", "tok/s [95% CI]", "p50 ms", "TTFT ms", "TPOT ms", "% roof", "peak RSS MiB",
           "peak GPU MiB", "J/tok", "accept", "status / note")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def _median(stats: dict | None) -> float | None:
    return stats["median"] if stats else None


def _joules(energy: dict | None) -> str:
    per_token = (energy or {}).get("joules_per_token")
    return "-" if not per_token else f"{per_token['median']:.3g}"


def rate_with_ci(stats: dict | None) -> str:
    if not stats:
        return "-"
    text = f"{stats['median']:,.1f}"
    if stats.get("ci_low") is not None:
        text += f" [{stats['ci_low']:,.0f}-{stats['ci_high']:,.0f}]"
    return text


def columns(summary: dict) -> list[str]:
    """All columns, less 'peak GPU MiB' for runs that had no GPU."""
    methods = summary.get("methods", [])
    has_gpu = any(m.get("peak_gpu_bytes") is not None for m in methods)
    has_energy = any((m.get("energy") or {}).get("available") for m in methods)
    return [c for c in COLUMNS if (has_gpu or c != "peak GPU MiB") and (has_energy or c != "J/tok")]


def method_notes(summary: dict) -> list[str]:
    """Distinct notes and reasons, numbered in the order the methods reference them."""
    notes: list[str] = []
    for m in summary.get("methods", []):
        for note in _own_notes(m):
            if note not in notes:
                notes.append(note)
    return notes


def _own_notes(m: dict) -> list[str]:
    own = ([m["reason"]] if m.get("reason") else []) + list(m.get("notes") or [])
    if m.get("noisy"):
        own.append(f"noisy: {m['noisy']}")
    if m.get("beams"):
        own.append(f"beam search: ranked on returned completions; {m['beams']} beams decoded per prompt "
                   "(generated tokens/s counts them all)")
    compiled = m.get("compile")
    if compiled:
        shapes = ", ".join(f"batch {s['batch_size']}: {s['compile_seconds']:.1f} s ({s['graphs']} graph"
                           f"{'s' * (s['graphs'] != 1)})" for s in compiled["shapes"])
        own.append(f"compiled ({compiled['mode']}): compile {shapes}, never in a latency; {compiled['recompiles']} "
                   f"recompile(s), {compiled['graphs_during_timing']} during timed calls")
    if m.get("batch_auto"):
        tried = ", ".join(f"{t['batch_size']} ({t['outcome']})" for t in m["batch_auto"])
        own.append(f"batch_size auto: tried {tried}")
    energy = m.get("energy")
    if energy and not energy.get("available"):
        own.append(f"energy: {energy.get('reason')}")
    return own


def method_rows(summary: dict) -> list[list[str]]:
    rows = []
    numbered = method_notes(summary)
    for m in summary.get("methods", []):
        refs = ",".join(dict.fromkeys(str(numbered.index(n) + 1) for n in _own_notes(m)))
        status = m["status"] if m["status"] != "ok" else ""
        note = " ".join(part for part in (status, f"[{refs}]" if refs else "") if part)
        accept = m.get("acceptance_rate")
        roof = (m.get("roofline") or {}).get("percent")
        cells = {
            "method": m["method"] + (" ~" if m.get("noisy") else ""),
            "batch": str(m.get("effective_batch_size") or "-"),
            "tok/s [95% CI]": rate_with_ci(m.get(RANKING_METRIC)),
            "p50 ms": _ms(_median(m.get("latency_s"))),
            "TTFT ms": _ms(_median(m.get("ttft_s"))), "TPOT ms": _ms(_median(m.get("tpot_s"))),
            "% roof": "-" if roof is None else (f"{roof:.0f}%" if roof >= 10 else f"{roof:.2g}%"),
            "peak RSS MiB": _mib(m.get("peak_rss_bytes")), "peak GPU MiB": _mib(m.get("peak_gpu_bytes")),
            "J/tok": _joules(m.get("energy")),
            "accept": f"{accept:.0%}" if accept is not None else "-", "status / note": note,
        }
        rows.append([cells[c] for c in columns(summary)])
    return rows


def title(summary: dict) -> str:
    env = summary.get("environment") or {}
    main = (summary.get("models") or {}).get("main") or {}
    return (f"{summary['run_id']}  ·  {main.get('name', '?')} on {env.get('device', '?')} ({main.get('dtype', '?')}, "
            f"{main.get('attention', '?')}, quantization {main.get('quantization', '?')})  ·  {summary['status']}")


def caption(summary: dict) -> str:
    work = summary.get("work") or {}
    return (f"{work.get('completions')} completions x {work.get('num_runs')} interleaved rounds "
            f"(+{work.get('warmup_runs')} warm-up), max_new_tokens {work.get('max_new_tokens')}; "
            "tok/s = completion tokens / wall time of a round (median of rounds, 95% CI: bootstrap, t below 6 rounds); "
            "p50 = batch latency; % roof = bandwidth achieved at the median TPOT / measured device bandwidth; "
            "~ = noisy")


def run_table(summary: dict) -> Table:
    table = compact_table(title=title(summary), caption=caption(summary))
    for col in columns(summary):
        header = col.replace(" ms", "\nms").replace(" MiB", "\nMiB").replace("peak ", "peak\n").replace(" [", "\n[")
        table.add_column(header, justify="left" if col in {"method", "status / note"} else "right", no_wrap=True)
    styles = {"ok": None, "skipped": "yellow", "unsupported": "yellow"}
    for m, row in zip(summary.get("methods", []), method_rows(summary)):
        table.add_row(*row, style=styles.get(m["status"], "red"))
    return table


def notes_lines(summary: dict) -> list[str]:
    return [f"[{i}] {note}" for i, note in enumerate(method_notes(summary), start=1)]


def engine_table(summary: dict) -> Table | None:
    from . import engine_view

    rows = engine_view.rows(summary)
    if not summary.get("engine") and not any("+" in m["method"] for m in summary.get("methods", [])):
        return None
    table = compact_table(title="Engines side by side", caption=engine_view.caption())
    for col in engine_view.COLUMNS:
        table.add_column(col.replace(" ms", "\nms").replace(" [", "\n["),
                         justify="left" if col in {"engine", "traffic"} else "right")
    for row in rows:
        table.add_row(*row)
    return table


def engine_lines(summary: dict) -> list[str]:
    from . import engine_view

    return (engine_view.status_lines(summary) + engine_view.agreement_lines(summary)
            + engine_view.adapter_lines(summary))


def show(summary: dict, console: Console) -> None:
    console.print(run_table(summary))
    for line in notes_lines(summary):
        console.print(f"  {line}", style="dim")
    table = engine_table(summary)
    if table is not None:
        console.print(table)
    for line in engine_lines(summary):
        console.print(f"  {line}")
    for flag in summary.get("flags") or []:
        console.print(f"  ! {flag}", style="yellow")
    for line in ranking_lines(summary.get("rankings") or {}):
        console.print(f"  {line}")


def describe(summary: dict) -> str:
    methods = summary.get("methods") or []
    done = sum(m["status"] == "ok" for m in methods)
    main = ((summary.get("models") or {}).get("main") or {}).get("name", "?")
    return f"{done}/{len(methods)} methods ok, {main}"


def preview(config) -> Group:
    """What will run, before it runs: per method rows per call, calls per round, new tokens (upper bound)."""
    from .preview import preview_table

    return preview_table(config)


def markdown(summary: dict) -> str:
    from ...ui.html import markdown_table

    lines = [title(summary), "", caption(summary), ""]
    lines += markdown_table(columns(summary), method_rows(summary))
    lines += ["", *notes_lines(summary), "", *[f"- {line}" for line in ranking_lines(summary.get("rankings") or {})]]
    if engine_table(summary) is not None:
        from . import engine_view

        lines += ["", "Engines side by side", "", engine_view.caption(), ""]
        lines += markdown_table(list(engine_view.COLUMNS), engine_view.rows(summary))
        lines += ["", *[f"- {line}" for line in engine_lines(summary)]]
    return "\n".join(lines)
