"""`run_sweep`: check and expand a sweep, show the plan, run every point in its own process, write the report.

In order: the executor is made (so a missing Ray fails first) and `--slo` read; the plan is expanded and every
point's config validated by its mode's config class (invalid points are shown, then recorded as failed, never
run; if none is valid nothing is created); the plan and its size are shown and confirmed (`--yes` skips it; no
terminal and no `--yes` is refused); the output folder is checked; the sweep folder is created and locked, its
header and index written; the demo kits the points name are built once; the points run; the report is written.

Exit codes: 0 every point ok, 1 some point failed or was stopped on its own (the others were still measured),
2 bad input, 128 + signal when the sweep itself was stopped (130 Ctrl-C, 143 SIGTERM): the running points were
stopped and marked interrupted, and `--resume SWEEP_DIR` measures them again.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from .. import __version__
from ..core import signals
from ..core.config import PLACEMENT_KEYS, config_hash, flatten_keys
from ..core.errors import UserError
from ..core.rundir import check_output_dir, now_iso
from .display import plan_table, point_line, print_findings
from .executor import Job
from .index import DONE, Entry, SweepFolder, read_header
from .pareto import parse_slo
from .plan import Point, SweepSpec, apply_values, expand, split_sweep
from .point import Outcome, precheck, prepare_models

# name -> "module:Class" (lazy: Ray is imported only when asked for)
EXECUTORS: dict[str, str] = {
    "local": "inference_lab.sweep.executor:LocalExecutor",
    "ray": "inference_lab.sweep.ray_executor:RayExecutor",
}
INTERRUPTED_EXIT = {128 + s for s in signals.HANDLED}


def make_executor(name: str, address: str | None = None):
    if name not in EXECUTORS:
        raise UserError(f"--executor: unknown executor '{name}' (known: {', '.join(EXECUTORS)})")
    if address and name != "ray":
        raise UserError("--address is for --executor ray")
    module_name, _, class_name = EXECUTORS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(address=address) if name == "ray" else cls()


def run_sweep(mode: str, data: dict[str, Any] | None, *, label: str = "sweep", source: str = "config",
              output: str | Path | None = None, resume: str | Path | None = None, yes: bool = False,
              executor: str = "local", address: str | None = None, slo: str | None = None,
              console: Console | None = None, log: Callable[[str], None] | None = None,
              plan_shown: bool = False) -> int:
    """Run the sweep block of `data` (a mode's config as a mapping, --set applied), or continue `resume`.
    `plan_shown`: the caller (the menu) has shown the plan and had it confirmed."""
    from ..ui.console import console as default_console

    out = console or default_console()
    constraints = parse_slo(slo) if slo else None
    runner = make_executor(executor, address)
    if resume is not None:
        folder, todo = _resume(mode, data, Path(resume), yes, out)
    else:
        folder, todo = _start(mode, data, label, source, output, yes, executor, out, plan_shown)
    if folder is None:  # the user said no
        return 0
    signals.arm()  # points may run from here on: a stop must stop them and record them, not end this process at once
    try:
        base = folder.header()["base_config"]
        jobs = [Job(e.id, mode, apply_values(base, e.values), folder.point_dir(e.id)) for e in todo]
        prepare_models(mode, [job.config for job in jobs], log=log)
        out.print(f"[bold]{folder.path}[/bold]: {len(jobs)} to run, {runner.describe(jobs)}")
        code = _run_points(folder, jobs, runner, out)
        with signals.deferred():  # the report of what finished is written even when stopped
            from .report import sweep_report

            result = sweep_report(folder.path, constraints, "interrupted" if code in INTERRUPTED_EXIT else None)
        print_findings(out, result)
        out.print(f"report: {folder.path / 'report.html'}")
        if code in INTERRUPTED_EXIT:
            out.print(f"[yellow]interrupted: finished points kept; continue with: inference-lab {mode} --resume "
                      f"{folder.path}[/yellow]")
            return code
        counts = folder.counts()
        if counts["failed"] or counts["interrupted"]:
            redo = "; --resume redoes the interrupted ones" if counts["interrupted"] else ""
            out.print(f"[red]{counts['failed']} failed, {counts['interrupted']} interrupted of {len(folder.entries)} "
                      f"points (see index.json and summary.md){redo}[/red]")
            return 1
        return 0
    finally:
        folder.unlock()


# --- starting and resuming ------------------------------------------------------------------------------------


def _confirm(out: Console, count: int, yes: bool) -> bool:
    if yes or count == 0:
        return True
    if not sys.stdin.isatty():
        raise UserError(f"add --yes to run {count} point{'s' * (count != 1)} without a terminal")
    from rich.prompt import Confirm

    return Confirm.ask(f"Run {count} point{'s' if count != 1 else ''}?", console=out, default=True)


def _start(mode: str, data: dict[str, Any] | None, label: str, source: str, output: str | Path | None, yes: bool,
           executor: str, out: Console, plan_shown: bool = False) -> tuple[SweepFolder | None, list[Entry]]:
    if data is None:
        raise UserError("a sweep needs a config (or --resume SWEEP_DIR)")
    base, spec = split_sweep(data, source)
    if spec is None:
        raise UserError(f'{source}: no sweep block; add "sweep": {{"grid": {{"batch_size": [1, 2, 4]}}}}')
    points = expand(base, spec)
    problems = {p.id: reason for p in points if (reason := precheck(mode, p.config, f"point {p.id}"))}
    if not plan_shown:
        out.print(plan_table(points, problems, title=f"Sweep plan: {len(points)} points = {spec.shape()}"))
    if len(problems) == len(points):
        raise UserError(f"every point of the sweep is invalid, e.g. {next(iter(problems.values()))}")
    if problems:
        out.print(f"[red]{len(problems)} point(s) invalid: they will be recorded as failed, not run[/red]")
    if not _confirm(out, len(points) - len(problems), yes):
        out.print("nothing run")
        return None, []
    parent = check_output_dir(output or base.get("output_dir") or "results")
    folder = SweepFolder.create(parent, mode, label)
    try:
        folder.write(_header(mode, label, source, base, spec, points, executor), points)
        for point_id, reason in problems.items():
            folder.update(point_id, status="failed", finished=now_iso(), error=f"not run: {reason}")
    except BaseException:
        folder.unlock()
        raise
    return folder, [e for e in folder.entries if e.status == "pending"]


def _header(mode: str, label: str, source: str, base: dict, spec: SweepSpec, points: list[Point],
            executor: str) -> dict[str, Any]:
    from ..core.environment import collect_environment

    return {"kind": "sweep", "mode": mode, "label": label, "created": now_iso(), "source": source,
            "base_config": base, "base_config_hash": config_hash(base), "sweep": spec.model_dump(mode="json"),
            "size": len(points), "shape": spec.shape(), "executor": executor,
            "plan": [{"id": p.id, "label": p.label, "values": p.values, "repeat": p.repeat} for p in points],
            "environment": collect_environment(), "tool_version": __version__}


def changed_keys(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ (where results go is not what is measured: output_dir is left out)."""
    a, b = flatten_keys(new), flatten_keys(old)
    return [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k) and k not in PLACEMENT_KEYS]


