"""The one timed generate every mode uses, and the one definition of each per-request figure.

Definitions (vLLM's benchmark definitions, `vllm/benchmarks/serve.py`, applied to one generate() call):
- E2EL (end-to-end latency): the whole call, device synchronised before start and before stop.
- TTFT (time to first token): from the start of the call to the end of the first decoding step
  (prefill + first token), timed by a stopping criterion (`TokenClock`) that stamps every step.
- ITL (inter-token latency): each gap between two successive decoding steps.
- TPOT (time per output token): (E2EL - TTFT) / (output tokens - 1). For a batch the output tokens are the
  call's decoding steps (the longest row), since every row waits for every step.
Token counts per row exclude padding and whatever follows the first end-of-sequence token. Forward calls of the
main and assistant models are counted by pre-hooks (speculative acceptance is derived from them).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..core.errors import UserError
from ..core.measure import Stopwatch, TokenClock
from .textgen import decode, encode_batch, split_new_tokens


@dataclass
class GenerationTiming:
    e2el_s: float
    ttft_s: float | None
    tpot_s: float | None
    itl_s: list[float]
    steps: int
    new_tokens: list[int]
    token_ids: list[list[int]] = field(repr=False)
    texts: list[str] = field(repr=False)
    forward_calls: int = 0
    draft_forward_calls: int | None = None

    @property
    def total_new_tokens(self) -> int:
        return sum(self.new_tokens)


def tpot(e2el_s: float, ttft_s: float | None, output_tokens: int) -> float | None:
    """vLLM's time per output token: the time after the first token, per later token."""
    if ttft_s is None or output_tokens < 2:
        return None
    return (e2el_s - ttft_s) / (output_tokens - 1)


class ForwardCounter:
    """Counts forward calls of a module with a pre-hook. A compiled call must not see it: dynamo traces the hook and
    guards on the counter's value, so every step recompiles (measured: the recompile limit hit within one call);
    `paused()` takes it off for such calls."""

    def __init__(self, module: torch.nn.Module | None):
        self.calls = 0
        self.module = module
        self._handle = module.register_forward_pre_hook(self._hook) if module is not None else None

    def _hook(self, *_args) -> None:
        self.calls += 1

    def reset(self) -> None:
        self.calls = 0

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.remove()
        try:
            yield
        finally:
            if self.module is not None:
                self._handle = self.module.register_forward_pre_hook(self._hook)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # parent package missing
        return False


def cache_kwargs(cache_implementation: str, device: torch.device) -> dict:
    """generate() kwargs for a KV cache implementation, or a clear error where this machine cannot run it."""
    if cache_implementation == "dynamic":
        return {}
    if cache_implementation in {"offloaded", "offloaded_static"} and device.type != "cuda":
        raise UserError(f"cache_implementation: '{cache_implementation}' offloads a GPU cache to CPU memory and "
                        "needs a CUDA device; use 'dynamic' or 'static' on CPU")
    if cache_implementation == "quantized":
        for backend, package in (("quanto", "optimum.quanto"), ("HQQ", "hqq")):
            if _installed(package):
                return {"cache_implementation": "quantized", "cache_config": {"backend": backend, "nbits": 4}}
        raise UserError("cache_implementation: 'quantized' needs optimum-quanto or hqq (pip install optimum-quanto)")
    return {"cache_implementation": cache_implementation}


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def timed_generate(model, tokenizer, prompts: Sequence[str] | dict, *, generate_kwargs: dict,
                   seed: int | None = None, main_calls: ForwardCounter | None = None,
                   draft_calls: ForwardCounter | None = None, device: torch.device | None = None,
                   with_texts: bool = True) -> GenerationTiming:
    """One generate() call on `prompts` (texts, left-padded here, or an already encoded batch), timed.

    `generate_kwargs` are passed through (max_new_tokens, sampling, cache, assistant_model, ...); a stopping
    criterion that only stamps steps is added. `seed` seeds sampling for this call."""
    device = device or model_device(model)
    encoded = prompts if isinstance(prompts, Mapping) else encode_batch(tokenizer, prompts, device)
    clock = TokenClock(device)
    kwargs = {"pad_token_id": getattr(tokenizer, "pad_token_id", None), "use_cache": True, **generate_kwargs}
    kwargs["stopping_criteria"] = [*kwargs.get("stopping_criteria", []), clock]
    if seed is not None:
        torch.manual_seed(seed)
    for counter in (main_calls, draft_calls):
        if counter is not None:
            counter.reset()
    with Stopwatch(device) as watch:
        clock.begin()
        output = model.generate(**encoded, **kwargs)
    rows = split_new_tokens(model, tokenizer, output, encoded["input_ids"].shape[1])
    counts = [len(r) for r in rows]
    steps = len(clock.stamps)
    ttft = clock.time_to_first_token
    return GenerationTiming(
        e2el_s=watch.seconds, ttft_s=ttft, tpot_s=tpot(watch.seconds, ttft, steps),
        itl_s=clock.inter_token_latencies, steps=steps, new_tokens=counts, token_ids=rows,
        texts=decode(tokenizer, rows) if with_texts and tokenizer is not None else [],
        forward_calls=main_calls.calls if main_calls is not None else 0,
        draft_forward_calls=draft_calls.calls if draft_calls is not None else None,
    )
