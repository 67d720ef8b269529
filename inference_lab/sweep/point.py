"""One sweep point as one process: checked before it is spent, started, stopped, and judged by what it left.

Nothing here knows a mode: the modes table says which config class checks a point (`ModeInfo.config_class`,
through `core.config.validate_config`, so errors read as the CLI's do) and which demo kit names it needs (the
config's `named_models()` / `named_files()`); the point itself is the mode's own CLI, headless:

    python -m inference_lab MODE POINT_DIR/<id>.json --output POINT_DIR --quiet --yes

which creates exactly one run folder inside POINT_DIR (the run-folder contract, `core/rundir.py`). Exit codes are
the CLI's: 0 complete, 1 a failed item or run (results kept), 2 bad input, 128 + signal when stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..core.config import validate_config
from ..core.errors import UserError
from ..core.rundir import HEADER, find_runs, load_summary
from ..core.storage import write_json_atomic
from ..modes import MODES

STDOUT_LOG, STDERR_LOG = "stdout.log", "stderr.log"
# A point the sweep stopped (it sends SIGINT) or that died by a signal: redone by --resume, never kept as a result.
INTERRUPTED_CODES = {128 + signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGHUP, -signal.SIGINT,
                     -signal.SIGTERM, -signal.SIGHUP}


def point_command(mode: str, config_path: str | Path, out_dir: str | Path) -> list[str]:
    """The argv that runs one point: the mode's own CLI, headless, creating one run folder in out_dir."""
    return [sys.executable, "-m", "inference_lab", mode, str(config_path), "--output", str(out_dir), "--quiet",
            "--yes"]


def checked_config(mode: str, config: dict[str, Any], source: str = "point"):
    """The point's config as its mode validates it (a UserError naming the field otherwise)."""
    return validate_config(MODES[mode].config_class, config, source)


def precheck(mode: str, config: dict[str, Any], source: str = "point") -> str | None:
    """The one-line reason the mode would refuse this point's config, or None."""
    try:
        checked_config(mode, config, source)
    except UserError as err:
        return str(err)
    return None


def demo_names(mode: str, configs: list[dict[str, Any]]) -> list[str]:
    """Demo kit (and other) model and data names the points name, each once, in first-seen order."""
    names: dict[str, None] = {}
    for data in configs:
        try:
            config = checked_config(mode, data)
        except UserError:
            continue
        for method in ("named_models", "named_files"):
            names.update(dict.fromkeys(n for n in getattr(config, method, lambda: [])() if n))
    return list(names)


def prepare_models(mode: str, configs: list[dict[str, Any]], log=None) -> None:
    """Build the demo kits the points name, once, before any point starts: otherwise the first point would spend
    minutes building the kit silently into its own log, and a second GPU worker would wait on the kit's lock."""
    from ..demo_kit.names import demo_path

    names = demo_names(mode, configs)
    if all((found := demo_path(name)) is None or found[2] for name in names):
        return  # every kit named is built: no need to import the builder (and torch) into the sweep process
    from ..demo_kit.build import ensure_named

    ensure_named(names, log=log)


# --- what a point left behind ---------------------------------------------------------------------------------


def find_run_folder(point_dir: Path) -> Path | None:
    """The run folder the point's process created (directly inside point_dir, holding run.json)."""
    found = [p for p in find_runs(point_dir, depth=1) if (p / HEADER).is_file()]
    return found[0] if found else None


def read_summary(run_folder: Path | None) -> dict[str, Any] | None:
    if run_folder is None:
        return None
    try:
        return load_summary(run_folder)
    except UserError:
        return None


@dataclass
class Outcome:
    status: str  # ok | failed | interrupted
    exit_code: int | None
    error: str | None
    run_dir: Path | None


def last_line(path: Path) -> str | None:
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else None


def failed_item(summary: dict[str, Any]) -> str | None:
    """'<item>: <reason>' of the first failed item of a run that failed part-way. Every mode lists its items as
    dicts with the house's `status` and `reason` (methods, variants, experiments), so no mode is named here."""
    for value in summary.values():
        for row in value if isinstance(value, list) else []:
            if isinstance(row, dict) and row.get("status") == "failed" and row.get("reason"):
                name = next((v for v in row.values() if isinstance(v, str)), "an item")
                return f"{name}: {str(row['reason']).splitlines()[0][:300]}"
    return None


def outcome(exit_code: int | None, point_dir: Path) -> Outcome:
    """Judge a finished point process by its exit code and its run folder."""
    run_dir = find_run_folder(point_dir)
    summary = read_summary(run_dir)
    if exit_code in INTERRUPTED_CODES:
        return Outcome("interrupted", exit_code, "stopped before it finished", run_dir)
    if exit_code == 0 and summary is not None and summary.get("status") == "complete":
        return Outcome("ok", exit_code, None, run_dir)
    error = (summary.get("error") or failed_item(summary)) if summary else None
    error = error or last_line(point_dir / STDERR_LOG)
    if exit_code == 0:
        error = error or "the process exited 0 but left no complete summary.json"
    if exit_code is not None and exit_code < 0:
        error = f"killed by signal {-exit_code}" + (f" ({error})" if error else "")
    return Outcome("failed", exit_code, error or f"exit code {exit_code}", run_dir)


# --- starting and stopping the process ------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: Linux kills it when the sweep process dies (kill -9 included), so no
    orphaned point keeps measuring, and competing for the device, after its sweep is gone."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def start(mode: str, point_id: str, config: dict[str, Any], point_dir: Path,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    """Write the point's config into point_dir and start its process in its own session, logs to files."""
    point_dir.mkdir(parents=True, exist_ok=True)
    config_path = point_dir / f"{point_id}.json"  # its stem names the run folder: <stamp>-<mode>-<point id>
    write_json_atomic(config_path, config)
    with open(point_dir / STDOUT_LOG, "wb") as out, open(point_dir / STDERR_LOG, "wb") as err:
        # Own session: a terminal's Ctrl-C reaches the sweep only, which then stops each point itself.
        return subprocess.Popen(point_command(mode, config_path, point_dir), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env, start_new_session=True,
                                preexec_fn=partial(_die_with_parent, os.getpid())
                                if sys.platform.startswith("linux") else None)


def interrupt(proc: subprocess.Popen) -> None:
    """Ask a point to stop as Ctrl-C would: its own handler writes an interrupted summary and report."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)


def stop(proc: subprocess.Popen, grace_s: float = 30.0) -> int | None:
    """`interrupt`, wait up to grace_s, then kill the point's whole process group."""
    interrupt(proc)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode
