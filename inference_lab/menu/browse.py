"""Browse past comparator runs: open one as tables, or compare two or more against a chosen baseline."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..tables import compare_table
from .execute import run_config, show_run
from .io import UI, Back
from .paths import MenuPaths


def comparator_runs(results_dir: Path) -> list[dict]:
    """Summaries of the comparator runs under `results_dir`, newest first (other modes' folders left out)."""
    from ..results import find_runs, load_run  # imports torch (via measure): only when browsing

    runs = []
    for folder in find_runs(results_dir):
        try:
            summary = load_run(folder)
        except UserError:
            continue
        if {"run_id", "methods", "work", "models", "environment"} <= summary.keys():
            runs.append(summary)
    return runs


def describe(summary: dict) -> str:
    done = sum(m["status"] == "ok" for m in summary["methods"])
    return (f"{summary['run_id']:<36} {summary['status']:<11} {done}/{len(summary['methods'])} methods  "
            f"{summary['models']['main']['name']} on {summary['environment']['device']}")


def open_run(ui: UI, runs: list[dict]) -> None:
    summary = ui.select("Open which run?", [(describe(s), s) for s in runs])
    show_run(ui.console, summary, summary["folder"])


def compare_runs(ui: UI, runs: list[dict]) -> None:
    if len(runs) < 2:
        ui.say("Comparing needs at least two runs.", style="yellow")
        return
    chosen = ui.checkbox("Compare which runs?", [(describe(s), i) for i, s in enumerate(runs)],
                         validate=lambda a: len(a) >= 2 or "pick at least two runs (space toggles)",
                         instruction="(space toggles, enter confirms)")
    picked = [runs[i] for i in sorted(chosen)]
    baseline = ui.select("Baseline (ratios are against it)", [(s["run_id"], i) for i, s in enumerate(picked)])
    ui.say(compare_table(picked, baseline))
    ui.say(f"[dim]headless: python inference_comparison.py compare "
           f"{' '.join(s['folder'] for s in picked)} --baseline {baseline}[/dim]")


def resume_run(ui: UI, runs: list[dict]) -> None:
    """Continue an interrupted run in its own folder: finished methods are kept, the rest run now."""
    from ..config import InferenceConfig, load_config

    interrupted = [s for s in runs if s["status"] == "interrupted"]
    if not interrupted:
        ui.say("No interrupted runs to continue.")
        return
    summary = ui.select("Continue which run?", [(describe(s), s) for s in interrupted])
    folder = Path(summary["folder"])
    config = load_config(InferenceConfig, folder / "config.json")
    run_config(ui, config, label=summary.get("label", "run"), resume=folder)


def browse_runs(ui: UI, paths: MenuPaths) -> None:
    """Loop until 'Back'; Ctrl-C at this list (Back) returns to the main menu."""
    results_dir = paths.results_dir()
    while True:
        runs = comparator_runs(results_dir)
        if not runs:
            ui.say(f"No runs in {results_dir} yet: run a preset first.")
            return
        actions = [("Open one run", open_run), ("Compare runs side by side", compare_runs),
                   ("Continue an interrupted run", resume_run), ("Back", None)]
        action = ui.select(f"{len(runs)} run{'s' * (len(runs) != 1)} in {results_dir}", actions)
        if action is None:
            return
        try:
            action(ui, runs)
        except Back:  # Ctrl-C inside: back to this list
            continue
