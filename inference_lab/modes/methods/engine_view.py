"""The engine comparison on screen and in the report (pure: no torch): one table with the in-process methods and
every server level side by side, the agreement with in-process greedy outputs, adapter overheads on both engines,
and the charts (latency distributions per level, TTFT and ITL histograms, throughput against concurrency).

In-process rows are what the methods mode measured: `conc.` is the rows per generate() call, TTFT and E2EL are the
batch's (one call serves the whole batch), out tok/s is completion tokens over the round's wall time. Server rows
use vLLM's definitions over requests: per-request TTFT / TPOT / E2EL, every inter-token gap pooled for ITL, output
tokens over the level's wall time.
"""

from __future__ import annotations

from ...ui.console import fmt_change
from .results import RANKING_METRIC


def _pct(change: dict | None) -> str:
    return fmt_change(change, missing="-", ci_digits=1)

COLUMNS = ("engine", "traffic", "conc.", "requests", "out tok/s", "TTFT p50 ms [95% CI]", "TTFT p99 ms",
           "TPOT p50 ms", "ITL p99 ms", "E2EL p50 ms", "goodput req/s")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.1f}"


def _ms_ci(stats: dict | None) -> str:
    if not stats:
        return "-"
    text = _ms(stats.get("median"))
    if stats.get("ci_low") is not None:
        text += f" [{stats['ci_low'] * 1000:,.1f}-{stats['ci_high'] * 1000:,.1f}]"
    return text


def _get(stats: dict | None, key: str) -> float | None:
    return (stats or {}).get(key)


def engine_label(engine: dict) -> str:
    command = engine.get("launch_command") or []
    if any("vllm" in part for part in command):
        return "vLLM (server)"
    if "serve" in command and any("transformers" in part for part in command):
        return "transformers serve"
    return f"server ({engine.get('dialect') or 'openai'})"


def in_process_rows(summary: dict) -> list[list[str]]:
    """The plain in-process methods (no draft source), the reference the server is put beside."""
    rows = []
    for m in summary.get("methods", []):
        if m.get("status") != "ok" or m.get("variant") or not m.get(RANKING_METRIC):
            continue
        traffic = m["method"].split("+", 1)[1] if "+" in m["method"] else "base"
        rows.append(["in process · " + m["method"].split("+", 1)[0], traffic,
                     str(m.get("effective_batch_size") or "-"), str(m.get("completions") or "-"),
                     f"{m[RANKING_METRIC]['median']:,.1f}", _ms_ci(m.get("ttft_s")), "-",
                     _ms(_get(m.get("tpot_s"), "median")), "-", _ms(_get(m.get("latency_s"), "median")), "-"])
    return rows


def server_rows(summary: dict) -> list[list[str]]:
    engine = summary.get("engine") or {}
    label = engine_label(engine)
    rows = []
    for level in engine.get("levels", []):
        agg = level.get("aggregate") or {}
        done = agg.get("completed")
        requests = f"{done}" + (f" ({agg['failed']} failed)" if agg.get("failed") else "")
        goodput = agg.get("goodput")
        rows.append([label, level["mix"], str(level["concurrency"]) + (f" @ {level['request_rate']}/s"
                                                                        if level.get("request_rate") else ""),
                     requests, "-" if agg.get("output_throughput") is None else f"{agg['output_throughput']:,.1f}",
                     _ms_ci(agg.get("ttft_s")), _ms(_get(agg.get("ttft_s"), "p99")),
                     _ms(_get(agg.get("tpot_s"), "median")), _ms(_get(agg.get("itl_s"), "p99")),
                     _ms(_get(agg.get("e2el_s"), "median")), "-" if goodput is None else f"{goodput:.2f}"])
    return rows


def rows(summary: dict) -> list[list[str]]:
    return in_process_rows(summary) + server_rows(summary)


def adapter_lines(summary: dict) -> list[str]:
    """TPOT overhead of each adapter against the base: in process (paired by round) and on the server (per level)."""
    from ...core.stats import percent_change, ratio

    lines = []
    methods = {m["method"]: m for m in summary.get("methods", []) if m.get("status") == "ok"}
    for name, m in methods.items():
        base_name, _, adapter = name.partition("+")
        base = methods.get(base_name)
        if not adapter or base is None:
            continue
        a, b = (m.get("per_round") or {}).get("tpot_s"), (base.get("per_round") or {}).get("tpot_s")
        if a and b and len(a) == len(b):
            lines.append(f"{adapter} in process ({base_name}): TPOT {_pct(percent_change(ratio(a, b, paired=True)))} "
                         "vs base (paired by round)")
    for row in (summary.get("engine") or {}).get("adapter_overhead", []):
        lines.append(f"{row['mix']} on the server at concurrency {row['concurrency']}: TPOT {_pct(row.get('tpot'))}, "
                     f"TTFT {_pct(row.get('ttft'))} vs base")
    return lines


