"""How close decoding runs to the memory-bandwidth roofline: bytes moved per decoding step / time per step,
against the device's measured bandwidth (as gpt-fast reports "bandwidth achieved"). Pure arithmetic.

A decoding step reads every weight once (whatever the batch) and, per row, the KV cache of its context:
    bytes per step = weight bytes + rows x context tokens x KV bytes per token
    KV bytes per token = 2 (K and V) x layers x KV heads x head dim x bytes per element
with the context averaged over the decoding steps (prompt + half the new tokens). Bandwidth achieved =
bytes per step / TPOT; % of roofline = achieved / measured bandwidth. Activations and the logits are left out
(small next to the weights at decode time), so the figure is a slight under-estimate of traffic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelShape:
    weight_bytes: int
    layers: int
    kv_heads: int
    head_dim: int
    kv_dtype_bytes: int

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * self.kv_dtype_bytes


def bytes_per_step(shape: ModelShape, rows: int, prompt_tokens: float, new_tokens: float) -> float:
    context = prompt_tokens + new_tokens / 2
    return shape.weight_bytes + rows * context * shape.kv_bytes_per_token


@dataclass
class Roofline:
    bytes_per_step: float
    achieved_bytes_per_s: float
    device_bytes_per_s: float | None
    percent: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def roofline(step_bytes: float, tpot_s: float | None, device_bytes_per_s: float | None) -> Roofline | None:
    if not tpot_s or tpot_s <= 0:
        return None
    achieved = step_bytes / tpot_s
    percent = 100 * achieved / device_bytes_per_s if device_bytes_per_s else None
    return Roofline(step_bytes, achieved, device_bytes_per_s, percent)
