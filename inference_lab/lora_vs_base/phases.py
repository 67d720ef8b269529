"""Per-phase time and peak memory of a run (load, base, adapter load/unload, LoRA, mixed, write, ...).

A phase may run once per chunk; its entry adds up the seconds and keeps the highest peak. Phases are never
nested: `PeakMemory` resets the process high-water mark on entry, so a nested tracker would cut the outer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from ..measure import PeakMemory, Stopwatch


@dataclass
class Phase:
    name: str
    calls: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    peak_gpu_bytes: int | None = None
    samples: int = 0
    new_tokens: int = 0

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.seconds if self.samples and self.seconds > 0 else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.new_tokens / self.seconds if self.new_tokens and self.seconds > 0 else None

    def to_dict(self) -> dict:
        return {**asdict(self), "samples_per_s": self.samples_per_s, "tokens_per_s": self.tokens_per_s}


class PhaseLog:
    def __init__(self, device=None):
        self.device = device
        self.phases: dict[str, Phase] = {}
        self.memory_method = ""

    @contextmanager
    def track(self, name: str) -> Iterator[Phase]:
        phase = self.phases.setdefault(name, Phase(name))
        with PeakMemory(self.device) as memory, Stopwatch(self.device) as watch:
            yield phase
        self.memory_method = memory.method
        phase.calls += 1
        phase.seconds += watch.seconds
        phase.peak_rss_bytes = max(phase.peak_rss_bytes, memory.peak_rss_bytes)
        if memory.peak_gpu_bytes is not None:
            phase.peak_gpu_bytes = max(phase.peak_gpu_bytes or 0, memory.peak_gpu_bytes)

    @property
    def peak_rss_bytes(self) -> int:
        return max((p.peak_rss_bytes for p in self.phases.values()), default=0)

    @property
    def peak_gpu_bytes(self) -> int | None:
        values = [p.peak_gpu_bytes for p in self.phases.values() if p.peak_gpu_bytes is not None]
        return max(values) if values else None

    def to_dict(self) -> dict:
        return {name: phase.to_dict() for name, phase in self.phases.items()}
