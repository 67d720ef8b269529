"""The methods mode's records and summaries: the same field names in memory, in results.jsonl, summary.json,
summary.csv and every table. Pure: no torch, so reading and comparing runs is fast.

Throughput is counted two ways, and only one is ranked:
- completion tokens: the tokens of the completions a user gets back (each row up to and including its first
  EOS). `completion_tokens_per_s` (completion tokens of a round / the round's wall time) is THE ranking metric.
- generated tokens: what the model computed, rows x decoding steps (for beam search: beams x steps, since
  every beam is decoded and only `num_return_sequences` come back). Reported, never ranked: it makes beam
  search look fast for work nobody asked for.
Every statistic is a `stats.Stats` dict (median with its 95 % bootstrap interval, spread); rankings name a
winner only where the interval of its ratio to every other method excludes "equal" (`stats.rank`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ...core import stats

RANKING_METRIC = "completion_tokens_per_s"
# RSS includes the runtime and the weights: a peak within 2 % of another is the same peak in practice.
MEMORY_MARGIN = 0.02


@dataclass
class BatchRecord:
    method: str
    run: int  # the round (interleaved: every method runs once per round)
    batch_index: int
    prompt_indices: list[int]
    completion_indices: list[int]
    rows: int  # completions returned by the call
    latency_s: float  # E2EL of the generate call
    ttft_s: float | None
    tpot_s: float | None
    itl_s: list[float]
    steps: int  # decoding steps of the call
    new_tokens: list[int]  # per returned row, up to and including its first EOS
    completion_tokens: int
    generated_tokens: int  # rows (or beams) computed x steps
    tokens_per_s: float  # completion tokens / latency of this batch
    forward_calls: int
    draft_forward_calls: int | None
    texts: list[str]
    pid: int = 0  # the process that measured it (a resumed run mixes whole rounds of two processes)


@dataclass
class MethodSummary:
    method: str
    base_method: str | None
    variant: str | None
    status: str  # ok | skipped | unsupported | failed | interrupted
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    effective_batch_size: int | None = None
    beams: int | None = None
    generate_settings: dict[str, Any] = field(default_factory=dict)
    completions: int = 0
    batches_per_run: int = 0
    runs: int = 0
    completion_tokens_per_s: dict | None = None  # over rounds: the ranking metric
    generated_tokens_per_s: dict | None = None  # over rounds
    tokens_per_s: dict | None = None  # over batches (completion tokens / batch latency)
    latency_s: dict | None = None  # over batches
    ttft_s: dict | None = None
    tpot_s: dict | None = None
    itl_s: dict | None = None  # every gap between decoding steps, pooled
    run_seconds: dict | None = None
    completion_tokens_per_run: int | None = None
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    tokens_per_forward: float | None = None
    acceptance_rate: float | None = None
    roofline: dict | None = None
    energy: dict | None = None  # joules per completion token (CUDA with NVML), or why there is none
    compile: dict | None = None  # the compiled method: compile seconds, recompiles, graphs during timing
    batch_auto: list | None = None  # batch_size auto: every size tried and its outcome
    noisy: str | None = None  # why its spread is too wide to trust, if it is
    per_round: dict[str, list] = field(default_factory=dict)  # samples behind every interval and ranking
    sample_output: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _median(values: list[float]) -> float | None:
    clean = sorted(v for v in values if v is not None)
    if not clean:
        return None
    mid = len(clean) // 2
    return clean[mid] if len(clean) % 2 else (clean[mid - 1] + clean[mid]) / 2


def aggregate(summary: MethodSummary, records: list[BatchRecord],
              peaks: dict[int, dict] | None = None) -> MethodSummary:
    """Fill the figures of `summary` from its timed batch records and per-round memory peaks (pure)."""
    if not records:
        return summary
    runs = sorted({r.run for r in records})
    by_run = {run: [r for r in records if r.run == run] for run in runs}
    seconds = [sum(r.latency_s for r in by_run[run]) for run in runs]
    completion = [sum(r.completion_tokens for r in by_run[run]) for run in runs]
    generated = [sum(r.generated_tokens for r in by_run[run]) for run in runs]
    summary.runs = len(runs)
    summary.completion_tokens_per_s = stats.summary_dict([t / s for t, s in zip(completion, seconds) if s > 0])
    summary.generated_tokens_per_s = stats.summary_dict([t / s for t, s in zip(generated, seconds) if s > 0])
    summary.tokens_per_s = stats.summary_dict([r.tokens_per_s for r in records])
    summary.latency_s = stats.summary_dict([r.latency_s for r in records])
    summary.ttft_s = stats.summary_dict([r.ttft_s for r in records])
    summary.tpot_s = stats.summary_dict([r.tpot_s for r in records])
    summary.itl_s = stats.summary_dict([gap for r in records for gap in r.itl_s])
    summary.run_seconds = stats.summary_dict(seconds)
    summary.completion_tokens_per_run = int(sorted(completion)[len(completion) // 2])
    summary.per_round = {
        "run": runs,
        RANKING_METRIC: [t / s if s > 0 else None for t, s in zip(completion, seconds)],
        "latency_s": [_median([r.latency_s for r in by_run[run]]) for run in runs],
        "ttft_s": [_median([r.ttft_s for r in by_run[run]]) for run in runs],
        "tpot_s": [_median([r.tpot_s for r in by_run[run]]) for run in runs],
    }
    if peaks:
        rss = [peaks[run]["rss"] for run in runs if run in peaks]
        gpu = [peaks[run]["gpu"] for run in runs if run in peaks and peaks[run]["gpu"] is not None]
        summary.per_round["peak_rss_bytes"] = rss
        summary.peak_rss_bytes = max(rss) if rss else None
        if gpu:
            summary.per_round["peak_gpu_bytes"] = gpu
            summary.peak_gpu_bytes = max(gpu)
    total = sum(completion)
    forwards = sum(r.forward_calls for r in records)
    summary.tokens_per_forward = round(total / forwards, 4) if forwards else None
    drafted = [r.draft_forward_calls for r in records if r.draft_forward_calls is not None]
    if drafted and sum(drafted):
        # Each verification step yields the accepted draft tokens plus one token of the main model's own.
        accepted = sum(r.generated_tokens for r in records) - forwards
        summary.acceptance_rate = round(max(accepted, 0) / sum(drafted), 4)
    spread = summary.completion_tokens_per_s
    if spread and spread["n"] > 1 and stats.is_noisy(spread):
        summary.noisy = (f"rounds spread {spread['mad'] / spread['median']:.0%} of the median (MAD); "
                         f"p90/p50 {spread['p90_p50']:.2f}")
    summary.sample_output = records[-1].texts[0] if records[-1].texts else None
    return summary


# metric -> (higher is better, equivalence margin, label)
RANKED = {
    RANKING_METRIC: (True, 0.0, "Fastest (completion tokens/s)"),
    "latency_s": (False, 0.0, "Lowest latency per batch"),
    "ttft_s": (False, 0.0, "Lowest time to first token"),
    "peak_rss_bytes": (False, MEMORY_MARGIN, "Least memory (peak RSS)"),
    "peak_gpu_bytes": (False, MEMORY_MARGIN, "Least GPU memory"),
}


def rankings(methods: list[MethodSummary | dict]) -> dict[str, dict | None]:
    """Per ranked metric: the winner (or the tie), from per-round samples, paired by round (interleaved)."""
    rows = [m if isinstance(m, dict) else m.to_dict() for m in methods]
    done = [m for m in rows if m["status"] == "ok" and m.get("per_round")]
    out: dict[str, dict | None] = {}
    for metric, (higher, margin, _label) in RANKED.items():
        samples = {m["method"]: [v for v in m["per_round"].get(metric, []) if v is not None] for m in done}
        samples = {k: v for k, v in samples.items() if v}
        if len(samples) < 2:
            out[metric] = None
            continue
        result = stats.rank(samples, metric, higher_is_better=higher, paired=True, margin=margin)
        out[metric] = result.to_dict() if result else None
    return out


def ranking_lines(rankings_: dict[str, dict | None]) -> list[str]:
    lines = []
    for metric, result in rankings_.items():
        if not result:
            continue
        label = RANKED[metric][2]
        if result["best"]:
            lines.append(f"{label}: {result['best']} ({result['reason']})")
        else:
            lines.append(f"{label}: {result['reason']}")
    return lines
