"""Tokenise a batch for generation and read back only what was generated.

Decoder-only models must be left-padded for batched generation, and generated token counts must exclude
padding and whatever follows the first end-of-sequence token; every mode uses these helpers for that.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..core.errors import UserError


def encode_batch(tokenizer, prompts: Sequence[str], device: torch.device | str = "cpu"):
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:  # many hub models ship without a pad token
        tokenizer.pad_token = tokenizer.eos_token
    encoded = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    # A plain dict, not the tokenizer's BatchEncoding (a UserDict): callers tell "already encoded" from "texts" with
    # isinstance(x, Mapping), and a BatchEncoding taken for texts would be re-encoded as its key names.
    return dict(encoded.to(device))


def trim_generated(row: Sequence[int], eos_ids: set[int], pad_id: int | None) -> list[int]:
    """New tokens of one sequence up to and including the first EOS; padding after it is dropped."""
    out: list[int] = []
    for token in row:
        if token in eos_ids:
            out.append(token)
            break
        if pad_id is not None and token == pad_id and pad_id not in eos_ids:
            break
        out.append(token)
    return out


def eos_token_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def split_new_tokens(model, tokenizer, sequences: torch.Tensor, prompt_width: int) -> list[list[int]]:
    eos = eos_token_ids(model, tokenizer)
    return [trim_generated(row, eos, tokenizer.pad_token_id) for row in sequences[:, prompt_width:].tolist()]


def decode(tokenizer, token_rows: list[list[int]]) -> list[str]:
    return tokenizer.batch_decode(token_rows, skip_special_tokens=True)


@torch.no_grad()
def greedy_generate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, batch_size: int = 8,
                    **generate_kwargs) -> list[str]:
    """Plain batched greedy decoding: the kit's evaluation and the tests' reference."""
    texts: list[str] = []
    device = next(model.parameters()).device
    for start in range(0, len(prompts), batch_size):
        encoded = encode_batch(tokenizer, prompts[start : start + batch_size], device)
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, **generate_kwargs)
        texts.extend(decode(tokenizer, split_new_tokens(model, tokenizer, out, encoded["input_ids"].shape[1])))
    return texts


def format_prompts(tokenizer, prompts: list[str], use_chat_template: bool) -> list[str]:
    """The prompts as the model sees them: as given, or wrapped in the tokenizer's chat template."""
    if not use_chat_template:
        return list(prompts)
    if not getattr(tokenizer, "chat_template", None):
        raise UserError("use_chat_template: the tokenizer has no chat template")
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]
