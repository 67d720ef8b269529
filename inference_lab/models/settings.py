"""How models are loaded and run: the keys every mode's config shares (flat, as the guide's configs have them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.config import StrictModel

Quantization = Literal["none", "4bit", "8bit", "auto"]
Weights = Literal["pretrained", "random"]
DType = Literal["auto", "float32", "float16", "bfloat16"]
DeviceMap = Literal["auto", "balanced", "balanced_low_0", "sequential"]


class ModelSettings(StrictModel):
    dtype: DType = Field(
        "auto", description="auto = bfloat16 on a CUDA device that supports it, float16 on older CUDA, else float32"
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    device_map: DeviceMap | None = Field(
        None,
        description="spread one model over every visible GPU (accelerate: auto, balanced, balanced_low_0, "
                    "sequential); the placement is recorded; null = the whole model on `device`",
    )
    use_quantization: bool | Quantization = Field(
        False,
        description="false/none, true (=4bit), 4bit, 8bit (bitsandbytes), or auto (4bit only when CUDA is present)",
    )
    use_flash_attention: bool = Field(
        True, description="try flash_attention_2 (needs flash-attn and CUDA); falls back to sdpa, then eager"
    )
    torch_compile: bool = Field(False, description="compile model.forward with torch.compile (slow first call)")
    trust_remote_code: bool = Field(False, description="run code shipped with the model; off unless you trust it")
    allow_pickle_weights: bool = Field(
        False, description="allow .bin/.pt weights for models and adapters; safetensors only by default"
    )
    weights: Weights = Field(
        "pretrained",
        description="pretrained = load the model's weights; random = build its architecture with random weights from "
                    "the catalogue (or a config.json path): speed and memory only, no download",
    )
    num_threads: int | None = Field(
        None, gt=0, le=1024,
        description="torch CPU threads; null = the number of physical cores (recorded in every result)",
    )

    @field_validator("device")
    @classmethod
    def _device_known(cls, value: str) -> str:
        head, _, index = value.partition(":")
        if head not in {"auto", "cpu", "cuda", "mps"} or (index and not index.isdigit()) or (index and head != "cuda"):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @model_validator(mode="after")
    def _device_map_needs_gpu_device(self):
        if self.device_map is not None and self.device not in {"auto", "cuda"}:
            raise ValueError(f"device_map: '{self.device_map}' places the model over GPUs itself; "
                             f"set device to auto or cuda (not '{self.device}'), or device_map to null")
        return self

    @property
    def quantization(self) -> Quantization:
        if self.use_quantization is True:
            return "4bit"
        if self.use_quantization is False:
            return "none"
        return self.use_quantization
