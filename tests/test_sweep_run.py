"""Real sweeps on the tiny kit through the CLI: one process per point, failures recorded, kill -9 between and inside
points and SIGTERM, then --resume: each point exactly once in the index, finished folders untouched."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from inference_lab.cli import main
from inference_lab.core.errors import UserError
from inference_lab.sweep.index import SweepFolder
from inference_lab.sweep.point import find_run_folder, read_summary
from inference_lab.sweep.runner import run_sweep

from .conftest import REPO

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BASE = {"main_model": "demo-tiny", "assistant_model": None, "prompts": ["Once upon a time"], "max_new_tokens": 4,
        "num_completions": 2, "batch_size": 2, "methods_to_test": ["batched"], "warmup_runs": 0, "num_runs": 1,
        "temperature": 0, "device": "cpu", "num_threads": 1}


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


def write_config(tmp_path: Path, sweep: dict, name: str = "sweep.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({**BASE, "sweep": sweep}))
    return path


def index(sweep_dir: Path) -> list[dict]:
    path = sweep_dir / "index.json"
    return json.loads(path.read_text())["points"] if path.is_file() else []


def only_sweep_dir(out: Path) -> Path | None:
    found = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
    return found[0] if len(found) == 1 else None


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in {".lock", ".holder.json"}}


def cli(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "inference_lab", "methods", *args, "--yes", "--quiet"], cwd=REPO,
                            env=ENV, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def signal_when(proc: subprocess.Popen, ready, sig: int = signal.SIGKILL) -> None:
    """Send `sig` the moment `ready()` holds (polled every 10 ms), then wait for the process to end."""
    try:
        while proc.poll() is None:
            if ready():
                proc.send_signal(sig)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.01)
    finally:
        proc.wait(timeout=120)


def measuring(sweep_dir: Path, point_id: str) -> bool:
    """The point's process is inside its measurement: its run folder has streamed a record."""
    run = find_run_folder(sweep_dir / "points" / point_id)
    return run is not None and (run / "results.jsonl").is_file() and (run / "results.jsonl").stat().st_size > 0


