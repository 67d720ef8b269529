"""The checks behind benchmarks/measurement_truth.py, pure (no torch, no files): are the tool's figures true?

A figure here is a `core.stats.Stats` dict (at least `median`, `ci_low`, `ci_high`); a ratio is a `Ratio` dict
(`estimate`, `ci_low`, `ci_high`). Every check answers True, False, or None where it cannot be decided (a figure
with no interval: fewer than 2 samples).

What to expect from an honest tool (so a reader does not take a miss for a bug): the median of one run falls
inside another run's 95 % interval *of the median* less often than 95 % of the time, even when both runs measure
the same thing, since both medians vary (for two equally wide intervals, about 83 %); two such intervals overlap
far more often (about 99 %). Both are reported: `inside` is the issue's criterion, `overlap` the lenient one.
"""

from __future__ import annotations

from collections.abc import Sequence

TOLERANCE = 0.05  # the tool and a bare timer "agree" when their ratio is within 5 % of 1
EPSILON = 1e-9  # so a ratio of exactly 0.95 counts as within 5 % despite 1 - 0.95 = 0.05000000000000004


def has_interval(figure: dict | None) -> bool:
    return bool(figure) and figure.get("ci_low") is not None and figure.get("ci_high") is not None


def inside(value: float | None, figure: dict | None) -> bool | None:
    """Is `value` inside `figure`'s interval (bounds included)?"""
    if value is None or not has_interval(figure):
        return None
    return figure["ci_low"] <= value <= figure["ci_high"]


def overlap(a: dict | None, b: dict | None) -> bool | None:
    """Do the two figures' intervals share any value?"""
    if not has_interval(a) or not has_interval(b):
        return None
    return a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]


def cross_repeat(figures: Sequence[dict[str, dict | None]]) -> list[dict[str, dict]]:
    """Per repeat, per method: is its median inside each OTHER repeat's interval, and do the intervals overlap?

    `figures[i][method]` is repeat i's figure for the method (None: not measured). Returns, per repeat and method,
    {"inside": {j: bool | None}, "overlap": {j: bool | None}, "all_inside": bool | None} over the other repeats j
    that measured the method; `all_inside` is None when any of them could not be decided."""
    out: list[dict[str, dict]] = []
    for i, mine in enumerate(figures):
        row: dict[str, dict] = {}
        for method, figure in mine.items():
            if not figure:
                continue
            others = {j: other[method] for j, other in enumerate(figures) if j != i and other.get(method)}
            ins = {j: inside(figure["median"], f) for j, f in others.items()}
            row[method] = {"inside": ins, "overlap": {j: overlap(figure, f) for j, f in others.items()},
                           "all_inside": None if not ins or None in ins.values() else all(ins.values())}
        out.append(row)
    return out


def agreement(ratio: dict | None, tolerance: float = TOLERANCE) -> dict:
    """Does the tool agree with a bare timer? `within`: |tool/bare - 1| <= tolerance (the issue's criterion);
    `interval_within`: the ratio's whole interval lies within the tolerance (agreement proven, not just seen)."""
    if not ratio or ratio.get("estimate") is None:
        return {"within": None, "interval_within": None, "tolerance": tolerance}
    slack = tolerance + EPSILON
    within = abs(ratio["estimate"] - 1) <= slack
    proven = None
    if ratio.get("ci_low") is not None and ratio.get("ci_high") is not None:
        proven = 1 - slack <= ratio["ci_low"] and ratio["ci_high"] <= 1 + slack
    return {"within": within, "interval_within": proven, "tolerance": tolerance}


def winners(rankings: dict[str, dict | None]) -> dict[str, str | None]:
    """metric -> the winner a run named (None: a tie, 'no measurable difference')."""
    return {metric: (r or {}).get("best") for metric, r in rankings.items() if r}


def winner_conflicts(rankings_per_repeat: Sequence[dict[str, dict | None]]) -> dict[str, list[str]]:
    """metric -> the different winners that different repeats named for it (only metrics with more than one).
    A tie is no conflict: a run that cannot separate two methods says so; naming two different winners is."""
    named: dict[str, list[str]] = {}
    for rankings in rankings_per_repeat:
        for metric, best in winners(rankings).items():
            if best is not None and best not in named.setdefault(metric, []):
                named[metric].append(best)
    return {metric: names for metric, names in named.items() if len(names) > 1}


def count(values) -> tuple[int, int]:
    """(how many are True, how many were decided) over booleans and Nones."""
    decided = [v for v in values if v is not None]
    return sum(bool(v) for v in decided), len(decided)


def verdict_lines(cross: Sequence[dict[str, dict]], agreements: Sequence[dict[str, dict]],
                  noisy_runs: Sequence[bool], conflicts: dict[str, list[str]], loaded: bool,
                  tolerance: float = TOLERANCE) -> list[str]:
    """One line per check: what was asked, how many passed, and PASS / FAIL / UNDECIDED."""

    def word(hits: int, n: int) -> str:
        return "UNDECIDED" if n == 0 else "PASS" if hits == n else "FAIL"

    pairs = [v for repeat in cross for m in repeat.values() for v in m["inside"].values()]
    hits, n = count(pairs)
    lines = [f"{word(hits, n)}: medians inside every other repeat's 95 % interval: {hits} of {n} pairs "
             f"(an honest tool is expected to reach ~83 %, see truth_checks)"]
    overlaps = [v for repeat in cross for m in repeat.values() for v in m["overlap"].values()]
    hits, n = count(overlaps)
    lines.append(f"{word(hits, n)}: intervals of the same method overlap across repeats: {hits} of {n} pairs")
    within = [a["within"] for repeat in agreements for a in repeat.values()]
    hits, n = count(within)
    lines.append(f"{word(hits, n)}: tool and bare generate() timer agree within {tolerance:.0%} (median tok/s): "
                 f"{hits} of {n} (repeat, method)")
    proven = [a["interval_within"] for repeat in agreements for a in repeat.values()]
    hits, n = count(proven)
    lines.append(f"{'PASS' if n and hits == n else 'INFO'}: ... with the ratio's whole interval within "
                 f"{tolerance:.0%}: {hits} of {n}")
    flagged = sum(bool(x) for x in noisy_runs)
    if loaded:
        lines.append(f"{'PASS' if flagged == len(noisy_runs) else 'FAIL'}: loaded runs flagged noisy: "
                     f"{flagged} of {len(noisy_runs)}")
    else:
        lines.append(f"INFO: runs flagged noisy (machine busy or spread > 10 %): {flagged} of {len(noisy_runs)}")
    if conflicts:
        detail = "; ".join(f"{metric}: {', '.join(names)}" for metric, names in conflicts.items())
        lines.append(f"FAIL: repeats named different winners ({detail})")
    else:
        lines.append("PASS: no two repeats named different winners for the same metric")
    return lines
