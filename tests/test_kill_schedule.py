"""The methods mode killed with SIGKILL at points chosen at random but reproducibly (seeded), then resumed with
`--resume`: every (method, round, batch) ends up on disk exactly once, every pass closed by one round record, and
the summary is valid strict JSON saying `complete`.

The points: before the first record (header only), inside the first method's first round (issue #14 case 1),
right after a round record (between results.jsonl and the summary checkpoint), late in the last round, and a
resumed run killed again. The kill is timed by polling results.jsonl, as the LoRA kill test does.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inference_lab.core.rundir import find_runs, is_locked, load_summary

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
CONFIG = {"main_model": "demo-tiny", "assistant_model": None, "prompts": ["Once upon a time", "The dog"],
          "num_completions": 2, "max_new_tokens": 8, "methods_to_test": ["standard", "batched"], "batch_size": 4,
          "warmup_runs": 1, "num_runs": 3, "temperature": 0}
# standard: 4 batches a round, batched: 1; each pass closed by a round record: 3 x (4 + 1 + 1 + 1) lines
BATCHES = {"standard": 4, "batched": 1}
LINES = CONFIG["num_runs"] * sum(n + 1 for n in BATCHES.values())
RNG = random.Random(1414)  # the schedule: the same points on every run of the tests


def lines(folder: Path) -> list[dict]:
    path = folder / "results.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines(keepends=True) if line.endswith(b"\n")]


def run_methods(args: list[str], kill_when: Callable[[Path | None], bool] | None, parent: Path) -> int:
    """Run `inference-lab methods ARGS --quiet`; SIGKILL it when `kill_when(run folder)` says so. Its exit code."""
    proc = subprocess.Popen([sys.executable, "-m", "inference_lab", "methods", *args, "--quiet"], cwd=REPO, env=ENV,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while kill_when is not None and proc.poll() is None:
            runs = find_runs(parent)
            if kill_when(runs[0] if runs else None):
                proc.send_signal(signal.SIGKILL)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.01)
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"exit {proc.returncode}: {err.decode()}")
    return proc.returncode


def assert_complete_once(folder: Path) -> dict:
    text = (folder / "summary.json").read_text(encoding="utf-8")
    summary = json.loads(text, parse_constant=lambda word: pytest.fail(f"summary.json holds {word}"))
    assert summary["status"] == "complete", summary.get("error")
    rows = lines(folder)
    batches = collections.Counter((r["method"], r["run"], r["batch_index"]) for r in rows if r["kind"] == "batch")
    rounds = collections.Counter((r["method"], r["run"]) for r in rows if r["kind"] == "round")
    expected = {(m, run, b) for m, n in BATCHES.items() for run in range(CONFIG["num_runs"]) for b in range(n)}
    assert set(batches) == expected and set(batches.values()) == {1}, batches
    assert set(rounds) == {(m, run) for m, run, _ in expected} and set(rounds.values()) == {1}, rounds
    assert len(rows) == LINES
    assert {m["method"]: m["status"] for m in summary["methods"]} == {"standard": "ok", "batched": "ok"}
    assert all(len(m["per_round"]["completion_tokens_per_s"]) == CONFIG["num_runs"] for m in summary["methods"])
    assert not is_locked(folder) and not (folder / ".holder.json").exists()
    return summary


def header_only(folder: Path | None) -> bool:
    return folder is not None and (folder / "run.json").is_file()


def after_lines(n: int) -> Callable[[Path | None], bool]:
    return lambda folder: folder is not None and len(lines(folder)) >= n


def after_rounds(n: int) -> Callable[[Path | None], bool]:
    return lambda folder: folder is not None and sum(r["kind"] == "round" for r in lines(folder)) >= n


SCHEDULE = {
    "before-the-first-record": header_only,
    "inside-the-first-method": after_lines(RNG.randint(1, BATCHES["standard"] - 1)),
    "right-after-a-round-record": after_rounds(RNG.randint(1, 2 * CONFIG["num_runs"] - 1)),
    "late-in-the-last-round": after_lines(RNG.randint(LINES - 6, LINES - 2)),
}


@pytest.mark.parametrize("point", list(SCHEDULE))
def test_kill_then_resume(tiny_kit, tmp_path, point):
    config = tmp_path / "methods.json"
    config.write_text(json.dumps(CONFIG))
    parent = tmp_path / "runs"
    assert run_methods([str(config), "--output", str(parent)], SCHEDULE[point], parent) == -signal.SIGKILL
    [folder] = find_runs(parent)
    before = lines(folder)
    assert len(before) < LINES  # the kill left work to do
    if point == "inside-the-first-method":  # issue #14 case 1: no round finished, no summary written yet
        assert before and not any(r["kind"] == "round" for r in before)
    assert load_summary(folder)["status"] == "interrupted"
    assert run_methods(["--resume", str(folder)], None, parent) == 0
    summary = assert_complete_once(folder)
    assert len(summary["resumes"]) == 1


def test_a_resumed_run_killed_again(tiny_kit, tmp_path):
    config = tmp_path / "methods.json"
    config.write_text(json.dumps(CONFIG))
    parent = tmp_path / "runs"
    first, second = sorted(RNG.sample(range(2, LINES - 3), 2))
    assert run_methods([str(config), "--output", str(parent)], after_lines(first), parent) == -signal.SIGKILL
    [folder] = find_runs(parent)
    kept = len(lines(folder))
    # the resumed process keeps finished passes, drops a cut one, then is killed after `second` lines on disk
    assert run_methods(["--resume", str(folder)], after_lines(max(second, kept + 1)), parent) == -signal.SIGKILL
    assert load_summary(folder)["status"] == "interrupted"
    assert run_methods(["--resume", str(folder)], None, parent) == 0
    summary = assert_complete_once(folder)
    assert len(summary["resumes"]) == 2
