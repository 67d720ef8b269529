"""The run-folder contract, the same for every mode. Pure file work: no torch, so reading results is fast.

`<output>/<YYYYmmdd-HHMMSS>-<mode>-<label>/` holds:

| file | written |
|---|---|
| `run.json` | the header, before the first measurement: mode, run id, config and its hash, the hashes of every |
|            | input file, environment, models, status; updated when the status changes |
| `config.json` | the effective config (what `--resume` reruns) |
| `results.jsonl` | the mode's records, one per line, appended and fsync'd as each unit of work finishes |
| `summary.json` | the header's fields plus the mode's results; rewritten atomically after each unit of work |
| `summary.csv`, `summary.md`, `report.html` | written when the run ends (any status) |
| `.lock` | held (flock) by the one process that writes the folder; the kernel drops it if that process dies |

Statuses are one vocabulary in every mode: a run is `running`, `complete`, `failed` or `interrupted`; an item
(a method, an experiment, a model variant) is `ok`, `skipped`, `unsupported`, `failed`, `interrupted` or
`unreliable`. A folder whose header says `running` but whose lock is free was killed: it reads as `interrupted`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import signals
from .errors import UserError, WriteFailed
from .storage import append_jsonl, read_jsonl, repair_torn_tail, write_json_atomic, write_jsonl_atomic

HEADER, CONFIG, RECORDS, SUMMARY = "run.json", "config.json", "results.jsonl", "summary.json"
CSV, MARKDOWN, HTML, LOCK = "summary.csv", "summary.md", "report.html", ".lock"
HOLDER = ".holder.json"  # pid, host, start and command line of the process holding the lock
RUN_STATUSES = ("running", "complete", "failed", "interrupted")
ITEM_STATUSES = ("ok", "skipped", "unsupported", "failed", "interrupted", "unreliable")
MIN_FREE_BYTES = 64 * 2**20  # below this, a run would fail half-way through writing its results


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def safe_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "run"


# --- before anything runs -------------------------------------------------------------------------------------


def check_output_dir(parent: str | Path, field: str = "output") -> Path:
    """The folder run folders go into: it exists or can be made, is a folder, is writable and has room.
    Checked before any model loads, so a bad --output costs nothing; folders made for the check are removed
    again, so a run that then fails on bad input leaves nothing behind."""
    parent = Path(parent).expanduser()
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{field}: {parent} exists and is not a folder")
    made = [p for p in [parent, *parent.parents] if not p.exists()]
    with signals.deferred():
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=parent, prefix=".write-test-")
            os.close(fd)
            os.unlink(probe)
            free = shutil.disk_usage(parent).free
        except OSError as err:
            raise UserError(f"{field}: cannot write to {parent} ({err.strerror or err})") from None
        finally:
            for folder in made:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()
    if free < MIN_FREE_BYTES:
        raise UserError(f"{field}: only {free / 2**20:.0f} MiB free in {parent} (need at least "
                        f"{MIN_FREE_BYTES / 2**20:.0f} MiB for results)")
    return parent


def file_digest(path: Path) -> dict:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": h.hexdigest()}


def hash_inputs(files: dict[str, Path | None]) -> dict[str, dict]:
    """name -> {path, bytes, sha256} for every input file a run reads (test sets, prompt files, ...)."""
    return {name: file_digest(Path(path)) for name, path in files.items() if path is not None}


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_difference(ours: Any, theirs: Any, prefix: str = "") -> str | None:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            found = _first_difference(ours.get(key), theirs.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    if ours != theirs:
        return f"'{prefix.rstrip('.')}' is {_short(theirs)} in the run, {_short(ours)} now"
    return None


def check_same_work(header: dict, config: dict, inputs: dict[str, dict]) -> None:
    """Refuse to resume a run with other settings or changed input files, naming the first difference."""
    from .config import config_identity

    where = header.get("run_id", "the run")
    difference = _first_difference(config_identity(config), config_identity(header.get("config", {})))
    if difference:
        raise UserError(f"resume: {where} was run with another config ({difference}); start a new run instead")
    for name, digest in (header.get("inputs") or {}).items():
        now = inputs.get(name)
        if now is None or now["sha256"] != digest["sha256"]:
            raise UserError(f"resume: input '{name}' ({digest['path']}) changed since {where} started "
                            f"(sha256 {digest['sha256'][:12]} -> {now['sha256'][:12] if now else 'missing'}); "
                            "start a new run instead")


# --- the folder -----------------------------------------------------------------------------------------------


class RunFolder:
    """One run's folder, held by this process (an exclusive lock) while it is open."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = None
        self._created = False  # by this process: removed again on release if no header was ever written
        self.torn_tail_cut = False  # records() found and cut a line a kill left half-written

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, parent: str | Path, mode: str, label: str) -> RunFolder:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(parent) / f"{stamp}-{safe_label(mode)}-{safe_label(label)}"
        path, n = base, 1
        signals.arm()  # a folder exists from here on: a stop must clean it up, not just end the process
        with signals.deferred():
            while True:
                try:
                    path.mkdir(parents=True)  # exclusive: two processes never get the same folder
                    break
                except FileExistsError:
                    n += 1
                    path = base.with_name(f"{base.name}-{n}")
                except OSError as err:
                    raise WriteFailed(path, err) from None
            folder = cls(path)
            folder._created = True
            try:
                folder.lock()
            except BaseException:
                folder.release()
                raise
        return folder

    @classmethod
    def reopen(cls, path: str | Path, mode: str | None = None) -> RunFolder:
        path = Path(path)
        header = read_header(path)
        if mode is not None and header.get("mode") != mode:
            raise UserError(f"resume: {path} is a '{header.get('mode')}' run, not a '{mode}' run")
        folder = cls(path)
        folder.lock()
        return folder

    # locking ---------------------------------------------------------------------------------------------------

    def lock(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"run folder {self.path} is in use by {holder(self.path)}; wait for it or "
                            "use another folder") from None
        except OSError as err:  # a read-only or full file system: the folder cannot be continued here
            raise UserError(f"run folder {self.path} cannot be written ({err.strerror or err})") from None
        self._lock = lock
        write_json_atomic(self.path / HOLDER, {"pid": os.getpid(), "host": socket.gethostname(),
                                               "since": now_iso(), "argv": sys.argv}, durable=False)

    def keep(self) -> None:
        """This folder holds something worth keeping although it has no run header (a sweep's index): never remove it
        on release."""
        self._created = False

    def release(self) -> None:
        """Unlock; a folder this process created but never wrote a header to (stopped in between) is removed."""
        with signals.deferred():
            if self._created and not (self.path / HEADER).exists():
                shutil.rmtree(self.path, ignore_errors=True)
            elif self._lock is not None:
                with contextlib.suppress(OSError):
                    (self.path / HOLDER).unlink(missing_ok=True)
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            self._created = False

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # files -----------------------------------------------------------------------------------------------------

    def header(self) -> dict:
        return read_header(self.path)

    @contextlib.contextmanager
    def _writing(self):
        """A failed write of this folder's files (a full disk) says what is kept and how to go on."""
        try:
            yield
        except WriteFailed as err:
            if not err.hint:
                err.hint = (f"; what was written before is kept: make room, then continue with --resume "
                            f"{self.path}")
            raise

    def write_header(self, header: dict) -> None:
        signals.arm()  # the folder now says `running`: a stop must leave it saying `interrupted`, with its report
        with self._writing():
            write_json_atomic(self.path / HEADER, header)

    def update_header(self, **fields: Any) -> dict:
        header = {**self.header(), **fields}
        self.write_header(header)
        return header

    def write_config(self, config: dict) -> None:
        write_json_atomic(self.path / CONFIG, config)

    def append(self, rows: Iterable[dict]) -> int:
        with self._writing():
            return append_jsonl(self.path / RECORDS, rows)

    def records(self) -> list[dict]:
        """Every whole record; a line torn by a kill is cut off the file first (its work is redone)."""
        path = self.path / RECORDS
        if not path.is_file():
            return []
        rows, torn = read_jsonl(path)
        if torn:
            repair_torn_tail(path)
            self.torn_tail_cut = True
        return rows

    def keep_records(self, keep: Callable[[dict], bool]) -> tuple[int, int]:
        """Rewrite results.jsonl with only the rows `keep` accepts; (kept, dropped)."""
        rows = self.records()
        kept = [row for row in rows if keep(row)]
        if len(kept) != len(rows):
            write_jsonl_atomic(self.path / RECORDS, kept)
        return len(kept), len(rows) - len(kept)

    def write_summary(self, summary: dict, durable: bool = True) -> None:
        with self._writing():
            write_json_atomic(self.path / SUMMARY, summary, durable)


