"""The methods mode's config: every key of the reference guide's comparator config plus measurement settings."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...core.config import Seed
from ...engines.config import SLO, LoadShape, ServerSettings
from ...models.random_adapter import RandomAdapterSpec
from ...models.settings import ModelSettings
from ...models.synthetic import Workload

DEFAULT_PROMPTS = [
    "generate short bed time story containing word elephant and cake",
    "generate short bed time story containing word dog and sausage",
]

CacheImplementation = Literal["dynamic", "static", "offloaded", "offloaded_static", "quantized"]
Engine = Literal["transformers", "openai"]
AdapterRef = str | RandomAdapterSpec
ADAPTER_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class MethodsConfig(ModelSettings):
    """`inference-lab methods` (alias `run`) config, JSON or YAML."""

    main_model: str = Field("demo", description="Hugging Face id, local path, or demo kit name (demo)")
    assistant_model: str | None = Field("demo-assistant", description="draft model for speculative decoding")
    max_new_tokens: int = Field(150, gt=0, le=1_000_000)
    temperature: float = Field(0.7, ge=0.0, le=100.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    top_k: int = Field(50, ge=0)
    num_completions: int | list[int] = Field(3, description="completions per prompt: one number or one per prompt")
    batch_size: int | Literal["auto"] = Field(
        4, description="rows per generate call for batched methods; auto = the largest that fits, halving from "
                       "max_batch_size on out-of-memory (what was tried is recorded)")
    max_batch_size: int = Field(64, gt=0, le=65536, description="where batch_size auto starts")
    methods_to_test: list[str] | None = Field(None, description="null = all registered methods")
    prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_PROMPTS), min_length=1)
    use_speculative_decoding: bool = False
    prompt_lookup_num_tokens: int | None = Field(
        None, gt=0, le=1024, description="also run each method with prompt-lookup decoding (assistant-free speculation)"
    )
    cache_implementation: CacheImplementation = "dynamic"
    use_chat_template: bool = Field(False, description="wrap each prompt in the tokenizer's chat template")
    seed: Seed = 42
    warmup_runs: int = Field(1, ge=0, le=1000, description="untimed runs of each method before measuring")
    num_runs: int = Field(3, gt=0, le=10000, description="timed rounds; each round runs every method once, "
                                                         "interleaved; medians and intervals are over rounds")
    output_dir: str = Field("results", description="folder that run folders are created in")
    workload: Workload | None = Field(
        None, description="a synthetic workload instead of prompts: batch_size rows of prompt_tokens random ids, each "
                          "decoding exactly new_tokens (EOS ignored), so every method does the same work; with "
                          "weights: random, the only workload there is")

    adapter: AdapterRef | None = Field(
        None, description="one LoRA adapter: a PEFT folder or demo name, or {r, alpha, target_modules, init: random} "
                          "(a random LoRA of that shape); each method also runs with it attached (unmerged)")
    adapters: dict[str, AdapterRef] = Field(
        default_factory=dict, description="several adapters by name (the name requests it from a server); "
                                          "exclusive with adapter")
    engine: Engine = Field("transformers", description="transformers = in process only; openai = also measure an "
                                                       "OpenAI-compatible server (server) on the same prompts")
    server: ServerSettings | None = Field(None, description="engine openai: the server (base_url or launch)")
    load: LoadShape | None = Field(None, description="engine openai: concurrency levels, Poisson request rate, "
                                                     "requests per level, warm-up requests")
    slo: SLO | None = Field(None, description="engine openai: goodput limits {ttft_ms, tpot_ms, e2el_ms}")

    @field_validator("adapters")
    @classmethod
    def _adapter_names(cls, value: dict[str, AdapterRef]) -> dict[str, AdapterRef]:
        for name in value:
            if not name or set(name) - ADAPTER_NAME_CHARS or name in {"base", "mixed"}:
                raise ValueError(f"adapter name '{name}': letters, digits, '-', '_' and '.' only, not base/mixed "
                                 "(it becomes a served model name and a method suffix)")
        return value

    @field_validator("batch_size")
    @classmethod
    def _batch_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 < value <= 65536:
            raise ValueError("must be between 1 and 65536, or 'auto'")
        return value

    @field_validator("num_completions")
    @classmethod
    def _completions_positive(cls, value: int | list[int]) -> int | list[int]:
        counts = value if isinstance(value, list) else [value]
        if not counts or any(c <= 0 or c > 10000 for c in counts):
            raise ValueError("every completion count must be between 1 and 10000")
        return value

    @field_validator("prompts")
    @classmethod
    def _prompts_not_blank(cls, value: list[str]) -> list[str]:
        for i, prompt in enumerate(value):
            if not prompt.strip():
                raise ValueError(f"prompt {i} is empty")
        return value

    @field_validator("methods_to_test")
    @classmethod
    def _methods_known(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from .registry import method_names, split_method_name

        if not value:
            raise ValueError("must list at least one method, or be null for all")
        for name in value:
            base, _variant = split_method_name(name)
            if base not in method_names():
                hint = difflib.get_close_matches(base, method_names(), n=1)
                extra = f"; did you mean '{hint[0]}'?" if hint else ""
                raise ValueError(f"unknown method '{name}' (known: {', '.join(method_names())}){extra}")
        return value

    @model_validator(mode="after")
    def _completions_match_prompts(self) -> MethodsConfig:
        if isinstance(self.num_completions, list) and len(self.num_completions) != len(self.prompts):
            raise ValueError(
                f"num_completions has {len(self.num_completions)} entries but there are {len(self.prompts)} prompts"
            )
        return self

    @model_validator(mode="after")
    def _random_weights_need_a_workload(self) -> MethodsConfig:
        if self.weights == "random" and self.workload is None:
            raise ValueError("weights: 'random' needs a workload ({prompt_tokens, new_tokens, batch_size}): a random "
                             "model has no tokenizer for text prompts")
        return self

    @model_validator(mode="after")
    def _engine_settings_fit(self) -> MethodsConfig:
        if self.adapter is not None and self.adapters:
            raise ValueError("give adapter (one) or adapters (by name), not both")
        if self.engine == "transformers":
            for key in ("server", "load", "slo"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: only used with engine: openai (the run is in process)")
            return self
        if self.server is None:
            raise ValueError("engine: 'openai' needs server: {base_url: ...} or {launch: vllm | transformers | [argv]}")
        if self.weights == "random":
            raise ValueError("engine: 'openai' serves a model folder; weights: random exists only in process")
        if self.workload is not None:
            raise ValueError("engine: 'openai' sends text prompts; a workload (random ids) is in process only")
        for name, ref in self.named_adapters().items():
            if isinstance(ref, RandomAdapterSpec):
                raise ValueError(f"adapters.{name}: a random adapter exists only in process; a server needs a folder")
        return self

    def named_adapters(self) -> dict[str, AdapterRef]:
        """Every adapter under the name that requests it (a single `adapter` is named after its folder)."""
        if self.adapters:
            return dict(self.adapters)
        if self.adapter is None:
            return {}
        if isinstance(self.adapter, RandomAdapterSpec):
            return {f"lora-r{self.adapter.r}": self.adapter}
        name = "".join(c if c in ADAPTER_NAME_CHARS else "-" for c in Path(self.adapter).name) or "adapter"
        return {"base-adapter" if name in {"base", "mixed"} else name: self.adapter}

    def load_shape(self) -> LoadShape:
        return self.load or LoadShape()

    def completions_per_prompt(self) -> list[int]:
        if self.workload is not None:
            return [1] * len(self.effective_prompts())
        if isinstance(self.num_completions, list):
            return list(self.num_completions)
        return [self.num_completions] * len(self.prompts)

    # --- what actually runs -------------------------------------------------------------------------------------

    def effective_prompts(self) -> list[str]:
        """The prompts the plan is made of: the config's, or one placeholder per synthetic row of the workload."""
        if self.workload is None:
            return list(self.prompts)
        rows = self.workload.fixed_batch_size() or self.max_batch_size
        return [f"<synthetic row {i}: {self.workload.prompt_tokens} random ids>" for i in range(rows)]

    def effective_max_new_tokens(self) -> int:
        return self.workload.new_tokens if self.workload is not None else self.max_new_tokens

    def effective_batch_size(self) -> int | Literal["auto"]:
        return self.workload.batch_size if self.workload is not None else self.batch_size

    # --- the spine's questions ---------------------------------------------------------------------------------

    def named_models(self) -> list[str]:
        from .registry import requested_names

        wants_assistant = any(n.endswith("_speculative") for n in requested_names(self))
        return [self.main_model] + ([self.assistant_model] if wants_assistant and self.assistant_model else [])

    def label(self) -> str:
        return Path(self.main_model).name or "run"


Config = MethodsConfig
