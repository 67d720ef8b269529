"""Memory log per stage: each stage runs under its own `PeakMemory`, so every row holds the true peak of that stage
(peak RSS reset per stage, CUDA peak reset per stage), not the difference of two snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..measure import PeakMemory, current_rss_bytes


class MemoryLog:
    def __init__(self, device=None):
        self.device = device
        self.rows: list[dict] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        peak = PeakMemory(self.device)
        completed = False
        try:
            with peak:
                yield
            completed = True
        finally:  # a stage that raised is logged too: its peak is often the reason it raised
            self.rows.append({
                "stage": name,
                "completed": completed,
                "peak_rss_bytes": peak.peak_rss_bytes,
                "peak_gpu_bytes": peak.peak_gpu_bytes,
                "rss_after_bytes": current_rss_bytes(),
                "method": peak.method,
            })

    def summary(self) -> dict:
        return self.summarize_rows(self.rows)

    @staticmethod
    def summarize_rows(rows: list[dict]) -> dict:
        gpu = [r["peak_gpu_bytes"] for r in rows if r["peak_gpu_bytes"] is not None]
        return {
            "peak_rss_bytes": max((r["peak_rss_bytes"] for r in rows), default=None),
            "peak_gpu_bytes": max(gpu) if gpu else None,
            "logs": list(rows),
        }
