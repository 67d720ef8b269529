"""The in-process side of an engine comparison: greedy token ids from `generate()` on the same prompts.

The prompts are encoded as the servers are asked to encode them (no special tokens added: vLLM requests carry
`add_special_tokens: false`), left-padded in batches, and read back without padding (`textgen`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.textgen import encode_batch, eos_token_ids, split_new_tokens


@torch.no_grad()
def greedy_ids(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, *, batch_size: int = 8,
               fixed_length: bool = False) -> list[list[int]]:
    """New token ids per prompt (up to and including the first EOS). `fixed_length` forces max_new_tokens."""
    device = next(model.parameters()).device
    extra = {"min_new_tokens": max_new_tokens} if fixed_length else {}
    rows: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        encoded = encode_batch(tokenizer, prompts[start: start + batch_size], device)
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, **extra)
        width = encoded["input_ids"].shape[1]
        if fixed_length:  # EOS may sit mid-row when forced past it: keep every generated token
            rows.extend(out[:, width:].tolist())
        else:
            rows.extend(split_new_tokens(model, tokenizer, out, width))
    return rows


def model_eos_ids(model, tokenizer) -> set[int]:
    return eos_token_ids(model, tokenizer)
