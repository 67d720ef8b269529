"""The methods mode's report parts: summary.csv rows, report.html sections (the terminal's table, notes,
rankings, charts) and the headline figures `compare` puts side by side. Pure: no torch.

Charts: completion tokens/s per method (median of rounds, whiskers = 95 % CI), batch latency distribution (every
timed batch), time to first token and inter-token latency distributions, peak memory per method.
"""

from __future__ import annotations

from ...ui.html import ReportParts, Section, Table
from . import display
from .results import RANKING_METRIC, ranking_lines

CSV_COLUMNS = [
    "method", "base_method", "variant", "status", "noisy", "effective_batch_size", "beams", "completions", "runs",
    "completion_tokens_per_run", "completion_tokens_per_s_median", "completion_tokens_per_s_ci_low",
    "completion_tokens_per_s_ci_high", "completion_tokens_per_s_mad", "generated_tokens_per_s_median",
    "latency_median_ms", "latency_ci_low_ms", "latency_ci_high_ms", "latency_p90_ms", "ttft_median_ms",
    "tpot_median_ms", "itl_p90_ms", "roofline_pct", "bandwidth_gb_s", "peak_rss_mib", "peak_gpu_mib",
    "acceptance_rate", "tokens_per_forward", "reason", "notes",
]


def _get(stats: dict | None, key: str, scale: float = 1.0) -> float | None:
    if not stats or stats.get(key) is None:
        return None
    return round(stats[key] * scale, 4)


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


def csv_rows(summary: dict) -> list[dict]:
    rows = []
    for m in summary.get("methods", []):
        tok, lat, roof = m.get(RANKING_METRIC), m.get("latency_s"), m.get("roofline") or {}
        rows.append({
            "method": m["method"], "base_method": m.get("base_method"), "variant": m.get("variant"),
            "status": m["status"], "noisy": m.get("noisy") or "", "effective_batch_size": m.get("effective_batch_size"),
            "beams": m.get("beams"), "completions": m.get("completions"), "runs": m.get("runs"),
            "completion_tokens_per_run": m.get("completion_tokens_per_run"),
            "completion_tokens_per_s_median": _get(tok, "median"),
            "completion_tokens_per_s_ci_low": _get(tok, "ci_low"),
            "completion_tokens_per_s_ci_high": _get(tok, "ci_high"), "completion_tokens_per_s_mad": _get(tok, "mad"),
            "generated_tokens_per_s_median": _get(m.get("generated_tokens_per_s"), "median"),
            "latency_median_ms": _get(lat, "median", 1000), "latency_ci_low_ms": _get(lat, "ci_low", 1000),
            "latency_ci_high_ms": _get(lat, "ci_high", 1000), "latency_p90_ms": _get(lat, "p90", 1000),
            "ttft_median_ms": _get(m.get("ttft_s"), "median", 1000),
            "tpot_median_ms": _get(m.get("tpot_s"), "median", 1000),
            "itl_p90_ms": _get(m.get("itl_s"), "p90", 1000),
            "roofline_pct": None if roof.get("percent") is None else round(roof["percent"], 2),
            "bandwidth_gb_s": (None if roof.get("achieved_bytes_per_s") is None
                               else round(roof["achieved_bytes_per_s"] / 1e9, 3)),
            "peak_rss_mib": _mib(m.get("peak_rss_bytes")), "peak_gpu_mib": _mib(m.get("peak_gpu_bytes")),
            "acceptance_rate": m.get("acceptance_rate"), "tokens_per_forward": m.get("tokens_per_forward"),
            "reason": m.get("reason") or "", "notes": "; ".join(m.get("notes") or []),
        })
    return rows


