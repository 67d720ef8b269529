"""Log-likelihood of continuations given contexts, batched, with the token boundary in the right place.

The boundary: a letter continuation is scored as the token the model would actually see after "Answer:",
which is " A" (one token with its space), not a bare "A" tokenised on its own. As lm-evaluation-harness's
`_encode_pair` does, context and continuation are encoded *together* and split at the context's token
length, and trailing spaces of the context are moved onto the continuation first.

The batching: requests whose model input is identical (same context, and single-token continuations such as
four answer letters) share one row, so a question costs one row instead of one per choice. `LengthSortedBatches`
owns the order: longest rows first (an out-of-memory error shows up on the first batch, not the last), and
results go back to the caller's order. With `batch_size="auto"` the first batch probes memory: on
out-of-memory the batch is halved and retried, and the size that fitted is kept for the rest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from ...core import device as dev
from ...core.errors import RunFailed
from .requests import Request, Score

PaddingSide = Literal["left", "right"]


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """('Answer: ', 'A') -> ('Answer:', ' A'): a space belongs to the token that follows it."""
    stripped = context.rstrip()
    return stripped, context[len(stripped):] + continuation


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]], *, add_bos_token: bool = False
                 ) -> list[tuple[list[int], list[int]]]:
    """(context ids, continuation ids) per pair, split on the context's token length in the joint encoding.

    Tokenizer calls are batched, and each distinct context is encoded once (choices share their question)."""
    pairs = [_move_trailing_space(c, x) for c, x in pairs]
    contexts = list(dict.fromkeys(c for c, _ in pairs))

    def encode(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    context_ids = dict(zip(contexts, encode(contexts)))
    wholes = encode([c + x for c, x in pairs])
    prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    out = []
    for (context, continuation), whole in zip(pairs, wholes):
        n_context = len(context_ids[context])
        ctx, cont = whole[:n_context], whole[n_context:]
        if not cont:  # the continuation merged into the context's last token: score it on its own
            ctx, cont = context_ids[context], encode([continuation])[0]
        if not cont:
            raise ValueError(f"continuation {continuation!r} encodes to no tokens")
        if (add_bos_token or not ctx) and prefix is not None:  # an empty context still needs a first token
            ctx = [prefix, *ctx]
        out.append((ctx, cont))
    return out


def encode_pair(tokenizer, context: str, continuation: str, *,
                add_bos_token: bool = False) -> tuple[list[int], list[int]]:
    """One pair; see `encode_pairs`."""
    return encode_pairs(tokenizer, [(context, continuation)], add_bos_token=add_bos_token)[0]


@dataclass
class Row:
    """One model input (context + continuation minus its last token) and the requests read off its logits."""

    input_ids: tuple[int, ...]
    members: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (request index, continuation ids)

    @property
    def longest_continuation(self) -> int:
        return max(len(ids) for _, ids in self.members)


def plan_rows(pairs: Sequence[tuple[list[int], list[int]]], *, share_inputs: bool = True,
              max_length: int | None = None) -> list[Row]:
    """One row per distinct model input; requests with identical inputs share it (when `share_inputs`)."""
    rows: list[Row] = []
    by_input: dict[tuple[int, ...], Row] = {}
    for index, (context_ids, continuation_ids) in enumerate(pairs):
        sequence = [*context_ids, *continuation_ids]
        if max_length is not None:
            if len(continuation_ids) > max_length:
                raise ValueError(f"continuation of request {index} has {len(continuation_ids)} tokens, "
                                 f"more than the model's {max_length}")
            sequence = sequence[-(max_length + 1):]  # keep the end: the continuation must be scored
        inputs = tuple(sequence[:-1])
        row = by_input.get(inputs) if share_inputs else None
        if row is None:
            row = Row(inputs)
            rows.append(row)
            if share_inputs:
                by_input[inputs] = row
        row.members.append((index, tuple(continuation_ids)))
    return rows


class LengthSortedBatches:
    """Owns the order of work: longest rows first, batches of a size that may shrink, results in input order."""

    def __init__(self, lengths: Sequence[int]):
        self.order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        self.cursor = 0

    def __len__(self) -> int:
        return len(self.order)

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.order)

    def peek(self, size: int) -> list[int]:
        """Indices of the next batch (not consumed until `advance`)."""
        return self.order[self.cursor:self.cursor + size]

    def advance(self, count: int) -> None:
        self.cursor += count

    @staticmethod
    def restore(results: dict[int, object], n: int) -> list:
        return [results[i] for i in range(n)]


def pad_rows(rows: Sequence[Row], pad_id: int, side: PaddingSide) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids); positions count real tokens only, so padding on either side
    gives every real token the position it has when the row is run alone."""
    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        n = len(row.input_ids)
        span = slice(width - n, width) if side == "left" else slice(0, n)
        ids[b, span] = torch.tensor(row.input_ids, dtype=torch.long)
        mask[b, span] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


def logit_window(rows: Sequence[Row], side: PaddingSide) -> tuple[int, list[int]]:
    """How many final positions of the padded batch hold every needed logit, and where each row's
    continuation logits end inside that window."""
    width = max(len(r.input_ids) for r in rows)
    ends = [width if side == "left" else len(r.input_ids) for r in rows]
    keep = width - min(end - r.longest_continuation for end, r in zip(ends, rows))
    return keep, [end - (width - keep) for end in ends]


