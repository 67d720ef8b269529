"""What every result file records about where it was measured: versions, machine, device, git commit."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from . import __version__
from . import device as dev

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
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def collect_environment(device: str | None = None) -> dict:
    import torch

    target = device or ("cuda" if dev.cuda_available() else "cpu")
    return {
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inference_lab": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": target,
        "device_name": dev.device_name(target),
        "cuda_available": dev.cuda_available(),
        "cuda_version": torch.version.cuda,
        "packages": package_versions(),
    }
