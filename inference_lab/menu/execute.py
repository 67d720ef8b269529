"""Run a comparator config from the menu (spinner while loading, a progress bar per method) and show a run.

Ctrl-C during a run stops it; the comparator has already written every finished batch and a summary of
them, so the menu says where they are and goes back instead of leaving with a traceback.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ..config import InferenceConfig
from ..progress import RichProgress
from ..tables import notes_lines, rankings_lines, run_table
from .io import UI


def show_run(console: Console, summary: dict, folder: str | Path | None = None) -> None:
    """One run as the headless command prints it: the table, its notes, rankings and where the files are."""
    console.print(run_table(summary))
    for line in notes_lines(summary):
        console.print(f"  {line}", style="dim")
    for line in rankings_lines(summary):
        console.print(f"  {line}")
    if folder is not None:
        folder = Path(folder)
        console.print(f"results: {folder}")
        if (folder / "report.html").is_file():
            console.print(f"report:  {folder / 'report.html'}  (charts; opens offline in a browser)")


def run_config(ui: UI, config: InferenceConfig, label: str, output_dir: str | Path | None = None,
               resume: str | Path | None = None) -> Path | None:
    """Run `config` (or continue the interrupted run folder `resume`); returns the run folder, None when
    interrupted before it existed."""
    from ..comparator import InferenceMethodsComparator  # torch and transformers: only when a run starts

    comparator = InferenceMethodsComparator(config, output_dir=output_dir, label=label, resume=resume,
                                            log=lambda message: ui.say(f"[dim]{message}[/dim]"))
    try:
        with ui.console.status(f"loading {config.main_model} ..."):
            comparator.load()
        with RichProgress(ui.console) as progress:
            comparator.progress = progress
            summary = comparator.run()
    except KeyboardInterrupt:
        if comparator.folder is None:
            ui.say("interrupted before the run started: nothing written", style="yellow")
        else:
            ui.say(f"interrupted: finished batches and their summary kept in {comparator.folder}\n"
                   "continue it from 'Browse past runs', or: python inference_comparison.py --resume "
                   f"{comparator.folder}", style="yellow")
        return comparator.folder
    show_run(ui.console, summary, comparator.folder)
    return comparator.folder
