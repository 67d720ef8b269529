"""The modes from the menu: one entry per row of the modes table (after the methods mode's own screens), each run
through the same session and display as the CLI: pick a config, preview it, confirm, run, show.

The adapter benchmark also lets you pick which experiments to run.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..modes import MODES, ModeInfo
from .configs import configs_of_kind
from .execute import run_config
from .io import UI
from .paths import MenuPaths
from .sweeps import run_sweep_config, show_plan


def pick_config(ui: UI, paths: MenuPaths, info: ModeInfo) -> tuple[BaseModel, str, dict | None] | None:
    """(config, label, sweep block or None) of this mode from the configs folder (the mode's default preset first);
    None when there is none."""
    found, problems = configs_of_kind(paths.configs_dir, info.name)
    for line in problems:
        ui.say(f"skipped invalid config: {line}", style="yellow")
    default = (info.default_config or "").rsplit(".", 1)[0]
    found.sort(key=lambda f: (f.name != default, f.name))
    options = [(f.path.name + (" (sweep)" if f.sweep else ""), (f.config, f.name, f.sweep)) for f in found]
    if info.default_config is None:
        options.insert(0, ("the defaults", (info.config_class(), "defaults", None)))
    if not options:
        ui.say(f"No {info.name} config in {paths.configs_dir}.", style="yellow")
        return None
    return ui.select(f"Which {info.name} config?", options)


def pick_experiments(ui: UI, config):
    """peft-bench: tick the experiments to run (all ticked)."""
    from ..modes.peft_bench.experiments import discover, find_root

    root = find_root(config.root().resolve())
    experiments = discover(str(root))
    chosen = ui.checkbox(f"Experiments under {root}", [(e.id, str(e.path)) for e in experiments],
                         checked=[str(e.path) for e in experiments],
                         validate=lambda a: bool(a) or "pick at least one experiment (space toggles)",
                         instruction="(space toggles, enter confirms)")
    return config.model_copy(update={"experiments": chosen})


def run_mode(ui: UI, paths: MenuPaths, info: ModeInfo):
    """Pick, preview, confirm, run; returns the run folder (None when nothing ran)."""
    picked = pick_config(ui, paths, info)
    if picked is None:
        return None
    config, label, sweep = picked
    if info.name == "peft-bench":
        config = pick_experiments(ui, config)
    if sweep is not None:
        show_plan(ui, info, config.model_dump(mode="json"), sweep)
        if ui.confirm(f"Run the {info.name} sweep now?", default=True):
            run_sweep_config(ui, info, config, sweep, label, paths.output_dir)
        return None
    ui.say(info.module("display").preview(config))
    if not ui.confirm(f"Run {info.name} now?", default=True):
        return None
    return run_config(ui, info, config, label=label, output_dir=paths.output_dir)


OTHER_MODES = [info for name, info in MODES.items() if name != "methods"]
