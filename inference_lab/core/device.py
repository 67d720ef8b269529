"""Every CUDA call that can raise on a CPU-only torch build, guarded once, here.

On the CPU build `torch.cuda.is_available()` and `memory_allocated()` are safe, but `synchronize()`,
`get_device_name()`, `mem_get_info()` raise and `reset_peak_memory_stats()` raises AttributeError
(measured, see DETAILED_GUIDE.md). Nobody else in the package touches `torch.cuda` directly.
"""

from __future__ import annotations

import contextlib

import torch


def cuda_available() -> bool:
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver install must read as "no CUDA", not crash the tool
        return False


def gpu_count() -> int:
    return torch.cuda.device_count() if cuda_available() else 0


def resolve_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not cuda_available():
        from .errors import UserError

        raise UserError(f"device: '{requested}' requested but CUDA is not available on this machine")
    return device


def is_cuda(device: torch.device | str | None) -> bool:
    return device is not None and torch.device(device).type == "cuda" and cuda_available()


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued kernels so a timer read measures finished work (no-op on CPU)."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device | str | None) -> None:
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device | str | None) -> int | None:
    """True peak of allocated accelerator memory since the last reset; None off CUDA."""
    if is_cuda(device):
        return int(torch.cuda.max_memory_allocated(device))
    return None


def empty_cache() -> None:
    if cuda_available():
        torch.cuda.empty_cache()


def device_name(device: torch.device | str | None = None) -> str:
    if is_cuda(device or "cuda"):
        try:
            return torch.cuda.get_device_name(device)
        except Exception:
            return "cuda (name unavailable)"
    import platform

    return platform.processor() or platform.machine() or "cpu"


def bf16_supported(device: torch.device | str | None) -> bool:
    if is_cuda(device):
        try:
            return bool(torch.cuda.is_bf16_supported())
        except Exception:
            return False
    return False


def free_memory_bytes(device: torch.device | str | None) -> int | None:
    if is_cuda(device):
        try:
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:
            return None
    return None


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA OOM has its own class; CPU allocation failures surface as RuntimeError text."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


# --- threads ---------------------------------------------------------------------------------------------------

_THREADS = {"requested": None}


def default_threads() -> int:
    """What `num_threads: null` means: an exported OMP_NUM_THREADS (a positive integer) when the user set one, so the
    usual way of pinning threads keeps working, else the physical cores."""
    import os

    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return physical_cores()


def apply_threads(num_threads: int | None) -> dict:
    """Set torch's intra-op threads (None: `default_threads()`) and, once per process, its inter-op threads.

    Measured here: torch's default on a busy 2-core machine made generation ~10x slower; one thread per
    physical core is the stable default. inter-op threads can only be set before any parallel work has run,
    so a refusal is recorded, not raised."""
    if num_threads is None:
        num_threads = default_threads()
    torch.set_num_threads(num_threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)  # generate() has no independent ops worth a second pool
    _THREADS["requested"] = num_threads
    return thread_settings()


def physical_cores() -> int:
    import os

    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def thread_settings() -> dict:
    import os

    return {"requested": _THREADS["requested"], "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS")}


def gpu_state(device: torch.device | str | None) -> dict | None:
    """Clocks, power and driver of a CUDA device through NVML (nvidia-ml-py), when both are present."""
    if not is_cuda(device or "cuda"):
        return None
    state: dict = {"name": device_name(device)}
    try:
        import pynvml

        pynvml.nvmlInit()
        index = torch.device(device).index or 0 if device else 0
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        state.update(
            driver=pynvml.nvmlSystemGetDriverVersion(),
            sm_clock_mhz=pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
            memory_clock_mhz=pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            power_w=pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,
            temperature_c=pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
        )
    except Exception as exc:  # no package, no driver access: recorded, never fatal
        state["nvml"] = f"unavailable ({type(exc).__name__})"
    return state