def figures(summary: dict, records: list[dict]) -> list:
    import plotly.graph_objects as go

    layout = {"template": "plotly_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    measured = [m for m in summary.get("methods", []) if m.get(RANKING_METRIC)]
    out = []
    if measured:
        tok = [m[RANKING_METRIC] for m in measured]
        has_ci = all(t.get("ci_low") is not None for t in tok)
        out.append(go.Figure(
            go.Bar(x=[m["method"] for m in measured], y=[t["median"] for t in tok],
                   error_y={"type": "data", "symmetric": False,
                            "array": [(t["ci_high"] if has_ci else t["max"]) - t["median"] for t in tok],
                            "arrayminus": [t["median"] - (t["ci_low"] if has_ci else t["min"]) for t in tok]},
                   hovertemplate="%{x}: %{y:,.1f} tok/s<extra></extra>"),
            layout={**layout, "title": "Completion tokens/s per method (median of rounds; whiskers: "
                                       f"{'95% CI' if has_ci else 'min..max'})",
                    "yaxis_title": "completion tokens / s"}))
    batches = [r for r in records if r.get("kind", "batch") == "batch"]
    for key, scale, name, axis in (("latency_s", 1000, "Batch latency (every timed batch)", "ms per batch"),
                                   ("ttft_s", 1000, "Time to first token (every timed batch)", "ms"),):
        by_method: dict[str, list[float]] = {}
        for r in batches:
            if r.get(key) is not None:
                by_method.setdefault(r["method"], []).append(r[key] * scale)
        if by_method:
            out.append(go.Figure([go.Box(y=v, name=k, boxpoints="all", jitter=0.3, pointpos=0,
                                         hovertemplate="%{y:.2f} ms") for k, v in by_method.items()],
                                 layout={**layout, "title": name, "yaxis_title": axis, "showlegend": False}))
    itl: dict[str, list[float]] = {}
    for r in batches:
        itl.setdefault(r["method"], []).extend(g * 1000 for g in r.get("itl_s") or [])
    if any(itl.values()):
        out.append(go.Figure([go.Histogram(x=v, name=k, opacity=0.6, nbinsx=60) for k, v in itl.items() if v],
                             layout={**layout, "title": "Inter-token latency (every gap between decoding steps)",
                                     "xaxis_title": "ms", "barmode": "overlay"}))
    memory = [m for m in summary.get("methods", []) if m.get("peak_rss_bytes") or m.get("peak_gpu_bytes")]
    if memory:
        names = [m["method"] for m in memory]
        bars = [go.Bar(name="peak RSS", x=names, y=[_mib(m.get("peak_rss_bytes")) for m in memory])]
        if any(m.get("peak_gpu_bytes") is not None for m in memory):
            bars.append(go.Bar(name="peak GPU", x=names, y=[_mib(m.get("peak_gpu_bytes")) for m in memory]))
        out.append(go.Figure(bars, layout={**layout, "title": "Peak memory per method (max over rounds)",
                                           "barmode": "group", "yaxis_title": "MiB"}))
    return out


def report_parts(summary: dict, records: list[dict]) -> ReportParts:
    cols = display.columns(summary)
    table = Table(cols, display.method_rows(summary), numeric={c for c in cols if c not in {"method", "status / note"}},
                  bad_rows={i for i, m in enumerate(summary.get("methods", [])) if m["status"] != "ok"})
    sections = [
        Section(display.title(summary), table, [display.caption(summary), *display.notes_lines(summary)]),
        Section("Rankings", None, ranking_lines(summary.get("rankings") or {}) or ["nothing to rank"]),
        Section("Charts", None, [], figures(summary, records)),
    ]
    if display.engine_table(summary) is not None:
        from . import engine_view

        cols = list(engine_view.COLUMNS)
        sections.insert(2, Section("Engines side by side", Table(cols, engine_view.rows(summary),
                                                                 numeric={c for c in cols if c not in {"engine",
                                                                                                       "traffic"}}),
                                   [engine_view.caption(), *display.engine_lines(summary)],
                                   engine_view.figures(summary, records)))
        agreement = engine_view.agreement_rows(summary)
        if agreement:
            cols = list(engine_view.AGREEMENT_COLUMNS)
            sections.insert(3, Section("Agreement with in-process greedy (temperature 0)", Table(
                cols, agreement, numeric={"prompt", "first divergence (token)", "in-process tokens", "server tokens"},
                bad_rows={i for i, row in enumerate(agreement) if row[1] == "no"},
                preformatted={"in process there", "server there"}), engine_view.agreement_lines(summary)[:1]))
    return ReportParts(CSV_COLUMNS, csv_rows(summary), sections, display.markdown(summary))


# metric -> (label, higher is better, unit)
HEADLINE = {RANKING_METRIC: ("tok/s", True, "tok/s"), "latency_s": ("latency", False, "s"),
            "ttft_s": ("TTFT", False, "s"), "tpot_s": ("TPOT", False, "s"),
            "peak_rss_bytes": ("peak RSS", False, "bytes"), "peak_gpu_bytes": ("peak GPU", False, "bytes")}


def headline(summary: dict) -> dict[str, dict[str, dict]]:
    """item -> metric -> {label, higher_is_better, unit, samples (per round), status}: what `compare` shows."""
    out: dict[str, dict[str, dict]] = {}
    for m in summary.get("methods", []):
        rounds = m.get("per_round") or {}
        out[m["method"]] = {metric: {"label": label, "higher_is_better": higher, "unit": unit,
                                     "samples": [v for v in rounds.get(metric, []) if v is not None],
                                     "status": m["status"]}
                            for metric, (label, higher, unit) in HEADLINE.items() if rounds.get(metric)}
        if not out[m["method"]]:
            out[m["method"]] = {"status": {"label": "status", "status": m["status"], "samples": []}}
    out.update(server_headline(summary))
    return out


def server_headline(summary: dict) -> dict[str, dict[str, dict]]:
    """The served levels as headline items (`vLLM (server) · base`; `... · c4` where a run measured several loads
    of one traffic mix), so `compare` and a sweep's curve put an engine beside the in-process methods. A level is
    one measured load run: its throughput is one sample (no interval), its latencies the medians over its
    requests."""
    from .engine_view import engine_label

    engine = summary.get("engine") or {}
    levels = engine.get("levels", [])
    per_mix = {mix: sum(lv["mix"] == mix for lv in levels) for mix in {lv["mix"] for lv in levels}}
    out: dict[str, dict[str, dict]] = {}
    for level in levels:
        agg = level.get("aggregate") or {}
        item = f"{engine_label(engine)} · {level['mix']}"
        if per_mix[level["mix"]] > 1:  # one run, several loads; a sweep over the load keeps one name, one curve
            rate = f" @ {level['request_rate']}/s" if level.get("request_rate") else ""
            item += f" · c{level['concurrency']}{rate}"
        status = "ok" if agg.get("completed") else "failed"
        values = {RANKING_METRIC: agg.get("output_throughput"),
                  **{key: (agg.get(source) or {}).get("median") for key, source in
                     (("latency_s", "e2el_s"), ("ttft_s", "ttft_s"), ("tpot_s", "tpot_s"))}}
        out[item] = {metric: {"label": HEADLINE[metric][0], "higher_is_better": HEADLINE[metric][1],
                              "unit": HEADLINE[metric][2], "samples": [value], "status": status}
                     for metric, value in values.items() if value is not None}
        if not out[item]:
            out[item] = {"status": {"label": "status", "status": status, "samples": []}}
    return out
