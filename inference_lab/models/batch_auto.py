"""`batch_size: auto`: the largest batch that runs, found by halving on out-of-memory, with every try recorded.

Not accelerate's `find_executable_batch_size`: in accelerate 1.15 it shrinks by x0.9 per failure (so 128 -> 1 takes
~45 tries), keeps no record of what it tried, and recognises OOM only by exact message strings. Halving needs at
most log2(start) + 1 tries, and the record (`tried`) goes into the results so a reader sees why batch 64 became 16.
OOM is recognised by `device.is_out_of_memory` (torch.cuda.OutOfMemoryError, or a RuntimeError/MemoryError saying
"out of memory" / "can't allocate memory"); any other error propagates untouched.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

from ..core import device as dev
from ..core.errors import RunFailed, first_line

T = TypeVar("T")


def largest_fitting_batch(run_one: Callable[[int], T], start: int) -> tuple[T, list[dict]]:
    """Call `run_one(batch)` for batch = start, start/2, ... until one returns; (its result, tried).

    `tried` holds one dict per attempt: {"batch_size", "outcome": "ok" | "out of memory", "error"?}. Raises
    RunFailed when even batch 1 runs out of memory.
    """
    if start < 1:
        raise ValueError("start must be >= 1")
    tried: list[dict] = []
    size = start
    while size >= 1:
        error = None
        try:
            result = run_one(size)
        except BaseException as exc:  # noqa: BLE001 - filtered just below, everything else re-raised
            if not dev.is_out_of_memory(exc):
                raise
            error = first_line(exc)
        if error is None:
            tried.append({"batch_size": size, "outcome": "ok"})
            return result, tried
        # Outside the except block, so the exception's traceback (whose frames hold the failed batch's tensors)
        # is already released when memory is collected.
        tried.append({"batch_size": size, "outcome": "out of memory", "error": error})
        gc.collect()
        dev.empty_cache()
        size //= 2
    sizes = ", ".join(str(t["batch_size"]) for t in tried)
    raise RunFailed(f"batch_size auto: out of memory at every batch size tried ({sizes})")
