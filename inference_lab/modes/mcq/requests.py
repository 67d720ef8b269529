"""What the scorer is asked and what it answers: plain dataclasses (no torch), shared by prompts, scoring and
results."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """Score `continuation` after `context`; both are plain text."""

    context: str
    continuation: str


@dataclass(frozen=True)
class Score:
    loglik: float  # sum of the continuation tokens' log-probabilities
    token_ids: tuple[int, ...]  # the continuation tokens that were scored (as they appear in the sequence)
    is_greedy: bool  # every continuation token was the model's argmax

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)
