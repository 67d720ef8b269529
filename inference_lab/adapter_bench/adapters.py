"""Put an experiment's adapter on a loaded base model and count what it adds (parameters, megabytes).

A fresh adapter comes from the experiment's `adapter_config.json` (seeded, so LoRA A / IA3 vectors are the same
every run); a trained one from `adapter_path` (a folder saved by PEFT, or `demo-lora`). PEFT wraps the base in
place, so the base must be measured before this is called.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch

from ..errors import UserError
from ..loading import resolve_source
from .config import BenchmarkParams
from .experiments import Experiment

MB = 1024 * 1024


@dataclass
class AdapterInfo:
    peft_method: str
    origin: str  # "fresh" or "trained"
    source: str
    config: dict
    base_params: int
    adapter_params: int
    total_params: int
    param_ratio_pct: float
    adapter_bytes: int

    @property
    def adapter_mb(self) -> float:
        return self.adapter_bytes / MB

    def to_dict(self) -> dict:
        return {**asdict(self), "adapter_mb": self.adapter_mb}


def footprint_bytes(model: torch.nn.Module) -> int:
    """Bytes of parameters and buffers as stored (packed 4/8-bit weights count at their packed size)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _json_safe(config) -> dict:
    data = config.to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in data.items()}


def apply_adapter(model: torch.nn.Module, experiment: Experiment, params: BenchmarkParams):
    """(peft model, AdapterInfo). Adapter parameters = every parameter the wrapping added (by identity)."""
    from peft import PeftConfig, PeftModel, get_peft_model

    # Experiment configs name the base "demo"; PEFT warns when it rewrites that to the loaded path. Expected here.
    warnings.filterwarnings("ignore", message=r".*base_model_name_or_path.*was renamed.*")
    base_ids = {id(p) for p in model.parameters()}
    base_params = sum(p.numel() for p in model.parameters())
    if params.adapter_path is not None:
        source = resolve_source(params.adapter_path, "adapter_path")
        peft_model, origin = PeftModel.from_pretrained(model, source), "trained"
    elif experiment.adapter_config_path is not None:
        source = str(experiment.adapter_config_path)
        config = PeftConfig.from_pretrained(str(experiment.path))
        torch.manual_seed(params.seed)
        peft_model, origin = get_peft_model(model, config), "fresh"
    else:
        raise UserError(f"{experiment.path}: needs adapter_config.json or adapter_path in benchmark_params.json")
    # Modules PEFT creates start in training mode (dropout active) even when the base was in eval mode.
    peft_model.eval()
    added = [p for p in peft_model.parameters() if id(p) not in base_ids]
    adapter_params = sum(p.numel() for p in added)
    total = base_params + adapter_params
    peft_config = peft_model.peft_config["default"]
    info = AdapterInfo(
        peft_method=str(getattr(peft_config.peft_type, "value", peft_config.peft_type)),
        origin=origin,
        source=source,
        config=_json_safe(peft_config),
        base_params=base_params,
        adapter_params=adapter_params,
        total_params=total,
        param_ratio_pct=100.0 * adapter_params / total if total else 0.0,
        adapter_bytes=sum(p.numel() * p.element_size() for p in added),
    )
    return peft_model, info
