"""Statistics of repeated measurements, and the rule that decides when one figure beats another. Pure: no torch.

Every reported figure is a `Stats`: n, median with a 95 % bootstrap confidence interval (`ci_low`, `ci_high`),
p90, the spread (p90/p50 and MAD, the median absolute deviation), mean, min, max, stdev.

A comparison between two figures is a `Ratio` (median of A / median of B) with its own bootstrap interval:
resampling the two samples independently, or, for measurements taken in interleaved rounds (A B, A B, ...),
resampling whole rounds so machine drift that hit both sides alike cancels. `verdict` names a winner only where
the interval excludes 1 (equal); otherwise the two are tied: "no measurable difference". Rankings are built from
those verdicts, so a winner is never named inside the noise.

The bootstrap is seeded (same data -> same interval) and percentile-based; with n < 2 there is no interval and
nothing can be separated. Below `SMALL_N` values the percentile bootstrap of a median cannot reach 95 %: its
resampled medians never leave [min, max], which holds the true median only 1 - 2^(1-n) of the time (75 % for the
3 rounds of a quick run), so a winner would be named inside the noise one time in four. There the interval is
Student's t on the logarithms instead (values that are all positive: rates, times, bytes; otherwise on the values):
wide when few values scatter, as it should be (x4.3 the standard error for 3 values), and still able to separate a
large, consistent difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 20251124
# A measurement whose median absolute deviation exceeds this share of its median is flagged noisy.
NOISY_MAD = 0.10
# Below this many values a median's percentile bootstrap covers less than 95 %: Student's t is used instead.
SMALL_N = 6
# Two-sided 97.5 % quantiles of Student's t by degrees of freedom (no scipy in the CPU stack); beyond 30, 1.96.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass
class Stats:
    n: int
    median: float
    ci_low: float | None
    ci_high: float | None
    p90: float
    p90_p50: float | None
    mad: float
    mean: float
    min: float
    max: float
    stdev: float

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def relative_mad(self) -> float | None:
        return self.mad / abs(self.median) if self.median else None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([float(v) for v in values if v is not None], dtype=float)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))


def t_quantile(df: float) -> float:
    """Student's t, two-sided 95 % (df rounded down: the wider, safer side)."""
    index = int(df) - 1
    return _T975[index] if 0 <= index < len(_T975) else 1.96 if index >= 0 else math.inf


