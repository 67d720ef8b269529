"""Run a preset: any methods-mode config in configs/ (quick, example, comprehensive first), previewed, confirmed."""

from __future__ import annotations

from ..modes import MODES
from ..modes.methods.config import MethodsConfig
from ..modes.methods.preview import preview_table
from ..modes.methods.registry import requested_names
from .configs import ConfigFile, configs_of_kind
from .execute import run_config
from .io import UI
from .paths import MenuPaths

PREFERRED = ("quick", "example", "comprehensive")


def find_presets(paths: MenuPaths) -> tuple[list[ConfigFile], list[str]]:
    presets, problems = configs_of_kind(paths.configs_dir, "methods")
    rank = {name: i for i, name in enumerate(PREFERRED)}
    return sorted(presets, key=lambda p: (rank.get(p.name, len(rank)), p.name)), problems


def describe(preset: ConfigFile) -> str:
    config: MethodsConfig = preset.config  # type: ignore[assignment]
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
    ui.say(preview_table(preset.config, title=f"{preset.name} ({preset.path.name})"))
    if ui.confirm(f"Run '{preset.name}' now?", default=True):
        run_config(ui, MODES["methods"], preset.config, label=preset.name, output_dir=paths.output_dir)
