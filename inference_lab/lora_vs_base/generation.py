"""Batched generation for the comparison: prompts -> one `Generation` per prompt, each batch timed.

Batches are fixed slices of the prompt list in order, so the same chunk always gives the same batches (and
greedy outputs) whether it runs first, after a resume, or inside a bigger chunk of the same boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..measure import Stopwatch
from ..textgen import decode, encode_batch, split_new_tokens
from .config import GenerationSection


@dataclass
class Generation:
    response: str
    new_tokens: int
    batch_seconds: float
    batch_rows: int


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def generate_kwargs(gen: GenerationSection, tokenizer) -> dict:
    kwargs = {"max_new_tokens": gen.max_new_tokens, "do_sample": gen.do_sample, "pad_token_id": tokenizer.pad_token_id}
    if gen.do_sample:  # passing these with greedy decoding only earns a warning
        kwargs.update(temperature=gen.temperature, top_p=gen.top_p, top_k=gen.top_k)
    return kwargs


@torch.no_grad()
def generate_batch(model, tokenizer, prompts: Sequence[str], gen: GenerationSection, seed: int,
                   **extra) -> list[Generation]:
    device = model_device(model)
    encoded = encode_batch(tokenizer, prompts, device)
    if gen.do_sample:
        torch.manual_seed(seed)
    with Stopwatch(device) as watch:
        out = model.generate(**encoded, **generate_kwargs(gen, tokenizer), **extra)
    tokens = split_new_tokens(model, tokenizer, out, encoded["input_ids"].shape[1])
    texts = decode(tokenizer, tokens)
    return [Generation(text, len(row), watch.seconds, len(prompts)) for text, row in zip(texts, tokens)]


def batch_slices(total: int, batch_size: int) -> list[slice]:
    return [slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


def generate_all(model, tokenizer, prompts: Sequence[str], gen: GenerationSection, *, batch_size: int,
                 first_index: int, on_batch: Callable[[], None] | None = None) -> list[Generation]:
    """One model over every prompt, batch by batch; `first_index` (the chunk's position) seeds sampling."""
    results: list[Generation] = []
    for part in batch_slices(len(prompts), batch_size):
        results.extend(generate_batch(model, tokenizer, prompts[part], gen, gen.seed + first_index + part.start))
        if on_batch:
            on_batch()
    return results


def generate_mixed(peft_model, tokenizer, prompts: Sequence[str], gen: GenerationSection, *, batch_size: int,
                   first_index: int, adapter: str,
                   on_batch: Callable[[], None] | None = None) -> tuple[list[Generation], list[Generation]]:
    """Base and LoRA rows of each batch in one generate() call: rows [p1..pn, p1..pn] with adapter_names
    [__base__ x n, adapter x n]. Both halves pad to the same width, so each row sees what it would alone."""
    base: list[Generation] = []
    lora: list[Generation] = []
    for part in batch_slices(len(prompts), batch_size):
        batch = list(prompts[part])
        names = ["__base__"] * len(batch) + [adapter] * len(batch)
        rows = generate_batch(peft_model, tokenizer, batch + batch, gen, gen.seed + first_index + part.start,
                              adapter_names=names)
        base.extend(rows[: len(batch)])
        lora.extend(rows[len(batch):])
        if on_batch:
            on_batch()
    return base, lora
