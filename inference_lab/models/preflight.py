"""Memory pre-flight: estimate what a config needs before loading anything, and refuse, in one line with the
numbers, what cannot fit ("main_model: needs 9.1 GiB (weights 7.5, KV cache 1.2, activations 0.4), 7.8 GiB free on
cpu").

`estimate_bytes` is pure arithmetic on the config (the parameter split comes from a meta-device build, which holds
no memory). What it counts, and why:

- weights = parameters x bytes per parameter. Tied embeddings count once. With bitsandbytes 4-bit the linear
  layers' weights take 0.5 byte + one float32 absmax per block of 64 (0.5625 byte); 8-bit 1 byte + one float32
  scale per output row; embeddings, norms and lm_head stay in the compute dtype (transformers does not quantize the
  output head).
- KV cache = 2 (K and V) x layers x kv_heads x head_dim x (prompt + new) x batch x beams x bytes. Layers that attend
  through a sliding window (Gemma-2's, from `config.layer_types`) hold at most `sliding_window` positions. This is
  what a static cache allocates up front; a dynamic cache reaches it at the last step.
- activations = the prefill peak, the largest transient: T = batch x beams x prompt rows go through one layer at a
  time, so one layer's buffers count: the residual stream and its norm (2 x T x hidden) plus the larger of the
  attention phase (q, k, v and the attention output) and the MLP phase (gate, up and their product, 3 x T x
  intermediate); plus attention scores batch x beams x heads x prompt^2 where they are materialised (eager always,
  with a float32 softmax copy; sdpa on CPU, whose math path builds them; not flash-attention or sdpa on CUDA); plus
  the logits generate() keeps: transformers 5 asks the model for the last position only (`logits_to_keep=1`) and
  copies them to float32, so batch x beams x vocab x (bytes + 4), not x prompt.
- with an assistant model (speculative decoding), its weights and its KV cache are added.

Not counted: the CUDA context and allocator slack (~0.3-1 GiB on a GPU) and the Python process (~0.5 GiB): that
is what the `headroom` of `check_fits` (use at most 90 % of what is free) is for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..core.errors import UserError

GIB = 1024**3
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
QUANT_LINEAR_BYTES = {"4bit": 0.5 + 4 / 64, "8bit": 1.0}


@dataclass
class Estimate:
    weights: int
    kv_cache: int
    activations: int
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}

    def describe(self) -> str:
        return (f"{self.total / GIB:.1f} GiB (weights {self.weights / GIB:.1f}, KV cache {self.kv_cache / GIB:.1f}, "
                f"activations {self.activations / GIB:.1f})")


def _bytes_per(dtype: str) -> int:
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise UserError(f"dtype: '{dtype}' is not one of {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[name]


def param_split(config) -> dict:
    """{'linear': weights of quantizable linear layers, 'linear_rows': their output rows, 'other': the rest}."""
    import torch

    from .catalogue import meta_model

    model = meta_model(config)
    output = model.get_output_embeddings()
    linear = rows = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not output:
            linear += module.weight.numel()
            rows += module.weight.shape[0]
    total = sum(p.numel() for p in model.parameters())
    return {"linear": linear, "linear_rows": rows, "other": total - linear}


def weight_bytes(config, dtype: str, quantization: str = "none") -> int:
    split = param_split(config)
    per = _bytes_per(dtype)
    if quantization in (None, "none"):
        return (split["linear"] + split["other"]) * per
    if quantization not in QUANT_LINEAR_BYTES:
        raise UserError(f"quantization: '{quantization}' is not one of none, 4bit, 8bit")
    linear = split["linear"] * QUANT_LINEAR_BYTES[quantization]
    if quantization == "8bit":
        linear += split["linear_rows"] * 4
    return int(linear) + split["other"] * per


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def kv_cache_bytes(config, *, dtype: str, batch_size: int, tokens: int, num_beams: int = 1) -> int:
    """2 x layers x kv_heads x head_dim x tokens x batch x beams x bytes (sliding layers capped at the window)."""
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    per_position = 2 * kv_heads * _head_dim(config) * batch_size * num_beams * _bytes_per(dtype)
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    window = getattr(config, "sliding_window", None)
    positions = sum(min(tokens, window) if (kind == "sliding_attention" and window) else tokens for kind in layer_types)
    return per_position * positions


def activation_bytes(config, *, dtype: str, batch_size: int, prompt_tokens: int, num_beams: int = 1,
                     attention: str = "sdpa", device_type: str = "cpu") -> int:
    per = _bytes_per(dtype)
    rows = batch_size * num_beams
    tokens = rows * prompt_tokens
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = _head_dim(config)
    attention_phase = tokens * (2 * heads + 2 * kv_heads) * head_dim  # q, k, v, attention output
    mlp_phase = 3 * tokens * config.intermediate_size
    layer = (2 * tokens * config.hidden_size + max(attention_phase, mlp_phase)) * per
    scores = 0
    if attention == "eager" or (attention == "sdpa" and device_type == "cpu"):
        softmax_copy = 4 if attention == "eager" else 0
        scores = rows * heads * prompt_tokens * prompt_tokens * (per + softmax_copy)
    logits = rows * config.vocab_size * (per + 4)
    return layer + scores + logits


def estimate_bytes(config, *, dtype: str, quantization: str = "none", batch_size: int, prompt_tokens: int,
                   new_tokens: int, num_beams: int = 1, assistant_config=None, attention: str = "sdpa",
                   device_type: str = "cpu") -> Estimate:
    """Memory a generate() run of this shape needs; see the module docstring for each term."""
    tokens = prompt_tokens + new_tokens
    weights = weight_bytes(config, dtype, quantization)
    kv = kv_cache_bytes(config, dtype=dtype, batch_size=batch_size, tokens=tokens, num_beams=num_beams)
    activations = activation_bytes(config, dtype=dtype, batch_size=batch_size, prompt_tokens=prompt_tokens,
                                   num_beams=num_beams, attention=attention, device_type=device_type)
    notes = []
    if assistant_config is not None:
        weights += weight_bytes(assistant_config, dtype)
        kv += kv_cache_bytes(assistant_config, dtype=dtype, batch_size=batch_size, tokens=tokens)
        notes.append("assistant weights and KV cache included")
    return Estimate(weights=weights, kv_cache=kv, activations=activations, notes=notes)


def free_bytes(device) -> int | None:
    """Memory free for this process to use: CPU = psutil's available memory; CUDA = mem_get_info's free (None
    where the driver cannot say)."""
    import torch

    from ..core import device as dev

    device = torch.device(device)
    if device.type == "cuda":
        return dev.free_memory_bytes(device)
    import psutil

    return int(psutil.virtual_memory().available)


def check_fits(estimate: Estimate, free: int | None, headroom: float = 0.9, *, field_name: str = "main_model",
               device: str = "cpu") -> None:
    """Raise a one-line UserError when the estimate exceeds `headroom` x free memory; `free=None` passes."""
    if free is None or estimate.total <= free * headroom:
        return
    limit = f" (at most {headroom:.0%} of it is used)" if estimate.total <= free else ""
    raise UserError(f"{field_name}: needs {estimate.describe()}, {free / GIB:.1f} GiB free on {device}{limit}")
