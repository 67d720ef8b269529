"""Model loading: one function from a model name plus `ModelSettings` to a model, its tokenizer and a report
of what was *effectively* used (dtype, attention backend, quantization, compile) and why it differs from
what was asked.

Fallback order, each step recorded in `LoadReport.notes`:
- dtype auto: bfloat16 on CUDA with bf16 support, float16 on older CUDA, float32 on CPU. float16 asked for on
  CPU falls back to float32 (half matmuls are slow or missing there); bfloat16 on CPU is honoured.
- attention: flash_attention_2 (asked for, installed, CUDA, half precision) -> sdpa -> eager.
- quantization: bitsandbytes 4/8-bit; a missing package is a clear error, never a silent full-precision run.
"""

from __future__ import annotations

import importlib.util
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..core import device as dev
from ..core.errors import UserError, first_line
from .names import resolve_source
from .noise import silence_library_noise
from .settings import ModelSettings

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class LoadReport:
    name: str
    source: str
    device: str
    dtype: str
    attention: str
    quantization: str
    compiled: bool
    num_parameters: int = 0
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    placement: dict[str, int] | None = None  # device_map runs: device -> parameters placed there

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    report: LoadReport


def choose_dtype(requested: str, device: torch.device) -> tuple[torch.dtype, str | None]:
    if requested == "auto":
        if dev.is_cuda(device):
            return (torch.bfloat16, None) if dev.bf16_supported(device) else (torch.float16, None)
        return torch.float32, None
    dtype = DTYPES[requested]
    if device.type == "cpu" and dtype is torch.float16:
        return torch.float32, "dtype float16 on CPU -> float32 (half-precision matmuls are slow or missing on CPU)"
    if dev.is_cuda(device) and dtype is torch.bfloat16 and not dev.bf16_supported(device):
        return torch.float16, "dtype bfloat16 not supported by this GPU -> float16"
    return dtype, None


def attention_candidates(use_flash: bool, device: torch.device, dtype: torch.dtype) -> tuple[list[str], list[str]]:
    """Backends to try in order, and the reasons flash_attention_2 was skipped."""
    notes: list[str] = []
    if use_flash:
        if not dev.is_cuda(device):
            notes.append("flash_attention_2 requested but the device is not CUDA -> sdpa")
        elif importlib.util.find_spec("flash_attn") is None:
            notes.append("flash_attention_2 requested but flash-attn is not installed -> sdpa")
        elif dtype not in (torch.float16, torch.bfloat16):
            dtype_name = str(dtype).removeprefix("torch.")
            notes.append(f"flash_attention_2 needs float16/bfloat16, dtype is {dtype_name} -> sdpa")
        else:
            return ["flash_attention_2", "sdpa", "eager"], notes
    return ["sdpa", "eager"], notes


def quantization_config(mode: str, device: torch.device, dtype: torch.dtype):
    """(BitsAndBytesConfig or None, effective mode, note)."""
    if mode == "auto":
        if not dev.is_cuda(device):
            return None, "none", "use_quantization auto: no CUDA device -> no quantization"
        mode = "4bit"
    if mode == "none":
        return None, "none", None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError(
            f"use_quantization: '{mode}' needs the bitsandbytes package (pip install -r requirements-gpu.txt)"
        )
    from transformers import BitsAndBytesConfig

    if mode == "4bit":
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
    else:
        config = BitsAndBytesConfig(load_in_8bit=True)
    return config, mode, None


