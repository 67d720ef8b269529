"""What every result file records about where it was measured: versions, machine, threads, load, device, git.

The machine state matters as much as the versions: on a busy 2-core machine torch's default thread count made
runs ~10x slower (measured), so the thread counts and the load average before and after a run are part of
every result, and a run that started on a busy machine is flagged `noisy` (`busy_reason`).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from .. import __version__
from . import device as dev
from .device import physical_cores

PACKAGES = ("torch", "transformers", "tokenizers", "peft", "accelerate", "safetensors", "bitsandbytes", "flash-attn",
            "numpy", "pydantic")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(repo: Path | None = None) -> str | None:
    repo = repo or Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        return None  # an installed package: no repository to ask
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def busy_reason(load: list[float] | None = None, cores: int | None = None) -> str | None:
    """Why the machine counts as busy (1-minute load above the logical core count), or None."""
    load = load if load is not None else load_average()
    cores = cores or os.cpu_count() or 1
    if load and load[0] > cores:
        return f"machine busy: load average {load[0]:.2f} > {cores} cores"
    return None


def machine_state() -> dict:
    import psutil

    memory = psutil.virtual_memory()
    return {
        "cpu_model": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cores": os.cpu_count(),
        "ram_total_bytes": int(memory.total),
        "ram_available_bytes": int(memory.available),
        "load_average": load_average(),
    }


def collect_environment(device: str | None = None) -> dict:
    """Versions, machine and device. Imports torch: only for runs, never for reading results."""
    import torch

    target = device or ("cuda" if dev.cuda_available() else "cpu")
    return {
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inference_lab": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "machine": machine_state(),
        "threads": dev.thread_settings(),
        "device": target,
        "device_name": dev.device_name(target),
        "cuda_available": dev.cuda_available(),
        "cuda_version": torch.version.cuda,
        "gpu": dev.gpu_state(target),
        "packages": package_versions(),
    }
