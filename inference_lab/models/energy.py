"""Energy on CUDA: joules for a measured span from NVML's total-energy counter, idle power subtracted.

`EnergyMeter(device)` is a tracker like `measure.Stopwatch`: around a block it reads
`nvmlDeviceGetTotalEnergyConsumption` (millijoules since the driver loaded; Volta and newer) at entry and exit,
after a device sync. The GPU draws power when idle too; that baseline is measured before the block on the same
counter (energy over an idle window / its length) and subtracted, so the figure is what the work added:
    joules = (end_mJ - start_mJ) / 1000 - idle_watts x seconds.
The counter only advances every 20-100 ms, so spans shorter than `min_seconds` (1 s) give no figure, with the
reason. Dividing by output tokens (joules per token) is the caller's: `joules_per_token`.

Without CUDA, or without `nvidia-ml-py` (imported lazily as `pynvml`), or on a GPU without the counter, the meter
records `available=False` and the reason; nothing raises.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from ..core import device as dev

MIN_SECONDS = 1.0
IDLE_WINDOW_SECONDS = 1.0


def net_energy_joules(start_mj: int, end_mj: int, seconds: float, idle_watts: float,
                      min_seconds: float = MIN_SECONDS) -> tuple[float | None, str | None]:
    """(joules above idle, None) or (None, reason)."""
    if seconds < min_seconds:
        return None, (f"span of {seconds:.2f} s is under {min_seconds:g} s: NVML's energy counter updates only "
                      "every 20-100 ms")
    joules = (end_mj - start_mj) / 1000.0 - idle_watts * seconds
    if joules <= 0:
        return None, "energy measured did not exceed the idle baseline"
    return joules, None


def joules_per_token(joules: float | None, tokens: int) -> float | None:
    return joules / tokens if joules is not None and tokens > 0 else None


@dataclass
class EnergyReading:
    available: bool
    reason: str | None = None
    seconds: float | None = None
    total_joules: float | None = None
    idle_watts: float | None = None
    joules: float | None = None  # above idle; None with `reason` when unavailable or too short

    def to_dict(self) -> dict:
        return asdict(self)


def _nvml_index(cuda_index: int) -> int | str:
    """NVML numbers GPUs physically; CUDA_VISIBLE_DEVICES renumbers them for torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if not visible:
        return cuda_index
    entry = visible.split(",")[cuda_index].strip()
    return int(entry) if entry.isdigit() else entry  # a UUID ("GPU-...") or MIG id


class EnergyMeter:
    """with EnergyMeter("cuda:0") as meter: ...  ->  meter.reading (EnergyReading)."""

    def __init__(self, device="cuda", idle_watts: float | None = None, idle_window: float = IDLE_WINDOW_SECONDS,
                 min_seconds: float = MIN_SECONDS):
        import torch

        self.device = torch.device(device)
        self.idle_watts = idle_watts
        self.idle_window = idle_window
        self.min_seconds = min_seconds
        self.reading = EnergyReading(available=False, reason="not measured yet")
        self._nvml = self._handle = None
        self._start_mj = 0
        self._start = 0.0

    def _open(self) -> str | None:
        """None when NVML can measure this device, else the reason it cannot."""
        if not dev.is_cuda(self.device):
            return "energy is measured with NVML on CUDA devices only (this device is not CUDA)"
        try:
            import pynvml
        except ImportError:
            return "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
        try:
            pynvml.nvmlInit()
            index = _nvml_index(self.device.index or 0)
            if isinstance(index, int):
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            else:
                self._handle = pynvml.nvmlDeviceGetHandleByUUID(index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except Exception as exc:  # NVMLError_NotSupported on pre-Volta GPUs, driver problems, MIG instances
            return f"NVML energy counter unavailable: {type(exc).__name__}: {exc}"
        self._nvml = pynvml
        return None

    def _energy_mj(self) -> int:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def measure_idle_watts(self) -> float:
        """Mean power over an idle window, from the same counter (the GPU must be idle: nothing queued)."""
        dev.synchronize(self.device)
        start_mj, started = self._energy_mj(), time.perf_counter()
        time.sleep(self.idle_window)
        return (self._energy_mj() - start_mj) / 1000.0 / (time.perf_counter() - started)

    def __enter__(self) -> EnergyMeter:
        reason = self._open()
        if reason is not None:
            self.reading = EnergyReading(available=False, reason=reason)
            return self
        if self.idle_watts is None:
            self.idle_watts = self.measure_idle_watts()
        dev.synchronize(self.device)
        self._start_mj, self._start = self._energy_mj(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self._nvml is None:
            return
        dev.synchronize(self.device)
        end_mj, seconds = self._energy_mj(), time.perf_counter() - self._start
        joules, reason = net_energy_joules(self._start_mj, end_mj, seconds, self.idle_watts, self.min_seconds)
        self.reading = EnergyReading(available=True, reason=reason, seconds=seconds,
                                     total_joules=(end_mj - self._start_mj) / 1000.0, idle_watts=self.idle_watts,
                                     joules=joules)