def load_tokenizer(source: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer



def load_random_model(name: str, settings: ModelSettings, *, field_name: str = "main_model",
                      seed: int = 0) -> LoadedModel:
    """The architecture `name` (a catalogue id, or a config.json path) with seeded random weights: shapes, speed and
    memory are the real model's, outputs are meaningless. Built in the configured dtype on the device, through the
    same attention fallbacks as a pretrained load; its tokenizer is a stand-in that only knows the special ids."""
    from .catalogue import build_random_model, catalogue_config
    from .synthetic import IdsOnlyTokenizer

    silence_library_noise()
    started = time.perf_counter()
    config = catalogue_config(name, field_name)
    device = dev.resolve_device(settings.device)
    dtype, dtype_note = choose_dtype(settings.dtype, device)
    quant, quant_mode, quant_note = quantization_config(settings.quantization, device, dtype)
    if settings.device_map is not None:
        raise UserError("device_map: random weights are built on one device; use weights: pretrained to spread a "
                        "model over GPUs")
    if quant is not None:
        return _random_quantized(name, config, settings, quant, quant_mode, dtype, device, seed, field_name, started,
                                 [n for n in [dtype_note, quant_note] if n])
    notes = [n for n in [dtype_note, quant_note] if n]
    candidates, attn_notes = attention_candidates(settings.use_flash_attention, device, dtype)
    notes += attn_notes
    model, attention = None, None
    for attention in candidates:
        try:
            model, _report = build_random_model(config, dtype=dtype, device=device, seed=seed,
                                                attn_implementation=attention)
            break
        except (ValueError, ImportError) as exc:
            if "attn" not in str(exc).lower() and "attention" not in str(exc).lower():
                raise UserError(f"{field_name}: cannot build '{name}': {first_line(exc, with_type=False)}") from None
            notes.append(f"attention {attention} unavailable ({first_line(exc, with_type=False)})")
    if model is None:
        raise UserError(f"{field_name}: no attention implementation builds '{name}'")
    notes.append("random weights: speed and memory only")
    report = LoadReport(name=name, source=f"random:{config.name_or_path}", device=str(device),
                        dtype=str(next(model.parameters()).dtype).removeprefix("torch."), attention=attention,
                        quantization="none", compiled=False, num_parameters=sum(p.numel() for p in model.parameters()),
                        load_seconds=round(time.perf_counter() - started, 3), notes=notes)
    return LoadedModel(model, IdsOnlyTokenizer(config), report)


def _random_quantized(name, config, settings: ModelSettings, quant, quant_mode: str, dtype, device, seed: int,
                      field_name: str, started: float, notes: list[str]) -> LoadedModel:
    """Random weights, quantized by bitsandbytes the way a pretrained model is: the architecture is built
    unquantized on the CPU, written to a temporary safetensors folder and loaded back through from_pretrained with
    the quantization config (transformers quantizes only while loading). Costs a disk round trip of the unquantized
    weights, reported in the load time; the folder is removed once the model is in memory."""
    import tempfile

    from transformers import AutoModelForCausalLM

    from .catalogue import build_random_model
    from .synthetic import IdsOnlyTokenizer

    model, _report = build_random_model(config, dtype=str(dtype).removeprefix("torch."), device="cpu", seed=seed)
    with tempfile.TemporaryDirectory(prefix="inference-lab-random-") as folder:
        model.save_pretrained(folder, safe_serialization=True)
        del model
        candidates, attn_notes = attention_candidates(settings.use_flash_attention, device, dtype)
        notes += attn_notes
        loaded, attention = None, None
        for attention in candidates:
            try:
                loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, quantization_config=quant,
                                                              device_map={"": str(device)}, use_safetensors=True,
                                                              attn_implementation=attention)
                break
            except (ValueError, ImportError) as exc:
                if "attn" not in str(exc).lower() and "attention" not in str(exc).lower():
                    raise UserError(f"{field_name}: cannot quantize '{name}': "
                                    f"{first_line(exc, with_type=False)}") from None
                notes.append(f"attention {attention} unavailable ({first_line(exc, with_type=False)})")
    if loaded is None:
        raise UserError(f"{field_name}: no attention implementation loads '{name}' quantized")
    loaded.eval()
    loaded.requires_grad_(False)
    notes.append(f"random weights quantized {quant_mode} through a temporary safetensors copy")
    notes.append("random weights: speed and memory only")
    report = LoadReport(name=name, source=f"random:{config.name_or_path}", device=str(device),
                        dtype=str(dtype).removeprefix("torch."), attention=attention, quantization=quant_mode,
                        compiled=False, num_parameters=sum(p.numel() for p in loaded.parameters()),
                        load_seconds=round(time.perf_counter() - started, 3), notes=notes)
    return LoadedModel(loaded, IdsOnlyTokenizer(config), report)


def _check_local_pickle_weights(source: str, field_name: str) -> None:
    """A local folder with only pickle weights (allowed by the config): each file must pass torch's weights-only
    unpickler first, so a file with code in it is one line before loading, not a traceback from inside it. (It reads
    the weights once more: the price of opting into pickle.)"""
    from .adapters import check_pickle_weights

    folder = Path(source)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return
    for path in sorted(folder.glob("pytorch_model*.bin")):
        check_pickle_weights(path, field_name)


