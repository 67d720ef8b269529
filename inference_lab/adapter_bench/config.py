"""Benchmark parameters: `default_benchmark_params.json` merged with an experiment's `benchmark_params.json`
and `--set key=value` overrides, validated once into `BenchmarkParams`.

Every key of the merged mapping is a field below, so every documented override takes effect and an unknown
key is a `UserError` (with a did-you-mean hint). Keys starting with `_` (`"_comment"`, as the reference suite's
examples use them) are notes and are dropped before validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..config import ModelSettings, StrictModel, apply_overrides, read_mapping, validate_config

CATEGORIES = ("short", "medium", "long")
DEFAULTS_FILE = "default_benchmark_params.json"
OVERRIDES_FILE = "benchmark_params.json"


class CategoryTokens(StrictModel):
    """New tokens generated per prompt, per prompt category."""

    short: int = Field(24, gt=0)
    medium: int = Field(32, gt=0)
    long: int = Field(48, gt=0)

    def for_category(self, category: str) -> int:
        return int(getattr(self, category))


class BenchmarkParams(StrictModel):
    """Settings shared by every experiment; an experiment's benchmark_params.json overrides any of them."""

    model_id: str = Field("demo", description="Hugging Face id, local path, or demo kit name (demo)")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto = bfloat16/float16 on CUDA, float32 on CPU (float16 on CPU falls back to float32)"
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    seed: int = Field(42, description="seeds the initialisation of fresh (untrained) adapters")
    max_new_tokens: CategoryTokens = Field(
        default_factory=CategoryTokens,
        description="new tokens per category: one number for all, or {short, medium, long}",
    )
    fixed_length: bool = Field(
        True, description="generate exactly max_new_tokens (EOS suppressed) so base and adapter do the same work"
    )
    num_inference_runs: int = Field(5, gt=0, description="timed runs of every prompt; medians are over these")
    warmup_runs: int = Field(1, ge=0, description="untimed runs per category before timing")
    num_prompt_samples: int = Field(2, gt=0, description="prompts used per category (the first N of the file)")
    max_prompt_tokens: int | None = Field(
        None, gt=0, description="cap on prompt tokens; null = the model's context minus the category's max_new_tokens"
    )
    prompts_file: str = Field("prompts.json", description="prompts file, relative to the defaults file's folder")
    use_4bit: bool = Field(False, description="load the base model in 4-bit (bitsandbytes nf4)")
    use_8bit: bool = Field(False, description="load the base model in 8-bit (bitsandbytes)")
    paired_base: bool = Field(
        False, description="time the base in this run too, on a second copy of the model, interleaved with the adapter "
        "(robust on a busy machine; twice the model memory; the base cache is not used)"
    )
    adapter_path: str | None = Field(
        None, description="measure this trained adapter (a PEFT folder or demo-lora) instead of a fresh one built "
        "from adapter_config.json"
    )

    @field_validator("max_new_tokens", mode="before")
    @classmethod
    def _one_number_for_all(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {category: value for category in CATEGORIES}
        return value

    @model_validator(mode="after")
    def _one_quantization(self) -> BenchmarkParams:
        if self.use_4bit and self.use_8bit:
            raise ValueError("use_4bit and use_8bit are both true; choose one")
        return self

    @property
    def quantization(self) -> Literal["none", "4bit", "8bit"]:
        return "4bit" if self.use_4bit else "8bit" if self.use_8bit else "none"

    def model_settings(self) -> ModelSettings:
        quant = False if self.quantization == "none" else self.quantization
        return ModelSettings(dtype=self.dtype, device=self.device, use_quantization=quant)


def strip_comments(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not str(k).startswith("_")}


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """One number for max_new_tokens means every category, so a later per-category override merges into it."""
    data = strip_comments(data)
    tokens = data.get("max_new_tokens")
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        data["max_new_tokens"] = {category: tokens for category in CATEGORIES}
    return data


def merge_params(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win key by key; nested mappings (max_new_tokens) merge instead of replacing."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in _normalise(layer).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = json.loads(json.dumps(value))
    return merged


def check_keys(layer: dict[str, Any], source: str) -> None:
    """An unknown top-level key is reported against the file (or --set) that has it, not the merged result."""
    for key in strip_comments(layer):
        if key not in BenchmarkParams.model_fields:
            validate_config(BenchmarkParams, {key: layer[key]}, source)


def check_overrides(overrides: list[str] | None) -> None:
    """`--set` mistakes are the caller's, not an experiment's: report them before anything runs."""
    check_keys(apply_overrides({}, overrides), "--set")


def load_params(defaults_path: Path | None, experiment_dir: Path | None = None,
                overrides: list[str] | None = None) -> BenchmarkParams:
    """defaults file < experiment's benchmark_params.json < `--set` overrides; errors name the file that broke."""
    layers: list[dict[str, Any]] = []
    sources: list[str] = []
    if defaults_path is not None:
        layers.append(read_mapping(defaults_path))
        sources.append(str(defaults_path))
    if experiment_dir is not None and (experiment_dir / OVERRIDES_FILE).is_file():
        layers.append(read_mapping(experiment_dir / OVERRIDES_FILE))
        sources.append(str(experiment_dir / OVERRIDES_FILE))
    set_layer = apply_overrides({}, overrides)
    if set_layer:
        layers.append(set_layer)
        sources.append("--set")
    for layer, source in zip(layers, sources):
        check_keys(layer, source)
    return validate_config(BenchmarkParams, merge_params(*layers), " + ".join(sources) or "benchmark params")
