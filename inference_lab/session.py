"""Running one mode on one config: the spine every mode shares. The CLI and the menu both call `execute`.

In order:
1. where results go: `--resume RUN_DIR` reopens (and locks) that folder; otherwise the output folder is checked
   (exists or can be made, is a folder, writable, has room) before anything slow happens;
2. the machine: torch threads set (`num_threads`, default physical cores) and recorded, the load average read;
3. the demo kits the config names are built if they are not yet;
4. `runner.prepare`: inputs read and validated, models loaded: bad input fails here, leaving no folder behind;
5. the run folder is created and locked; config.json and the header (run.json) are written: mode, config and its
   hash, the hashes of every input file, environment, models, status `running`. A resumed run must match the
   folder's config and inputs exactly (one line names the first difference);
6. `runner.run` measures, streaming records and checkpointing summary.json;
7. whatever happens (done, a failed item, Ctrl-C/SIGTERM/SIGHUP, an error), summary.json gets the final status
   and the report files (summary.csv, summary.md, report.html) are written, then the lock is released.
Exit codes: 0 complete, 1 failed (results kept), 2 bad input, 128+signal interrupted (130 for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import __version__, presets
from .core import signals
from .core.config import config_dict, config_hash, load_config
from .core.context import RunContext
from .core.errors import LabError, UserError, first_line
from .core.rundir import (
    RECORDS,
    RunFolder,
    RunHeader,
    check_output_dir,
    check_same_work,
    hash_inputs,
    now_iso,
    read_header,
)
from .modes import ModeInfo
from .ui.progress import NoProgress  # rich is imported only when bars are drawn


@dataclass
class Outcome:
    folder: Path | None
    summary: dict | None
    exit_code: int
    status: str
    error: str | None = None


def load_mode_config(info: ModeInfo, path: str | Path | None, overrides: list[str] | None = None
                     ) -> tuple[BaseModel, str]:
    """(config, label): a file, a packaged preset name, or the mode's default preset (or its defaults)."""
    source = presets.find_config(path) if path is not None else presets.default_config(info.default_config)
    label = Path(source).stem if source is not None else "defaults"
    return load_config(info.config_class, source, overrides), label


def config_from_run(info: ModeInfo, folder: str | Path) -> tuple[BaseModel, str]:
    header = read_header(folder)
    if header.get("mode") != info.name:
        raise UserError(f"resume: {folder} is a '{header.get('mode')}' run, not a '{info.name}' run")
    return load_config(info.config_class, Path(folder) / "config.json"), header.get("label", "run")


def _demo_names(config: BaseModel) -> list[str]:
    names = list(getattr(config, "named_models", lambda: [])())
    return names + list(getattr(config, "named_files", lambda: [])())


def execute(info: ModeInfo, config: BaseModel, *, label: str, output: str | Path | None = None,
            resume: str | Path | None = None, progress: Any = None, log: Callable[[str], None] = lambda _m: None,
            prepared: Any = None) -> Outcome:
    """Run `config` as a new run folder under `output` (default: the config's output_dir), or continue `resume`.
    `prepared`: a mode's prepared inputs made by the caller (tests reuse loaded models); skips steps 3 and 4."""
    from .core import device as dev
    from .core.environment import busy_reason, collect_environment
    from .demo_kit.build import ensure_named

    runner = info.module("runner")
    folder: RunFolder | None = None
    if resume is not None:
        folder = RunFolder.reopen(resume, info.name)
    else:
        parent = check_output_dir(output or getattr(config, "output_dir", "results"))
    try:
        dev.apply_threads(getattr(config, "num_threads", None))
        busy = busy_reason()
        if prepared is None:
            ensure_named(_demo_names(config), log=log)
            prepared = runner.prepare(config, log)
        data = config_dict(config)
        inputs = hash_inputs(prepared.inputs)
        environment = collect_environment(str((prepared.models.get("main") or {}).get("device") or "") or None)
        flags = [f"noisy: {busy}"] if busy else []
        flags += prepared.flags
        if folder is not None:
            reopened = folder
            check_same_work(reopened.header(), data, inputs)

            def begin() -> dict:
                header = reopened.header()
                return reopened.update_header(status="running", flags=flags, environment=environment,
                                              models=prepared.models,
                                              resumes=[*header.get("resumes", []), {"at": now_iso()}])
        else:
            folder = created = RunFolder.create(parent, info.name, label)

            def begin() -> dict:
                header = RunHeader(mode=info.name, run_id=created.run_id, label=label, config=data,
                                   config_hash=config_hash(data), inputs=inputs, environment=environment,
                                   started=now_iso(), models=prepared.models, flags=flags,
                                   tool_version=__version__).to_dict()
                created.write_config(data)
                created.write_header(header)
                return header
        return _measure(info, runner, prepared, folder, begin, progress or NoProgress(), log, resume is not None)
    finally:
        if folder is not None:
            folder.release()


def _measure(info: ModeInfo, runner, prepared, folder: RunFolder, begin, progress, log,
             resuming: bool) -> Outcome:
    """`begin()` writes (or updates) the header inside the try, with signals deferred: a stop that lands while it
    writes is acted on right after, inside the try, so the folder always gets its `interrupted` summary."""
    from .core.environment import load_average

    header, ctx = None, None
    started = time.perf_counter()
    status, exit_code, error, flags = "failed", 1, None, []
    try:
        with signals.deferred():
            header = begin()
        flags = list(header.get("flags") or [])
        ctx = RunContext(folder, header, progress, log, resuming=resuming)
        result = runner.run(prepared, ctx)
        payload = result.payload
        flags += result.flags
        status, exit_code = ("failed", 1) if result.failed else ("complete", 0)
    except KeyboardInterrupt as exc:
        if header is None:
            raise
        payload, status = ctx.payload if ctx else {}, "interrupted"
        exit_code = signals.exit_code(getattr(exc, "signum", None) or signals.received())
        error = f"stopped by {signals.describe(exc)}"
    except LabError as exc:
        if header is None:
            raise
        payload, error, exit_code = ctx.payload if ctx else {}, str(exc), exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the folder must still say what happened; the caller re-reports it
        if header is None:
            raise
        payload, error = ctx.payload if ctx else {}, first_line(exc)
        with contextlib.suppress(OSError):  # a full disk must not turn the one-line error into a traceback
            (folder.path / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
    summary = {**header, **payload, "status": status, "finished": now_iso(),
               "wall_seconds": round(time.perf_counter() - started, 3), "flags": flags,
               "load_average_after": load_average(), "error": error}
    with signals.deferred():  # a second Ctrl-C must not cut the final summary in half
        folder.write_summary(summary)
        folder.update_header(status=status, finished=summary["finished"], error=error)
    write_reports(info, folder.path, summary)
    return Outcome(folder.path, summary, exit_code, status, error)


def write_reports(info: ModeInfo, folder: Path, summary: dict) -> Path | None:
    """summary.csv, summary.md and report.html from the mode's report parts; a failure here is noted, never fatal
    (the results themselves are already on disk)."""
    from .core.storage import read_jsonl
    from .ui.html import write_report_files

    try:
        records = read_jsonl(folder / RECORDS)[0] if (folder / RECORDS).is_file() else []
        parts = info.module("report").report_parts(summary, records)
        return write_report_files(folder, summary, parts)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001
        with contextlib.suppress(OSError):
            (folder / "report-error.log").write_text(traceback.format_exc(), encoding="utf-8")
        summary.setdefault("flags", []).append(f"report files not written: {first_line(exc)}")
        return None
