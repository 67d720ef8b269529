"""Real architectures with random weights: a catalogue of public configs, a meta-device parameter count, and a
cheap deterministic builder.

Speed and memory depend on shapes, not on trained values (optimum-benchmark's `no_weights` rests on the same fact),
so `main_model: "Qwen/Qwen3-4B"` with `weights: "random"` builds that exact architecture from a bundled copy of its
public `config.json` (`catalogue_configs.py`), with no network.

Building is cheap because nothing is initialised twice: transformers' `from_config` runs torch's kaiming init in
every `nn.Linear` constructor and then its own `_init_weights` (1.8 s for SmolLM2-135M, minutes for 8B on CPU). Here
the model is built with its parameters on the meta device (`accelerate.init_empty_weights(include_buffers=False)`,
so non-persistent buffers such as rotary `inv_freq` are computed normally), then each parameter is allocated once,
in the target dtype and device, and filled in place from one seeded generator: matrices `uniform_` with the config's
`initializer_range` as standard deviation (uniform is ~5x faster than normal on CPU and gives the same spread),
norms and biases through the model's own `_init_weights` (ones, or zeros for Gemma's `1 + w` norms). Values are
bounded and far from denormals, so CPU matmuls run at full speed.

A random model has no tokenizer: `generation_token_ids(config)` gives the pad/eos/bos ids generate() needs.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import UserError
from .catalogue_configs import CONFIGS, DERIVED, PUBLISHED_PARAMS

CATALOGUE: dict[str, dict] = {**CONFIGS, **DERIVED}
__all__ = ["CATALOGUE", "PUBLISHED_PARAMS", "BuildReport", "build_random_model", "catalogue_config",
           "catalogue_names", "generation_token_ids", "is_catalogue_name", "meta_model", "param_count_meta"]


def catalogue_names() -> list[str]:
    return list(CATALOGUE)


def _lookup(name: str) -> str | None:
    """Exact id, or a case-insensitive match on the full id or on the part after the organisation."""
    if name in CATALOGUE:
        return name
    wanted = name.strip().lower()
    for key in CATALOGUE:
        if wanted in (key.lower(), key.split("/")[-1].lower()):
            return key
    return None


def is_catalogue_name(name: str) -> bool:
    return _lookup(name) is not None


def _config_from_dict(data: dict, source: str):
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    data = {k: v for k, v in data.items() if k not in {"auto_map", "_name_or_path"}}
    model_type = data.pop("model_type", None)
    if model_type is None:
        raise UserError(f"{source}: config.json has no model_type")
    if model_type not in CONFIG_MAPPING:
        raise UserError(f"{source}: model_type '{model_type}' is not built into transformers "
                        "(remote code is not run for random-weight models)")
    _quiet_transformers()
    return AutoConfig.for_model(model_type, **data)


def catalogue_config(name_or_path: str, field_name: str = "main_model"):
    """A catalogue id (e.g. "Qwen/Qwen3-4B", or "qwen3-4b"), a folder holding config.json, or a config.json path ->
    `transformers.PretrainedConfig`. Never touches the network; `trust_remote_code` stays off."""
    key = _lookup(name_or_path)
    if key is not None:
        config = _config_from_dict(dict(CATALOGUE[key]), f"{field_name}: {key}")
        config.name_or_path = key
        return config
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{field_name}: cannot read {path}: {str(exc).splitlines()[0]}") from None
        config = _config_from_dict(data, f"{field_name}: {path}")
        config.name_or_path = str(path.parent)
        return config
    near = difflib.get_close_matches(name_or_path.lower(), [k.lower() for k in CATALOGUE], n=3, cutoff=0.4)
    near_ids = [k for k in CATALOGUE if k.lower() in near]
    hint = f"; near matches: {', '.join(near_ids)}" if near_ids else f"; known: {', '.join(CATALOGUE)}"
    raise UserError(f"{field_name}: '{name_or_path}' is neither a catalogue architecture nor a config.json path{hint}")


def _quiet_transformers() -> None:
    # Phi-3.5's config logs a rope advice line on every build; random models are shapes, not advice targets.
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def meta_model(config):
    """The architecture on the meta device: shapes only, no memory, ~0.05 s even for 8B."""
    import torch
    from transformers import AutoModelForCausalLM

    _quiet_transformers()
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def param_count_meta(config) -> int:
    """Parameters of the architecture, built on the meta device (no memory, ~0.05 s); tied embeddings count once
    (`parameters()` yields a shared tensor once)."""
    return sum(p.numel() for p in meta_model(config).parameters())


def generation_token_ids(config) -> dict:
    """What generate() needs from a tokenizer, read from the config: pad (falls back to the first eos), eos, bos."""
    eos = config.eos_token_id
    eos_list = [eos] if isinstance(eos, int) else list(eos or [])
    pad = getattr(config, "pad_token_id", None)
    if pad is None:
        pad = eos_list[0] if eos_list else 0
    return {"pad_token_id": pad, "eos_token_id": eos_list or None, "bos_token_id": config.bos_token_id}


@dataclass
class BuildReport:
    name: str
    dtype: str
    device: str
    num_parameters: int
    build_seconds: float
    seed: int


def _dtype(dtype):
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in names:
        raise UserError(f"dtype: '{dtype}' is not one of {', '.join(names)}")
    return names[dtype]


def build_random_model(config, *, dtype="float32", device="cpu", seed: int = 0, attn_implementation: str | None = None):
    """The architecture of `config` with seeded random weights, in `dtype` on `device`, in eval mode.

    Returns (model, BuildReport). Same seed, config, dtype and device -> bit-identical weights.
    `attn_implementation=None` lets transformers choose (sdpa where the architecture supports it; Gemma-2's
    logit soft-capping needs eager).
    """
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    _quiet_transformers()
    torch_dtype, device = _dtype(dtype), torch.device(device)
    started = time.perf_counter()
    with init_empty_weights(include_buffers=False):
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype, **extra)
    std = getattr(config, "initializer_range", None) or 0.02
    bound = std * math.sqrt(3.0)  # uniform(-a, a) has standard deviation a / sqrt(3)
    generator = torch.Generator(device=device).manual_seed(seed)
    tied_targets = set(getattr(model, "all_tied_weights_keys", {}) or {})
    norm_modules = []
    for module_name, module in model.named_modules():
        for name, param in list(module.named_parameters(recurse=False)):
            full = f"{module_name}.{name}" if module_name else name
            if full in tied_targets:
                continue  # re-pointed at its source by tie_weights() below
            fresh = torch.empty(param.shape, dtype=torch_dtype, device=device)
            if fresh.dim() >= 2:
                fresh.uniform_(-bound, bound, generator=generator)
            else:
                fresh.zero_()
            module._parameters[name] = torch.nn.Parameter(fresh, requires_grad=False)
        if any(p.dim() < 2 for p in module.parameters(recurse=False)) and not isinstance(module, torch.nn.Linear):
            norm_modules.append(module)
    for module in norm_modules:
        model._init_weights(module)  # ones for RMSNorm/LayerNorm, zeros where the model says so (Gemma)
    model.tie_weights()
    model.to(device)  # buffers (rotary inv_freq), computed on CPU at construction
    model.eval()
    model.requires_grad_(False)
    report = BuildReport(
        name=getattr(config, "name_or_path", "") or config.model_type,
        dtype=str(torch_dtype).removeprefix("torch."),
        device=str(device),
        num_parameters=sum(p.numel() for p in model.parameters()),
        build_seconds=round(time.perf_counter() - started, 3),
        seed=seed,
    )
    return model, report
