"""Run a preset: any methods-mode config in configs/ (quick, example, comprehensive first), previewed, confirmed.
A preset with a `sweep` block is listed as a sweep; its plan is the preview and it runs as a sweep."""

from __future__ import annotations

from ..modes import MODES
from ..modes.methods.config import MethodsConfig
from ..modes.methods.preview import preview_table
from ..modes.methods.registry import requested_names
from .configs import ConfigFile, configs_of_kind
from .execute import run_config
from .io import UI
from .paths import MenuPaths
from .sweeps import plan_summary, run_sweep_config, show_plan

PREFERRED = ("quick", "example", "comprehensive")


def find_presets(paths: MenuPaths) -> tuple[list[ConfigFile], list[str]]:
    presets, problems = configs_of_kind(paths.configs_dir, "methods")
    rank = {name: i for i, name in enumerate(PREFERRED)}
    return sorted(presets, key=lambda p: (rank.get(p.name, len(rank)), p.name)), problems


def describe(preset: ConfigFile) -> str:
    config: MethodsConfig = preset.config  # type: ignore[assignment]
    if preset.sweep is not None:
        return f"{preset.name:<16} {plan_summary(config.model_dump(mode='json'), preset.sweep)}"
    completions = sum(config.completions_per_prompt())
    return (f"{preset.name:<16} {len(requested_names(config))} methods x {len(config.prompts)} prompts, "
            f"{completions} completions, max_new_tokens {config.max_new_tokens}, {config.num_runs} rounds")


def run_preset(ui: UI, paths: MenuPaths) -> None:
    presets, problems = find_presets(paths)
    for problem in problems:
        ui.say(f"skipped invalid config: {problem}", style="yellow")
    if not presets:
        ui.say(f"No comparator configs in {paths.configs_dir}: build one with 'Build a custom config'.")
        return
    preset = ui.select("Which preset?", [(describe(p), p) for p in presets] + [("Back", None)])
    if preset is None:
        return
    if preset.sweep is not None:
        show_plan(ui, MODES["methods"], preset.config.model_dump(mode="json"), preset.sweep)
        if ui.confirm(f"Run the sweep '{preset.name}' now?", default=True):
            run_sweep_config(ui, MODES["methods"], preset.config, preset.sweep, preset.name, paths.output_dir)
        return
    ui.say(preview_table(preset.config, title=f"{preset.name} ({preset.path.name})"))
    if ui.confirm(f"Run '{preset.name}' now?", default=True):
        run_config(ui, MODES["methods"], preset.config, label=preset.name, output_dir=paths.output_dir)
