"""Compiled decoding done right: a static KV cache of fixed length, only the decode step compiled, compile time and
recompiles measured on their own and never inside a latency.

This is gpt-fast's structure (`prefill` eager or compiled apart, `decode_one_token` compiled with static shapes,
`mode="reduce-overhead"` on CUDA so each step replays a CUDA graph) expressed through transformers' own generate():
in transformers 5, `_sample` runs the prefill through the plain model and every later step through
`model.get_compiled_call(generation_config.compile_config)` when the cache is a compileable (static) cache. What
this module adds is what makes that measurable:

- one `StaticCache` per batch size with a fixed `max_cache_len`, reused (reset) across calls. generate()'s own
  static cache is sized prompt + new tokens, so a new prompt length means new cache shapes and a recompile; with a
  fixed length, only a new batch size compiles a new graph (measured: prompt 3 -> 11 tokens, no new graph);
- `warm_up` per batch size: the first generate() of a shape is compile + run, timed alone and reported as
  `CompileReport` (compile seconds from torch's own compile metrics, first-call seconds, new graphs), then one more
  untimed call so the CUDA graph is recorded before anything is timed;
- recompiles counted from `torch._dynamo.utils.counters["stats"]["unique_graphs"]`; graphs compiled during a timed
  call are reported (`graphs_during_timing`) so the caller can mark such a run unreliable;
- on CPU, transformers skips auto-compilation unless `compile_config._compile_all_devices` is set (a private flag,
  the only switch it offers); it is set here so the compiled variant is measurable on CPU too.

Greedy tokens equal eager generate()'s, and seeded sampling draws the same tokens (tests/test_compiled.py).

Measured on CPU (SmolLM2-135M shape, random float32 weights, prompt 64, 32 new tokens, 1 thread, 7 interleaved
rounds, medians): eager 15.4 / 33.8 tok/s at batch 1 / 4; this path 17.1 / 35.8 (+11 % / +6 %); a hand-written
gpt-fast loop (compiled greedy step, no generate()) 17.6 / 36.8, so generate()'s own loop costs ~3 % and this
recipe keeps its logits processors, sampling, exact-length decoding and TokenClock. Compile: 35-45 s per batch size
with a cold inductor cache, 4-7 s with a warm one; always reported apart, never in a latency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


def _dynamo_graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _compile_seconds_so_far() -> float:
    from torch._dynamo.utils import compilation_time_metrics

    return float(sum(compilation_time_metrics.get("_compile.compile_inner", [])))


@dataclass
class CompileReport:
    batch_size: int
    compile_seconds: float  # dynamo + inductor time spent compiling graphs for this shape
    first_call_seconds: float  # wall time of the first generate() of this shape: compile + one run
    warm_call_seconds: float  # the next, untimed-for-results call (CUDA graph recorded, caches warm)
    graphs: int  # graphs compiled for this shape

    def to_dict(self) -> dict:
        return asdict(self)


class CompiledDecoding:
    """Static cache + compiled decode step for one model. Usage:

        compiled = CompiledDecoding(model, max_cache_len=prompt + new)
        report = compiled.warm_up(input_ids, attention_mask, max_new_tokens=new, **sampling)   # not timed
        out = model.generate(input_ids=..., attention_mask=..., **sampling, **compiled.generate_kwargs(batch))
    """

    def __init__(self, model, *, max_cache_len: int, mode: str | None = None, fullgraph: bool = True):
        from transformers import CompileConfig

        self.model = model
        self.device = next(model.parameters()).device
        self.max_cache_len = max_cache_len
        self.mode = mode or ("reduce-overhead" if self.device.type == "cuda" else "default")
        self.compile_config = CompileConfig(fullgraph=fullgraph, dynamic=False, mode=self.mode)
        if self.device.type != "cuda":
            self.compile_config._compile_all_devices = True  # transformers' auto-compile skips CPU otherwise
        self.reports: dict[int, CompileReport] = {}
        self.graphs_during_timing = 0
        self._caches: dict[int, object] = {}

    def _cache(self, batch_size: int):
        from transformers import StaticCache

        if batch_size not in self._caches:
            self._caches[batch_size] = StaticCache(config=self.model.config, max_cache_len=self.max_cache_len)
        cache = self._caches[batch_size]
        cache.reset()  # generate() starts at cache position 0; a reused cache must be empty
        return cache

    def generate_kwargs(self, batch_size: int) -> dict:
        """Extra generate() kwargs for a call with `batch_size` rows (the cache is reset here)."""
        return {"past_key_values": self._cache(batch_size), "compile_config": self.compile_config}

    def _check_length(self, input_ids, max_new_tokens: int) -> None:
        needed = input_ids.shape[1] + max_new_tokens
        if needed > self.max_cache_len:
            raise ValueError(f"prompt {input_ids.shape[1]} + {max_new_tokens} new tokens exceed the static cache's "
                             f"max_cache_len {self.max_cache_len}")

    def _generate(self, input_ids, attention_mask, max_new_tokens: int, **kwargs):
        import torch

        with torch.inference_mode():
            return self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                       max_new_tokens=max_new_tokens, **kwargs,
                                       **self.generate_kwargs(input_ids.shape[0]))

    def warm_up(self, input_ids, attention_mask, max_new_tokens: int, **kwargs) -> CompileReport:
        """Compile (if this batch size is new) and warm up; returns the shape's CompileReport. Never timed as latency.

        max_new_tokens >= 2 is needed: the first new token comes from the (eager) prefill, the decode step from the
        second on."""
        from ..core.measure import Stopwatch

        batch = input_ids.shape[0]
        if batch in self.reports:
            return self.reports[batch]
        self._check_length(input_ids, max_new_tokens)
        graphs, compiled = _dynamo_graphs(), _compile_seconds_so_far()
        with Stopwatch(self.device) as first:
            self._generate(input_ids, attention_mask, max(2, max_new_tokens), **kwargs)
        with Stopwatch(self.device) as warm:
            self._generate(input_ids, attention_mask, max(2, max_new_tokens), **kwargs)
        report = CompileReport(batch_size=batch, compile_seconds=round(_compile_seconds_so_far() - compiled, 3),
                               first_call_seconds=round(first.seconds, 3), warm_call_seconds=round(warm.seconds, 3),
                               graphs=_dynamo_graphs() - graphs)
        self.reports[batch] = report
        return report

    def generate(self, input_ids, attention_mask, max_new_tokens: int, clock=None, **kwargs):
        """generate() through the compiled decode step, for timing: `warm_up` must have run for this batch size.
        `clock` (a measure.TokenClock) joins the stopping criteria, giving per-step timestamps (TTFT, TPOT)."""
        if input_ids.shape[0] not in self.reports:
            raise RuntimeError("call warm_up() for this batch size before timing: the first call compiles")
        self._check_length(input_ids, max_new_tokens)
        if clock is not None:
            kwargs["stopping_criteria"] = [*kwargs.get("stopping_criteria", []), clock]
            clock.begin()
        graphs = _dynamo_graphs()
        out = self._generate(input_ids, attention_mask, max_new_tokens, **kwargs)
        self.graphs_during_timing += _dynamo_graphs() - graphs
        return out

    @property
    def recompiles(self) -> int:
        """Graphs compiled after the first one: one per extra batch size, plus any during timed calls."""
        total = sum(r.graphs for r in self.reports.values()) + self.graphs_during_timing
        return max(0, total - 1)

    def summary(self) -> dict:
        return {"mode": self.mode, "max_cache_len": self.max_cache_len, "recompiles": self.recompiles,
                "graphs_during_timing": self.graphs_during_timing,
                "compile_seconds": round(sum(r.compile_seconds for r in self.reports.values()), 3),
                "shapes": [r.to_dict() for r in self.reports.values()]}

