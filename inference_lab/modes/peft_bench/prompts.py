"""Prompt categories (short / medium / long) read from a prompts file and fitted to the model's context.

The file maps each category to a list of prompts. A prompt longer than the budget (the model's context minus
the category's new tokens, or `max_prompt_tokens`) keeps its *last* tokens: generation continues from the end
of the prompt, so the end is the part that shapes the work measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ...core.config import read_mapping
from ...core.errors import UserError
from .config import CATEGORIES, BenchmarkParams


@dataclass(frozen=True)
class FittedPrompt:
    category: str
    text: str
    tokens: int
    original_tokens: int

    @property
    def truncated(self) -> bool:
        return self.tokens < self.original_tokens

    def to_dict(self) -> dict:
        return {**asdict(self), "truncated": self.truncated}


def load_prompts(path: Path) -> dict[str, list[str]]:
    data = read_mapping(path, "prompts file")
    prompts: dict[str, list[str]] = {}
    for category in CATEGORIES:
        rows = data.get(category)
        if not isinstance(rows, list) or not rows or not all(isinstance(r, str) and r.strip() for r in rows):
            raise UserError(f"{path}: '{category}' must be a non-empty list of non-empty prompts")
        prompts[category] = rows
    extra = sorted(set(data) - set(CATEGORIES) - {k for k in data if str(k).startswith("_")})
    if extra:
        raise UserError(f"{path}: unknown prompt category '{extra[0]}' (known: {', '.join(CATEGORIES)})")
    return prompts


def context_length(model, tokenizer) -> int:
    """The model's usable context: max_position_embeddings, or the tokenizer's limit when that is smaller."""
    limits = [getattr(getattr(model, "config", None), "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 10**8]
    if not usable:
        raise UserError("model: cannot tell its context length (no max_position_embeddings); set max_prompt_tokens")
    return min(usable)


def prompt_budget(context: int, max_new_tokens: int, cap: int | None) -> int:
    budget = context - max_new_tokens
    if cap is not None:
        budget = min(budget, cap)
    if budget < 1:
        raise UserError(f"max_new_tokens: {max_new_tokens} leaves no room for a prompt in a {context}-token context")
    return budget


def fit_prompt(tokenizer, category: str, text: str, budget: int) -> FittedPrompt:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= budget:
        return FittedPrompt(category, text, len(ids), len(ids))
    kept = ids[-budget:]
    fitted = tokenizer.decode(kept, skip_special_tokens=False)
    # Decoding then re-encoding can merge tokens differently at the cut; trim until it fits for real.
    while len(tokenizer(fitted, add_special_tokens=False)["input_ids"]) > budget:
        kept = kept[1:]
        fitted = tokenizer.decode(kept, skip_special_tokens=False)
    return FittedPrompt(category, fitted, len(tokenizer(fitted, add_special_tokens=False)["input_ids"]), len(ids))


def select_prompts(model, tokenizer, prompts: dict[str, list[str]],
                   params: BenchmarkParams) -> dict[str, list[FittedPrompt]]:
    """The first `num_prompt_samples` prompts of each category, each fitted to that category's budget."""
    context = context_length(model, tokenizer)
    selected: dict[str, list[FittedPrompt]] = {}
    for category in CATEGORIES:
        budget = prompt_budget(context, params.max_new_tokens.for_category(category), params.max_prompt_tokens)
        if len(prompts[category]) < params.num_prompt_samples:
            raise UserError(f"num_prompt_samples: {params.num_prompt_samples} but the prompts file has only "
                            f"{len(prompts[category])} '{category}' prompts")
        chosen = prompts[category][: params.num_prompt_samples]
        selected[category] = [fit_prompt(tokenizer, category, text, budget) for text in chosen]
    return selected