def _placement(model) -> dict[str, int]:
    """{device: parameters placed there}: where a device_map put the model (accelerate's hf_device_map names
    modules; counting parameters also covers a map that kept everything on one device)."""
    counts: dict[str, int] = {}
    for param in model.parameters():
        counts[str(param.device)] = counts.get(str(param.device), 0) + param.numel()
    return counts


def random_weights_seed(settings: ModelSettings, field_name: str) -> int:
    """The config's `seed`, told apart per model: with one seed for both, a same-family draft came out as an exact
    copy of the main model's embeddings and first layers (same generator, same order), and accepted far more of
    its drafts than any real draft would."""
    seed = getattr(settings, "seed", None) or 0
    return (seed * 1_000_003 + zlib.crc32(field_name.encode())) % 2**63


def load_model(name: str, settings: ModelSettings, *, field_name: str = "main_model",
               with_tokenizer: bool = True) -> LoadedModel:
    from transformers import AutoModelForCausalLM

    if settings.weights == "random":
        return load_random_model(name, settings, field_name=field_name, seed=random_weights_seed(settings, field_name))
    silence_library_noise()
    started = time.perf_counter()
    source = resolve_source(name, field_name)
    device = dev.resolve_device(settings.device)
    dtype, dtype_note = choose_dtype(settings.dtype, device)
    notes = [n for n in [dtype_note] if n]
    quant, quant_mode, quant_note = quantization_config(settings.quantization, device, dtype)
    notes += [n for n in [quant_note] if n]
    candidates, attn_notes = attention_candidates(settings.use_flash_attention, device, dtype)
    notes += attn_notes

    if settings.allow_pickle_weights:
        _check_local_pickle_weights(source, field_name)
    kwargs: dict = {
        "dtype": dtype,
        "low_cpu_mem_usage": True,
        "trust_remote_code": settings.trust_remote_code,
        "use_safetensors": None if settings.allow_pickle_weights else True,
    }
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": str(device)}
    if settings.device_map is not None:
        # accelerate spreads the layers over the visible GPUs (then CPU) itself; inputs go to the first layer's device
        kwargs["device_map"] = settings.device_map
        if dev.gpu_count() == 0:
            notes.append(f"device_map {settings.device_map}: no GPU visible, the whole model is placed on cpu")

    model, attention, last_error = None, None, None
    for attention in candidates:
        try:
            model = AutoModelForCausalLM.from_pretrained(source, attn_implementation=attention, **kwargs)
            break
        except (ValueError, ImportError) as exc:
            if "attn" not in str(exc).lower() and "attention" not in str(exc).lower():
                last_error = exc
                break
            notes.append(f"attention {attention} unavailable ({first_line(exc, with_type=False)})")
            last_error = exc
        except OSError as exc:
            last_error = exc
            break
    if model is None:
        hint = ""
        if last_error is not None and "safetensors" in str(last_error).lower() and not settings.allow_pickle_weights:
            hint = " (only safetensors weights are loaded unless allow_pickle_weights is true)"
        raise UserError(f"{field_name}: cannot load '{name}': {first_line(last_error, with_type=False)}{hint}")
    if attention != candidates[0] and not any(n.startswith(f"attention {candidates[0]}") for n in notes):
        notes.append(f"attention {candidates[0]} -> {attention}")

    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    compiled = False
    if settings.torch_compile:
        # The forward pass compiled with dynamic shapes: generate's Python loop stays eager. Measured on CPU
        # (SmolLM2-135M shape): the first call took 47 s and compiled 3 graphs, a new batch size 3 more (72 s),
        # steady speed equal to the methods mode's `compiled` method, which does it right (static cache, decode step
        # only, compile time reported apart). Kept for the other modes; the first calls land in their warm-up.
        model.forward = torch.compile(model.forward, dynamic=True)
        compiled = True
    tokenizer = load_tokenizer(source, settings.trust_remote_code) if with_tokenizer else None
    report = LoadReport(
        name=name,
        source=source,
        device=str(device),
        dtype=str(next(model.parameters()).dtype if quant is None else dtype).removeprefix("torch."),
        attention=attention,
        quantization=quant_mode,
        compiled=compiled,
        num_parameters=sum(p.numel() for p in model.parameters()),
        load_seconds=round(time.perf_counter() - started, 3),
        notes=notes,
        placement=_placement(model) if settings.device_map is not None else None,
    )
    return LoadedModel(model, tokenizer, report)
