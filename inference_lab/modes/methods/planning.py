"""The work plan: prompts x completions flattened in order and cut into batches (pure, no model).

This is the guide's batching exactly: with num_completions [3, 2, 3] and batch_size 4 the batches are
[p1, p1, p1, p2] and [p2, p3, p3, p3].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkItem:
    prompt_index: int
    completion_index: int
    prompt: str


def flatten(prompts: list[str], completions: list[int]) -> list[WorkItem]:
    if len(prompts) != len(completions):
        raise ValueError(f"{len(completions)} completion counts for {len(prompts)} prompts")
    return [WorkItem(p, c, prompt) for p, (prompt, n) in enumerate(zip(prompts, completions)) for c in range(n)]


def batches(items: list[WorkItem], batch_size: int) -> list[list[WorkItem]]:
    if batch_size <= 0:
        raise ValueError("batch_size must be > 0")
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]


def per_prompt(items: list[WorkItem]) -> list[list[WorkItem]]:
    """One group per prompt (beam search returns all of a prompt's completions from one call)."""
    groups: dict[int, list[WorkItem]] = {}
    for item in items:
        groups.setdefault(item.prompt_index, []).append(item)
    return list(groups.values())
