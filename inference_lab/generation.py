"""Run one batch of one method: encode, generate with the plan's settings, measure, read back.

Measures per batch: end-to-end latency (device-synced stopwatch), time to first token and time per later
decoding step (`TokenClock`), new tokens per row (padding and after-EOS tokens excluded), and forward calls
of the main and assistant models (for speculative acceptance figures).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

from .errors import UserError
from .measure import Stopwatch, TokenClock
from .methods import MethodPlan
from .planning import WorkItem
from .textgen import decode, encode_batch, split_new_tokens


@dataclass
class BatchMeasurement:
    latency_s: float
    ttft_s: float | None
    tpot_s: float | None
    new_tokens: list[int]
    texts: list[str]
    forward_calls: int
    draft_forward_calls: int | None


class ForwardCounter:
    """Counts forward calls of a module (a pre-hook: works with compiled forwards too)."""

    def __init__(self, module: torch.nn.Module | None):
        self.calls = 0
        self._handle = module.register_forward_pre_hook(self._hook) if module is not None else None

    def _hook(self, *_args) -> None:
        self.calls += 1

    def reset(self) -> None:
        self.calls = 0

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # parent package missing
        return False


def cache_kwargs(cache_implementation: str, device: torch.device) -> dict:
    """generate() kwargs for the config's KV cache, or a clear error where this machine cannot run it."""
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


class BatchGenerator:
    def __init__(self, model, tokenizer, *, max_new_tokens: int, cache_implementation: str = "dynamic",
                 assistant_model=None, device: torch.device | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.assistant_model = assistant_model
        self.device = device or next(model.parameters()).device
        self.cache = cache_kwargs(cache_implementation, self.device)
        self.main_calls = ForwardCounter(model)
        self.draft_calls = ForwardCounter(assistant_model)
        self.assisted_kwargs: dict = {}
        if assistant_model is not None and assistant_model.config.vocab_size != model.config.vocab_size:
            raise UserError("assistant_model: vocabulary differs from the main model's; "
                            "speculative decoding here needs a shared tokenizer")

    def close(self) -> None:
        self.main_calls.remove()
        self.draft_calls.remove()

    def run(self, plan: MethodPlan, items: list[WorkItem], prompts: list[str], seed: int) -> BatchMeasurement:
        """`prompts` are the formatted prompt texts (chat template applied) indexed by prompt_index."""
        if plan.beams_per_prompt:
            texts_in = [prompts[items[0].prompt_index]]
            extra = {"num_beams": max(2, len(items)), "num_return_sequences": len(items), "early_stopping": True}
        else:
            texts_in = [prompts[item.prompt_index] for item in items]
            extra = {}
        encoded = encode_batch(self.tokenizer, texts_in, self.device)
        clock = TokenClock(self.device)
        kwargs = {**plan.generate_kwargs, **extra, **self.cache, "max_new_tokens": self.max_new_tokens,
                  "pad_token_id": self.tokenizer.pad_token_id, "use_cache": True, "stopping_criteria": [clock]}
        if plan.draft_source == "assistant":
            kwargs["assistant_model"] = self.assistant_model
        torch.manual_seed(seed)
        self.main_calls.reset()
        self.draft_calls.reset()
        with torch.inference_mode(), Stopwatch(self.device) as watch:
            clock.begin()
            output = self.model.generate(**encoded, **kwargs)
        rows = split_new_tokens(self.model, self.tokenizer, output, encoded["input_ids"].shape[1])
        counts = [len(r) for r in rows]
        ttft = clock.time_to_first_token
        steps = max(counts) if counts else 0
        tpot = (watch.seconds - ttft) / (steps - 1) if ttft is not None and steps > 1 else None
        return BatchMeasurement(
            latency_s=watch.seconds,
            ttft_s=ttft,
            tpot_s=tpot,
            new_tokens=counts,
            texts=decode(self.tokenizer, rows),
            forward_calls=self.main_calls.calls,
            draft_forward_calls=self.draft_calls.calls if plan.draft_source == "assistant" else None,
        )
