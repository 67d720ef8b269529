"""What the console shows while a comparison runs: the documents' step banners and a bar per chunk and pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..report import console as shared_console

STEPS = {
    "sequential": ("BASE MODEL inference (adapter off: pure base weights)",
                   "LORA MODEL inference",
                   "Write both chunks' results (append + flush + fsync)",
                   "Cleanup before next chunk"),
    "mixed": ("BASE + LORA rows in one pass (adapter_names per row)",
              "Write both chunks' results (append + flush + fsync)",
              "Cleanup before next chunk"),
}


class RunDisplay:
    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or shared_console()
        self.quiet = quiet

    def print(self, *objects) -> None:
        if not self.quiet:
            self.console.print(*objects)

    def mode_banner(self, *, chunk_size: int | None, n_chunks: int, n_samples: int, pending: int, strategy: str,
                    merged: bool, keep_adapter_loaded: bool) -> None:
        title = "CHUNKED PROCESSING MODE" if chunk_size else "FULL PROCESSING MODE"
        if not self.quiet:
            self.console.rule(f"[bold]{title}")
        size = f"chunks of {chunk_size} samples" if chunk_size else "one chunk of all samples"
        lora = "merged into a copy of the base (merge_and_unload)" if merged else "unmerged PEFT wrapper"
        life = "loaded once for the run" if keep_adapter_loaded else "loaded and unloaded in every chunk"
        self.print(f"Processing {n_samples} samples in {n_chunks} {'chunk' if n_chunks == 1 else 'chunks'} ({size}); "
                   f"{pending} to do, {n_samples - pending} already on disk.")
        self.print(f"Strategy [bold]{strategy}[/bold]; adapter {lora}, {life}. For each chunk:")
        for number, step in enumerate(STEPS[strategy], start=1):
            self.print(f"  {number}. {step}")

    def chunk_banner(self, index: int, total: int, first: int, last: int, pending: int) -> None:
        if self.quiet:
            return
        self.console.rule(f"[bold]Processing Chunk {index + 1}/{total}")
        done = last - first + 1 - pending
        extra = f", {done} already on disk" if done else ""
        self.console.print(f"Samples {first} to {last} ({pending} to run{extra})")

    def step(self, strategy: str, number: int, index: int, total: int) -> None:
        if not self.quiet:
            self.console.rule(f"Step {number}: {STEPS[strategy][number - 1]} (chunk {index + 1}/{total})",
                              style="dim", align="left")

    @contextmanager
    def bar(self, description: str, total: int) -> Iterator[Callable[[], None]]:
        if self.quiet:
            yield lambda: None
            return
        progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("batches"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=self.console, transient=False)
        with progress:
            task = progress.add_task(description, total=total)
            yield lambda: progress.advance(task)
