"""Trade-off arithmetic on measured configurations (pure): Pareto front, knee, best under a service level.

Items are dicts or objects; figures are read by name (`tokens_per_s`, `latency_ms`, `ttft_ms`, `tpot_ms`,
`memory_mib`), so the same functions serve the sweep report and its tests. An item missing a figure never
lands on a front nor meets a constraint that needs it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import UserError

Objective = tuple[str, str]  # (figure, "max" | "min")
THROUGHPUT_VS_LATENCY: tuple[Objective, ...] = (("tokens_per_s", "max"), ("latency_ms", "min"))


def figure(item: Any, key: str) -> float | None:
    value = item.get(key) if isinstance(item, dict) else getattr(item, key, None)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _score(item: Any, objectives: Sequence[Objective]) -> tuple[float, ...] | None:
    values = []
    for key, direction in objectives:
        if direction not in {"max", "min"}:
            raise ValueError(f"objective {key}: direction must be 'max' or 'min', not {direction!r}")
        value = figure(item, key)
        if value is None:
            return None
        values.append(value if direction == "max" else -value)  # larger is better on every axis
    return tuple(values)


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a is at least as good as b everywhere and strictly better somewhere (scores: larger is better)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_front(items: Sequence[Any], objectives: Sequence[Objective] = THROUGHPUT_VS_LATENCY) -> list[Any]:
    """The items no other item dominates, in input order. Exact ties are all kept (neither dominates the
    other); a duplicate of a dominated item is dominated too."""
    scored = [(item, _score(item, objectives)) for item in items]
    scored = [(item, s) for item, s in scored if s is not None]
    return [item for item, s in scored if not any(dominates(other, s) for _o, other in scored)]


def knee(front: Sequence[Any], x: str = "latency_ms", y: str = "tokens_per_s") -> Any | None:
    """The point of diminishing returns on a throughput/latency front.

    Rule: sort the front by x, scale x and y to [0, 1] over the front, draw the straight line from its first
    to its last point, and take the point farthest *above* that line (largest throughput gained for the
    latency spent, relative to a uniform trade). None when the front has fewer than three points or no
    point lies above the line (a straight or convex front has no knee: its ends are the choices).
    """
    points = sorted((p for p in front if figure(p, x) is not None and figure(p, y) is not None),
                    key=lambda p: (figure(p, x), -figure(p, y)))
    if len(points) < 3:
        return None
    xs, ys = [figure(p, x) for p in points], [figure(p, y) for p in points]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    nx = [(v - min(xs)) / span_x for v in xs]
    ny = [(v - min(ys)) / span_y for v in ys]
    dx, dy = nx[-1] - nx[0], ny[-1] - ny[0]
    length = math.hypot(dx, dy)
    if length == 0:
        return None
    best, best_distance = None, 1e-9
    for p, px, py in zip(points, nx, ny):
        # Signed distance, positive above the chord (the cross product of the chord and the point's offset).
        distance = (dx * (py - ny[0]) - dy * (px - nx[0])) / length
        if distance > best_distance:
            best, best_distance = p, distance
    return best


# --- service levels ------------------------------------------------------------------------------------

SLO_FIGURES = {
    "ttft_ms": "time to first token (median, ms)",
    "tpot_ms": "time per later token (median, ms)",
    "latency_ms": "end-to-end latency of a request (median, ms)",
    "memory_mib": "peak memory (GPU where measured, else RSS; MiB)",
    "tokens_per_s": "throughput (median, new tokens/s)",
}
_OPS = {"<=": lambda v, lim: v <= lim, "<": lambda v, lim: v < lim, ">=": lambda v, lim: v >= lim,
        ">": lambda v, lim: v > lim}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    key: str
    op: str
    limit: float

    def holds(self, item: Any) -> bool:
        value = figure(item, self.key)
        return value is not None and _OPS[self.op](value, self.limit)

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.limit:g}"


def parse_slo(text: str) -> list[Constraint]:
    """'ttft_ms<=200,tpot_ms<=50,memory_mib<=4000' -> constraints; a bad part is a one-line UserError."""
    constraints = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _CONSTRAINT.match(part)
        if not match:
            raise UserError(f"--slo: cannot read {part.strip()!r}; write figure<=number, e.g. ttft_ms<=200")
        key, op, raw = match.groups()
        if key not in SLO_FIGURES:
            raise UserError(f"--slo: unknown figure '{key}' (known: {', '.join(SLO_FIGURES)})")
        try:
            limit = float(raw)
        except ValueError:
            raise UserError(f"--slo: {part.strip()!r}: {raw!r} is not a number") from None
        constraints.append(Constraint(key, op, limit))
    if not constraints:
        raise UserError("--slo: no constraint given; e.g. --slo 'ttft_ms<=200,memory_mib<=4000'")
    return constraints


def slo_text(constraints: Sequence[Constraint]) -> str:
    return ", ".join(str(c) for c in constraints)


def best_under(items: Sequence[Any], constraints: Sequence[Constraint],
               maximise: str = "tokens_per_s", tie_break: str = "latency_ms") -> tuple[Any | None, int]:
    """(the item with the highest `maximise` among those meeting every constraint, how many met them).
    Ties go to the lower `tie_break` figure."""
    meeting = [i for i in items if figure(i, maximise) is not None and all(c.holds(i) for c in constraints)]
    if not meeting:
        return None, 0

    def rank(item: Any) -> tuple[float, float]:
        second = figure(item, tie_break)
        return figure(item, maximise), -(second if second is not None else math.inf)

    return max(meeting, key=rank), len(meeting)