def gather_scores(logits: torch.Tensor, rows: Sequence[Row], ends: Sequence[int]) -> dict[int, Score]:
    """Scores of every request in `rows` from logits of shape (batch, window, vocab), in one gather."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    batch_index, position, target, owner, members = [], [], [], [], []
    for b, (row, end) in enumerate(zip(rows, ends)):
        for index, continuation in row.members:
            start = end - len(continuation)
            batch_index += [b] * len(continuation)
            position += range(start, end)
            target += continuation
            owner += [len(members)] * len(continuation)
            members.append((index, continuation))
    batch_index, position, target, owner = (torch.tensor(values, dtype=torch.long, device=logprobs.device)
                                            for values in (batch_index, position, target, owner))
    picked = logprobs[batch_index, position, target].double()
    missed = (logprobs[batch_index, position].argmax(dim=-1) != target).long()
    sums = torch.zeros(len(members), dtype=torch.float64, device=logprobs.device).index_add_(0, owner, picked)
    misses = torch.zeros(len(members), dtype=torch.long, device=logprobs.device).index_add_(0, owner, missed)
    return {index: Score(loglik=total, token_ids=continuation, is_greedy=miss == 0)
            for (index, continuation), total, miss in zip(members, sums.tolist(), misses.tolist())}


def _accepts(model, name: str) -> bool:
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(target.forward).parameters
    except (TypeError, ValueError):
        return False


def model_max_length(model) -> int | None:
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


class LoglikelihoodScorer:
    """Scores `Request`s on one model. `forward_passes` counts successful model calls, `oom_retries` the
    halvings, `batch_size_used` the size that fitted."""

    def __init__(self, model, tokenizer, *, batch_size: int | Literal["auto"] = "auto", max_batch_size: int = 64,
                 padding_side: PaddingSide = "left", share_inputs: bool = True, add_bos_token: bool = False):
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError("batch_size must be a positive int or 'auto'")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size
        self.padding_side = padding_side
        self.share_inputs = share_inputs
        self.add_bos_token = add_bos_token
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = 0 if pad is None else pad
        self.device = next(model.parameters()).device
        self._with_positions = _accepts(model, "position_ids")
        self._with_window = _accepts(model, "logits_to_keep")
        self.forward_passes = 0
        self.oom_retries = 0
        self.batch_size_used: int | None = None

    def encode(self, requests: Sequence[Request]) -> list[tuple[list[int], list[int]]]:
        return encode_pairs(self.tokenizer, [(r.context, r.continuation) for r in requests],
                            add_bos_token=self.add_bos_token)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                keep: int) -> torch.Tensor:
        """Logits of the last `keep` positions; the only place the model is called."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "use_cache": False}
        if self._with_positions:
            kwargs["position_ids"] = position_ids
        if self._with_window:
            kwargs["logits_to_keep"] = keep  # vocab-sized logits only where a continuation is read
        logits = self.model(**kwargs).logits
        return logits[:, -keep:, :]

    def _run_batch(self, rows: Sequence[Row]) -> dict[int, Score] | None:
        """Scores of the batch, or None when it ran out of memory (any other error propagates)."""
        ids, mask, positions = pad_rows(rows, self.pad_id, self.padding_side)
        keep, ends = logit_window(rows, self.padding_side)
        try:
            logits = self.forward(ids.to(self.device), mask.to(self.device), positions.to(self.device), keep)
            scores = gather_scores(logits, rows, ends)
        except Exception as exc:
            if not dev.is_out_of_memory(exc):
                raise
            return None  # returning drops the exception and its frames, so their tensors can be freed
        self.forward_passes += 1
        return scores

    @torch.inference_mode()
    def score(self, requests: Sequence[Request], progress: Callable[[int], None] | None = None) -> list[Score]:
        """Scores in the order of `requests`; `progress(n)` is told how many requests each batch finished."""
        if not requests:
            return []
        rows = plan_rows(self.encode(requests), share_inputs=self.share_inputs,
                         max_length=model_max_length(self.model))
        batches = LengthSortedBatches([len(r.input_ids) for r in rows])
        size = self.batch_size if self.batch_size != "auto" else self.max_batch_size
        size = max(1, min(size, len(rows)))
        results: dict[int, Score] = {}
        while not batches.done:
            chosen = [rows[i] for i in batches.peek(size)]
            scores = self._run_batch(chosen)
            if scores is None:
                dev.empty_cache()
                if self.batch_size != "auto":
                    raise RunFailed(f"out of memory scoring a batch of {size} rows (set batch_size lower or to auto)")
                if size == 1:
                    raise RunFailed("out of memory scoring a single row (the longest prompt does not fit)")
                size //= 2
                self.oom_retries += 1
                continue
            results.update(scores)
            batches.advance(len(chosen))
            self.batch_size_used = size
            if progress is not None:
                progress(sum(len(r.members) for r in chosen))
        return LengthSortedBatches.restore(results, len(requests))
