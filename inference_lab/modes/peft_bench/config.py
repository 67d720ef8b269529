"""The adapter benchmark's settings.

`BenchmarkParams`: `default_benchmark_params.json` merged with an experiment's `benchmark_params.json` and the
run's overrides, validated once per experiment. Every key of the merged mapping is a field, so every documented
override takes effect and an unknown key is a `UserError` (with a did-you-mean hint). Keys starting with `_`
(`"_comment"`, as the reference suite's examples use them) are notes and are dropped before validation.

`PeftBenchConfig` (the mode's config): which experiments, where results go, how the base is obtained, and any
`BenchmarkParams` key at its top level as an override for every experiment (`--set num_inference_runs=3`). It is
validated before anything runs, so a bad override is exit 2 with nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from ...core.config import Seed, StrictModel, apply_overrides, read_mapping, validate_config
from ...models.settings import ModelSettings
from .experiments import OVERRIDES_FILE, discover, find_root

CATEGORIES = ("short", "medium", "long")


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
    seed: Seed = Field(42, description="seeds the initialisation of fresh (untrained) adapters")
    max_new_tokens: CategoryTokens = Field(
        default_factory=CategoryTokens,
        description="new tokens per category: one number for all, or {short, medium, long}",
    )
    fixed_length: bool = Field(
        True, description="generate exactly max_new_tokens (EOS suppressed) so base and adapter do the same work"
    )
    num_inference_runs: int = Field(5, gt=0, le=10000, description="timed runs of every prompt; medians are over these")
    warmup_runs: int = Field(1, ge=0, le=1000, description="untimed runs per category before timing")
    num_prompt_samples: int = Field(2, gt=0, le=10000,
                                    description="prompts used per category (the first N of the file)")
    max_prompt_tokens: int | None = Field(
        None, gt=0, description="cap on prompt tokens; null = the model's context minus the category's max_new_tokens"
    )
    prompts_file: str = Field("prompts.json", description="prompts file, relative to the defaults file's folder")
    use_4bit: bool = Field(False, description="load the base model in 4-bit (bitsandbytes nf4)")
    use_8bit: bool = Field(False, description="load the base model in 8-bit (bitsandbytes)")
    paired_base: bool = Field(
        True, description="time the base in this run too, on a second copy of the model, interleaved with the adapter "
        "(the default: robust on a busy machine; twice the model memory). false = base results from the cache, "
        "re-timed per category to check drift"
    )
    adapter: str | None = Field(
        None, description="measure this trained adapter (a PEFT folder or demo-lora) instead of a fresh one built "
        "from adapter_config.json"
    )
    allow_pickle_weights: bool = Field(False, description="allow .bin adapter weights; safetensors only by default")

    RENAMED = {"adapter_path": "adapter"}

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
        return ModelSettings(dtype=self.dtype, device=self.device, use_quantization=quant,
                             allow_pickle_weights=self.allow_pickle_weights)


def strip_comments(data: dict[str, Any]) -> dict[str, Any]:
    """Notes (`_comment`) dropped, old key spellings renamed (with the one-line notice)."""
    from ...core.config import rename_keys

    data = {k: v for k, v in data.items() if not str(k).startswith("_")}
    return rename_keys(BenchmarkParams, data, "benchmark params")


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
                overrides: list[str] | dict | None = None) -> BenchmarkParams:
    """defaults file < experiment's benchmark_params.json < the run's overrides; errors name the file that broke."""
    layers: list[dict[str, Any]] = []
    sources: list[str] = []
    if defaults_path is not None:
        layers.append(read_mapping(defaults_path))
        sources.append(str(defaults_path))
    if experiment_dir is not None and (experiment_dir / OVERRIDES_FILE).is_file():
        layers.append(read_mapping(experiment_dir / OVERRIDES_FILE))
        sources.append(str(experiment_dir / OVERRIDES_FILE))
    set_layer = dict(overrides) if isinstance(overrides, dict) else apply_overrides({}, overrides)
    if set_layer:
        layers.append(set_layer)
        sources.append("--set")
    for layer, source in zip(layers, sources):
        check_keys(layer, source)
    return validate_config(BenchmarkParams, merge_params(*layers), " + ".join(sources) or "benchmark params")


# --- the mode's config ------------------------------------------------------------------------------------------

def _overridable() -> dict[str, Any]:
    """Every BenchmarkParams field again, optional (None = keep what the experiment's files say), with the same
    bounds, so `--set num_inference_runs=0` is refused before anything runs, against --set."""
    fields = {}
    for name, field in BenchmarkParams.model_fields.items():
        annotation = Annotated.__class_getitem__((field.annotation, *field.metadata)) if field.metadata else \
            field.annotation
        fields[name] = (annotation | None, Field(None, description=f"override for every experiment: "
                                                                   f"{field.description}"))
    return fields


ParamOverrides = create_model("ParamOverrides", __base__=StrictModel, **_overridable())


class PeftBenchConfig(ParamOverrides):
    """`inference-lab peft-bench` config: which experiments, and overrides of their benchmark parameters."""

    RENAMED = {"adapter_path": "adapter"}

    experiments_root: str | None = Field(
        None, description="the folder with default_benchmark_params.json; null = ./experiments if present, else the "
                          "packaged templates")
    experiments: list[str] = Field(default_factory=list, description="experiment folders (or folders of them) to "
                                                                     "run; empty = every experiment under the root")
    base_only: bool = Field(False, description="only build (or confirm) the cached base results for the defaults")
    rebuild_base: bool = Field(False, description="measure the cached base again even when it matches")
    require_cached_base: bool = Field(False, description="with paired_base false: a missing or stale base cache is an "
                                                         "error instead of being measured")
    output_dir: str = Field("results", description="folder that run folders (and base_cache/) are created in")
    # Here, not in BenchmarkParams: threads are how this process runs, not what an experiment is. The base cache is
    # still keyed on them (cache.machine_fingerprint records torch_threads): a base timed with other threads is stale.
    num_threads: int | None = Field(None, gt=0, le=1024, description="torch CPU threads; null = the physical cores "
                                                                     "(recorded in every result)")

    @field_validator("max_new_tokens", mode="before")
    @classmethod
    def _one_number_for_all(cls, value: Any) -> Any:
        return BenchmarkParams._one_number_for_all(value) if value is not None else None

    def overrides(self) -> dict[str, Any]:
        """The BenchmarkParams keys this config sets (the top layer over every experiment's files)."""
        data = self.model_dump(mode="json", include=set(BenchmarkParams.model_fields))
        return {k: v for k, v in data.items() if v is not None}

    def root(self) -> Path:
        from ...presets import experiments_root

        return Path(self.experiments_root) if self.experiments_root else experiments_root()

    def named_models(self) -> list[str]:
        """Models and adapters the experiments name (read from their parameter files; cheap, no model loads)."""
        names: list[str] = []
        try:
            root = find_root(self.root().resolve())
            targets = self.experiments or [str(root)]
            for experiment in [e for t in targets for e in discover(t)]:
                params = load_params(experiment.defaults_path, experiment.path, overrides=self.overrides())
                names += [params.model_id] + ([params.adapter] if params.adapter else [])
        except Exception:  # noqa: BLE001 - a bad experiment is reported by the run itself, with its file
            return names
        return list(dict.fromkeys(names))

    def label(self) -> str:
        return "base" if self.base_only else (Path(self.experiments[0]).name if len(self.experiments) == 1 else "all")


Config = PeftBenchConfig
