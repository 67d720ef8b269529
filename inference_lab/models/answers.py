"""Answer extraction: model text -> label, shared by every mode that scores accuracy."""

from __future__ import annotations

import re
from functools import lru_cache

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)


def strip_think(text: str) -> str:
    """Drop reasoning blocks (an unclosed one runs to the end) so labels inside them are not counted."""
    return _THINK.sub("", text)


@lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def extract_answer(text: str, pattern: str, labels: tuple[str, ...] | None = None) -> str | None:
    """First match of `pattern` (its first group if it has one), lower-cased; None when nothing matches
    or the match is not one of `labels`."""
    match = _compiled(pattern).search(strip_think(text))
    if not match:
        return None
    value = (match.group(1) if match.groups() else match.group(0)).strip().lower()
    if labels is not None and value not in {label.lower() for label in labels}:
        return None
    return value
