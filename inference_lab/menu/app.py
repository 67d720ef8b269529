"""The main menu: one list of entries, each a function of (ui, paths); the loop around them.

Ctrl-C at the main menu (or a closed input) quits cleanly; Ctrl-C in a screen comes back here; Ctrl-C during
a run is handled by the run (finished batches kept). A `LabError` from any screen is shown as one line and
the menu goes on, so no traceback reaches the user for bad input or a failed load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..core import signals
from ..core.errors import LabError
from .browse import browse_runs
from .config_builder import build_custom_config
from .io import UI, Back
from .modes import OTHER_MODES, run_mode
from .paths import MenuPaths
from .presets import run_preset


def check_environment(ui: UI, paths: MenuPaths) -> None:
    from ..setup_check import render, run_checks

    with ui.console.status("checking packages, CUDA, models, and generating one token ..."):
        checks = run_checks()
    render(checks, ui.console)


@dataclass(frozen=True)
class Entry:
    title: str
    action: Callable[[UI, MenuPaths], object] | None  # None: quit


ENTRIES = (
    Entry("Run a preset (quick, example, comprehensive, configs/*)", run_preset),
    Entry("Build a custom config step by step", build_custom_config),
    *(Entry(info.title, partial(run_mode, info=info)) for info in OTHER_MODES),
    Entry("Browse past runs of every mode (open, compare, continue)", browse_runs),
    Entry("Check the environment", check_environment),
    Entry("Quit", None),
)

BANNER = ("[bold]inference-lab[/bold]: which way of running a model is fastest, leanest and still right.\n"
          "[dim]Arrows move, Enter picks, Ctrl-C goes back. Headless: ./run.sh help[/dim]")


def run_menu(ui: UI, paths: MenuPaths | None = None) -> int:
    paths = paths or MenuPaths()
    ui.say(BANNER)
    while True:
        try:
            entry = ui.select("What would you like to do?", [(e.title, e) for e in ENTRIES])
        except (Back, EOFError, KeyboardInterrupt):
            entry = ENTRIES[-1]
        if entry.action is None:
            ui.say("bye")
            return 0
        try:
            ui.rule(entry.title)
            entry.action(ui, paths)
        except Back:
            ui.say("[dim]back to the main menu[/dim]")
        except EOFError:
            ui.say("input closed: bye")
            return 0
        except KeyboardInterrupt:
            ui.say("interrupted: back to the main menu", style="yellow")
        except LabError as exc:
            if signals.received() is not None:  # a stop that a library turned into its own error
                signals.reset()
                ui.say("interrupted: back to the main menu", style="yellow")
            else:
                ui.say(f"error: {exc}", style="red")
