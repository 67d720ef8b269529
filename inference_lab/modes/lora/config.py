"""The LoRA-vs-base config: the reference documents' `inference:` keys plus what they left implicit.

Top-level keys are the model-loading settings every mode shares (`ModelSettings`: dtype, device, ...), the base
model (`main_model`, as in every mode; the old `base_model` still works), the adapter, the output folder and
the warm-up. Sections: `inference` (the documents' keys and the strategy), `generation`, `prompt`, `answer`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...core.config import Seed, StrictModel
from ...demo_kit.corpus import TASK_ANSWER_PATTERN, TASK_LABELS
from ...models.settings import ModelSettings

Strategy = Literal["sequential", "mixed"]


class InferenceSection(StrictModel):
    """Keys of the reference documents' `inference:` section, plus how base and LoRA share the work."""

    batch_size: int = Field(8, gt=0, le=65536, description="samples per generate() call")
    chunk_size: int | None = Field(
        None, gt=0, description="samples per chunk (base, LoRA, write, release); null = all samples in one chunk"
    )
    max_samples: int | None = Field(None, gt=0, description="use only the first N samples; null = all")
    test_file: str = Field("demo-task", description="labelled JSONL file ({id?, prompt, label} rows) or demo-task")
    use_peft_directly: bool = Field(
        True, description="true = unmerged PEFT wrapper; false = merge_and_unload into a copy of the base weights"
    )
    strategy: Strategy = Field(
        "sequential",
        description="sequential = base then LoRA per chunk (the documents' way); mixed = one generate() per batch "
        "whose rows alternate __base__ and the adapter (needs use_peft_directly)",
    )
    keep_adapter_loaded: bool = Field(
        False, description="false = load the adapter and unload it in every chunk (the documents' way); true = "
        "load once, run base under disable_adapter()",
    )


class GenerationSection(StrictModel):
    max_new_tokens: int = Field(8, gt=0, le=1_000_000)
    do_sample: bool = Field(False, description="false = greedy (outputs identical across chunk sizes and resumes)")
    temperature: float = Field(1.0, gt=0.0, le=100.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(50, ge=0)
    seed: Seed = Field(0, description="with do_sample, each batch is seeded with seed + index of its first sample")


class PromptSection(StrictModel):
    template: str = Field("{prompt}", description="Python format string over the test row's fields")
    use_chat_template: bool = Field(False, description="wrap the formatted prompt in the tokenizer's chat template")
    system_prompt: str | None = Field(None, description="system message when use_chat_template is true")

    @field_validator("template")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        import string

        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as err:
            raise ValueError(f"not a valid format string ({err})") from None
        if not fields:
            raise ValueError("must contain at least one {field} of the test row, e.g. {prompt}")
        return value


class AnswerSection(StrictModel):
    """How a label is read from model text: `<think>...</think>` blocks are always dropped first."""

    pattern: str = Field(TASK_ANSWER_PATTERN, description="regex; its first group (or whole match) is the answer")
    labels: list[str] | None = Field(
        default_factory=lambda: list(TASK_LABELS), description="allowed answers; null = any match counts"
    )
    label_field: str = Field("label", description="field of the test row holding the expected answer")
    id_field: str = Field("id", description="field of the test row holding its id; missing ids become line-N")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression ({err})") from None
        return value

    @field_validator("labels")
    @classmethod
    def _labels_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must list at least one label, or be null")
        return None if value is None else [label.lower() for label in value]


class LoraConfig(ModelSettings):
    """`inference-lab lora` config (JSON or YAML)."""

    RENAMED = {"base_model": "main_model"}

    main_model: str = Field("demo", description="the base model: Hugging Face id, local path, or demo kit name")
    adapter: str = Field("demo-lora", description="PEFT adapter folder (with adapter_config.json) or demo-lora")
    output_dir: str = Field("results", description="folder that run folders are created in")
    warmup_runs: int = Field(1, ge=0, le=100, description="untimed short generate() calls, base and LoRA, before "
                                                          "anything is timed")
    inference: InferenceSection = Field(default_factory=InferenceSection)
    generation: GenerationSection = Field(default_factory=GenerationSection)
    prompt: PromptSection = Field(default_factory=PromptSection)
    answer: AnswerSection = Field(default_factory=AnswerSection)

    @model_validator(mode="after")
    def _pretrained_only(self) -> LoraConfig:
        if self.weights == "random":
            raise ValueError("weights: 'random' measures speed and memory only; the lora mode scores accuracy "
                             "(use the methods mode for random-weight architectures)")
        return self

    @model_validator(mode="after")
    def _mixed_needs_unmerged(self) -> LoraConfig:
        if self.inference.strategy == "mixed" and not self.inference.use_peft_directly:
            raise ValueError("inference.strategy 'mixed' needs inference.use_peft_directly: true "
                             "(a merged model has no adapter to switch off per row)")
        return self

    def named_models(self) -> list[str]:
        return [self.main_model, self.adapter]

    def named_files(self) -> list[str]:
        return [self.inference.test_file]

    def label(self) -> str:
        return Path(self.adapter).name or "lora"


Config = LoraConfig
