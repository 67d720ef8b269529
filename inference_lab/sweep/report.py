"""The sweep's report in its folder, the same files and look as a run's (`ui.html`): report.html (the curve),
summary.csv (every point x item) and summary.md.

`findings` is the pure part: the Pareto front of throughput against latency over every configuration measured ok,
its knee, the best configuration by each figure and the best under the user's service level (`--slo`). Works on a
sweep in any state: points not yet measured are listed with their status and left off the curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..ui.html import ReportParts, Section, Table, markdown_table, write_report_files
from .curve import CurvePoint, Figure, SweepRow, collect_rows, curve_points
from .index import SweepFolder
from .pareto import Constraint, best_under, knee, pareto_front, slo_text
from .plan import canonical


@dataclass
class Best:
    title: str
    point: CurvePoint | None
    note: str = ""


@dataclass
class Findings:
    points: list[CurvePoint]
    front: list[CurvePoint]
    knee: CurvePoint | None
    best: list[Best] = field(default_factory=list)


def _pick(points: list[CurvePoint], key: str, largest: bool) -> CurvePoint | None:
    present = [p for p in points if getattr(p, key) is not None]
    if not present:
        return None
    return (max if largest else min)(present, key=lambda p: getattr(p, key))


def findings(points: list[CurvePoint], slo: list[Constraint] | None = None) -> Findings:
    front = sorted(pareto_front(points), key=lambda p: (p.latency_ms, -p.tokens_per_s))
    bend = knee(front)
    best = [Best("highest throughput", _pick(points, "tokens_per_s", True)),
            Best("lowest latency", _pick(points, "latency_ms", False)),
            Best("lowest time to first token", _pick(points, "ttft_ms", False)),
            Best("least memory", _pick(points, "memory_mib", False)),
            Best("knee of the front", bend, "" if bend else "no knee: fewer than 3 front points, or a straight front")]
    if slo:
        chosen, meeting = best_under(points, slo)
        best.append(Best(f"best under {slo_text(slo)}", chosen,
                         f"{meeting} of {len(points)} configurations meet it" if chosen else
                         f"none of {len(points)} configurations meets it"))
    return Findings(points, front, bend, best)


# --- formatting -----------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_figure(figure: Figure | None, digits: int = 1) -> str:
    if figure is None:
        return "-"
    span = "" if figure.low is None else f" [{fmt(figure.low, digits)}, {fmt(figure.high, digits)}]"
    return fmt(figure.median, digits) + span


BEST_COLUMNS = ["choice", "configuration", "throughput/s", "latency ms", "TTFT ms", "TPOT ms", "memory MiB", "note"]
POINT_COLUMNS = ["point", "configuration", "status", "item", "throughput/s [95% CI]", "latency ms [95% CI]",
                 "TTFT ms", "TPOT ms", "memory MiB", "error"]
NUMERIC = {"throughput/s", "latency ms", "TTFT ms", "TPOT ms", "memory MiB", "throughput/s [95% CI]",
           "latency ms [95% CI]"}
FIGURES = ("tokens_per_s", "latency_ms", "ttft_ms", "tpot_ms", "memory_mib")


def best_rows(result: Findings) -> list[list[str]]:
    rows = []
    for b in result.best:
        p = b.point
        if p is None:
            rows.append([b.title, "-", "-", "-", "-", "-", "-", b.note or "nothing measured"])
            continue
        rows.append([b.title, p.label, fmt(p.tokens_per_s), fmt(p.latency_ms), fmt(p.ttft_ms), fmt(p.tpot_ms, 2),
                     fmt(p.memory_mib, 0), b.note])
    return rows


def point_rows(rows: list[SweepRow]) -> list[list[str]]:
    out = []
    for r in rows:
        status = r.status if r.item_status in {None, "ok"} else f"{r.status} ({r.item_status})"
        out.append([r.point_id, r.label, status, r.item or "-", fmt_figure(r.tokens_per_s),
                    fmt_figure(r.latency_ms), fmt_figure(r.ttft_ms), fmt_figure(r.tpot_ms, 2),
                    fmt_figure(r.memory_mib, 0), r.error or ""])
    return out


def csv_rows(rows: list[SweepRow]) -> tuple[list[str], list[dict]]:
    """(columns, rows): one row per point x item; each figure as median, low, high; each swept key its own column."""
    keys = list(dict.fromkeys(k for r in rows for k in r.values))
    columns = ["point_id", "label", "repeat", "status", "item", "item_status"]
    columns += [f"{name}{suffix}" for name in FIGURES for suffix in ("", "_low", "_high")]
    columns += ["run_dir", "error"] + [f"sweep.{k}" for k in keys]
    out = []
    for r in rows:
        row = {"point_id": r.point_id, "label": r.label, "repeat": r.repeat, "status": r.status, "item": r.item,
               "item_status": r.item_status, "run_dir": r.run_dir, "error": r.error}
        for name in FIGURES:
            figure = getattr(r, name)
            for suffix, attr in (("", "median"), ("_low", "low"), ("_high", "high")):
                value = None if figure is None else getattr(figure, attr)
                row[f"{name}{suffix}"] = None if value is None else round(value, 4)
        for k in keys:
            value = r.values.get(k)
            row[f"sweep.{k}"] = canonical(value) if isinstance(value, (list, dict)) else value
        out.append(row)
    return columns, out


def counts_text(header: dict, rows: list[SweepRow]) -> str:
    statuses = [r.status for r in {r.point_id: r for r in rows}.values()]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    return f"{header.get('size', len(statuses))} points ({header.get('shape', '')}): {counts}."


def interval_note(points: list[CurvePoint]) -> str:
    return "; ".join(dict.fromkeys(p.interval for p in points)) or "none"


def sweep_status(rows: list[SweepRow]) -> str:
    statuses = {r.status for r in rows}
    if statuses & {"pending", "running", "interrupted"}:
        return "interrupted"
    return "failed" if "failed" in statuses else "complete"


def report_parts(header: dict, rows: list[SweepRow], result: Findings) -> ReportParts:
    from .charts import axis_figures, curve_figure

    note = interval_note(result.points)
    front = " -> ".join(p.label for p in result.front) or "nothing measured yet"
    charts = [curve_figure(result.points, result.front, result.knee, note), *axis_figures(result.points)] \
        if result.points else []
    lines = point_rows(rows)
    sections = [
        Section("Sweep", None, [counts_text(header, rows), f"Each point ran in its own process "
                                f"({header.get('executor', 'local')}); its run folder is under points/<id>/."]),
        Section("Best configurations", Table(BEST_COLUMNS, best_rows(result), numeric=NUMERIC),
                [f"Pareto front (throughput vs latency), lowest latency first: {front}"]),
        Section("The curve", None, [] if charts else ["No point measured yet."], charts),
        Section("Points", Table(POINT_COLUMNS, lines, numeric=NUMERIC,
                                bad_rows={i for i, r in enumerate(rows)
                                          if r.status != "ok" or r.item_status not in {None, "ok"}}),
                [f"Whiskers and brackets: {note}."]),
    ]
    markdown = "\n".join([
        f"## Sweep {header.get('label', '')} ({header.get('mode', '')})", "", counts_text(header, rows), "",
        "### Best configurations", "", *markdown_table(BEST_COLUMNS, best_rows(result)), "",
        f"### Pareto front (throughput vs latency, lowest latency first)\n\n{front}", "",
        f"### Points\n\nIn brackets: {note}.", "", *markdown_table(POINT_COLUMNS, lines), ""])
    columns, data = csv_rows(rows)
    return ReportParts(columns, data, sections, markdown)


def sweep_report(sweep_dir: str | Path, slo: list[Constraint] | None = None, status: str | None = None) -> Findings:
    """Write report.html, summary.csv and summary.md into the sweep folder; return what they show."""
    sweep_dir = Path(sweep_dir)
    header = SweepFolder(sweep_dir).header()
    rows = collect_rows(sweep_dir)
    result = findings(curve_points(rows), slo)
    summary = {"run_id": sweep_dir.name, "mode": header.get("mode"), "status": status or sweep_status(rows),
               "environment": header.get("environment") or {}, "config_hash": header.get("base_config_hash"),
               "flags": [f"sweep of {header.get('size')} points: {header.get('shape')}"]}
    write_report_files(sweep_dir, summary, report_parts(header, rows, result))
    return result
