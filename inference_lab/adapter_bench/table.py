"""Rich tables: one comparing experiments (overhead vs base, time per token, adapter size, parameters) and one
showing a single experiment per prompt category."""

from __future__ import annotations

from rich.table import Table

from ..report import fmt_params
from .config import CATEGORIES
from .timing import DRIFT_WARN_PCT


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def fmt_ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.2f}"


def _signed_drift(drift: dict | None) -> float | None:
    """The base-speed drift (before or after the adapter run) with the larger magnitude."""
    values = [v for v in ((drift or {}).get("drift_before_pct"), (drift or {}).get("drift_after_pct")) if v is not None]
    return max(values, key=abs) if values else None


def comparison_rows(results: list[dict]) -> list[dict]:
    """The comparison table's data as plain rows (same names as the result file's fields)."""
    rows = []
    for result in results:
        run, gen, meta = result["run_info"], result["generation_info"], result["meta_info"]
        overall, by_category = gen.get("overall") or {}, gen.get("by_category") or {}
        rows.append({
            "experiment": run["experiment"],
            "status": run["status"],
            "error": run.get("error"),
            "peft_method": (meta.get("model") or {}).get("peft_method"),
            "inference_overhead_pct": overall.get("inference_overhead_pct"),
            "category_overhead_pct": {c: by_category[c]["metrics"].get("inference_overhead_pct")
                                      for c in CATEGORIES if c in by_category},
            "time_per_token_s": overall.get("time_per_token_s"),
            "base_time_per_token_s": overall.get("base_time_per_token_s"),
            "adapter_mb": (meta.get("model_size") or {}).get("adapter_mb"),
            "adapter_params": (meta.get("parameters") or {}).get("adapter_params"),
            "param_ratio_pct": (meta.get("parameters") or {}).get("param_ratio_pct"),
            "base_source": (run.get("base_results") or {}).get("source"),
            "base_drift_pct": _signed_drift((run.get("base_results") or {}).get("drift")),
        })
    return rows


def _drift_cell(value: float | None, source: str | None) -> str:
    if source == "paired":
        return "paired"
    if value is None:
        return "n/a"
    return f"[red]{value:+.0f}%[/red]" if abs(value) > DRIFT_WARN_PCT else f"{value:+.0f}%"


def comparison_table(results: list[dict], title: str = "adapter benchmark: overhead vs base") -> Table:
    rows = comparison_rows(results)
    notes = ["overhead = (adapter - base) / base over the summed per-category median times; + is slower",
             f"base drift = base speed now vs the cached base; beyond ±{DRIFT_WARN_PCT:.0f}% the machine's speed "
             "changed and the overhead is not reliable ('paired': base timed interleaved in the same run)"]
    bases = sorted({fmt_ms(r["base_time_per_token_s"]) for r in rows if r["base_time_per_token_s"] is not None})
    if bases:
        notes.append(f"base ms/token: {', '.join(bases)}")
    notes += [f"{r['experiment']} {r['status']}: {r['error']}" for r in rows if r["status"] != "success"]
    table = Table(title=title, caption="\n".join(notes))
    for column in ("experiment", "status", "overhead", *CATEGORIES, "ms/token", "adapter MB", "params", "ratio",
                   "base drift"):
        table.add_column(column, justify="left" if column in {"experiment", "status"} else "right")
    for row in rows:
        if row["status"] != "success":
            table.add_row(row["experiment"], f"[red]{row['status']}[/red]")
            continue
        table.add_row(
            row["experiment"], row["status"], fmt_pct(row["inference_overhead_pct"]),
            *[fmt_pct(row["category_overhead_pct"].get(c)) for c in CATEGORIES],
            fmt_ms(row["time_per_token_s"]),
            "n/a" if row["adapter_mb"] is None else f"{row['adapter_mb']:.3f}",
            fmt_params(row["adapter_params"]),
            "n/a" if row["param_ratio_pct"] is None else f"{row['param_ratio_pct']:.2f}%",
            _drift_cell(row["base_drift_pct"], row["base_source"]),
        )
    return table


def category_table(result: dict) -> Table:
    """One experiment per category: median inference time with its min-max over runs, prefill, time per token."""
    run, gen = result["run_info"], result["generation_info"]
    table = Table(title=f"{run['experiment']} ({run['status']}), times in ms")
    for column in ("category", "prompt tok", "new tok", "median", "min-max", "prefill", "per token", "base",
                   "overhead"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, entry in (gen.get("by_category") or {}).items():
        m = entry["metrics"]
        time = m["inference_time_s"] or {}
        table.add_row(
            category, f"{m['prompt_tokens_mean']:.0f}",
            f"{m['generated_tokens']['median']:.0f}" if m["generated_tokens"] else "n/a",
            fmt_ms(time.get("median")), f"{fmt_ms(time.get('min'))}-{fmt_ms(time.get('max'))}",
            fmt_ms((m["prefill_time_s"] or {}).get("median")), fmt_ms((m["time_per_token_s"] or {}).get("median")),
            fmt_ms(m["base_inference_time_s"]), fmt_pct(m["inference_overhead_pct"]),
        )
    return table