# --- a whole sweep --------------------------------------------------------------------------------------------


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tiny_kit, tmp_path):
    config = write_config(tmp_path, {"grid": {"main_model": ["demo-tiny", "/no/such/model"], "batch_size": [8]}})
    out = tmp_path / "out"
    log = tmp_path / "sweep.log"
    proc = cli([str(config), "--set", "sweep.grid.batch_size=[2,0]", "--output", str(out),
                "--slo", "latency_ms<=100000,memory_mib<=100000"], log)
    assert proc.wait(timeout=300) == 1, log.read_text()  # some points failed; the others were measured
    sweep_dir = only_sweep_dir(out)
    assert sweep_dir.name.endswith("-methods-sweep") and (sweep_dir / "sweep.json").is_file()
    entries = {(e["values"]["main_model"], e["values"]["batch_size"]): e for e in index(sweep_dir)}
    assert len(entries) == len(index(sweep_dir)) == 4  # --set reached the sweep block: 2 x 2 points
    ok = entries[("demo-tiny", 2)]
    assert (ok["status"], ok["exit_code"], ok["attempts"], ok["worker"]) == ("ok", 0, 1, "cpu")
    run = sweep_dir / ok["run_dir"]
    assert run.parent == sweep_dir / "points" / ok["id"]  # the point's run folder inside its own folder
    assert json.loads((run / "config.json").read_text())["batch_size"] == 2  # the value was applied
    assert read_summary(run)["status"] == "complete" and run.name.endswith(f"-methods-{ok['id']}")
    bad = entries[("/no/such/model", 2)]  # refused by its own process: exit 2, its one error line kept
    assert (bad["status"], bad["exit_code"], bad["attempts"]) == ("failed", 2, 1)
    assert "/no/such/model" in bad["error"] and "\n" not in bad["error"]
    for model in ("demo-tiny", "/no/such/model"):  # batch_size 0: refused by the mode's config class, never started
        invalid = entries[(model, 0)]
        assert invalid["status"] == "failed" and invalid["attempts"] == 0
        assert "batch_size" in invalid["error"] and not (sweep_dir / "points" / invalid["id"]).exists()

    csv_rows = (sweep_dir / "summary.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 4 and csv_rows[0].startswith("run_id,mode,point_id,label,repeat,status,item")
    page = (sweep_dir / "report.html").read_text()
    assert "Pareto front" in page and "Plotly.newPlot" in page and "best under latency_ms&lt;=100000" in page
    md = (sweep_dir / "summary.md").read_text()
    assert "4 points (2 main_model x 2 batch_size x 1 repeat): 1 ok, 3 failed." in md
    assert "| best under latency_ms<=100000, memory_mib<=100000 | main_model=demo-tiny,batch_size=2 · batched |" in md

    # While a process holds the sweep folder, a second one is refused with one line naming the holder.
    holder = SweepFolder(sweep_dir)
    holder.lock()
    try:
        with pytest.raises(UserError, match=rf"sweep folder .* is in use by pid {os.getpid()} on "):
            run_sweep("methods", None, resume=sweep_dir, yes=True, console=quiet())
    finally:
        holder.unlock()
    # Resuming a finished sweep runs nothing, leaves every point folder as it was and keeps its verdict.
    before = folder_hashes(sweep_dir / "points")
    assert run_sweep("methods", None, resume=sweep_dir, yes=True, console=quiet()) == 1
    assert folder_hashes(sweep_dir / "points") == before


def test_bad_input_is_refused_before_anything_is_created(tmp_path, capsys):
    config = write_config(tmp_path, {"grid": {"batch_size": [1, 2]}})
    out = tmp_path / "out"
    assert main(["methods", str(config), "--output", str(out), "--yes", "--slo", "ttft<=5"]) == 2
    assert "--slo: unknown figure 'ttft'" in capsys.readouterr().err
    assert main(["methods", str(config), "--output", str(out), "--yes", "--set", "sweep.grid.batch_size=[0]"]) == 2
    assert "every point of the sweep is invalid" in capsys.readouterr().err
    assert main(["methods", str(config), "--output", str(out), "--yes", "--set", "sweep.grid.batch_size=[]"]) == 2
    assert "sweep.grid.batch_size: empty list" in capsys.readouterr().err
    assert main(["methods", str(config), "--output", str(out), "--set", "sweep.grid.batch_size=[3]"]) == 2
    assert "add --yes to run 1 point without a terminal" in capsys.readouterr().err
    assert main(["methods", str(tmp_path / "plain.json"), "--slo", "ttft_ms<=5"]) == 2  # no such file
    (tmp_path / "plain.json").write_text(json.dumps(BASE))
    assert main(["methods", str(tmp_path / "plain.json"), "--slo", "ttft_ms<=5", "--output", str(out)]) == 2
    assert "--slo: only for sweeps" in capsys.readouterr().err
    assert not out.exists()


def test_resume_refuses_a_changed_plan_or_another_mode(tmp_path):
    from inference_lab.sweep.plan import expand, split_sweep
    from inference_lab.sweep.runner import _header

    data = json.loads(write_config(tmp_path, {"grid": {"batch_size": [1, 2]}}).read_text())
    base, spec = split_sweep(data)
    folder = SweepFolder.create(tmp_path, "methods", "planned")
    folder.write(_header("methods", "planned", "sweep.json", base, spec, expand(base, spec), "local"),
                 expand(base, spec))
    folder.unlock()
    changed = {**data, "max_new_tokens": 8, "sweep": {"grid": {"batch_size": [1, 2, 4]}}}
    with pytest.raises(UserError, match=r"another config \(changed: max_new_tokens, sweep.grid.batch_size\)"):
        run_sweep("methods", changed, resume=folder.path, yes=True, console=quiet())
    with pytest.raises(UserError, match="is a sweep of mode 'methods', not 'lora'"):
        run_sweep("lora", None, resume=folder.path, yes=True, console=quiet())


# --- interruptions --------------------------------------------------------------------------------------------

# The second point measures 150 rounds (a few seconds), so a signal can land inside its measurement.
SLOW_SECOND = {"zip": [{"batch_size": [1, 2], "num_runs": [1, 150]}]}


def inside_new_attempt(sweep_dir: Path, n: int, attempts_before: int):
    """Ready when point n was started again by this process (its old folder is aside by then) and measures."""
    def ready() -> bool:
        entries = index(sweep_dir)
        return entries[n]["attempts"] > attempts_before and measuring(sweep_dir, entries[n]["id"])
    return ready


def wait_released(run: Path) -> None:
    """A point dies with its sweep (PR_SET_PDEATHSIG) a moment after it; until then it still holds its folder."""
    from inference_lab.core.rundir import is_locked

    for _ in range(1000):
        if not is_locked(run):
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(["sleep", "0.01"], timeout=1)
    raise AssertionError(f"{run} is still held")


def test_kill_9_between_and_inside_points_and_sigterm_then_resume_runs_each_point_once(tiny_kit, tmp_path):
    config = write_config(tmp_path, SLOW_SECOND)
    out = tmp_path / "out"
    # 1. kill -9 the sweep the moment its first point is recorded ok (between points).
    proc = cli([str(config), "--output", str(out)], tmp_path / "first.log")
    signal_when(proc, lambda: (d := only_sweep_dir(out)) is not None and [e["status"] for e in index(d)][:1] == ["ok"])
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    sweep_dir = only_sweep_dir(out)
    first, second = (e["id"] for e in index(sweep_dir))
    kept = folder_hashes(sweep_dir / "points" / first)

    # 2. resume, and kill -9 it while the second point is inside its measurement.
    proc = cli(["--resume", str(sweep_dir)], tmp_path / "second.log")
    signal_when(proc, inside_new_attempt(sweep_dir, 1, index(sweep_dir)[1]["attempts"]))
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "second.log").read_text()
    killed = find_run_folder(sweep_dir / "points" / second)
    wait_released(killed)
    assert read_summary(killed)["status"] == "interrupted"  # its process died with the sweep, mid-measurement
    assert [e["status"] for e in index(sweep_dir)] == ["ok", "running"]  # the index is still whole

    # 3. resume, and SIGTERM it inside the second point: the sweep stops the point as Ctrl-C would and exits 143.
    proc = cli(["--resume", str(sweep_dir)], tmp_path / "third.log")
    signal_when(proc, inside_new_attempt(sweep_dir, 1, index(sweep_dir)[1]["attempts"]), signal.SIGTERM)
    assert proc.returncode == 143, (tmp_path / "third.log").read_text()
    stopped = index(sweep_dir)[1]
    assert (stopped["status"], stopped["exit_code"]) == ("interrupted", 130)
    assert read_summary(sweep_dir / stopped["run_dir"])["status"] == "interrupted"  # its own summary, written
    assert "interrupted" in (sweep_dir / "summary.md").read_text()  # the report of what finished, on the way out

    # 4. resume to the end.
    assert run_sweep("methods", None, resume=sweep_dir, yes=True, console=quiet()) == 0
    entries = index(sweep_dir)
    assert [e["id"] for e in entries] == [first, second]  # each point exactly once, in plan order
    assert all(e["status"] == "ok" for e in entries)
    assert folder_hashes(sweep_dir / "points" / first) == kept  # the finished point was not touched
    assert entries[0]["attempts"] == 1 and entries[1]["attempts"] >= 3  # 4 if step 1 had started it
    aside = sorted(p.name for p in (sweep_dir / ".stopped").iterdir())
    assert len(aside) == entries[1]["attempts"] - 1 and all(name.startswith(f"{second}-") for name in aside)
    for entry in entries:  # every point folder holds exactly one run folder, complete
        runs = [p for p in (sweep_dir / "points" / entry["id"]).iterdir() if p.is_dir()]
        assert len(runs) == 1 and read_summary(runs[0])["status"] == "complete"
        assert sweep_dir / entry["run_dir"] == runs[0]
    assert read_summary(sweep_dir / entries[1]["run_dir"])["methods"][0]["runs"] == 150  # whole, not stitched
