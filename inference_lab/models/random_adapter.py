"""A LoRA of a given shape with random, non-zero weights, attached to a (random) model: LoRA overhead at real scale.

PEFT's default init (`init_lora_weights=True`) sets B = 0, so the adapter is a no-op until trained; a merged copy
would then equal the base model and an unmerged forward could in principle be special-cased. `init_lora_weights=False`
is PEFT's documented switch for "random A and B, not a no-op" (it leaves torch's nn.Linear init in place); A and B
are then re-drawn from one seeded generator so the same seed gives the same adapter on any run, uniform with
standard deviation `std` (default 0.02, the initializer range of the catalogue's models), which keeps the update
(alpha / r) x B @ A at a few percent of the base weights: outputs change, values stay finite.

PEFT's defaults otherwise stay as they are, as with a real adapter: `get_peft_model(..., autocast_adapter_dtype=True)`
keeps LoRA weights in float32 on a bfloat16/float16 base.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..core.config import Seed, StrictModel


class RandomAdapterSpec(StrictModel):
    """Config shape `adapter: {r, alpha, target_modules, init: random}`: a LoRA of this shape on a random model."""

    r: int = Field(16, gt=0, le=65536, description="LoRA rank")
    alpha: float = Field(32, gt=0, le=1e6)
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    init: Literal["random"] = "random"
    seed: Seed = 0


def attach_random_lora(model, r: int, alpha: float, target_modules, seed: int, *, adapter_name: str = "default",
                       std: float = 0.02, dropout: float = 0.0):
    """Wrap `model` in a PeftModel with one LoRA adapter of rank `r` on `target_modules` (a list of module-name
    suffixes such as ["q_proj", "v_proj"], or "all-linear"); the base model is modified in place, as PEFT does."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=target_modules, lora_dropout=dropout,
                        init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    fill_lora_weights(peft_model, adapter_name, seed, std)
    peft_model.eval()
    return peft_model


def fill_lora_weights(peft_model, adapter_name: str, seed: int, std: float = 0.02) -> int:
    """Re-draw every lora_A/lora_B weight of `adapter_name` in place, seeded; returns how many tensors were set."""
    import torch

    bound = std * math.sqrt(3.0)
    device = next(peft_model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    filled = 0
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if f".{adapter_name}." in name and (".lora_A." in name or ".lora_B." in name):
                param.uniform_(-bound, bound, generator=generator)
                filled += 1
    if filled == 0:
        raise ValueError(f"adapter '{adapter_name}' has no LoRA weights: do target_modules match the model?")
    return filled
