"""The other modes from the menu: a small registry of entries, each run through the CLI dispatcher.

A mode is `inference_lab.cli.main([command, *args])`, exactly what `./run.sh <command>` runs, so the menu
adds no second code path. A mode whose modules are missing shows "not available" instead of failing, and
its config is picked from configs/ files that validate as that mode's config type.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .configs import configs_of_kind
from .io import UI
from .paths import MenuPaths


@dataclass(frozen=True)
class ModeEntry:
    title: str
    command: str  # an inference_lab.cli command
    modules: tuple[str, ...]  # all must be importable for the mode to be offered
    config_kind: str | None = None  # pick a configs/ file of this schema kind (commands/schema.py)
    default_config: str | None = None  # preferred file name in configs/
    args: tuple[str, ...] = ()


MODES = (
    ModeEntry("LoRA vs base: accuracy and speed of an adapter against its base model", "lora",
              ("inference_lab.commands.lora", "inference_lab.lora_vs_base"), "lora", "lora_chunked"),
    ModeEntry("Adapter benchmark: every experiment under experiments/", "peft-bench",
              ("inference_lab.commands.peft_bench", "inference_lab.adapter_bench"), args=("--all",)),
    ModeEntry("Multiple-choice scoring by log-likelihood", "mcq",
              ("inference_lab.commands.mcq", "inference_lab.mcq"), "mcq", "mcq"),
)


def missing_module(entry: ModeEntry) -> str | None:
    for module in entry.modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:  # a missing parent package
            return module
    return None


def mode_args(ui: UI, paths: MenuPaths, entry: ModeEntry) -> list[str] | None:
    """The CLI arguments for `entry`, asking for a config when it takes one; None when there is none to pick."""
    if entry.config_kind is None:
        return [entry.command, *entry.args]
    found, problems = configs_of_kind(paths.configs_dir, entry.config_kind)
    for line in problems:
        ui.say(f"skipped invalid config: {line}", style="yellow")
    if not found:
        ui.say(f"No {entry.command} config in {paths.configs_dir}.", style="yellow")
        return None
    found.sort(key=lambda f: (f.name != entry.default_config, f.name))
    chosen = ui.select(f"Which {entry.command} config?", [(f.path.name, f) for f in found])
    return [entry.command, str(chosen.path), *entry.args]


def run_mode(ui: UI, paths: MenuPaths, entry: ModeEntry) -> int | None:
    """Run one mode; returns its exit code (None when it did not start)."""
    missing = missing_module(entry)
    if missing is not None:
        ui.say(f"{entry.title.split(':')[0]} is not available in this version (module {missing} is missing).",
               style="yellow")
        return None
    args = mode_args(ui, paths, entry)
    if args is None:
        return None
    ui.say(f"[dim]running: ./run.sh {' '.join(args)}[/dim]")
    from .. import cli

    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse rejected the arguments; it has printed why
        code = exc.code if isinstance(exc.code, int) else 2
    if code:
        ui.say(f"{entry.command} finished with exit code {code}", style="yellow")
    return code
