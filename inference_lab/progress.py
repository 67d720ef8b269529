"""Live progress for long runs: one rich bar per method, advanced per batch, with ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RichProgress:
    """ProgressHooks for the comparator; use as a context manager around `run()`."""

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            TextColumn("[bold]{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def method_started(self, name: str, total_batches: int) -> None:
        self.tasks[name] = self.progress.add_task(name, total=total_batches)

    def batch_done(self, name: str) -> None:
        self.progress.advance(self.tasks[name])

    def method_finished(self, summary) -> None:
        if summary.method not in self.tasks:
            self.tasks[summary.method] = self.progress.add_task(summary.method, total=1, completed=1)
        if summary.status != "ok":
            self.progress.update(self.tasks[summary.method], description=f"{summary.method} ({summary.status})")
