"""Cached base-model results, keyed by a hash of everything that changes the base numbers.

The key covers the model (resolved source, files, effective dtype/attention/quantization/device), every
`BenchmarkParams` field that changes base timings, the prompt texts after fitting, package versions, the
machine (device name, CPU count, torch threads) and `CACHE_VERSION` (bumped when measurement code changes).
A cache file is used only when its key matches exactly; otherwise the lookup says why (missing, stale with the
settings that changed, corrupt) and the caller rebuilds or stops. Nothing is ever reused on a partial match.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...core import device as dev
from ...core.config import flatten_keys
from ...core.environment import package_versions
from ...core.storage import write_json_atomic
from .config import BenchmarkParams
from .prompts import FittedPrompt

CACHE_VERSION = 2  # 2: E2EL/TTFT/TPOT from the one timed generate, intervals in every statistic
# Every BenchmarkParams field is in exactly one of these two (a test checks it, so a new field is classified).
BASE_FIELDS = ("model_id", "dtype", "device", "max_new_tokens", "fixed_length", "num_inference_runs", "warmup_runs",
               "num_prompt_samples", "max_prompt_tokens", "use_4bit", "use_8bit")
# seed only initialises fresh adapters (base decoding is greedy); prompts are keyed by their text, not their file;
# paired_base decides whether the cache is used at all, not what a cached base measured.
NOT_BASE_FIELDS = ("seed", "adapter", "prompts_file", "paired_base", "allow_pickle_weights")
KEY_PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "bitsandbytes")


def model_fingerprint(report, model) -> dict:
    """What identifies the loaded weights: the source, its files (name, size, mtime) and effective settings."""
    source = Path(report.source)
    files: dict[str, list[int]] = {}
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            stat = path.stat()
            files[path.relative_to(source).as_posix()] = [stat.st_size, stat.st_mtime_ns]
    return {
        "source": report.source,
        "revision": getattr(getattr(model, "config", None), "_commit_hash", None),
        "files": files,
        "dtype": report.dtype,
        "attention": report.attention,
        "quantization": report.quantization,
        "device": report.device,
    }


def machine_fingerprint(device: str) -> dict:
    return {
        "device_name": dev.device_name(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "packages": package_versions(KEY_PACKAGES),
    }


def base_settings(params: BenchmarkParams, prompts: dict[str, list[FittedPrompt]], model: dict, machine: dict) -> dict:
    dumped = params.model_dump(mode="json")
    return {
        "cache_version": CACHE_VERSION,
        "params": {name: dumped[name] for name in BASE_FIELDS},
        "prompts": {category: [[p.text, p.tokens] for p in rows] for category, rows in prompts.items()},
        "model": model,
        "machine": machine,
    }


def cache_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def changed_settings(old: dict, new: dict, limit: int = 6) -> list[str]:
    """`params.dtype: "float32" -> "bfloat16"` lines for the settings that differ (long values abbreviated)."""
    a, b = flatten_keys(old), flatten_keys(new)
    lines = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            before, after = json.dumps(a.get(name)), json.dumps(b.get(name))
            lines.append(f"{name}: {before} -> {after}" if len(before) + len(after) < 80 else f"{name} changed")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


@dataclass
class CacheLookup:
    status: str  # hit, missing, stale, corrupt
    key: str
    path: Path
    entry: dict | None = None
    changes: list[str] = field(default_factory=list)
    stale_path: Path | None = None

    def describe(self) -> str:
        if self.status == "hit":
            return f"base results from cache {self.path.name}"
        if self.status == "stale":
            return (f"cached base results {self.stale_path.name if self.stale_path else ''} are stale "
                    f"(changed: {'; '.join(self.changes)})")
        if self.status == "corrupt":
            return f"cached base results {self.path.name} are unreadable or do not match their key"
        return f"no cached base results for key {self.key}"


def _read(path: Path) -> dict | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def lookup(cache_dir: Path, settings: dict) -> CacheLookup:
    key = cache_key(settings)
    path = cache_dir / f"base-{key}.json"
    if path.is_file():
        entry = _read(path)
        # "success": what caches written before the one status vocabulary say
        ok = (entry is not None and entry.get("key") == key and entry.get("status") in ("complete", "success")
              and cache_key(entry.get("settings", {})) == key and "by_category" in entry)
        return CacheLookup("hit", key, path, entry) if ok else CacheLookup("corrupt", key, path)
    # The newest entry for the same model source explains what changed since.
    same_model = []
    for other in cache_dir.glob("base-*.json") if cache_dir.is_dir() else []:
        entry = _read(other)
        if entry and entry.get("settings", {}).get("model", {}).get("source") == settings["model"]["source"]:
            same_model.append((entry.get("created", ""), other, entry))
    if same_model:
        _created, other, entry = max(same_model, key=lambda item: item[0])
        return CacheLookup("stale", key, path, None, changed_settings(entry["settings"], settings), other)
    return CacheLookup("missing", key, path)


def save(path: Path, key: str, settings: dict, results: dict) -> dict:
    entry = {
        "key": key,
        "status": "complete",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings,
        **results,
    }
    write_json_atomic(path, entry)
    return entry
