"""Environment checks as data: is this machine ready to run inference-lab, and if not, what to do about it.

Each check is a `Check(name, status, detail, hint)` with status pass / warn / fail; `ok(checks)` is true when
nothing failed. Only a missing required piece fails (a package that does not import, a model that cannot be
reached, a broken smoke test); no CUDA, no flash-attn or no bitsandbytes are warnings, because everything
still runs on the CPU. Packages are imported here rather than at the top, so a broken install shows up as a
failed row instead of a traceback; rendering falls back to plain text when rich itself is missing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .core.errors import first_line

MIN_PYTHON = (3, 10)

# (import name, distribution name) of everything the tool imports.
REQUIRED_PACKAGES = (
    ("torch", "torch"), ("transformers", "transformers"), ("tokenizers", "tokenizers"),
    ("safetensors", "safetensors"), ("huggingface_hub", "huggingface-hub"), ("accelerate", "accelerate"),
    ("peft", "peft"), ("rich", "rich"), ("questionary", "questionary"), ("prompt_toolkit", "prompt_toolkit"),
    ("pydantic", "pydantic"), ("psutil", "psutil"), ("numpy", "numpy"), ("yaml", "pyyaml"), ("plotly", "plotly"),
)
# (import name, distribution name, what it adds); bitsandbytes and flash-attn have their own checks.
OPTIONAL_PACKAGES = (
    ("optimum.quanto", "optimum-quanto", "quantized KV cache"),
    ("hqq", "hqq", "quantized KV cache"),
)
DEMO_MODELS = ("demo", "demo-assistant", "demo-lora")
SMOKE_PROMPT = "Once upon a time"


@dataclass
class Check:
    name: str
    status: str  # pass | warn | fail
    detail: str
    hint: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def ok(checks: list[Check]) -> bool:
    return not any(c.status == "fail" for c in checks)



def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- Python and packages --------------------------------------------------------------------------------


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    text = ".".join(map(str, version))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Check("Python", "pass", f"{text} ({platform.python_implementation()})")
    need = ".".join(map(str, MIN_PYTHON))
    return Check("Python", "fail", f"{text} is too old", f"install Python {need} or newer and recreate .venv")


def check_package(module: str, dist: str, required: bool = True, purpose: str = "") -> Check:
    name = f"package {dist}"
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install raising anything at import time
        if required:
            return Check(name, "fail", f"does not import ({first_line(exc)})",
                         "./run.sh setup (or pip install -r requirements.txt)")
        return Check(name, "warn", f"does not import: {purpose} unavailable", f"pip install {dist}")
    return Check(name, "pass", _version(dist) or "installed (version unknown)")


def package_checks() -> list[Check]:
    checks = [check_package(module, dist) for module, dist in REQUIRED_PACKAGES]
    for module, dist, purpose in OPTIONAL_PACKAGES:
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            checks.append(Check(f"package {dist}", "warn", f"not installed (optional: {purpose})",
                                f"pip install {dist}"))
        else:
            checks.append(check_package(module, dist, required=False, purpose=purpose))
    return checks


# --- torch and the accelerator --------------------------------------------------------------------------


def torch_checks() -> list[Check]:
    """Build, CUDA, device name, bf16 and free memory (through the guarded calls in device.py)."""
    import torch

    from .core import device as dev

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    checks = [Check("torch build", "pass", f"{torch.__version__}, {build}")]
    if not dev.cuda_available():
        hint = ("fine for the demo kit; real models want a GPU"
                if not torch.version.cuda else "check the NVIDIA driver (nvidia-smi)")
        checks.append(Check("CUDA", "warn", "not available: everything runs on the CPU", hint))
        return checks
    count = torch.cuda.device_count()
    checks.append(Check("CUDA", "pass", f"{dev.device_name('cuda')} ({count} device{'s' * (count > 1)})"))
    if dev.bf16_supported("cuda"):
        checks.append(Check("GPU bfloat16", "pass", "supported: dtype auto uses bfloat16"))
    else:
        checks.append(Check("GPU bfloat16", "warn", "not supported: dtype auto uses float16",
                            "fine; older GPUs lack bf16"))
    free = dev.free_memory_bytes("cuda")
    if free is None:
        checks.append(Check("GPU free memory", "warn", "unknown (mem_get_info failed)", "check nvidia-smi"))
    else:
        status = "pass" if free >= 2 * 2**30 else "warn"
        checks.append(Check("GPU free memory", status, f"{free / 2**30:.1f} GiB free",
                            "" if status == "pass" else "close other GPU programs or use 4-bit quantization"))
    return checks


def check_flash_attention() -> Check:
    from .core import device as dev

    if importlib.util.find_spec("flash_attn") is None:
        return Check("flash-attn", "warn", "not installed: attention uses sdpa",
                     "optional; needs CUDA to build")
    if not dev.cuda_available():
        return Check("flash-attn", "warn", "installed but unusable without CUDA: attention uses sdpa",
                     "fine on CPU")
    try:
        importlib.import_module("flash_attn")
    except Exception as exc:
        return Check("flash-attn", "warn", f"installed but does not import ({first_line(exc)})",
                     "reinstall flash-attn for this torch/CUDA version")
    return Check("flash-attn", "pass", f"{_version('flash-attn') or 'installed'}: flash_attention_2 available")


def check_bitsandbytes() -> Check:
    import logging

    if importlib.util.find_spec("bitsandbytes") is None:
        return Check("bitsandbytes", "warn", "not installed: use_quantization must stay off",
                     "pip install bitsandbytes")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        importlib.import_module("bitsandbytes")
    except Exception as exc:
        return Check("bitsandbytes", "warn", f"installed but does not import ({first_line(exc)})",
                     "reinstall bitsandbytes for this torch version")
    return Check("bitsandbytes", "pass", f"{_version('bitsandbytes')}: 4-bit and 8-bit loading")


# --- models ---------------------------------------------------------------------------------------------


def model_names(config_path: str | Path | None) -> list[str]:
    """Models and adapters a config names, asked of the mode whose config the file is (the modes table's order);
    the demo kit's without a config."""
    if config_path is None:
        return list(DEMO_MODELS)
    from .core.config import read_mapping, validate_config
    from .core.errors import UserError
    from .modes import MODES

    data = read_mapping(config_path)
    problems = []
    for info in MODES.values():
        try:
            config = validate_config(info.config_class, data, str(config_path))
        except UserError as err:
            problems.append(f"{info.name}: {err}")
            continue
        return list(dict.fromkeys(config.named_models()))
    raise UserError(f"{config_path}: not a config of any mode ({problems[0]})")


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


def check_model(name: str, download: bool = False) -> Check:
    """Can `name` be loaded without surprises: demo kit built, local folder present, or hub cache filled."""
    from .models.names import classify

    label = f"model {name}"
    try:
        found = classify(name)
    except Exception as exc:  # UserError: unknown INFERENCE_LAB_DEMO_VARIANT
        return Check(label, "fail", str(exc))
    if found.kind == "demo":
        if found.built:
            return Check(label, "pass", f"demo kit '{found.variant}' is built ({found.path.name})")
        if download:
            from .demo_kit.build import ensure_kit

            ensure_kit(found.variant)
            return Check(label, "pass", f"demo kit '{found.variant}' built now ({found.path.name})")
        return Check(label, "warn", f"demo kit '{found.variant}' not built yet: built on first use (minutes on CPU)",
                     "./run.sh demo, or test_setup.py --download, builds it now")
    if found.kind == "local":
        marker = next((m for m in ("config.json", "adapter_config.json") if (found.path / m).is_file()), None)
        if marker:
            return Check(label, "pass", f"local folder with {marker}")
        return Check(label, "fail", f"local path {found.path} has no config.json or adapter_config.json",
                     "point the config at a saved model folder")
    if found.kind == "missing":
        return Check(label, "fail", f"local path {found.path} does not exist", "fix the path in the config")
    return _check_hub_model(name, label, download)


def _check_hub_model(name: str, label: str, download: bool) -> Check:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json") or try_to_load_from_cache(name, "adapter_config.json")
    if isinstance(cached, str):
        return Check(label, "pass", "in the Hugging Face cache")
    if _hub_offline():
        return Check(label, "fail", "not in the Hugging Face cache and offline mode is on (HF_HUB_OFFLINE)",
                     "download it where there is network, or unset HF_HUB_OFFLINE")
    if not download:
        return Check(label, "warn", "not cached: downloaded on first use", "test_setup.py --download fetches it now")
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(name)
    except Exception as exc:
        return Check(label, "fail", f"download failed ({first_line(exc)})",
                     "check the id, your network and HF_TOKEN for gated models")
    return Check(label, "pass", "downloaded to the Hugging Face cache")


def smoke_test(name: str) -> Check:
    """Load `name` with default settings and generate one token: the whole stack, end to end."""
    from .core.measure import Stopwatch
    from .models.loading import load_model
    from .models.settings import ModelSettings
    from .models.textgen import greedy_generate

    label = f"generate 1 token ({name})"
    try:
        loaded = load_model(name, ModelSettings())
        with Stopwatch(loaded.report.device) as watch:
            [text] = greedy_generate(loaded.model, loaded.tokenizer, [SMOKE_PROMPT], max_new_tokens=1)
    except Exception as exc:
        return Check(label, "fail", first_line(exc), "run the failing step headless to see the full error")
    report = loaded.report
    return Check(label, "pass", f"{text!r} in {watch.seconds * 1000:.1f} ms on {report.device} ({report.dtype}, "
                                f"{report.attention}); load {report.load_seconds:.2f} s")


# --- everything -----------------------------------------------------------------------------------------


def run_checks(config_path: str | Path | None = None, *, download: bool = False, smoke: bool = True,
               on_check: Callable[[Check], None] | None = None) -> list[Check]:
    checks: list[Check] = []

    def add(found: list[Check] | Check) -> None:
        for check in found if isinstance(found, list) else [found]:
            checks.append(check)
            if on_check:
                on_check(check)

    def guarded(name: str, make: Callable[[], list[Check] | Check]) -> None:
        try:
            add(make())
        except Exception as exc:  # a check that breaks is a failed check, not a traceback
            add(Check(name, "fail", f"check raised {first_line(exc)}", "run ./run.sh setup, then try again"))

    add(check_python())
    add(package_checks())
    failed = {c.name for c in checks if c.status == "fail"}
    if "package torch" in failed:
        return checks
    guarded("torch build", torch_checks)
    guarded("flash-attn", check_flash_attention)
    guarded("bitsandbytes", check_bitsandbytes)
    if {"package transformers", "package huggingface-hub", "package pydantic"} & failed:
        return checks
    names = model_names(config_path)
    model_checks = [check_model(name, download) for name in names]
    add(model_checks)  # check_model turns every expected problem into a row; the config's own errors are UserErrors
    if smoke and names:
        main = names[0]
        if model_checks[0].status == "pass":
            add(smoke_test(main))
        else:
            add(Check(f"generate 1 token ({main})", "warn", "skipped: the model is not available locally",
                      model_checks[0].hint))
    return checks


STATUS_STYLE = {"pass": ("pass", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


def verdict(checks: list[Check]) -> str:
    counts = {s: sum(c.status == s for c in checks) for s in STATUS_STYLE}
    state = "ready" if ok(checks) else "not ready: fix the failed checks"
    return f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed: {state}"


def render(checks: list[Check], out=None) -> None:
    """A rich table (or plain lines when rich itself is broken) with the verdict under it."""
    try:
        from rich import box
        from rich.table import Table
    except ImportError:
        stream = out or sys.stdout
        for c in checks:
            hint = f"  -> {c.hint}" if c.hint else ""
            print(f"{STATUS_STYLE[c.status][0]:<5} {c.name:<28} {c.detail}{hint}", file=stream)
        print(verdict(checks), file=stream)
        return
    from .ui.console import console

    table = Table(title="inference-lab environment check", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("hint", style="dim", overflow="fold")
    for c in checks:
        word, style = STATUS_STYLE[c.status]
        table.add_row(c.name, f"[{style}]{word}[/{style}]", c.detail, c.hint)
    target = out or console()
    target.print(table)
    target.print(verdict(checks), style="green" if ok(checks) else "bold red")