def _resume(mode: str, data: dict[str, Any] | None, path: Path, yes: bool,
            out: Console) -> tuple[SweepFolder | None, list[Entry]]:
    header = read_header(path)
    if header.get("mode") != mode:
        raise UserError(f"resume: {path} is a sweep of mode '{header.get('mode')}', not '{mode}'")
    stored_base = header["base_config"]
    stored_spec = split_sweep({"sweep": header["sweep"]}, str(path))[1]
    if data is not None:
        base, spec = split_sweep(data, "config")
        changed = changed_keys({**base, "sweep": spec.model_dump(mode="json") if spec else None},
                               {**stored_base, "sweep": header["sweep"]})
        if changed:
            raise UserError(f"resume: {path} was planned with another config (changed: {', '.join(changed)}); "
                            "start a new sweep instead")
    points = expand(stored_base, stored_spec)
    if [p.id for p in points] != [p["id"] for p in header["plan"]]:
        raise UserError(f"resume: {path}: its sweep no longer expands to the same points; start a new sweep")
    folder = SweepFolder(path)
    folder.lock()
    try:
        statuses = {e.id: e.status for e in folder.load()}
        todo = [p for p in points if statuses.get(p.id) not in DONE]
        out.print(plan_table(points, {}, statuses, title=f"Resume: {len(points) - len(todo)} points kept, "
                                                          f"{len(todo)} to run"))
        if not _confirm(out, len(todo), yes):
            out.print("nothing run")
            folder.unlock()
            return None, []
        return folder, folder.prepare_resume()
    except BaseException:
        folder.unlock()
        raise


# --- running --------------------------------------------------------------------------------------------------


def _run_points(folder: SweepFolder, jobs: list[Job], runner, out: Console) -> int:
    """Run the jobs, keeping the index current; 0, or 128 + signal when the sweep was stopped."""
    total, started_at = len(folder.entries), {}
    done = sum(e.status in DONE for e in folder.entries)

    def started(job: Job, worker: str) -> None:
        attempts = folder.entry(job.id).attempts + 1
        folder.update(job.id, status="running", started=now_iso(), worker=worker, attempts=attempts)
        started_at[job.id] = time.monotonic()

    def finished(job: Job, result: Outcome) -> None:
        nonlocal done
        entry = folder.update(job.id, status=result.status, exit_code=result.exit_code, finished=now_iso(),
                              run_dir=folder.relative(result.run_dir), error=result.error)
        done += result.status in DONE
        seconds = time.monotonic() - started_at.get(job.id, time.monotonic())
        out.print(point_line(done, total, entry, result, seconds))

    try:
        runner.run(jobs, started, finished)
        return 0
    except KeyboardInterrupt as exc:
        return signals.exit_code(getattr(exc, "signum", None) or signals.received())
