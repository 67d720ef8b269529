"""Synthetic workloads: random prompt ids of a given length and generate() settings that decode exactly N tokens.

With random weights there is no meaningful text, so a workload is only shapes: prompt length, new tokens, batch
size. Every method must then decode the same number of tokens, or tokens/s would compare different work:
`exact_length_kwargs` sets `min_new_tokens = max_new_tokens = N`, which makes transformers'
`MinNewTokensLengthLogitsProcessor` push every EOS id to -inf until N tokens exist (so no row stops early), and
suppresses the pad id as well where it is not an EOS id, because result readers cut a row at its first pad token
(`textgen.trim_generated`) and a random model is as likely to emit it as any other id.

Results of such runs are speed and memory only: `RANDOM_WEIGHTS_NOTE` is the label, and output-correctness checks
are skipped with `CORRECTNESS_SKIP_REASON`, never silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..core.config import StrictModel

RANDOM_WEIGHTS_NOTE = "random weights: speed and memory only"
CORRECTNESS_SKIP_REASON = "random weights: outputs are meaningless, correctness checks skipped"


class Workload(StrictModel):
    """A synthetic workload: `batch_size: auto` finds the largest batch that fits (see batch_auto.py)."""

    prompt_tokens: int = Field(128, gt=0, description="random prompt ids per row (no padding: every row this long)")
    new_tokens: int = Field(64, gt=0, description="tokens decoded per row, exactly (EOS ignored)")
    batch_size: int | Literal["auto"] = Field(1, description="rows per generate call, or auto (largest that fits)")

    def fixed_batch_size(self) -> int | None:
        return None if self.batch_size == "auto" else int(self.batch_size)


def special_token_ids(config) -> set[int]:
    ids: set[int] = set()
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def ordinary_id_range(config) -> tuple[int, int]:
    """[low, high) of ids that are not special tokens.

    Tokenizers put their special tokens in a block at one end of the vocabulary (Llama-3 from 128000, Qwen3 from
    151643; SmolLM2, Mistral and Gemma in the first ids), and the config names some of them. Ids at or below the
    highest named special id in the lower half are skipped, and ids from the lowest named special id in the upper
    half on; that removes the whole block whichever end it sits at.
    """
    vocab = int(config.vocab_size)
    specials = special_token_ids(config)
    low_block = [i for i in specials if i < vocab // 2]
    high_block = [i for i in specials if i >= vocab // 2]
    low = max(low_block) + 1 if low_block else 0
    high = min(high_block) if high_block else vocab
    if high - low < 2:
        raise ValueError(f"vocabulary of {vocab} leaves no ordinary token ids")
    return low, high


def synthetic_batch(config, workload: Workload, seed: int, device="cpu", batch_size: int | None = None) -> dict:
    """{input_ids, attention_mask} of shape (batch, prompt_tokens): seeded random ordinary ids, no padding."""
    import torch

    rows = batch_size if batch_size is not None else workload.fixed_batch_size()
    if rows is None:
        raise ValueError("batch_size is 'auto': pass the batch size being tried")
    low, high = ordinary_id_range(config)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, high, (rows, workload.prompt_tokens), generator=generator)
    return {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device)}


def exact_length_kwargs(new_tokens: int, eos, pad: int | None = None) -> dict:
    """generate() kwargs that make every row decode exactly `new_tokens` tokens (see the module docstring)."""
    eos_list = [eos] if isinstance(eos, int) else [e for e in (eos or []) if isinstance(e, int)]
    kwargs: dict = {"min_new_tokens": new_tokens, "max_new_tokens": new_tokens}
    if eos_list:
        kwargs["eos_token_id"] = eos_list
    if pad is not None and pad not in eos_list:
        kwargs["suppress_tokens"] = [pad]
    return kwargs


class IdsOnlyTokenizer:
    """Stands in for a tokenizer where a random-weight model has none: what the comparator's result readers use
    (pad/eos ids for `textgen.split_new_tokens`, `batch_decode` for stored texts, which become the ids as text)."""

    padding_side = "left"

    def __init__(self, config):
        from .catalogue import generation_token_ids

        ids = generation_token_ids(config)
        self.pad_token_id = ids["pad_token_id"]
        self.eos_token_id = (ids["eos_token_id"] or [None])[0]
        self.bos_token_id = ids["bos_token_id"]

    def batch_decode(self, rows, skip_special_tokens: bool = True) -> list[str]:
        return [" ".join(str(int(token)) for token in row) for row in rows]

    def __call__(self, *args, **kwargs):
        raise TypeError("a random-weight model has no tokenizer: use synthetic_batch() for its inputs")