def holder(path: Path) -> str:
    """Who holds a folder's lock, as its holder file says; a file left by a killed process is not believed."""
    try:
        info = json.loads((Path(path) / HOLDER).read_text(encoding="utf-8"))
        pid, host = int(info["pid"]), str(info["host"])
        if host == socket.gethostname() and not _alive(pid):
            return "another process"
        return f"pid {pid} on {host} (since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def is_locked(path: Path) -> bool:
    """Whether a process holds the folder's lock. Opened read-only (flock does not need write access, the same lock
    filelock takes), so a folder on a read-only disk or archive can still be read and compared."""
    import fcntl

    try:
        fd = os.open(Path(path) / LOCK, os.O_RDONLY)
    except OSError:
        return False  # no lock file: nobody ever held it, or it cannot be opened to hold
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def read_header(path: str | Path) -> dict:
    path = Path(path)
    header_path = path / HEADER
    if not header_path.is_file():
        raise UserError(f"not a run folder (no {HEADER}): {path}")
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{header_path}: unreadable ({err})") from None
    if not isinstance(header, dict) or "mode" not in header:
        raise UserError(f"{header_path}: not a run header")
    return header


def load_summary(path: str | Path) -> dict:
    """A run's summary for reading and comparing: summary.json when there is one, else the header (a run killed
    before its first unit of work finished). A `running` run nobody holds was killed: `interrupted`."""
    path = Path(path)
    header = read_header(path)
    summary = header
    summary_path = path / SUMMARY
    if summary_path.is_file():
        try:
            summary = {**header, **json.loads(summary_path.read_text(encoding="utf-8"))}
        except ValueError as err:
            raise UserError(f"{summary_path}: not valid JSON ({err})") from None
    if summary.get("status") == "running" and not is_locked(path):
        summary["status"] = "interrupted"
        summary.setdefault("flags", []).append("killed: no process holds the folder")
    summary["folder"] = str(path)
    return summary


def find_runs(root: str | Path, depth: int = 4) -> list[Path]:
    """Run folders (with a run.json) at most `depth` levels under `root` (sweeps nest theirs), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Path] = []
    frontier = [root]
    for _ in range(depth):
        next_level = []
        for folder in frontier:
            try:
                children = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")]
            except OSError:
                continue
            for child in children:
                (found if (child / HEADER).is_file() else next_level).append(child)
        frontier = next_level
    return sorted(found, key=lambda p: p.name, reverse=True)


@dataclass
class RunHeader:
    """What `run.json` holds when a run starts (models are added once they are loaded)."""

    mode: str
    run_id: str
    label: str
    config: dict
    config_hash: str
    inputs: dict
    environment: dict
    started: str
    status: str = "running"
    models: dict | None = None
    flags: list | None = None
    tool_version: str = ""

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)
