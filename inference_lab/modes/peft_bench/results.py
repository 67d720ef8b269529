"""Adapter-benchmark records and the pure arithmetic on them: per-run timings, per-category metrics, overheads
against the base with their intervals, the suite's overall figures and the cached base's drift. Pure: no torch
(reading or comparing results never loads a model).

The suite's own "time per token" is E2EL / generated tokens: a normalised latency that lets categories of
different lengths be compared, not TPOT.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ...core import stats
from .prompts import FittedPrompt


@dataclass
class RunTiming:
    seconds: float  # E2EL
    ttft_seconds: float | None
    tpot_seconds: float | None
    generated_tokens: int

    @property
    def seconds_per_token(self) -> float | None:
        return self.seconds / self.generated_tokens if self.generated_tokens else None


@dataclass
class PromptSample:
    prompt: str
    prompt_tokens: int
    original_prompt_tokens: int
    truncated: bool
    output: str
    run_seconds: list[float]
    generated_tokens: list[int]


@dataclass
class CategoryMetrics:
    """Each statistic is a `stats.Stats` dict (median, 95 % CI, spread) over every timed run of the category."""

    inference_time_s: dict | None
    time_per_token_s: dict | None
    ttft_s: dict | None
    tpot_s: dict | None
    generated_tokens: dict | None
    prompt_tokens_mean: float
    num_prompts: int
    num_runs: int
    base_inference_time_s: float | None = None
    base_time_per_token_s: float | None = None
    inference_overhead_pct: float | None = None
    inference_overhead: dict | None = None  # stats.percent_change: estimate, ci_low, ci_high, separated, paired
    time_per_token_overhead_pct: float | None = None


@dataclass
class CategoryResult:
    metrics: CategoryMetrics
    samples: list[PromptSample] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"metrics": asdict(self.metrics), "samples": [asdict(s) for s in self.samples]}


def overhead_pct(adapter: float | None, base: float | None) -> float | None:
    """How much slower the adapter is than the base, in percent of the base (negative = faster)."""
    if adapter is None or base is None or base <= 0:
        return None
    return (adapter - base) / base * 100.0


def median_of(stats_: dict | None) -> float | None:
    return None if stats_ is None else stats_["median"]


def run_seconds(category: dict) -> list[float]:
    """Every timed run of a category, prompt after prompt (the order paired mode pairs them in)."""
    return [s for sample in category.get("samples", []) for s in sample["run_seconds"]]


def category_metrics(runs: list[RunTiming], prompts: list[FittedPrompt], num_runs: int) -> CategoryMetrics:
    return CategoryMetrics(
        inference_time_s=stats.summary_dict([r.seconds for r in runs]),
        time_per_token_s=stats.summary_dict([r.seconds_per_token for r in runs]),
        ttft_s=stats.summary_dict([r.ttft_seconds for r in runs]),
        tpot_s=stats.summary_dict([r.tpot_seconds for r in runs]),
        generated_tokens=stats.summary_dict([float(r.generated_tokens) for r in runs]),
        prompt_tokens_mean=sum(p.tokens for p in prompts) / len(prompts),
        num_prompts=len(prompts),
        num_runs=num_runs,
    )


def compare_to_base(metrics: CategoryMetrics, adapter: dict, base: dict, paired: bool) -> CategoryMetrics:
    """Fill the base medians and the overheads (with an interval) from the category results of both sides."""
    base_metrics = base["metrics"]
    metrics.base_inference_time_s = median_of(base_metrics.get("inference_time_s"))
    metrics.base_time_per_token_s = median_of(base_metrics.get("time_per_token_s"))
    metrics.inference_overhead_pct = overhead_pct(median_of(metrics.inference_time_s), metrics.base_inference_time_s)
    metrics.time_per_token_overhead_pct = overhead_pct(median_of(metrics.time_per_token_s),
                                                       metrics.base_time_per_token_s)
    a, b = run_seconds(adapter), run_seconds(base)
    metrics.inference_overhead = stats.percent_change(stats.ratio(a, b, paired=paired and len(a) == len(b)))
    return metrics


def overall_metrics(by_category: dict[str, dict], base_by_category: dict[str, dict] | None = None,
                    paired: bool = False) -> dict:
    """Whole-suite figures: the sum over categories of the median time of one prompt (each category weighs the
    same), tokens likewise, time per token = the two divided; the overhead % on those sums, with its interval."""

    def totals(categories: dict[str, dict]) -> tuple[float | None, float | None]:
        metrics = [c.get("metrics", c) for c in categories.values()]
        times = [median_of(m["inference_time_s"]) for m in metrics]
        tokens = [median_of(m["generated_tokens"]) for m in metrics]
        if not times or None in times or None in tokens:
            return None, None
        return sum(times), sum(tokens)

    seconds, tokens = totals(by_category)
    per_token = seconds / tokens if seconds is not None and tokens else None
    overall = {"inference_time_s": seconds, "generated_tokens": tokens, "time_per_token_s": per_token}
    if base_by_category is not None:
        base_seconds, base_tokens = totals(base_by_category)
        base_per_token = base_seconds / base_tokens if base_seconds is not None and base_tokens else None
        ratio = stats.ratio_of_sums([run_seconds(c) for c in by_category.values()],
                                    [run_seconds(base_by_category[k]) for k in by_category], paired=paired)
        overall.update(base_inference_time_s=base_seconds, base_time_per_token_s=base_per_token,
                       inference_overhead_pct=overhead_pct(seconds, base_seconds),
                       inference_overhead=stats.percent_change(ratio),
                       time_per_token_overhead_pct=overhead_pct(per_token, base_per_token))
    return overall


def base_drift(cached_category: dict, probes: dict[str, list[float]]) -> dict:
    """How the base's speed now compares with the cached base on the category's first prompt, before the adapter
    was added and after it was removed. The drift is `significant` when its interval excludes no change: then the
    machine's speed changed since the cache was made, and an overhead against the cache is `unreliable`."""
    cached = cached_category["samples"][0]["run_seconds"]
    out: dict = {"cached_s": stats.summary_dict(cached)}
    significant = False
    for when, runs in probes.items():
        change = stats.percent_change(stats.ratio(runs, cached))
        out[when] = change
        significant = significant or bool(change and change["separated"])
    out["significant"] = significant
    return out
