"""Measurement in one place: timers and memory trackers as context managers that sync the device.

Nobody else calls `time.perf_counter()` around model work or reads accelerator memory counters.
- `Stopwatch`: wall time with `device.synchronize` before start and before stop, so GPU work queued
  inside the block is counted.
- `PeakMemory`: true peak process RSS for the block (VmHWM, reset through /proc/self/clear_refs; a psutil
  sampling thread where that is not possible) and true peak CUDA allocation (reset at entry).
- `TokenClock`: a generate() stopping criterion that timestamps every decoding step, giving time to first
  token and the gaps between later tokens without a second generate call.
- `StageLog`: named stages (load, base pass, adapter load, ...) each timed and memory-tracked, adding up over
  repeated calls; every mode's per-stage table comes from it.
Statistics over repeated measurements live in `stats` (pure, no torch).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import device as dev

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


class Stopwatch:
    def __init__(self, device: torch.device | str | None = None):
        self.device = device
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        dev.synchronize(self.device)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        dev.synchronize(self.device)
        self.seconds = time.perf_counter() - self.start


def current_rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _read_hwm_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS; False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    hwm = _read_hwm_bytes()
    return hwm is not None and hwm <= current_rss_bytes() * 1.05 + (1 << 20)


class PeakMemory:
    """Peak RSS and peak CUDA memory inside the block. `peak_gpu_bytes` is None off CUDA."""

    def __init__(self, device: torch.device | str | None = None, sample_interval: float = 0.005):
        self.device = device
        self.sample_interval = sample_interval
        self.peak_rss_bytes = 0
        self.peak_gpu_bytes: int | None = None
        self.method = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._sampled = max(self._sampled, current_rss_bytes())
            self._stop.wait(self.sample_interval)

    def __enter__(self) -> PeakMemory:
        dev.synchronize(self.device)
        dev.reset_peak_memory(self.device)
        if _reset_hwm():
            self.method = "VmHWM"
        else:
            self.method = "psutil-sampling"
            self._sampled = current_rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        dev.synchronize(self.device)
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_rss_bytes = max(self._sampled, current_rss_bytes())
        else:
            self.peak_rss_bytes = _read_hwm_bytes() or current_rss_bytes()
        self.peak_gpu_bytes = dev.peak_memory_bytes(self.device)


def _stopping_criteria_base():
    from transformers import StoppingCriteria

    return StoppingCriteria


class TokenClock(_stopping_criteria_base()):
    """Stopping criterion that never stops generation but records when each decoding step finished.

    generate() calls stopping criteria once per decoding step, after the step's tokens are chosen, so the
    first call marks the end of prefill + first token. On CUDA every call synchronises, so a stamp is the
    time the step's work finished, not when it was queued.
    """

    def __init__(self, device: torch.device | str | None = None):
        self.device = device
        self.start = 0.0
        self.stamps: list[float] = []

    def begin(self) -> None:
        dev.synchronize(self.device)
        self.start = time.perf_counter()
        self.stamps = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        dev.synchronize(self.device)
        self.stamps.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    @property
    def time_to_first_token(self) -> float | None:
        return self.stamps[0] - self.start if self.stamps else None

    @property
    def inter_token_latencies(self) -> list[float]:
        """The gap before each decoding step after the first (vLLM's ITL)."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]


@dataclass
class Stage:
    """One named stage, over all its calls: total seconds, highest peaks, work done inside it."""

    name: str
    calls: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    peak_gpu_bytes: int | None = None
    samples: int = 0
    new_tokens: int = 0
    completed: bool = True  # False when a call raised (its peak is often why)

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.seconds if self.samples and self.seconds > 0 else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.new_tokens / self.seconds if self.new_tokens and self.seconds > 0 else None

    def to_dict(self) -> dict:
        return {**asdict(self), "samples_per_s": self.samples_per_s, "tokens_per_s": self.tokens_per_s}


class StageLog:
    """Per-stage time and peak memory. Stages are never nested: `PeakMemory` resets the process high-water
    mark on entry, so a nested tracker would cut the outer one's peak."""

    def __init__(self, device=None):
        self.device = device
        self.stages: dict[str, Stage] = {}
        self.memory_method = ""

    @contextmanager
    def track(self, name: str) -> Iterator[Stage]:
        stage = self.stages.setdefault(name, Stage(name))
        memory, watch = PeakMemory(self.device), Stopwatch(self.device)
        completed = False
        try:
            with memory, watch:
                yield stage
            completed = True
        finally:
            self.memory_method = memory.method
            stage.calls += 1
            stage.seconds += watch.seconds
            stage.completed = stage.completed and completed
            stage.peak_rss_bytes = max(stage.peak_rss_bytes, memory.peak_rss_bytes)
            if memory.peak_gpu_bytes is not None:
                stage.peak_gpu_bytes = max(stage.peak_gpu_bytes or 0, memory.peak_gpu_bytes)

    @property
    def peak_rss_bytes(self) -> int:
        return max((s.peak_rss_bytes for s in self.stages.values()), default=0)

    @property
    def peak_gpu_bytes(self) -> int | None:
        values = [s.peak_gpu_bytes for s in self.stages.values() if s.peak_gpu_bytes is not None]
        return max(values) if values else None

    def to_dict(self) -> dict:
        return {name: stage.to_dict() for name, stage in self.stages.items()}
