"""The `mcq` mode's config: which model (and optional LoRA adapter) scores which multiple-choice set, and how."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...models.settings import ModelSettings
from .data import DEFAULT_LETTERS

Normalisation = Literal["sum", "per_token", "per_char"]


class MCQConfig(ModelSettings):
    """Flat keys, like the methods mode's config; the model-loading keys come from `ModelSettings`."""

    RENAMED = {"model": "main_model", "data_file": "test_file"}

    main_model: str = Field("demo", description="Hugging Face id, local path, or demo kit name (demo)")
    adapter: str | None = Field(
        None, description="LoRA adapter (path or demo-lora): the set is scored with the base model and with the adapter"
    )
    test_file: str = Field("demo-mcq", description="JSONL: question, choices, answer (index or letter), subject?, id?")
    mode: Literal["letters", "choices"] = Field(
        "letters", description="letters: score ' A', ' B', ... after the prompt; choices: score each choice's text"
    )
    normalisation: Normalisation = Field(
        "per_char",
        description="how choices are compared: sum of log-probs, per token, or per character of the choice text "
                    "without the delimiter (lm-eval's acc_norm)",
    )
    batch_size: int | Literal["auto"] = Field(
        "auto", description="rows per forward pass; auto = largest that fits, halving on out-of-memory"
    )
    max_batch_size: int = Field(64, gt=0, le=65536, description="where batch_size auto starts")
    padding_side: Literal["left", "right"] = Field(
        "left", description="left lets the model compute logits only for the final positions"
    )
    add_bos_token: bool = Field(False, description="start every prompt with the tokenizer's BOS token (Llama, Gemma)")
    question_template: str = Field(
        "Question: {question}\n{choices}\nAnswer:",
        description="letters mode: the prompt; {question} and {choices} are filled in",
    )
    cloze_template: str = Field(
        "Question: {question}\nAnswer:",
        description="choices mode: the prompt each choice text is scored after (cloze form, as lm-evaluation-harness "
                    "scores choice texts); may contain {choices} to list them",
    )
    choice_template: str = Field("{letter}. {choice}", description="one line of the choice list")
    answer_delimiter: str = Field(" ", description="text between the prompt and the scored letter or choice")
    letters: str = Field(DEFAULT_LETTERS, min_length=2,
                         description="labels of the choices, in order; answers given as letters use them too")
    limit: int | None = Field(None, gt=0, description="score only the first N questions")
    warmup_runs: int = Field(1, ge=0, le=100, description="untimed scoring passes over the first batch per variant")
    output_dir: str = Field("results", description="folder that run folders are created in")

    @model_validator(mode="after")
    def _pretrained_only(self) -> MCQConfig:
        if self.weights == "random":
            raise ValueError("weights: 'random' measures speed and memory only; the mcq mode scores accuracy "
                             "(use the methods mode for random-weight architectures)")
        return self

    @field_validator("batch_size")
    @classmethod
    def _batch_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value <= 0:
            raise ValueError("must be > 0 or 'auto'")
        return value

    @field_validator("letters")
    @classmethod
    def _letters_distinct(cls, value: str) -> str:
        if len(set(value.upper())) != len(value):
            raise ValueError("letters must be distinct")
        return value

    @field_validator("question_template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        for name in ("{question}", "{choices}"):
            if name not in value:
                raise ValueError(f"must contain {name}")
        return value

    @field_validator("cloze_template")
    @classmethod
    def _cloze_fields(cls, value: str) -> str:
        if "{question}" not in value:
            raise ValueError("must contain {question}")
        return value

    @field_validator("choice_template")
    @classmethod
    def _choice_fields(cls, value: str) -> str:
        if "{choice}" not in value:
            raise ValueError("must contain {choice}")
        return value

    @field_validator("main_model", "test_file", "adapter")
    @classmethod
    def _name_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (use null for no adapter)")
        return value

    def named_models(self) -> list[str]:
        return [self.main_model] + ([self.adapter] if self.adapter else [])

    def named_files(self) -> list[str]:
        return [self.test_file]

    def label(self) -> str:
        return Path(self.main_model).name or "mcq"


Config = MCQConfig
