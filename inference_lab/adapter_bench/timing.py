"""Timing generation per prompt category, and the pure arithmetic on those timings (medians, overhead).

One timed run = one `generate` call on one prompt (batch 1, greedy), under `Stopwatch` (device-synced) with a
`TokenClock` giving the prefill time (time to the first new token) and the decode time per later token.
Every category is warmed up first (untimed runs), then each prompt is timed `num_inference_runs` times; in paired
mode the base and the adapter runs interleave (ABBA) so both see the same machine.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

import torch

from ..measure import Stopwatch, TokenClock, summary_dict
from ..textgen import decode, encode_batch, split_new_tokens
from .prompts import FittedPrompt


@dataclass
class RunTiming:
    seconds: float
    prefill_seconds: float | None
    decode_seconds_per_token: float | None
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
    """Medians with spread (n, median, p90, mean, min, max, stdev) over every timed run of the category."""

    inference_time_s: dict | None
    time_per_token_s: dict | None
    prefill_time_s: dict | None
    decode_time_per_token_s: dict | None
    generated_tokens: dict | None
    prompt_tokens_mean: float
    num_prompts: int
    num_runs: int
    base_inference_time_s: float | None = None
    base_time_per_token_s: float | None = None
    inference_overhead_pct: float | None = None
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


def median_of(stats: dict | None) -> float | None:
    return None if stats is None else stats["median"]


def category_metrics(runs: list[RunTiming], prompts: list[FittedPrompt], num_runs: int) -> CategoryMetrics:
    return CategoryMetrics(
        inference_time_s=summary_dict([r.seconds for r in runs]),
        time_per_token_s=summary_dict([r.seconds_per_token for r in runs]),
        prefill_time_s=summary_dict([r.prefill_seconds for r in runs]),
        decode_time_per_token_s=summary_dict([r.decode_seconds_per_token for r in runs]),
        generated_tokens=summary_dict([float(r.generated_tokens) for r in runs]),
        prompt_tokens_mean=sum(p.tokens for p in prompts) / len(prompts),
        num_prompts=len(prompts),
        num_runs=num_runs,
    )


def compare_to_base(metrics: CategoryMetrics, base: dict) -> CategoryMetrics:
    """Fill the base medians and the overheads from a base CategoryMetrics dict (as cached)."""
    metrics.base_inference_time_s = median_of(base.get("inference_time_s"))
    metrics.base_time_per_token_s = median_of(base.get("time_per_token_s"))
    metrics.inference_overhead_pct = overhead_pct(median_of(metrics.inference_time_s), metrics.base_inference_time_s)
    metrics.time_per_token_overhead_pct = overhead_pct(median_of(metrics.time_per_token_s),
                                                       metrics.base_time_per_token_s)
    return metrics


def overall_metrics(by_category: dict[str, dict], base_by_category: dict[str, dict] | None = None) -> dict:
    """Whole-suite figures: the sum over categories of the median time of one prompt (each category weighs the
    same), tokens likewise, time per token = the two divided; overhead % on those sums."""

    def totals(categories: dict[str, dict]) -> tuple[float | None, float | None]:
        times = [median_of(c["inference_time_s"]) for c in categories.values()]
        tokens = [median_of(c["generated_tokens"]) for c in categories.values()]
        if not times or None in times or None in tokens:
            return None, None
        return sum(times), sum(tokens)

    seconds, tokens = totals(by_category)
    per_token = seconds / tokens if seconds is not None and tokens else None
    overall = {"inference_time_s": seconds, "generated_tokens": tokens, "time_per_token_s": per_token}
    if base_by_category is not None:
        base_seconds, base_tokens = totals(base_by_category)
        base_per_token = base_seconds / base_tokens if base_seconds is not None and base_tokens else None
        overall.update(base_inference_time_s=base_seconds, base_time_per_token_s=base_per_token,
                       inference_overhead_pct=overhead_pct(seconds, base_seconds),
                       time_per_token_overhead_pct=overhead_pct(per_token, base_per_token))
    return overall


DRIFT_WARN_PCT = 10.0


def base_drift(cached: dict, before_s: float | None, after_s: float | None) -> dict:
    """How far the base's speed now is from the cached base (first short prompt, same settings), before the
    adapter was added and after it was removed. A large drift means the machine changed speed (load, clocks,
    thermal) between the two measurements, so the overhead % mixes that change in."""
    cached_s = statistics.median(cached["samples"][0]["run_seconds"])
    drifts = [overhead_pct(v, cached_s) for v in (before_s, after_s)]
    known = [abs(d) for d in drifts if d is not None]
    return {"cached_s": cached_s, "before_s": before_s, "after_s": after_s, "drift_before_pct": drifts[0],
            "drift_after_pct": drifts[1], "max_abs_drift_pct": max(known) if known else None,
            "reliable": bool(known) and max(known) <= DRIFT_WARN_PCT}


def probe_seconds(model, tokenizer, prompt: FittedPrompt, max_new_tokens: int, *, num_runs: int, warmup_runs: int,
                  fixed_length: bool, device: torch.device) -> float:
    """Median time of one prompt, timed exactly as `measure_category` times it."""
    for _ in range(warmup_runs):
        time_one(model, tokenizer, prompt.text, max_new_tokens, fixed_length, device)
    runs = [time_one(model, tokenizer, prompt.text, max_new_tokens, fixed_length, device)[0].seconds
            for _ in range(num_runs)]
    return statistics.median(runs)


@torch.no_grad()
def time_one(model, tokenizer, prompt: str, max_new_tokens: int, fixed_length: bool,
             device: torch.device) -> tuple[RunTiming, str]:
    from transformers import StoppingCriteriaList

    encoded = encode_batch(tokenizer, [prompt], device)
    clock = TokenClock(device)
    extra = {"min_new_tokens": max_new_tokens} if fixed_length else {}
    with Stopwatch(device) as watch:
        clock.begin()
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([clock]),
                             **extra)
    new = split_new_tokens(model, tokenizer, out, encoded["input_ids"].shape[1])[0]
    timing = RunTiming(watch.seconds, clock.time_to_first_token, clock.time_per_output_token(), len(new))
    return timing, decode(tokenizer, [new])[0]


def measure_category(models: dict[str, object], tokenizer, prompts: list[FittedPrompt], max_new_tokens: int, *,
                     num_runs: int, warmup_runs: int, fixed_length: bool,
                     device: torch.device) -> dict[str, CategoryResult]:
    """Time each model on every prompt of one category. With two models (paired mode: base and adapter) the runs
    interleave prompt by prompt and alternate which goes first (ABBA), so a change in machine speed hits both."""
    names = list(models)
    for _ in range(warmup_runs):
        for name in names:
            for prompt in prompts:
                time_one(models[name], tokenizer, prompt.text, max_new_tokens, fixed_length, device)
    per_prompt = {name: [[] for _ in prompts] for name in names}
    outputs = {name: [""] * len(prompts) for name in names}
    for run in range(num_runs):
        for i, prompt in enumerate(prompts):
            for name in names if run % 2 == 0 else reversed(names):
                timing, outputs[name][i] = time_one(models[name], tokenizer, prompt.text, max_new_tokens,
                                                    fixed_length, device)
                per_prompt[name][i].append(timing)
    results = {}
    for name in names:
        samples = [
            PromptSample(p.text, p.tokens, p.original_tokens, p.truncated, outputs[name][i],
                         [round(r.seconds, 6) for r in per_prompt[name][i]],
                         [r.generated_tokens for r in per_prompt[name][i]])
            for i, p in enumerate(prompts)
        ]
        runs = [r for rows in per_prompt[name] for r in rows]
        results[name] = CategoryResult(category_metrics(runs, prompts, num_runs), samples)
    return results
