"""`--executor ray [--address ADDR]`: each point a Ray task on an existing cluster (or a local one), its files
streamed back into the sweep folder as each task ends.

Placement keeps measurements honest as the local executor does: on a cluster with GPUs a task claims one GPU (Ray
sets CUDA_VISIBLE_DEVICES for it), and no more tasks are in flight than the cluster has GPUs; on a CPU-only cluster
a task claims every CPU of one node and is pinned there, so two points never share a node.

The task runs the same command as a local point (`point.start`) in a temporary folder on its worker and returns
that folder's files; the driver writes them under `points/<id>/` (`ray.wait`, one task at a time), then updates
the index, so resume works exactly as for local sweeps. Workers need inference-lab (the same version) and the
models. Ray itself is optional (`requirements-ray.txt`); without it `--executor ray` is one line naming it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import UserError, first_line
from . import point
from .executor import Finished, Job, Started
from .point import Outcome

RAY_REQUIREMENT = "ray==2.60.0"


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs the ray package: pip install {RAY_REQUIREMENT} "
                        "(or pip install -r requirements-ray.txt)") from None
    return ray


def run_remote_point(mode: str, point_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """Runs on a Ray worker: one point in a temporary folder; returns its exit code and files."""
    with tempfile.TemporaryDirectory(prefix="inference-lab-point-") as tmp:
        point_dir = Path(tmp) / "point"
        proc = point.start(mode, point_id, config, point_dir)
        try:
            code = proc.wait()
        except BaseException:  # a cancelled task stops its point as Ctrl-C would
            point.stop(proc, grace_s=10.0)
            raise
        files = {str(p.relative_to(point_dir)): p.read_bytes() for p in sorted(point_dir.rglob("*"))
                 if p.is_file() and p.name not in {".lock", ".holder.json"}}
    return {"exit_code": code, "files": files, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def write_point_files(point_dir: Path, files: dict[str, bytes]) -> None:
    root = point_dir.resolve()
    for name, data in files.items():
        target = (point_dir / name).resolve()
        if root not in target.parents:  # a worker may only write inside its own point folder
            raise UserError(f"ray: refusing a file outside the point folder: {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class RayExecutor:
    def __init__(self, address: str | None = None, wait_s: float = 5.0):
        self.ray = import_ray()
        self.address = address
        self.wait_s = wait_s
        self._started_ray = False
        self._connect()  # a missing Ray or an unreachable cluster fails before anything is planned or created

    def _connect(self) -> None:
        if self.ray.is_initialized():
            return
        try:
            self.ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
            where = self.address or "a local Ray"
            raise UserError(f"--executor ray: cannot start or reach {where} ({first_line(exc)})") from None
        self._started_ray = True

    def slots(self) -> list[tuple[str, dict[str, Any]]]:
        """[(worker name, task options)]: one per cluster GPU, else one per node (all of its CPUs, pinned)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        gpus = int(sum(n["Resources"].get("GPU", 0) for n in nodes))
        if gpus:
            return [(f"ray:gpu{i}", {"num_gpus": 1, "num_cpus": 1}) for i in range(gpus)]
        return [(f"ray:{n.get('NodeManagerAddress', n['NodeID'][:8])}",
                 {"num_cpus": n["Resources"].get("CPU", 1),
                  "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=n["NodeID"], soft=False)})
                for n in nodes if n["Resources"].get("CPU")]

    def describe(self, jobs: list[Job]) -> str:
        self._connect()
        slots = self.slots()
        kind = "one GPU each" if slots and "num_gpus" in slots[0][1] else "a whole node's CPUs each"
        return f"ray, {len(slots)} at a time ({kind})"

    def run(self, jobs: list[Job], started: Started, finished: Finished) -> None:
        ray = self.ray
        self._connect()
        remote = ray.remote(run_remote_point)
        free = self.slots()
        if not free:
            raise UserError("ray: the cluster has no node with CPUs or GPUs to run points on")
        pending = list(jobs)
        in_flight: dict[Any, tuple[Job, tuple[str, dict[str, Any]]]] = {}
        try:
            while pending or in_flight:
                while pending and free:
                    job, slot = pending.pop(0), free.pop(0)
                    started(job, slot[0])
                    in_flight[remote.options(**slot[1]).remote(job.mode, job.id, job.config)] = (job, slot)
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.wait_s)
                for ref in ready:
                    job, slot = in_flight.pop(ref)
                    free.append(slot)
                    finished(job, self._collect(ray, ref, job))
        except KeyboardInterrupt:
            for ref, (job, _slot) in in_flight.items():
                ray.cancel(ref, force=True)  # kills the worker; its point dies with it (PR_SET_PDEATHSIG)
                finished(job, Outcome("interrupted", None, "stopped: Ray task cancelled", None))
            raise
        finally:
            if self._started_ray:
                ray.shutdown()
                self._started_ray = False

    def _collect(self, ray, ref, job: Job) -> Outcome:
        try:
            result = ray.get(ref)
        except Exception as exc:  # the task itself died (worker lost, node gone): the point failed
            lines = str(exc).strip().splitlines()
            return Outcome("failed", None, f"ray task failed: {lines[-1] if lines else type(exc).__name__}", None)
        write_point_files(job.point_dir, result["files"])
        return point.outcome(result["exit_code"], job.point_dir)