def _t_interval(data: np.ndarray) -> tuple[float, float] | None:
    """Student's t interval of the centre, on the logarithms where every value is positive."""
    if data.size < 2:
        return None
    logs = bool(np.all(data > 0))
    x = np.log(data) if logs else data
    half = t_quantile(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    low, high = float(x.mean()) - half, float(x.mean()) + half
    return (math.exp(low), math.exp(high)) if logs else (low, high)


def _welch_log_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Interval of exp(mean log x - mean log y) by Welch's t (unpaired samples, unequal spread); all positive."""
    if x.size < 2 or y.size < 2 or not (np.all(x > 0) and np.all(y > 0)):
        return None
    lx, ly = np.log(x), np.log(y)
    vx, vy = lx.var(ddof=1) / lx.size, ly.var(ddof=1) / ly.size
    centre = float(lx.mean() - ly.mean())
    if vx + vy == 0:
        return math.exp(centre), math.exp(centre)
    df = (vx + vy) ** 2 / (vx ** 2 / (lx.size - 1) + vy ** 2 / (ly.size - 1))
    half = t_quantile(df) * math.sqrt(vx + vy)
    return math.exp(centre - half), math.exp(centre + half)


def bootstrap_median_ci(values: Sequence[float], confidence: float = CONFIDENCE,
                        resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """95 % interval of the median: the percentile bootstrap, or Student's t below `SMALL_N` values."""
    data = _clean(values)
    if 2 <= data.size < SMALL_N and confidence == CONFIDENCE:
        return _t_interval(data)
    return bootstrap_percentile_ci(values, 50.0, confidence, resamples)


def bootstrap_percentile_ci(values: Sequence[float], q: float, confidence: float = CONFIDENCE,
                            resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the q-th percentile (q=50: the median). A tail percentile from few values
    is mostly the sample maximum: its interval is wide, honestly so."""
    data = _clean(values)
    if data.size < 2:
        return None
    picks = _rng().integers(0, data.size, size=(resamples, data.size))
    return _interval(np.percentile(data[picks], q, axis=1), confidence)


def summarize(values: Sequence[float | None], confidence: float = CONFIDENCE) -> Stats | None:
    data = _clean(values)
    if data.size == 0:
        return None
    median = float(np.median(data))
    ci = bootstrap_median_ci(data, confidence)
    p90 = float(np.percentile(data, 90))
    return Stats(
        n=int(data.size),
        median=median,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        p90=p90,
        p90_p50=p90 / median if median else None,
        mad=float(np.median(np.abs(data - median))),
        mean=float(data.mean()),
        min=float(data.min()),
        max=float(data.max()),
        stdev=float(data.std(ddof=1)) if data.size > 1 else 0.0,
    )


def summary_dict(values: Sequence[float | None]) -> dict | None:
    """`summarize` as a plain dict for result files (None values dropped; None when nothing is left)."""
    stats = summarize(values)
    return stats.to_dict() if stats else None


def is_noisy(stats: dict | Stats | None, threshold: float = NOISY_MAD) -> bool:
    if stats is None:
        return False
    data = stats.to_dict() if isinstance(stats, Stats) else stats
    median, mad = data.get("median"), data.get("mad")
    return bool(median and mad is not None and mad / abs(median) > threshold)


def wilson_interval(hits: int, n: int) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (an accuracy over n questions): unlike p +- 1.96 se it stays
    inside [0, 1] and is honest at 0 % and 100 %."""
    if n <= 0:
        return None
    z, p = 1.959964, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- ratios and verdicts -------------------------------------------------------------------------------------


@dataclass
class Ratio:
    """median(a) / median(b) with a bootstrap interval; `paired` when resampled by interleaved round."""

    estimate: float
    ci_low: float | None
    ci_high: float | None
    n_a: int
    n_b: int
    paired: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def separated(self) -> bool:
        """The interval excludes 1: the two figures differ measurably."""
        return self.separated_by(0.0)

    def separated_by(self, margin: float) -> bool:
        """The interval lies wholly outside [1 - margin, 1 + margin] (margin: what counts as equal in practice)."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 1 + margin or self.ci_high < 1 - margin


def ratio(a: Sequence[float], b: Sequence[float], *, paired: bool = False, confidence: float = CONFIDENCE,
          resamples: int = RESAMPLES) -> Ratio | None:
    """median(a)/median(b) and its interval. `paired`: a[i] and b[i] come from the same round (same length)."""
    x, y = _clean(a), _clean(b)
    if x.size == 0 or y.size == 0 or np.median(y) == 0:
        return None
    estimate = float(np.median(x) / np.median(y))
    if paired and x.size != y.size:
        raise ValueError(f"paired ratio needs equal lengths ({x.size} vs {y.size})")
    if x.size < 2 or y.size < 2:
        return Ratio(estimate, None, None, int(x.size), int(y.size), paired)
    if min(x.size, y.size) < SMALL_N and confidence == CONFIDENCE:
        ci = _t_interval(x / y) if paired and np.all(y != 0) else _welch_log_interval(x, y)
        if ci is not None:
            return Ratio(estimate, ci[0], ci[1], int(x.size), int(y.size), paired)
    rng = _rng()
    if paired:
        picks = rng.integers(0, x.size, size=(resamples, x.size))
        num, den = np.median(x[picks], axis=1), np.median(y[picks], axis=1)
    else:
        num = np.median(x[rng.integers(0, x.size, size=(resamples, x.size))], axis=1)
        den = np.median(y[rng.integers(0, y.size, size=(resamples, y.size))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = num / den
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return Ratio(estimate, None, None, int(x.size), int(y.size), paired)
    low, high = _interval(samples, confidence)
    return Ratio(estimate, low, high, int(x.size), int(y.size), paired)


def percent_change(r: Ratio | None) -> dict | None:
    """A ratio as a change in percent ((a - b) / b), with its interval: how overheads are reported."""
    if r is None:
        return None

    def as_pct(v: float | None) -> float | None:
        return None if v is None else (v - 1) * 100

    return {"estimate": as_pct(r.estimate), "ci_low": as_pct(r.ci_low), "ci_high": as_pct(r.ci_high),
            "separated": r.separated, "n_a": r.n_a, "n_b": r.n_b, "paired": r.paired}


@dataclass
class Ranking:
    """The best item by median, and the items the noise cannot separate from it."""

    metric: str
    higher_is_better: bool
    best: str | None  # a winner only when separated from every other item
    tied: list[str]  # items (best included) whose interval against the best includes 1
    order: list[str]  # all items, best first, by median
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def rank(samples: dict[str, Sequence[float]], metric: str, *, higher_is_better: bool, paired: bool = False,
         margin: float = 0.0) -> Ranking | None:
    """Rank items by median; name a winner only if its ratio against each other item excludes 1 (widened by
    `margin` where a small difference is no difference in practice, e.g. 2 % of a process's peak RSS)."""
    medians = {name: float(np.median(_clean(v))) for name, v in samples.items() if _clean(v).size}
    if not medians:
        return None
    order = sorted(medians, key=medians.get, reverse=higher_is_better)
    top = order[0]
    if len(order) == 1:
        return Ranking(metric, higher_is_better, None, [top], order, "only one item measured")
    tied = [top]
    ratios = {}
    for other in order[1:]:
        ratios[other] = r = ratio(samples[top], samples[other],
                                  paired=paired and len(samples[top]) == len(samples[other]))
        if r is None or not r.separated_by(margin):
            tied.append(other)
    if len(tied) == 1:
        second = order[1]
        r = ratios[second]
        return Ranking(metric, higher_is_better, top, tied, order,
                       f"x{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] vs {second}")
    reason = f"no measurable difference between {', '.join(tied)}"
    behind = next((o for o in order if o not in tied), None)
    if behind is not None:  # the tie at the top still beats what follows: say by how much
        r = ratios[behind]
        reason += f"; {top} x{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] vs {behind}"
    return Ranking(metric, higher_is_better, None, tied, order, reason)


def ratio_of_sums(a_groups: Sequence[Sequence[float]], b_groups: Sequence[Sequence[float]], *, paired: bool = False,
                  confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Ratio | None:
    """sum of group medians of a / the same of b (e.g. a suite's total over prompt categories, each category
    weighing the same), with an interval from resampling every group; `paired` groups are resampled by index."""
    xs, ys = [_clean(g) for g in a_groups], [_clean(g) for g in b_groups]
    if not xs or len(xs) != len(ys) or any(g.size == 0 for g in xs + ys):
        return None
    estimate = sum(float(np.median(g)) for g in xs) / sum(float(np.median(g)) for g in ys)
    n_a, n_b = sum(g.size for g in xs), sum(g.size for g in ys)
    if any(g.size < 2 for g in xs + ys):
        return Ratio(estimate, None, None, n_a, n_b, paired)
    rng = _rng()
    num = np.zeros(resamples)
    den = np.zeros(resamples)
    for x, y in zip(xs, ys):
        if paired and x.size == y.size:
            picks = rng.integers(0, x.size, size=(resamples, x.size))
            num += np.median(x[picks], axis=1)
            den += np.median(y[picks], axis=1)
        else:
            num += np.median(x[rng.integers(0, x.size, size=(resamples, x.size))], axis=1)
            den += np.median(y[rng.integers(0, y.size, size=(resamples, y.size))], axis=1)
    low, high = _interval(num / den, confidence)
    return Ratio(estimate, low, high, n_a, n_b, paired)
