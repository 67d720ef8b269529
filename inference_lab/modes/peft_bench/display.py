"""The adapter benchmark on screen: one table comparing experiments (overhead vs base with its interval, per
category, time per token, adapter size, parameters, how the base was timed), one table per experiment's
categories, a one-line description and the preview. Pure: no torch."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ...ui.console import compact_table, fmt_change, fmt_params

CATEGORIES = ("short", "medium", "long")


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def fmt_ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.2f}"


def _drift(row: dict) -> str:
    base = row.get("base") or {}
    if base.get("source") == "paired":
        return "paired"
    drift = base.get("drift") or {}
    worst = [d[w]["estimate"] for d in drift.values() for w in ("before", "after") if d.get(w)]
    if not worst:
        return base.get("source", "n/a")
    value = max(worst, key=abs)
    significant = any(d.get("significant") for d in drift.values())
    return f"[red]{value:+.0f}%[/red]" if significant else f"{value:+.0f}%"


COMPARISON_COLUMNS = ("experiment", "status", "overhead [95% CI]", *CATEGORIES, "ms/token", "adapter MB", "params",
                      "ratio", "base")


def comparison_rows(summary: dict) -> list[list[str]]:
    rows = []
    for r in summary.get("experiments") or []:
        if r["status"] in {"failed", "interrupted"} or "overall" not in r:
            rows.append([r["experiment"], r["status"], *[""] * (len(COMPARISON_COLUMNS) - 2)])
            continue
        overall, adapter = r.get("overall") or {}, r.get("adapter") or {}
        per_cat = [fmt_change(((r.get("by_category") or {}).get(c) or {}).get("metrics", {}).get("inference_overhead"))
                   for c in CATEGORIES]
        rows.append([
            r["experiment"], r["status"], fmt_change(overall.get("inference_overhead")), *per_cat,
            fmt_ms(overall.get("time_per_token_s")),
            "n/a" if adapter.get("adapter_mb") is None else f"{adapter['adapter_mb']:.3f}",
            fmt_params(adapter.get("adapter_params")),
            "n/a" if adapter.get("param_ratio_pct") is None else f"{adapter['param_ratio_pct']:.2f}%",
            _drift(r),
        ])
    return rows


def notes(summary: dict) -> list[str]:
    lines = ["overhead = (adapter - base) / base over the summed per-category median times; + is slower; "
             "[95% CI]; '=' marks an interval that includes no difference",
             "base: 'paired' = timed in this run, interleaved with the adapter; otherwise the largest drift of the "
             "base now vs its cache (red: measurable drift, the experiment is unreliable)",
             "ms/token = time per generated token (E2EL / tokens, the suite's normalised latency; not TPOT)"]
    for r in summary.get("experiments") or []:
        if r["status"] not in {"ok"} and r.get("error"):
            lines.append(f"{r['experiment']} {r['status']}: {r['error']}")
    return lines


def comparison_table(summary: dict) -> Table:
    table = compact_table(title=f"{summary.get('run_id', '')}  ·  adapter benchmark: overhead vs base  ·  "
                                f"{summary.get('status', '')}", caption="\n".join(notes(summary)))
    for column in COMPARISON_COLUMNS:
        table.add_column(column.replace(" [", "\n["), justify="left" if column in {"experiment", "status"} else "right")
    for r, row in zip(summary.get("experiments") or [], comparison_rows(summary)):
        table.add_row(*row, style=None if r["status"] == "ok" else ("yellow" if r["status"] == "unreliable" else "red"))
    return table


CATEGORY_COLUMNS = ("category", "prompt tok", "new tok", "median ms", "95% CI ms", "TTFT ms", "TPOT ms", "base ms",
                    "overhead")


def category_rows(result: dict) -> list[list[str]]:
    rows = []
    for category, entry in (result.get("by_category") or {}).items():
        m = entry["metrics"]
        time = m.get("inference_time_s") or {}
        ci = f"{fmt_ms(time.get('ci_low'))}-{fmt_ms(time.get('ci_high'))}" if time.get("ci_low") is not None else "n/a"
        rows.append([category, f"{m['prompt_tokens_mean']:.0f}",
                     f"{m['generated_tokens']['median']:.0f}" if m.get("generated_tokens") else "n/a",
                     fmt_ms(time.get("median")), ci, fmt_ms((m.get("ttft_s") or {}).get("median")),
                     fmt_ms((m.get("tpot_s") or {}).get("median")), fmt_ms(m.get("base_inference_time_s")),
                     fmt_change(m.get("inference_overhead"))])
    return rows


def category_table(result: dict) -> Table:
    table = compact_table(title=f"{result['experiment']} ({result['status']})")
    for column in CATEGORY_COLUMNS:
        table.add_column(column, justify="left" if column == "category" else "right")
    for row in category_rows(result):
        table.add_row(*row)
    return table


def show(summary: dict, console: Console) -> None:
    experiments = summary.get("experiments") or []
    if summary.get("base_only"):
        for r in experiments:
            base = r.get("base") or {}
            console.print(f"base results ({base.get('source')}): {base.get('path')}")
        return
    if len(experiments) == 1 and experiments[0].get("by_category"):
        console.print(category_table(experiments[0]))
    console.print(comparison_table(summary))
    for flag in summary.get("flags") or []:
        console.print(f"  ! {flag}", style="yellow")


def describe(summary: dict) -> str:
    experiments = summary.get("experiments") or []
    ok = sum(r["status"] == "ok" for r in experiments)
    return f"{ok}/{len(experiments)} experiments ok"


def preview(config) -> Table:
    from .runner import prepare  # reads the experiment files only; loads no model

    prep = prepare(config)
    table = compact_table(title="What will run: adapter benchmark")
    for column in ("experiment", "base model", "adapter", "runs x prompts per category", "base timed"):
        table.add_column(column)
    for job in prep.jobs:
        p = job.params
        table.add_row(job.experiment.id if job.experiment else "base", p.model_id,
                      job.source.name if job.source else "-", f"{p.num_inference_runs} x {p.num_prompt_samples}",
                      "paired" if p.paired_base else "cached")
    return table


def markdown(summary: dict) -> str:
    from ...ui.html import markdown_table

    lines = markdown_table(list(COMPARISON_COLUMNS), [[c.replace("[red]", "").replace("[/red]", "") for c in row]
                                                      for row in comparison_rows(summary)])
    return "\n".join([*lines, "", *[f"- {n}" for n in notes(summary)]])
