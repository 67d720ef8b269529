"""Token-exact agreement between a reference (in-process greedy) and a candidate (a server at temperature 0).

Pure: token id lists in, one row per prompt out. Texts can be compared through a tokenizer
(`ids_from_texts`), but server token ids (vLLM `return_token_ids`) are better: re-encoding a text need not
give back the ids a model generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

CONTEXT_TOKENS = 4


@dataclass
class PromptAgreement:
    prompt_index: int
    exact: bool
    first_divergence: int | None  # token index where the two first differ (or where the shorter one ends)
    reference_tokens: int
    candidate_tokens: int
    reference_context: str | None  # a few tokens around the divergence, decoded when a tokenizer is given
    candidate_context: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def first_divergence(reference: Sequence[int], candidate: Sequence[int]) -> int | None:
    for index, (a, b) in enumerate(zip(reference, candidate)):
        if a != b:
            return index
    if len(reference) != len(candidate):
        return min(len(reference), len(candidate))
    return None


def _context(ids: Sequence[int], at: int, tokenizer) -> str:
    window = list(ids[max(0, at - CONTEXT_TOKENS): at + CONTEXT_TOKENS])
    if tokenizer is None:
        return " ".join(str(i) for i in window)
    return tokenizer.decode(window, skip_special_tokens=False)


def compare_prompt(prompt_index: int, reference: Sequence[int], candidate: Sequence[int],
                   tokenizer=None) -> PromptAgreement:
    at = first_divergence(reference, candidate)
    return PromptAgreement(
        prompt_index=prompt_index,
        exact=at is None,
        first_divergence=at,
        reference_tokens=len(reference),
        candidate_tokens=len(candidate),
        reference_context=None if at is None else _context(reference, at, tokenizer),
        candidate_context=None if at is None else _context(candidate, at, tokenizer),
    )


def compare(reference: Sequence[Sequence[int]], candidate: Sequence[Sequence[int] | None],
            tokenizer=None) -> dict:
    """Per-prompt rows and the overall rate. A missing candidate (failed request) counts as not agreeing."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference rows but {len(candidate)} candidate rows")
    rows = []
    for index, (ref, cand) in enumerate(zip(reference, candidate)):
        if cand is None:
            rows.append(PromptAgreement(index, False, 0, len(ref), 0, None, None))
        else:
            rows.append(compare_prompt(index, ref, cand, tokenizer))
    exact = sum(1 for row in rows if row.exact)
    return {"prompts": len(rows), "exact": exact, "rate": exact / len(rows) if rows else None,
            "rows": [row.to_dict() for row in rows]}


def strip_eos(ids: Sequence[int], eos_ids: set[int]) -> list[int]:
    """Ids up to (not including) the first end-of-sequence token: servers differ on whether they return it."""
    out: list[int] = []
    for token in ids:
        if token in eos_ids:
            break
        out.append(token)
    return out


def ids_from_texts(texts: Sequence[str | None], tokenizer) -> list[list[int] | None]:
    return [None if t is None else tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
