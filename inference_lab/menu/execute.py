"""Run any mode's config from the menu through the session the CLI uses (spinner while loading, progress bars
while measuring) and show the result with the mode's own display.

Ctrl-C during a run stops it; the session has already written every finished unit of work and a summary of them,
so the menu says where they are and how to continue, and goes back instead of leaving with a traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ..core import signals
from ..modes import ModeInfo
from ..ui.progress import RichProgress
from .io import UI


def run_config(ui: UI, info: ModeInfo, config: BaseModel, label: str, output_dir: str | Path | None = None,
               resume: str | Path | None = None) -> Path | None:
    """Run `config` (or continue the run folder `resume`); returns the run folder (None when none was made)."""
    from .. import session

    if output_dir is not None and resume is None:
        config = config.model_copy(update={"output_dir": str(output_dir)})

    def log(message: str) -> None:
        ui.say(f"[dim]{message}[/dim]")

    try:
        with RichProgress(ui.console) as progress:
            outcome = session.execute(info, config, label=label, resume=resume, progress=progress, log=log)
    except KeyboardInterrupt:
        signals.reset()
        ui.say("interrupted before the run started: nothing written", style="yellow")
        return None
    info.module("display").show(outcome.summary, ui.console)
    ui.say(f"results: {outcome.folder}")
    if (outcome.folder / "report.html").is_file():
        ui.say(f"report:  {outcome.folder / 'report.html'}  (charts; opens offline in a browser)")
    if outcome.status == "interrupted":
        signals.reset()
        ui.say(f"interrupted: finished work and its summary kept in {outcome.folder}\ncontinue it from 'Browse past "
               f"runs', or: inference-lab {info.name} --resume {outcome.folder}", style="yellow")
    elif outcome.error:
        ui.say(f"error: {outcome.error}", style="red")
    return outcome.folder
