"""A sweep's figures: one row per point x item (what summary.csv holds), then one curve point per configuration
(what the chart and the Pareto front use). Reading only: no torch.

Generic over modes: a point's run folder is read with `core.rundir.load_summary` and its mode's
`report.headline(summary)` (item -> metric -> samples, the figures `compare` uses). The curve's figures are picked
from those metrics by name and kind, never by mode:

| figure | from the headline metric |
|---|---|
| `tokens_per_s` | the first rate (higher is better, unit ending in `/s`): methods' completion tokens/s |
| `latency_ms` | `latency_s`, else the first time (lower is better, unit `s`) that is not TTFT/TPOT |
| `ttft_ms`, `tpot_ms` | `ttft_s`, `tpot_s` |
| `memory_mib` | `peak_gpu_bytes` where measured, else `peak_rss_bytes` (the largest sample: a peak) |

Each figure is the median of its samples (per round) with the 95 % bootstrap interval of `core.stats` (none with
fewer than 2 samples). A configuration measured in several repeats is drawn at the median of its repeats' medians,
with whiskers over those medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import stats
from ..modes import MODES
from .index import DONE, SweepFolder
from .plan import canonical, point_label
from .point import read_summary

TIMES_APART_FROM_LATENCY = ("ttft_s", "tpot_s", "itl_s")


@dataclass
class Figure:
    median: float
    low: float | None = None  # 95 % bootstrap interval of the median (None: fewer than 2 samples)
    high: float | None = None


def _figure(samples: list[float], scale: float = 1.0) -> Figure | None:
    summary = stats.summarize(samples)
    if summary is None:
        return None
    low = None if summary.ci_low is None else summary.ci_low * scale
    high = None if summary.ci_high is None else summary.ci_high * scale
    return Figure(summary.median * scale, low, high)


def _metric(metrics: dict[str, dict], key: str | None = None, *, unit: str | None = None,
            higher: bool | None = None, skip: tuple[str, ...] = ()) -> list[float]:
    """Samples of the metric named `key`, or of the first one with that unit and direction."""
    if key is not None:
        entry = metrics.get(key)
        return list(entry.get("samples") or []) if entry else []
    for name, entry in metrics.items():
        if name in skip or name == "status" or entry.get("higher_is_better") is not higher:
            continue
        found_unit = str(entry.get("unit") or "")
        if (unit == "/s" and found_unit.endswith("/s")) or found_unit == unit:
            return list(entry.get("samples") or [])
    return []


def item_figures(metrics: dict[str, dict]) -> dict[str, Figure | None]:
    """One headline item's metrics -> the curve's figures (pure)."""
    latency = _metric(metrics, "latency_s") or _metric(metrics, unit="s", higher=False, skip=TIMES_APART_FROM_LATENCY)
    memory = _metric(metrics, "peak_gpu_bytes") or _metric(metrics, "peak_rss_bytes")
    return {"tokens_per_s": _figure(_metric(metrics, unit="/s", higher=True)),
            "latency_ms": _figure(latency, 1000), "ttft_ms": _figure(_metric(metrics, "ttft_s"), 1000),
            "tpot_ms": _figure(_metric(metrics, "tpot_s"), 1000),
            "memory_mib": Figure(max(memory) / 2**20) if memory else None}


@dataclass
class SweepRow:
    point_id: str
    label: str
    repeat: int
    status: str  # the point's status in the index
    item: str | None = None  # what the mode measured side by side: a method, a model variant, ...
    item_status: str | None = None
    tokens_per_s: Figure | None = None
    latency_ms: Figure | None = None
    ttft_ms: Figure | None = None
    tpot_ms: Figure | None = None
    memory_mib: Figure | None = None
    run_dir: str | None = None
    error: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def summary_rows(base: SweepRow, mode: str, summary: dict) -> list[SweepRow]:
    """A point's run summary -> one row per headline item (pure)."""
    rows = []
    for item, metrics in MODES[mode].module("report").headline(summary).items():
        status = (metrics.get("status") or next(iter(metrics.values()), {})).get("status", "ok")
        rows.append(SweepRow(base.point_id, base.label, base.repeat, base.status, item=item, item_status=status,
                             run_dir=base.run_dir, error=base.error, values=base.values, **item_figures(metrics)))
    return rows


def collect_rows(sweep_dir: str | Path) -> list[SweepRow]:
    """Every point of the index, in plan order, with each measured item as its own row; a point with nothing
    measured (pending, refused, interrupted) is one row with its status and error."""
    folder = SweepFolder(sweep_dir)
    mode = folder.header()["mode"]
    rows: list[SweepRow] = []
    for entry in folder.load():
        base = SweepRow(entry.id, entry.label, entry.repeat, entry.status, run_dir=entry.run_dir, error=entry.error,
                        values=dict(entry.values))
        summary = read_summary(folder.path / entry.run_dir) if entry.run_dir and entry.status in DONE else None
        found = summary_rows(base, mode, summary) if summary else []
        rows.extend(found or [base])
    return rows


@dataclass
class CurvePoint:
    key: str  # the configuration: its swept values and item, repeats merged
    label: str
    item: str
    values: dict[str, Any]
    repeats: int
    point_ids: list[str]
    tokens_per_s: float
    tokens_per_s_low: float | None
    tokens_per_s_high: float | None
    latency_ms: float
    latency_ms_low: float | None
    latency_ms_high: float | None
    interval: str  # what the whiskers are
    ttft_ms: float | None
    tpot_ms: float | None
    memory_mib: float | None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fig(row: SweepRow, name: str) -> float | None:
    figure = getattr(row, name)
    return None if figure is None else figure.median


def configuration_label(values: dict[str, Any], item: str) -> str:
    label = point_label(values)
    return label if item in label else f"{label} · {item}" if label else item


def curve_points(rows: list[SweepRow]) -> list[CurvePoint]:
    """One point per (swept values, item) measured ok with a throughput and a latency, first-seen order (pure)."""
    groups: dict[str, list[SweepRow]] = {}
    for row in rows:
        if row.item_status == "ok" and row.tokens_per_s is not None and row.latency_ms is not None:
            groups.setdefault(canonical([row.values, row.item]), []).append(row)
    points = []
    for key, group in groups.items():
        first = group[0]
        toks, lats = [r.tokens_per_s.median for r in group], [r.latency_ms.median for r in group]
        if len(group) == 1:
            tok_low, tok_high = first.tokens_per_s.low, first.tokens_per_s.high
            lat_low, lat_high = first.latency_ms.low, first.latency_ms.high
            interval = "95 % CI of the median over rounds"
        else:  # repeats: whiskers over the repeats' medians
            tok_low, tok_high, lat_low, lat_high = min(toks), max(toks), min(lats), max(lats)
            interval = f"min..max of {len(group)} repeats"
        points.append(CurvePoint(
            key=key, label=configuration_label(first.values, first.item), item=first.item, values=first.values,
            repeats=len(group), point_ids=[r.point_id for r in group], tokens_per_s=statistics.median(toks),
            tokens_per_s_low=tok_low, tokens_per_s_high=tok_high, latency_ms=statistics.median(lats),
            latency_ms_low=lat_low, latency_ms_high=lat_high, interval=interval,
            ttft_ms=_median([_fig(r, "ttft_ms") for r in group]), tpot_ms=_median([_fig(r, "tpot_ms") for r in group]),
            memory_mib=_median([_fig(r, "memory_mib") for r in group])))
    return points
