"""Demo kit names and where each kit lives: pure path logic, no torch (listing or checking a kit is instant).

The kit lives under `$INFERENCE_LAB_HOME/kits/<variant>-<hash>/` (default `~/.cache/inference-lab`), where
the hash covers the variant's spec, the seed and `KIT_VERSION`, so a change to any of them builds a new kit
instead of reusing a stale one. Building is `build.ensure_kit`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import UserError


@dataclass(frozen=True)
class LMSpec:
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    steps: int
    batch_size: int
    seq_len: int
    lr: float


KIT_VERSION = 6
DEFAULT_SEED = 1234


@dataclass(frozen=True)
class VariantSpec:
    vocab_size: int
    n_stories: int
    main: LMSpec
    assistant: LMSpec
    lora_rank: int
    lora_steps: int
    lora_batch: int
    lora_lr: float
    n_task_train: int
    n_task_test: int
    n_mcq: int


VARIANTS: dict[str, VariantSpec] = {
    # ~3 M-parameter main model; under 4 minutes on 2 idle CPU cores (measured: DETAILED_GUIDE.md).
    "full": VariantSpec(
        vocab_size=2048,
        n_stories=1500,
        main=LMSpec(256, 4, 4, 2, 512, steps=220, batch_size=16, seq_len=128, lr=3e-3),
        assistant=LMSpec(64, 2, 4, 2, 192, steps=200, batch_size=16, seq_len=128, lr=5e-3),
        lora_rank=8, lora_steps=120, lora_batch=16, lora_lr=3e-3,
        n_task_train=400, n_task_test=64, n_mcq=48,
    ),
    # For the tests: seconds to build, same shapes of everything, much smaller.
    "tiny": VariantSpec(
        vocab_size=512,
        n_stories=300,
        main=LMSpec(64, 2, 4, 2, 128, steps=150, batch_size=8, seq_len=64, lr=5e-3),
        assistant=LMSpec(32, 1, 2, 1, 64, steps=80, batch_size=8, seq_len=64, lr=5e-3),
        lora_rank=8, lora_steps=200, lora_batch=16, lora_lr=1e-2,
        n_task_train=200, n_task_test=24, n_mcq=24,
    ),
}

# Public names -> (role, file inside the kit). "demo" follows $INFERENCE_LAB_DEMO_VARIANT (default full);
# "demo-tiny..." always means the tiny variant.
ROLES = {"": "main", "-assistant": "assistant", "-lora": "lora", "-task": "data/task_test.jsonl",
         "-mcq": "data/mcq.jsonl"}


def kit_home() -> Path:
    return Path(os.environ.get("INFERENCE_LAB_HOME", Path.home() / ".cache" / "inference-lab"))


def default_variant() -> str:
    variant = os.environ.get("INFERENCE_LAB_DEMO_VARIANT", "full")
    if variant not in VARIANTS:
        raise UserError(f"INFERENCE_LAB_DEMO_VARIANT: unknown variant '{variant}' (known: {', '.join(VARIANTS)})")
    return variant


def spec_hash(variant: str, seed: int) -> str:
    payload = json.dumps({"v": KIT_VERSION, "variant": variant, "seed": seed,
                          "spec": dataclasses.asdict(VARIANTS[variant])}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def kit_dir(variant: str, seed: int = DEFAULT_SEED) -> Path:
    return kit_home() / "kits" / f"{variant}-{spec_hash(variant, seed)}"


def parse_demo_name(name: str) -> tuple[str, str] | None:
    """'demo-tiny-lora' -> ('tiny', 'lora'); None for names that are not demo kit names."""
    if name != "demo" and not name.startswith("demo-"):
        return None
    rest = name[len("demo"):]
    variant = None
    for candidate in VARIANTS:
        if rest == f"-{candidate}" or rest.startswith(f"-{candidate}-"):
            variant, rest = candidate, rest[len(candidate) + 1:]
            break
    if rest not in ROLES:
        return None
    return variant or default_variant(), ROLES[rest]


def is_built(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def read_manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def demo_path(name: str) -> tuple[Path, str, bool] | None:
    """(path of the named model/adapter/data file, variant, whether the kit is built); None: not a demo name."""
    parsed = parse_demo_name(name)
    if parsed is None:
        return None
    variant, role = parsed
    folder = kit_dir(variant)
    return folder / role, variant, is_built(folder)
