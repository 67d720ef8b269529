"""The real program in a real terminal: `./run.sh` (the menu) in tmux, running the quick preset on the tiny kit.

Keys go in with `tmux send-keys` only after the expected prompt is on screen (`capture-pane`), so the test
waits for the program rather than for a clock.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time

import pytest

from .conftest import REPO

pytestmark = [pytest.mark.tmux, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

ENV_KEYS = ("INFERENCE_LAB_HOME", "INFERENCE_LAB_DEMO_VARIANT", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
            "HF_HUB_DISABLE_PROGRESS_BARS", "TOKENIZERS_PARALLELISM")


class Terminal:
    def __init__(self, session: str):
        self.session = session

    def screen(self, history: bool = False) -> str:
        args = ["tmux", "capture-pane", "-p", "-J", "-t", self.session] + (["-S", "-"] if history else [])
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def wait_for(self, text: str, timeout: float, times: int = 1) -> str:
        """Wait until `text` has been printed `times` times (the whole scrollback counts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(history=True)
            if screen.count(text) >= times:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} did not appear within {timeout} s; screen:\n{self.screen(history=True)}")

    def size(self) -> tuple[int, int]:
        out = subprocess.run(["tmux", "display-message", "-p", "-t", self.session, "#{pane_width} #{pane_height}"],
                             capture_output=True, text=True, check=True).stdout.split()
        return int(out[0]), int(out[1])

    def wait_until(self, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.1)

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)


def test_run_sh_menu_runs_the_quick_preset_and_shows_the_results_table(tmp_path, tiny_kit):
    results = tmp_path / "results"
    env = {key: os.environ[key] for key in ENV_KEYS if key in os.environ}
    env.update({"INFERENCE_LAB_DEMO_VARIANT": "tiny", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # COLUMNS/LINES inherited from the test process (80x24 under pytest) would override the pane's real size.
    command = (f"cd {shlex.quote(str(REPO))} && env -u COLUMNS -u LINES {exports} "
               f"./run.sh menu --output {shlex.quote(str(results))}; echo EXITED=$?; sleep 60")
    session = f"ilab-e2e-{os.getpid()}"
    # A detached pane can start at 80x24 and be resized a moment later; start the program only once the pane
    # has its final size, so rich lays out for 120 columns.
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "sleep 600"], check=True)
    term = Terminal(session)
    try:
        term.wait_until(lambda: term.size() == (120, 40), timeout=10)
        subprocess.run(["tmux", "respawn-pane", "-k", "-t", session, command], check=True)
        term.wait_for("What would you like to do?", timeout=300)  # first ./run.sh may set up .venv
        term.send("Enter")  # Run a preset
        screen = term.wait_for("Which preset?", timeout=60)
        assert "» quick" in screen  # quick is offered first
        term.send("Enter")
        screen = term.wait_for("Run 'quick' now?", timeout=60)
        assert "up to 2,950 new tokens" in screen  # the preview: 4 methods x 2 prompts x 2 completions
        term.send("Enter")
        screen = term.wait_for("report:", timeout=300)
        for text in ("tok/s", "p50", "standard", "batched", "beam_search", "nucleus_sampling",
                     "Fastest (completion tokens/s)"):
            assert text in screen
        term.wait_for("What would you like to do?", timeout=30, times=2)  # the main menu again, after the run
        term.send("C-c")  # at the main menu: quit
        screen = term.wait_for("EXITED=", timeout=30)
        assert "EXITED=0" in screen
        assert "Traceback" not in screen and "Warning" not in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    [folder] = list(results.iterdir())
    assert folder.name.endswith("-quick")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "complete" and len(summary["methods"]) == 4
    assert {"config.json", "results.jsonl", "summary.md", "report.html", "summary.csv"} <= {
        p.name for p in folder.iterdir()}
    assert f"results: {folder}" in screen  # one line at 120 columns
