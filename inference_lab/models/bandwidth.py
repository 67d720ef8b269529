"""The device's memory bandwidth, measured once per machine (a copy benchmark) and cached with the machine's
fingerprint in `$INFERENCE_LAB_HOME/bandwidth.json`: the roof that `core.roofline` measures decoding against.

A copy of a buffer far larger than the last-level cache reads and writes every byte once: bandwidth =
2 x bytes / time. The best of several trials is kept (the attainable peak, not a busy moment's figure).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import torch

from ..core import device as dev
from ..core.environment import cpu_model
from ..core.roofline import ModelShape
from ..core.storage import write_json_atomic

BUFFER_BYTES = 256 * 2**20
TRIALS = 5


def fingerprint(device: torch.device) -> str:
    if dev.is_cuda(device):
        return f"cuda:{dev.device_name(device)}"
    return f"cpu:{cpu_model()}:{os.cpu_count()}cores:{torch.get_num_threads()}threads"


def _cache_path() -> Path:
    return Path(os.environ.get("INFERENCE_LAB_HOME", Path.home() / ".cache" / "inference-lab")) / "bandwidth.json"


def measure_copy_bandwidth(device: torch.device, buffer_bytes: int = BUFFER_BYTES, trials: int = TRIALS) -> float:
    n = buffer_bytes // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # first touch: page faults are not bandwidth
    best = 0.0
    for _ in range(trials):
        dev.synchronize(device)
        start = time.perf_counter()
        dst.copy_(src)
        dev.synchronize(device)
        best = max(best, 2 * n * 4 / (time.perf_counter() - start))
    return best


def device_bandwidth(device: torch.device) -> dict:
    """{bytes_per_s, fingerprint, measured_at, cached}; measured on first use on this machine and thread count."""
    key = fingerprint(device)
    path = _cache_path()
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), dict):
        return {**cache[key], "fingerprint": key, "cached": True}
    entry = {"bytes_per_s": measure_copy_bandwidth(device), "method": f"copy of {BUFFER_BYTES >> 20} MiB, best of "
             f"{TRIALS}", "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with contextlib.suppress(OSError):  # an unwritable home only costs a re-measurement next time
        write_json_atomic(path, {**cache, key: entry})
    return {**entry, "fingerprint": key, "cached": False}


def model_shape(model: torch.nn.Module) -> ModelShape:
    """The shapes the roofline needs, from a loaded causal LM (parameters() counts tied weights once)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = config.num_attention_heads
    first = next(model.parameters())
    return ModelShape(
        weight_bytes=sum(p.numel() * p.element_size() for p in model.parameters()),
        layers=config.num_hidden_layers,
        kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
        kv_dtype_bytes=first.element_size() if first.is_floating_point() else 2,
    )
