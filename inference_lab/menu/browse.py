"""Browse past runs of every mode: open one (its mode's table), compare two or more of one mode against a chosen
baseline, or continue an interrupted run in its own folder. Reads summaries only: no torch."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import UserError
from ..modes import MODES
from .execute import run_config
from .io import UI, Back
from .paths import MenuPaths


def all_runs(results_dir: Path) -> list[dict]:
    """Summaries of every run under `results_dir` (any mode, sweeps' points included), newest first."""
    from ..core.rundir import find_runs, load_summary

    runs = []
    for folder in find_runs(results_dir):
        try:
            summary = load_summary(folder)
        except UserError:
            continue
        if summary.get("mode") in MODES:
            runs.append(summary)
    return runs


def describe(summary: dict) -> str:
    info = MODES[summary["mode"]]
    return f"{summary['run_id']:<44} {summary['status']:<11} {info.module('display').describe(summary)}"


def show_run(ui: UI, summary: dict) -> None:
    MODES[summary["mode"]].module("display").show(summary, ui.console)
    folder = Path(summary["folder"])
    ui.say(f"results: {folder}")
    if (folder / "report.html").is_file():
        ui.say(f"report:  {folder / 'report.html'}  (charts; opens offline in a browser)")


def open_run(ui: UI, runs: list[dict]) -> None:
    show_run(ui, ui.select("Open which run?", [(describe(s), s) for s in runs]))


def compare_runs(ui: UI, runs: list[dict]) -> None:
    from ..commands.compare import compare_table

    modes = sorted({s["mode"] for s in runs})
    mode = modes[0] if len(modes) == 1 else ui.select("Compare runs of which mode?", [(m, m) for m in modes])
    same = [s for s in runs if s["mode"] == mode]
    if len(same) < 2:
        ui.say(f"Comparing needs at least two {mode} runs.", style="yellow")
        return
    chosen = ui.checkbox("Compare which runs?", [(describe(s), i) for i, s in enumerate(same)],
                         validate=lambda a: len(a) >= 2 or "pick at least two runs (space toggles)",
                         instruction="(space toggles, enter confirms)")
    picked = [same[i] for i in sorted(chosen)]
    baseline = ui.select("Baseline (ratios are against it)", [(s["run_id"], i) for i, s in enumerate(picked)])
    try:
        ui.say(compare_table(picked, baseline, force=False))
    except UserError as err:
        ui.say(str(err), style="yellow")
        if not ui.confirm("Compare them anyway?", default=False):
            return
        ui.say(compare_table(picked, baseline, force=True))
    ui.say(f"[dim]headless: inference-lab compare {' '.join(s['folder'] for s in picked)} --baseline {baseline}[/dim]")


def resume_run(ui: UI, runs: list[dict]) -> None:
    """Continue an interrupted run in its own folder: what finished is kept, the rest runs now."""
    from ..session import config_from_run

    interrupted = [s for s in runs if s["status"] == "interrupted"]
    if not interrupted:
        ui.say("No interrupted runs to continue.")
        return
    summary = ui.select("Continue which run?", [(describe(s), s) for s in interrupted])
    info = MODES[summary["mode"]]
    config, label = config_from_run(info, summary["folder"])
    run_config(ui, info, config, label=label, resume=Path(summary["folder"]))


def browse_runs(ui: UI, paths: MenuPaths) -> None:
    """Loop until 'Back'; Ctrl-C at this list (Back) returns to the main menu."""
    results_dir = paths.results_dir()
    while True:
        runs = all_runs(results_dir)
        if not runs:
            ui.say(f"No runs in {results_dir} yet: run a preset first.")
            return
        actions = [("Open one run", open_run), ("Compare runs side by side", compare_runs),
                   ("Continue an interrupted run", resume_run), ("Back", None)]
        per_mode = {m: sum(s["mode"] == m for s in runs) for m in MODES}
        counts = ", ".join(f"{n} {m}" for m, n in per_mode.items() if n)
        action = ui.select(f"{len(runs)} run{'s' * (len(runs) != 1)} in {results_dir} ({counts})", actions)
        if action is None:
            return
        try:
            action(ui, runs)
        except Back:  # Ctrl-C inside: back to this list
            continue
