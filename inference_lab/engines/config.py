"""Config schemas of the engine layer: which server, what load, which service-level objectives.

`ServerSettings` names an OpenAI-compatible server: one already running (`base_url`) or one this tool starts
(`launch`: the shortcut `vllm` or `transformers`, or an argv of its own with a `{port}` placeholder). A
launched server always listens on 127.0.0.1: the tool picks the port, so a custom argv must take `{port}` and
must not bind another host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.config import StrictModel

LAUNCH_SHORTCUTS = ("vllm", "transformers")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "{host}"}
# Flags by which a custom argv could bind a host other than loopback (uvicorn, vLLM, SGLang, TGI, llama.cpp).
_HOST_FLAGS = ("--host", "--hostname", "--bind", "-H")

Dialect = Literal["auto", "vllm", "transformers", "openai"]


def bound_hosts(argv: list[str]) -> list[str]:
    """Hosts an argv asks to bind, from `--host X` and `--host=X` style flags."""
    hosts = []
    for index, part in enumerate(argv):
        flag, eq, inline = part.partition("=")
        if flag not in _HOST_FLAGS:
            continue
        if eq:
            hosts.append(inline)
        elif index + 1 < len(argv):
            hosts.append(argv[index + 1])
    return hosts


class ServerSettings(StrictModel):
    """An OpenAI-compatible server: already running (`base_url`) or started and stopped by the tool (`launch`)."""

    base_url: str | None = Field(None, description="root of a running server, e.g. http://127.0.0.1:8000 "
                                                   "(no /v1); exclusive with launch")
    model: str | None = Field(None, description="served model name sent as `model`; default: the model folder "
                                                "path (the name launch: vllm serves it under, and the only "
                                                "one transformers serve answers to)")
    api_key_env: str | None = Field(None, description="environment variable holding the API key (never the key)")
    launch: Literal["vllm", "transformers"] | list[str] | None = Field(
        None, description="vllm or transformers (command built from the config), or an argv with {port} and "
                          "optionally {model}; the server runs on 127.0.0.1 in its own process group")
    dialect: Dialect = Field("auto", description="request extras the server understands: vllm (ignore_eos, "
                                                "min_tokens, return_token_ids), transformers (generation_config), "
                                                "openai (none); auto = from launch, else asked of /v1/models")
    ready_timeout_s: float = Field(180.0, gt=0, description="seconds to wait for GET /v1/models to answer 200")
    tensor_parallel_size: int = Field(1, ge=1, description="launch: vllm only; needs that many GPUs")
    pipeline_parallel_size: int = Field(1, ge=1, description="launch: vllm only; needs that many GPUs")
    max_model_len: int | None = Field(None, gt=0, le=2**24, description="launch: vllm only; default (methods mode): "
                                      "the longest prompt + max_new_tokens + 64, rounded up to 256")
    extra_args: list[str] = Field(default_factory=list, description="appended to a launch shortcut's command")
    endpoint: Literal["completions", "chat"] = Field("completions", description="/v1/completions (prompt as "
                                                                               "given) or /v1/chat/completions")

    @field_validator("base_url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        value = value.rstrip("/")
        if value.endswith("/v1"):
            value = value[: -len("/v1")]  # people paste the OpenAI-style base; requests add /v1 themselves
        return value

    @field_validator("launch")
    @classmethod
    def _argv_shape(cls, value):
        if not isinstance(value, list):
            return value
        if not value:
            raise ValueError("an argv must not be empty")
        if not any("{port}" in part for part in value):
            raise ValueError("a launch argv must contain {port}: the tool picks a free port on 127.0.0.1")
        for host in bound_hosts(value):
            if host not in LOOPBACK_HOSTS:
                raise ValueError(f"a launched server must bind 127.0.0.1, not '{host}'")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ServerSettings:
        if self.base_url and self.launch:
            raise ValueError("give base_url (a running server) or launch (the tool starts one), not both")
        if not self.base_url and not self.launch:
            raise ValueError("give base_url (a running server) or launch (vllm, transformers or an argv)")
        gpu_flags = self.tensor_parallel_size > 1 or self.pipeline_parallel_size > 1
        if gpu_flags and self.launch != "vllm":
            raise ValueError("tensor_parallel_size / pipeline_parallel_size are passed through by launch: vllm "
                             "only; set them in the server's own command otherwise")
        return self

    @property
    def launched(self) -> bool:
        return self.launch is not None

    def resolved_dialect(self) -> Dialect:
        if self.dialect != "auto":
            return self.dialect
        if self.launch in LAUNCH_SHORTCUTS:
            return self.launch  # type: ignore[return-value]
        return "auto"


class LoadShape(StrictModel):
    """How requests arrive: fixed concurrency levels, optionally paced by a Poisson arrival rate."""

    concurrency: list[int] = Field(default_factory=lambda: [1], min_length=1,
                                   description="requests in flight at most; one measurement per level")
    request_rate: float | None = Field(None, gt=0, description="Poisson arrivals in requests/s; "
                                                               "null = as fast as the concurrency allows")
    num_requests: int | None = Field(None, gt=0, description="requests per level; default: one per prompt "
                                                             "x completion")
    warmup_requests: int = Field(2, ge=0, description="sent first at each level and left out of the figures")
    seed: int = Field(0, description="seeds the Poisson arrival gaps")

    @field_validator("concurrency")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(level < 1 for level in value):
            raise ValueError("every concurrency level must be >= 1")
        return value


class SLO(StrictModel):
    """Service-level objectives for goodput (vLLM's `--goodput ttft:MS tpot:MS e2el:MS`)."""

    ttft_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    e2el_ms: float | None = Field(None, gt=0)

    def limits_s(self) -> dict[str, float]:
        """Limits in seconds keyed by the request field they bound (ttft_s, tpot_s, e2el_s)."""
        pairs = {"ttft_s": self.ttft_ms, "tpot_s": self.tpot_ms, "e2el_s": self.e2el_ms}
        return {key: ms / 1000.0 for key, ms in pairs.items() if ms is not None}
