"""Timing generation per prompt category (the arithmetic on the timings is in `results.py`).

One timed run = one greedy `generate` on one prompt (batch 1) through `models.timed.timed_generate` (E2EL, TTFT
and TPOT with vLLM's definitions). Every category is warmed up first (untimed runs), then each prompt is timed
`num_inference_runs` times; with two models (paired mode: base and adapter) the runs interleave prompt by prompt
and alternate which goes first (ABBA), so a change in machine speed hits both alike, and the overhead's interval is
computed paired.
"""

from __future__ import annotations

from ...models.timed import timed_generate
from .prompts import FittedPrompt
from .results import CategoryResult, PromptSample, RunTiming, category_metrics


def time_one(model, tokenizer, prompt: str, max_new_tokens: int, fixed_length: bool) -> tuple[RunTiming, str]:
    extra = {"min_new_tokens": max_new_tokens} if fixed_length else {}
    timing = timed_generate(model, tokenizer, [prompt], generate_kwargs={
        "max_new_tokens": max_new_tokens, "do_sample": False, **extra})
    run = RunTiming(timing.e2el_s, timing.ttft_s, timing.tpot_s, timing.new_tokens[0])
    return run, timing.texts[0]


def probe_runs(model, tokenizer, prompt: FittedPrompt, max_new_tokens: int, *, num_runs: int, warmup_runs: int,
               fixed_length: bool) -> list[float]:
    """The seconds of each run of one prompt, timed exactly as `measure_category` times it."""
    for _ in range(warmup_runs):
        time_one(model, tokenizer, prompt.text, max_new_tokens, fixed_length)
    return [time_one(model, tokenizer, prompt.text, max_new_tokens, fixed_length)[0].seconds for _ in range(num_runs)]


def measure_category(models: dict[str, object], tokenizer, prompts: list[FittedPrompt], max_new_tokens: int, *,
                     num_runs: int, warmup_runs: int, fixed_length: bool) -> dict[str, CategoryResult]:
    """Time each model on every prompt of one category; with two models the runs interleave (ABBA)."""
    names = list(models)
    for _ in range(warmup_runs):
        for name in names:
            for prompt in prompts:
                time_one(models[name], tokenizer, prompt.text, max_new_tokens, fixed_length)
    per_prompt = {name: [[] for _ in prompts] for name in names}
    outputs = {name: [""] * len(prompts) for name in names}
    for run in range(num_runs):
        for i, prompt in enumerate(prompts):
            for name in names if run % 2 == 0 else reversed(names):
                timing, outputs[name][i] = time_one(models[name], tokenizer, prompt.text, max_new_tokens, fixed_length)
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
