"""Live progress for every mode: one bar per unit of work (a method, a chunk pass, a model variant, an
experiment), advanced as batches finish, with elapsed time and ETA. Runners talk to `Progress`; whether it
draws (`RichProgress`) or not (`NoProgress`, for --quiet and tests) is the caller's choice."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    def start(self, key: str, total: int, unit: str = "batches") -> None: ...
    def advance(self, key: str, n: int = 1) -> None: ...
    def finish(self, key: str, status: str = "ok") -> None: ...


class NoProgress:
    def start(self, key: str, total: int, unit: str = "batches") -> None:
        pass

    def advance(self, key: str, n: int = 1) -> None:
        pass

    def finish(self, key: str, status: str = "ok") -> None:
        pass


class RichProgress:
    """Use as a context manager around a run; bars stay on screen afterwards (the run's log)."""

    def __init__(self, console: Any = None):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as _RichBars

        self.bars = _RichBars(
            TextColumn("[bold]{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def start(self, key: str, total: int, unit: str = "batches") -> None:
        self.tasks[key] = self.bars.add_task(key, total=max(total, 1), unit=unit)

    def advance(self, key: str, n: int = 1) -> None:
        if key in self.tasks:
            self.bars.advance(self.tasks[key], n)

    def finish(self, key: str, status: str = "ok") -> None:
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(key, total=1, completed=1, unit="")
        if status != "ok":
            self.bars.update(self.tasks[key], description=f"{key} ({status})")
