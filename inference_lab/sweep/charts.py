"""The sweep report's charts (plotly figures; `ui.html` embeds plotly.js once, so the page opens offline).

Throughput against latency, one colour per item (method, variant...), whiskers on both axes, the Pareto front
drawn as a line and the knee starred; then throughput and latency against each numeric swept key.
"""

from __future__ import annotations

import html
from typing import Any

from .curve import CurvePoint, configuration_label

LAYOUT = {"template": "plotly_white", "height": 460, "margin": {"l": 70, "r": 20, "t": 60, "b": 60}}
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _whiskers(values: list[float], lows: list[float | None], highs: list[float | None]) -> dict[str, Any]:
    return {"type": "data", "symmetric": False, "thickness": 1, "width": 3,
            "array": [0 if h is None else max(h - v, 0) for v, h in zip(values, highs)],
            "arrayminus": [0 if lo is None else max(v - lo, 0) for v, lo in zip(values, lows)]}


def curve_figure(points: list[CurvePoint], front: list[CurvePoint], knee: CurvePoint | None, interval_note: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    for item in dict.fromkeys(p.item for p in points):
        pts = [p for p in points if p.item == item]
        lat, tok = [p.latency_ms for p in pts], [p.tokens_per_s for p in pts]
        fig.add_trace(go.Scatter(
            x=lat, y=tok, mode="markers", name=item, text=[p.label for p in pts],
            error_x=_whiskers(lat, [p.latency_ms_low for p in pts], [p.latency_ms_high for p in pts]),
            error_y=_whiskers(tok, [p.tokens_per_s_low for p in pts], [p.tokens_per_s_high for p in pts]),
            marker={"size": 9},
            hovertemplate="%{text}<br>%{y:,.1f}/s at %{x:,.1f} ms<extra>" + html.escape(item) + "</extra>"))
    if front:
        fig.add_trace(go.Scatter(
            x=[p.latency_ms for p in front], y=[p.tokens_per_s for p in front], mode="lines+markers",
            name="Pareto front", line={"color": "black", "width": 2, "dash": "dot"},
            marker={"size": 14, "symbol": "circle-open", "color": "black"}, hoverinfo="skip"))
    if knee is not None:
        fig.add_trace(go.Scatter(
            x=[knee.latency_ms], y=[knee.tokens_per_s], mode="markers+text", name="knee", text=["knee"],
            textposition="top left", marker={"size": 20, "symbol": "star", "color": "#d62728"},
            hovertemplate=html.escape(knee.label) + "<extra>knee</extra>"))
    fig.update_layout(**LAYOUT, title=f"Throughput vs latency (medians; whiskers: {interval_note})",
                      xaxis_title="latency (ms)", yaxis_title="throughput (per s)")
    return fig


def numeric_axes(points: list[CurvePoint]) -> list[str]:
    """Swept keys whose every value is a number (batch size, chunk size...): worth an x axis of their own."""
    keys = list(dict.fromkeys(k for p in points for k in p.values))

    def numeric(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return [k for k in keys if all(numeric(p.values.get(k)) for p in points)
            and len({p.values.get(k) for p in points}) > 1]


def axis_figures(points: list[CurvePoint]) -> list:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    out = []
    for key in numeric_axes(points):
        fig = make_subplots(rows=1, cols=2, subplot_titles=("throughput (per s)", "latency (ms)"))
        series: dict[str, list[CurvePoint]] = {}
        for p in points:  # one line per everything-but-this-key
            rest = {k: v for k, v in p.values.items() if k != key}
            series.setdefault(configuration_label(rest, p.item), []).append(p)
        for n, (name, pts) in enumerate(series.items()):
            pts = sorted(pts, key=lambda p: p.values[key])
            xs = [p.values[key] for p in pts]
            common = {"name": name, "legendgroup": name, "mode": "lines+markers",
                      "marker": {"color": COLOURS[n % len(COLOURS)]}}
            fig.add_trace(go.Scatter(x=xs, y=[p.tokens_per_s for p in pts], **common), row=1, col=1)
            fig.add_trace(go.Scatter(x=xs, y=[p.latency_ms for p in pts], **common, showlegend=False), row=1, col=2)
        fig.update_layout(**{**LAYOUT, "height": 380}, title=f"Against {key}")
        fig.update_xaxes(title_text=key, type="log" if min(p.values[key] for p in points) > 0 else "linear")
        out.append(fig)
    return out
