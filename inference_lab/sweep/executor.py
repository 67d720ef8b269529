"""Where and when points run on this machine: never two measured points on one device at once.

`LocalExecutor` gives each worker slot one device: on a machine with N visible CUDA GPUs, N slots, each point
pinned with `CUDA_VISIBLE_DEVICES=<its GPU>`; on CPU (or when every point asks for `device: cpu`), one slot,
points one after another, because two processes sharing the cores would each measure the other.

The loop is single-threaded: start a point in every free slot, then wait for any to end. A stop of the sweep
(Ctrl-C, SIGTERM, SIGHUP: `core.signals` raises them as KeyboardInterrupt) stops every running point as Ctrl-C
would (each writes its own interrupted summary), reports them as interrupted, and re-raises.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import point
from .point import Outcome


@dataclass
class Job:
    id: str
    mode: str
    config: dict[str, Any]
    point_dir: Path


Started = Callable[[Job, str], None]  # (job, worker name), called before its process starts
Finished = Callable[[Job, Outcome], None]


class Executor(Protocol):
    def describe(self, jobs: list[Job]) -> str: ...

    def run(self, jobs: list[Job], started: Started, finished: Finished) -> None: ...


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES when set, else what torch counts (none on CPU)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    from ..core.device import gpu_count

    return [str(i) for i in range(gpu_count())]


def worker_slots(configs: list[dict[str, Any]], gpus: list[str] | None = None) -> list[str]:
    """['cuda:0', 'cuda:1', ...] or ['cpu'], or ['all'] (pure given `gpus`)."""
    if all(str(c.get("device", "auto")).startswith("cpu") for c in configs):  # no torch needed to know that
        return ["cpu"]
    if any(c.get("device_map") or str(c.get("device", "")).startswith("cuda:") or _serves(c) for c in configs):
        # A point spread over every GPU, pinned to one by name, or measuring a server (a running one is shared by
        # every point; a launched one may span GPUs through tensor/pipeline parallelism): one point at a time,
        # nothing re-pinned.
        return ["all"]
    gpus = visible_gpus() if gpus is None else gpus
    return [f"cuda:{g}" for g in gpus] or ["cpu"]


def _serves(config: dict[str, Any]) -> bool:
    return config.get("engine") not in (None, "transformers")


def slot_env(slot: str) -> dict[str, str]:
    env = dict(os.environ)
    if slot.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = slot.removeprefix("cuda:")
    return env


class LocalExecutor:
    def __init__(self, slots: list[str] | None = None, poll_s: float = 0.1, grace_s: float = 30.0):
        self.slots = slots
        self.poll_s = poll_s
        self.grace_s = grace_s

    def _slots(self, jobs: list[Job]) -> list[str]:
        if self.slots is None:
            self.slots = worker_slots([j.config for j in jobs])
        return self.slots

    def describe(self, jobs: list[Job]) -> str:
        slots = self._slots(jobs)
        if slots == ["cpu"]:
            return "local, one point at a time (CPU)"
        if slots == ["all"]:
            return "local, one point at a time (points use device_map or name their GPU)"
        return f"local, {len(slots)} worker{'s' * (len(slots) > 1)}, one per GPU ({', '.join(slots)})"

    def run(self, jobs: list[Job], started: Started, finished: Finished) -> None:
        slots = self._slots(jobs)
        pending = deque(jobs)
        running: dict[str, tuple[Job, subprocess.Popen | None]] = {}
        try:
            while pending or running:
                for slot in slots:
                    if slot not in running and pending:
                        job = pending.popleft()
                        running[slot] = (job, None)  # counted as running before its process exists
                        started(job, slot)
                        running[slot] = (job, point.start(job.mode, job.id, job.config, job.point_dir,
                                                          slot_env(slot)))
                ended = [slot for slot, (_job, proc) in running.items() if proc is not None and proc.poll() is not None]
                if not ended:
                    self._wait(running)
                    continue
                for slot in ended:
                    job, proc = running.pop(slot)
                    finished(job, point.outcome(proc.returncode, job.point_dir))
        except KeyboardInterrupt:
            self._stop_all(running, finished)
            raise

    def _wait(self, running: dict[str, tuple[Job, subprocess.Popen | None]]) -> None:
        procs = [proc for _job, proc in running.values() if proc is not None]
        if len(procs) == 1:  # the CPU case: no polling latency
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[0].wait(timeout=5.0)
        else:
            time.sleep(self.poll_s)

    def _stop_all(self, running: dict[str, tuple[Job, subprocess.Popen | None]], finished: Finished) -> None:
        """SIGINT to every running point at once, then wait for each (one shared grace period). A second signal
        while waiting ends the wait; the points then die with the sweep (PR_SET_PDEATHSIG)."""
        for _job, proc in running.values():
            if proc is not None:
                point.interrupt(proc)
        deadline = time.monotonic() + self.grace_s
        for job, proc in running.values():
            if proc is None:
                finished(job, Outcome("interrupted", None, "stopped before its process started", None))
                continue
            point.stop(proc, grace_s=max(0.0, deadline - time.monotonic()))
            finished(job, point.outcome(proc.returncode, job.point_dir))
