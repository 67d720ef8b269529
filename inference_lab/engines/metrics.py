"""Aggregate figures of a load run, with vLLM's definitions (pure functions over `RequestResult`s).

Definitions follow vLLM `vllm/benchmarks/serve.py::calculate_metrics` (v0.32):
- TTFT, E2EL: one value per successful request; TPOT: one per successful request with > 1 output token;
  ITL: every gap of every successful request, pooled.
- request_throughput = completed / wall; output_throughput = output tokens of completed requests / wall.
- goodput = requests meeting *every* given SLO / wall (DistServe's definition as vLLM implements it: a
  request with one output token counts TPOT as 0 for the SLO check).
Distributions are plain dicts: `core.stats.summary_dict` (n, median with its bootstrap interval, p90, mad, mean,
min, max, stdev) plus p50, p99 and bootstrap intervals of p90 and p99.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..core.stats import bootstrap_percentile_ci, percentile, summary_dict
from .openai_client import RequestResult

METRICS = ("ttft_s", "tpot_s", "itl_s", "e2el_s")


def distribution(values: Sequence[float | None]) -> dict | None:
    """summary_dict plus p50 and p99 (None when there is no value)."""
    clean = [float(v) for v in values if v is not None]
    stats = summary_dict(clean)
    if stats is None:
        return None
    stats["p50"] = stats["median"]
    stats["p99"] = percentile(clean, 99)
    for q in (90, 99):
        ci = bootstrap_percentile_ci(clean, q)
        stats[f"p{q}_ci"] = list(ci) if ci else None
    return stats


def meets_slo(result: RequestResult, limits_s: Mapping[str, float]) -> bool:
    """True when a successful request is within every limit (keys: ttft_s, tpot_s, e2el_s; seconds)."""
    if not result.ok:
        return False
    for key, limit in limits_s.items():
        value = getattr(result, key)
        if key == "tpot_s" and value is None:
            value = 0.0  # vLLM: "if output_len <= 1, we regard tpot as 0 for goodput"
        if value is None or value > limit:
            return False
    return True


def aggregate(results: Sequence[RequestResult], wall_s: float, slo_limits_s: Mapping[str, float] | None = None
              ) -> dict:
    """Counts, throughputs, goodput and the four latency distributions of one measured load run."""
    done = [r for r in results if r.ok]
    output_tokens = sum(r.output_tokens or 0 for r in done)
    out = {
        "requests": len(results),
        "completed": len(done),
        "failed": len(results) - len(done),
        "wall_s": wall_s,
        "output_tokens": output_tokens,
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in done),
        "request_throughput": len(done) / wall_s if wall_s > 0 else None,
        "output_throughput": output_tokens / wall_s if wall_s > 0 else None,
        "goodput": None,
        "slo_s": dict(slo_limits_s) if slo_limits_s else None,
        "token_count_mismatches": sum(1 for r in done if r.token_count_mismatch),
        "ttft_s": distribution([r.ttft_s for r in done]),
        "tpot_s": distribution([r.tpot_s for r in done]),
        "itl_s": distribution([gap for r in done for gap in r.itl_s]),
        "e2el_s": distribution([r.e2el_s for r in done]),
    }
    if slo_limits_s and wall_s > 0:
        out["goodput"] = sum(1 for r in done if meets_slo(r, slo_limits_s)) / wall_s
    return out


def overhead_pct(base: Mapping, other: Mapping, metric: str = "tpot_s", stat: str = "median") -> float | None:
    """How much slower `other` is than `base` on one figure, in percent (e.g. an adapter mix vs base)."""
    b, o = (base.get(metric) or {}).get(stat), (other.get(metric) or {}).get(stat)
    if not b or o is None:
        return None
    return (o / b - 1.0) * 100.0


def check_token_counts(results: Sequence[RequestResult], tokenizer) -> None:
    """Fill `tokenizer_tokens` and flag `token_count_mismatch` against the server's usage count.

    Re-encoding text need not give the tokens generated (a model may emit a non-canonical split), and the
    text has no end-of-sequence token while usage counts it, so a stop by EOS may be one token short.
    Token ids returned by the server (vLLM) are checked first: they must match usage exactly.
    """
    for r in results:
        if not r.ok:
            continue
        r.tokenizer_tokens = len(tokenizer(r.text, add_special_tokens=False)["input_ids"])
        if r.output_tokens is None:
            r.token_count_mismatch = None
            continue
        if r.token_ids is not None:
            r.token_count_mismatch = len(r.token_ids) != r.output_tokens
            continue
        allowed = {r.output_tokens}
        if r.finish_reason == "stop":
            allowed.add(r.output_tokens - 1)
        r.token_count_mismatch = r.tokenizer_tokens not in allowed
