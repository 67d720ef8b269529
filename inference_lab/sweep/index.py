"""The sweep folder: its layout, its index of points, its lock, and resuming it.

    SWEEP_DIR = <output>/<YYYYmmdd-HHMMSS>-<mode>-sweep-<label>/
      sweep.json      mode, label, base config (+ hash), sweep block, expanded plan, executor, environment
      index.json      one entry per point, in plan order: status, exit code, run folder, worker, times, attempts, error
      points/<id>/    the point's process: <id>.json (its config), stdout.log, stderr.log, and its run folder
      .stopped/<id>-<n>/  an attempt that was stopped, moved aside by --resume (never measured into again)
      summary.csv, summary.md, report.html   the curve (written after every point and at the end)
      .lock, .holder.json  held by the process running the sweep (core.rundir's lock: kill -9 frees it)

index.json is rewritten whole and atomically (core.storage) after every change, so after a kill -9 at any moment
it is the state before or after the last change, never a mix. A point is marked `running` before its process
starts; a `running` entry found by a resume (which holds the lock, so the sweep that wrote it is gone) is treated
like an interrupted one: its folder is moved aside and the point measured again, whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..core.rundir import RunFolder, holder, is_locked, now_iso
from ..core.storage import read_text, write_json_atomic
from . import SWEEP_FILE
from .plan import Point

INDEX_FILE = "index.json"
POINTS_DIR = "points"
STOPPED_DIR = ".stopped"  # dot-named: browse and find_runs skip it, so a stopped attempt is never offered

STATUSES = ("pending", "running", "ok", "failed", "interrupted")
DONE = {"ok", "failed"}  # kept as they are by a resume


@dataclass
class Entry:
    id: str
    label: str
    values: dict[str, Any]
    repeat: int
    status: str = "pending"
    exit_code: int | None = None
    run_dir: str | None = None  # relative to the sweep folder
    started: str | None = None
    finished: str | None = None
    error: str | None = None
    worker: str | None = None  # where it ran: "cpu", "cuda:1", a Ray node
    attempts: int = 0  # how many times its process was started (a resume after a stop adds one)

    @classmethod
    def from_point(cls, point: Point) -> Entry:
        return cls(point.id, point.label, dict(point.values), point.repeat)


def read_header(path: str | Path) -> dict[str, Any]:
    import json

    file = Path(path) / SWEEP_FILE
    if not file.is_file():
        raise UserError(f"not a sweep folder (no {SWEEP_FILE}): {path}")
    try:
        header = json.loads(read_text(file, "sweep header"))
    except ValueError as err:
        raise UserError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(header, dict) or "mode" not in header or "plan" not in header:
        raise UserError(f"{file}: not a sweep header")
    return header


class SweepFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: list[Entry] = []
        self._held: RunFolder | None = None

    @classmethod
    def create(cls, parent: str | Path, mode: str, label: str) -> SweepFolder:
        """A new folder, named like a run folder and created exclusively, held by this process."""
        name = label if label.startswith("sweep") else f"sweep-{label}"
        made = RunFolder.create(parent, mode, name)  # an exclusive mkdir + the run folders' lock
        folder = cls(made.path)
        folder._held = made
        return folder

    # --- layout ---------------------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.path / INDEX_FILE

    def point_dir(self, point_id: str) -> Path:
        return self.path / POINTS_DIR / point_id

    def entry(self, point_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == point_id:
                return entry
        raise KeyError(point_id)

    def relative(self, path: Path | None) -> str | None:
        return None if path is None else str(Path(path).resolve().relative_to(self.path.resolve()))

    # --- lock (core.rundir's: flock on .lock, the holder named in .holder.json) -------------------------------

    def lock(self) -> None:
        if is_locked(self.path):
            raise UserError(f"sweep folder {self.path} is in use by {holder(self.path)}; wait for it or stop it first")
        held = RunFolder(self.path)
        held.lock()
        self._held = held

    def unlock(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    # --- files ----------------------------------------------------------------------------------------------

    def write(self, header: dict[str, Any], points: list[Point]) -> None:
        (self.path / POINTS_DIR).mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / SWEEP_FILE, header)
        self.entries = [Entry.from_point(p) for p in points]
        self.save()
        if self._held is not None:
            self._held.keep()  # a sweep folder has no run header: its sweep.json and index make it one to keep

    def header(self) -> dict[str, Any]:
        return read_header(self.path)

    def load(self) -> list[Entry]:
        import json

        if not self.index_path.is_file():
            raise UserError(f"not a sweep folder (no {INDEX_FILE}): {self.path}")
        known = {f.name for f in fields(Entry)}
        try:
            data = json.loads(read_text(self.index_path, "sweep index"))
            self.entries = [Entry(**{k: v for k, v in row.items() if k in known}) for row in data["points"]]
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"{self.index_path}: not a valid sweep index ({err})") from None
        return self.entries

    def counts(self) -> dict[str, int]:
        return {s: sum(e.status == s for e in self.entries) for s in STATUSES}

    def save(self) -> None:
        write_json_atomic(self.index_path, {"updated": now_iso(), "counts": self.counts(),
                                            "points": [asdict(e) for e in self.entries]})

    def update(self, point_id: str, **changes: Any) -> Entry:
        entry = self.entry(point_id)
        for key, value in changes.items():
            setattr(entry, key, value)
        self.save()
        return entry

    # --- resume ---------------------------------------------------------------------------------------------

    def prepare_resume(self) -> list[Entry]:
        """Entries to run again: finished ones (ok, failed) are kept untouched; a running, interrupted or pending
        one has whatever folder it left moved aside, so its re-measurement starts clean."""
        todo = []
        for entry in self.entries:
            if entry.status in DONE:
                continue
            folder = self.point_dir(entry.id)
            if folder.exists():
                aside = self._aside(entry.id)
                aside.parent.mkdir(exist_ok=True)
                folder.rename(aside)
            entry.status, entry.exit_code, entry.run_dir, entry.error = "pending", None, None, None
            entry.started = entry.finished = entry.worker = None
            todo.append(entry)
        self.save()
        return todo

    def _aside(self, point_id: str) -> Path:
        n = 1
        while (path := self.path / STOPPED_DIR / f"{point_id}-{n}").exists():
            n += 1
        return path
