"""What the spine hands a mode, and what a mode hands back: the same for every mode.

A mode's runner has two steps:
- `prepare(config, log) -> Prepared`: read and validate every input, load the models. No file is written yet,
  so bad input (a missing file, a model that does not load, an adapter that does not fit) leaves nothing behind.
- `run(prepared, ctx: RunContext) -> RunResult`: measure. The run folder exists and is locked; its header says
  which models were loaded. Records go out through `ctx.append` as each unit of work finishes, and
  `ctx.checkpoint(payload)` rewrites summary.json after each unit, so an interrupted run keeps a valid summary.
  On resume, `ctx.resuming` is true and `ctx.records()` holds what the earlier process finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import signals
from .rundir import RunFolder


@dataclass
class Prepared:
    """A mode's loaded inputs. `models`: load reports for the header; `inputs`: files whose contents a resumed
    run must find unchanged; `flags`: things the reader must know (random weights, ...)."""

    models: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Path] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """The mode's results (merged into summary.json next to the header) and whether any item failed."""

    payload: dict
    failed: bool = False
    flags: list[str] = field(default_factory=list)


@dataclass
class RunContext:
    folder: RunFolder
    header: dict
    progress: Any  # ui.progress.Progress (NoProgress when quiet)
    log: Callable[[str], None] = lambda _message: None
    resuming: bool = False
    payload: dict = field(default_factory=dict)  # the latest checkpoint, for an interrupted summary

    @property
    def path(self) -> Path:
        return self.folder.path

    def append(self, records: Iterable[dict]) -> None:
        self.folder.append(records)
        signals.check()  # a stop whose exception a library swallowed ends the run here, after this unit is saved

    def records(self) -> list[dict]:
        return self.folder.records()

    def checkpoint(self, payload: dict) -> None:
        self.payload = payload
        # Not fsync'd: a checkpoint is rebuilt from the (fsync'd) records by a resumed run.
        self.folder.write_summary({**self.header, "status": "running", **payload}, durable=False)
        signals.check()
