"""The demo kit in a shape vLLM's CPU server can run.

vLLM's CPU attention takes head sizes 32, 64, 80, ... only (`commands.VLLM_CPU_HEAD_SIZES`). The full kit's
main model has head size 64; the tiny kit's has 16 (hidden 64 / 4 heads). Until the tiny kit changes, the
tests and the benchmark build a tiny variant with heads of 32 (same widths and training, ~10 s), registered
for the calling process only under a name without '-', so no `demo-*` name resolves to it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .commands import VLLM_CPU_HEAD_SIZES

VLLM_TINY_VARIANT = "tinyhd32"


def vllm_ready_tiny_kit() -> Path:
    from ..demo_kit.build import VARIANTS, ensure_kit

    tiny = VARIANTS["tiny"]
    if tiny.main.hidden_size // tiny.main.num_heads in VLLM_CPU_HEAD_SIZES:
        return ensure_kit("tiny")
    main = dataclasses.replace(tiny.main, num_heads=tiny.main.hidden_size // 32, num_kv_heads=1)
    VARIANTS.setdefault(VLLM_TINY_VARIANT, dataclasses.replace(tiny, main=main))
    return ensure_kit(VLLM_TINY_VARIANT, log=lambda _msg: None)
