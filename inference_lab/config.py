"""Config schemas and the one place configs are read and validated.

Every config the project reads is a pydantic model that forbids unknown keys. `load_config` turns a JSON or
YAML file (plus `--set key=value` overrides) into one, and any problem into a one-line `UserError` naming the
field and the value, with a did-you-mean hint for misspelt keys.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError

DEFAULT_PROMPTS = [
    "generate short bed time story containing word elephant and cake",
    "generate short bed time story containing word dog and sausage",
]

CacheImplementation = Literal["dynamic", "static", "offloaded", "offloaded_static", "quantized"]
Quantization = Literal["none", "4bit", "8bit", "auto"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(StrictModel):
    """How a model is loaded; shared by every mode (flat keys, as the guide's configs have them)."""

    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto = bfloat16 on a CUDA device that supports it, float16 on older CUDA, else float32"
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    use_quantization: bool | Quantization = Field(
        False,
        description="false/none, true (=4bit), 4bit, 8bit (bitsandbytes), or auto (4bit only when CUDA is present)",
    )
    use_flash_attention: bool = Field(
        True, description="try flash_attention_2 (needs flash-attn and CUDA); falls back to sdpa, then eager"
    )
    torch_compile: bool = Field(False, description="compile model.forward with torch.compile (slow first call)")
    trust_remote_code: bool = Field(False, description="run code shipped with the model; off unless you trust it")
    allow_pickle_weights: bool = Field(False, description="allow .bin/.pt weights; safetensors only by default")

    @field_validator("device")
    @classmethod
    def _device_known(cls, value: str) -> str:
        head, _, index = value.partition(":")
        if head not in {"auto", "cpu", "cuda", "mps"} or (index and not index.isdigit()) or (index and head != "cuda"):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @property
    def quantization(self) -> Literal["none", "4bit", "8bit", "auto"]:
        if self.use_quantization is True:
            return "4bit"
        if self.use_quantization is False:
            return "none"
        return self.use_quantization


class InferenceConfig(ModelSettings):
    """The comparator's config: every key of the reference guide plus measurement settings."""

    main_model: str = Field("demo", description="Hugging Face id, local path, or demo kit name (demo)")
    assistant_model: str | None = Field("demo-assistant", description="draft model for speculative decoding")
    max_new_tokens: int = Field(150, gt=0)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    top_k: int = Field(50, ge=0)
    num_completions: int | list[int] = Field(3, description="completions per prompt: one number or one per prompt")
    batch_size: int = Field(4, gt=0)
    methods_to_test: list[str] | None = Field(None, description="null = all registered methods")
    prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_PROMPTS), min_length=1)
    use_speculative_decoding: bool = False
    prompt_lookup_num_tokens: int | None = Field(
        None, gt=0, description="also run each method with prompt-lookup decoding (assistant-free speculation)"
    )
    cache_implementation: CacheImplementation = "dynamic"
    use_chat_template: bool = Field(False, description="wrap each prompt in the tokenizer's chat template")
    seed: int = 42
    warmup_runs: int = Field(1, ge=0, description="untimed runs of each method before measuring")
    num_runs: int = Field(3, gt=0, description="timed repeats of each method; medians are over these")
    output_dir: str = "results"

    @field_validator("num_completions")
    @classmethod
    def _completions_positive(cls, value: int | list[int]) -> int | list[int]:
        counts = value if isinstance(value, list) else [value]
        if not counts or any(c <= 0 for c in counts):
            raise ValueError("every completion count must be > 0")
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
        from .methods import method_names, split_method_name

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
    def _completions_match_prompts(self) -> InferenceConfig:
        if isinstance(self.num_completions, list) and len(self.num_completions) != len(self.prompts):
            raise ValueError(
                f"num_completions has {len(self.num_completions)} entries but there are {len(self.prompts)} prompts"
            )
        return self

    def completions_per_prompt(self) -> list[int]:
        if isinstance(self.num_completions, list):
            return list(self.num_completions)
        return [self.num_completions] * len(self.prompts)


M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in {"function-after", "function-before"}) or "config"


def _known_keys(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names at the level of `loc` (descending through nested models) for did-you-mean hints."""
    cls: Any = model_cls
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        cls = annotation
    return list(getattr(cls, "model_fields", {}))


def format_validation_error(err: ValidationError, model_cls: type[BaseModel], source: str = "config") -> str:
    """The first problem as one line: `<source>: field 'x': <why> (got <value>)`."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    field = _field_path(loc)
    if first["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _known_keys(model_cls, loc), n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"{source}: unknown key '{field}'{suggestion}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in {"value_error", "assertion_error"} and not loc:
        return f"{source}: {message}"
    got = json.dumps(first.get("input"), default=str)
    if len(got) > 80:
        got = got[:77] + "..."
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: field '{field}': {message} (got {got}){tail}"


def validate_config(model_cls: type[M], data: dict[str, Any], source: str = "config") -> M:
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        raise UserError(format_validation_error(err, model_cls, source)) from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file into a dict; a missing or unparsable file is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:  # json and yaml errors both carry a line number in their text
        kind = path.suffix.lstrip(".").upper() or "JSON"
        raise UserError(f"{path}: not valid {kind}: {str(err).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys to values at the top level")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value); the value is read as JSON when it parses, else as a string."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {item!r}: expected key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides or []:
        keys, value = parse_override(item)
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise UserError(f"--set {item!r}: '{key}' is not a section")
        target[keys[-1]] = value
    return data


def load_config(model_cls: type[M], path: str | Path | None, overrides: list[str] | None = None) -> M:
    data = read_mapping(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    return validate_config(model_cls, apply_overrides(data, overrides), source)


def save_config(config: BaseModel, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = config.model_dump(mode="json")
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        path.write_text(yaml.safe_dump(payload, sort_keys=False), encoding="utf-8")
    else:
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def json_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    return model_cls.model_json_schema()
