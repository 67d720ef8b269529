"""The adapter benchmark's report parts: the comparison table, overhead per category with intervals (a chart and
a table per experiment), and the headline `compare` shows. Pure: no torch."""

from __future__ import annotations

from ...ui.html import ReportParts, Section, Table
from . import display

CSV_COLUMNS = ["experiment", "status", "category", "overhead_pct", "overhead_ci_low", "overhead_ci_high",
               "overhead_separated", "median_s", "base_median_s", "time_per_token_s", "adapter_params", "adapter_mb",
               "base_source", "error"]


def csv_rows(summary: dict) -> list[dict]:
    rows = []
    for r in summary.get("experiments") or []:
        adapter = r.get("adapter") or {}
        base = {"experiment": r["experiment"], "status": r["status"], "adapter_params": adapter.get("adapter_params"),
                "adapter_mb": adapter.get("adapter_mb"), "base_source": (r.get("base") or {}).get("source"),
                "error": r.get("error") or ""}
        overall = r.get("overall") or {}
        change = overall.get("inference_overhead") or {}
        rows.append({**base, "category": "overall", "overhead_pct": change.get("estimate"),
                     "overhead_ci_low": change.get("ci_low"), "overhead_ci_high": change.get("ci_high"),
                     "overhead_separated": change.get("separated"), "median_s": overall.get("inference_time_s"),
                     "base_median_s": overall.get("base_inference_time_s"),
                     "time_per_token_s": overall.get("time_per_token_s")})
        for category, entry in (r.get("by_category") or {}).items():
            m = entry["metrics"]
            change = m.get("inference_overhead") or {}
            rows.append({**base, "category": category, "overhead_pct": change.get("estimate"),
                         "overhead_ci_low": change.get("ci_low"), "overhead_ci_high": change.get("ci_high"),
                         "overhead_separated": change.get("separated"),
                         "median_s": (m.get("inference_time_s") or {}).get("median"),
                         "base_median_s": m.get("base_inference_time_s"),
                         "time_per_token_s": (m.get("time_per_token_s") or {}).get("median")})
    return rows


def figures(summary: dict) -> list:
    import plotly.graph_objects as go

    bars = []
    for r in summary.get("experiments") or []:
        cats, values, high, low = [], [], [], []
        for category, entry in (r.get("by_category") or {}).items():
            change = entry["metrics"].get("inference_overhead") or {}
            if change.get("estimate") is None:
                continue
            cats.append(category)
            values.append(change["estimate"])
            high.append((change.get("ci_high") or change["estimate"]) - change["estimate"])
            low.append(change["estimate"] - (change.get("ci_low") or change["estimate"]))
        if cats:
            bars.append(go.Bar(name=r["experiment"], x=cats, y=values,
                               error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low}))
    if not bars:
        return []
    return [go.Figure(bars, layout={"template": "plotly_white", "height": 400, "barmode": "group",
                                    "title": "Overhead vs base per prompt category (whiskers: 95% CI)",
                                    "yaxis_title": "% slower than the base"})]


def report_parts(summary: dict, records: list[dict]) -> ReportParts:
    plain = [[c.replace("[red]", "").replace("[/red]", "") for c in row] for row in display.comparison_rows(summary)]
    table = Table(list(display.COMPARISON_COLUMNS), plain,
                  numeric=set(display.COMPARISON_COLUMNS) - {"experiment", "status"},
                  bad_rows={i for i, r in enumerate(summary.get("experiments") or []) if r["status"] != "ok"})
    sections = [Section("Adapters vs base", table, display.notes(summary)),
                Section("Overhead per category", None, [], figures(summary))]
    for r in summary.get("experiments") or []:
        if r.get("by_category"):
            sections.append(Section(f"{r['experiment']} ({r['status']})",
                                    Table(list(display.CATEGORY_COLUMNS), display.category_rows(r),
                                          numeric=set(display.CATEGORY_COLUMNS) - {"category"})))
    return ReportParts(CSV_COLUMNS, csv_rows(summary), sections, display.markdown(summary))


def headline(summary: dict) -> dict[str, dict[str, dict]]:
    """experiment -> the adapter's run times per category (their medians summed is the overall figure)."""
    out: dict[str, dict[str, dict]] = {}
    for r in summary.get("experiments") or []:
        times = [s for entry in (r.get("by_category") or {}).values() for sample in entry.get("samples", [])
                 for s in sample["run_seconds"]]
        out[r["experiment"]] = {"inference_time_s": {"label": "time per prompt", "higher_is_better": False,
                                                     "unit": "s", "samples": times, "status": r["status"]}}
    return out
