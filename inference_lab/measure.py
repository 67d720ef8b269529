"""Measurement in one place: timers and memory trackers as context managers that sync the device.

Nobody else calls `time.perf_counter()` around model work or reads accelerator memory counters.
- `Stopwatch`: wall time with `device.synchronize` before start and before stop, so GPU work queued
  inside the block is counted.
- `PeakMemory`: true peak process RSS for the block (VmHWM, reset through /proc/self/clear_refs; a psutil
  sampling thread where that is not possible) and true peak CUDA allocation (reset at entry).
- `TokenClock`: a generate() stopping criterion that timestamps every decoding step, giving time to first
  token and time per later token without a second generate call.
- `summarize`: median / p90 / min / max / stdev of repeated measurements.
"""

from __future__ import annotations

import statistics
import threading
import time
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

    generate() calls stopping criteria once per produced token, after the token is chosen, so the first
    call marks the end of prefill + first token. On CUDA the first call synchronises so TTFT is not just
    launch time; later steps are already synchronised by generate's own finished-sequence check.
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
        if not self.stamps:
            dev.synchronize(self.device)
        self.stamps.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    @property
    def time_to_first_token(self) -> float | None:
        return self.stamps[0] - self.start if self.stamps else None

    def time_per_output_token(self) -> float | None:
        """Mean time of each decoding step after the first."""
        if len(self.stamps) < 2:
            return None
        return (self.stamps[-1] - self.stamps[0]) / (len(self.stamps) - 1)


@dataclass
class Stats:
    n: int
    median: float
    p90: float
    mean: float
    min: float
    max: float
    stdev: float

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: list[float]) -> Stats | None:
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return Stats(
        n=len(values),
        median=statistics.median(values),
        p90=percentile(values, 90),
        mean=statistics.fmean(values),
        min=min(values),
        max=max(values),
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
    )


def summary_dict(values: list[float | None]) -> dict | None:
    """`summarize` as a plain dict for result files (None values dropped; None when nothing is left)."""
    stats = summarize(values)
    return stats.to_dict() if stats else None