def agreement_lines(summary: dict) -> list[str]:
    agreement = (summary.get("engine") or {}).get("agreement")
    if not agreement:
        engine = summary.get("engine") or {}
        if engine and (summary.get("config") or {}).get("temperature", 0) != 0:
            return ["agreement: not checked (temperature > 0: sampled outputs are not comparable token for token)"]
        return []
    lines = [f"agreement with in-process greedy (batch 1): {agreement['exact']} of {agreement['prompts']} prompts "
             f"token-exact ({agreement.get('basis', 'token ids')})"]
    for row in agreement.get("rows", []):
        if row["exact"]:
            continue
        where = row.get("first_divergence")
        lines.append(f"  prompt {row['prompt_index']}: differs at token {where} (in process "
                     f"{row['reference_tokens']} tokens, server {row['candidate_tokens']})"
                     + (f": in process '{row['reference_context']}' vs server '{row['candidate_context']}'"
                        if row.get("reference_context") is not None else ""))
    return lines


AGREEMENT_COLUMNS = ("prompt", "token-exact", "first divergence (token)", "in-process tokens", "server tokens",
                     "in process there", "server there")


def agreement_rows(summary: dict) -> list[list[str]]:
    """One row per prompt: did the server say the same thing as in-process greedy, and where it first did not."""
    agreement = (summary.get("engine") or {}).get("agreement") or {}
    rows = []
    for row in agreement.get("rows", []):
        where = row.get("first_divergence")
        rows.append([str(row["prompt_index"]), "yes" if row["exact"] else "no", "-" if where is None else str(where),
                     str(row["reference_tokens"]), str(row["candidate_tokens"]),
                     row.get("reference_context") or "-", row.get("candidate_context") or "-"])
    return rows


def status_lines(summary: dict) -> list[str]:
    engine = summary.get("engine") or {}
    if not engine:
        return []
    out = [f"server: {engine.get('base_url')} serving {engine.get('base_model')}"
           + (f", ready after {engine['ready_s']:.1f} s" if engine.get("ready_s") else "")
           + (f", log {engine['server_log']}" if engine.get("server_log") else "")]
    if engine.get("status") != "complete":
        out.append(f"server phase {engine.get('status')}: {engine.get('error')}")
    out += list(engine.get("notes") or [])
    return out


def caption() -> str:
    return ("in process: conc. = rows per generate call, TTFT/E2EL per batch, out tok/s = completion tokens / round "
            "wall time; server: per request (vLLM's definitions), ITL = every gap pooled, out tok/s = output tokens / "
            "level wall time; warm-up requests excluded")


def figures(summary: dict, records: list[dict]) -> list:
    """Latency distributions per level, TTFT and ITL histograms, throughput against concurrency."""
    import plotly.graph_objects as go

    layout = {"template": "plotly_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}}
    requests = [r for r in records if r.get("kind") == "request" and r.get("error") is None]
    out = []
    groups: dict[str, list[dict]] = {}
    for r in requests:
        groups.setdefault(f"{r['mix']} @ {r['concurrency']}", []).append(r)
    for key, title in (("e2el_s", "End-to-end latency per request"), ("tpot_s", "Time per output token per request")):
        boxes = [go.Box(y=[r[key] * 1000 for r in rs if r.get(key) is not None], name=label, boxpoints="all",
                        jitter=0.3, pointpos=0) for label, rs in groups.items()]
        if any(len(b.y) for b in boxes):
            out.append(go.Figure(boxes, layout={**layout, "title": f"{title} (server; traffic @ concurrency)",
                                                "yaxis_title": "ms", "showlegend": False}))
    for key, title in (("ttft_s", "Time to first token"), ("itl_s", "Inter-token latency (every gap)")):
        traces = []
        for label, rs in groups.items():
            values = ([g * 1000 for r in rs for g in r.get("itl_s") or []] if key == "itl_s"
                      else [r[key] * 1000 for r in rs if r.get(key) is not None])
            if values:
                traces.append(go.Histogram(x=values, name=label, opacity=0.6, nbinsx=50))
        if traces:
            out.append(go.Figure(traces, layout={**layout, "title": f"{title} (server)", "xaxis_title": "ms",
                                                 "barmode": "overlay"}))
    levels = (summary.get("engine") or {}).get("levels", [])
    if levels:
        lines = []
        for mix in dict.fromkeys(lv["mix"] for lv in levels):
            points = sorted((lv["concurrency"], (lv.get("aggregate") or {}).get("output_throughput"))
                            for lv in levels if lv["mix"] == mix)
            lines.append(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                    name=f"{engine_label(summary['engine'])} · {mix}"))
        for m in summary.get("methods", []):
            if m.get("status") == "ok" and not m.get("variant") and m.get(RANKING_METRIC):
                lines.append(go.Scatter(x=[m.get("effective_batch_size")], y=[m[RANKING_METRIC]["median"]],
                                        mode="markers", marker={"symbol": "diamond", "size": 10},
                                        name=f"in process · {m['method']} (x = batch)"))
        out.append(go.Figure(lines, layout={**layout, "title": "Output tokens/s against concurrency",
                                            "xaxis_title": "concurrency (in process: rows per call)",
                                            "yaxis_title": "output tokens / s", "xaxis_type": "log"}))
    return out
