"""The pure checks and the process helpers of benchmarks/ (never a timing: benchmarks are not tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import measurement_truth  # noqa: E402
import truth_checks  # noqa: E402

from inference_lab.core import stats  # noqa: E402


def figure(median: float, low: float | None, high: float | None) -> dict:
    return {"median": median, "ci_low": low, "ci_high": high}


# --- inside / overlap ---------------------------------------------------------------------------------------


def test_inside_includes_bounds_and_needs_an_interval():
    f = figure(100, 90, 110)
    assert truth_checks.inside(90, f) and truth_checks.inside(110, f) and truth_checks.inside(100, f)
    assert truth_checks.inside(89.9, f) is False and truth_checks.inside(110.1, f) is False
    assert truth_checks.inside(100, figure(100, None, None)) is None
    assert truth_checks.inside(None, f) is None


def test_overlap_of_intervals():
    assert truth_checks.overlap(figure(100, 90, 110), figure(115, 110, 120)) is True  # touching counts
    assert truth_checks.overlap(figure(100, 90, 110), figure(125, 111, 130)) is False
    assert truth_checks.overlap(figure(100, 90, 110), figure(100, None, None)) is None


def test_cross_repeat_checks_each_median_against_every_other_repeat():
    figures = [
        {"a": figure(100, 95, 105), "b": figure(50, 48, 52)},
        {"a": figure(104, 99, 120), "b": figure(60, 58, 62)},
        {"a": figure(101, 100, 102)},  # b not measured here
    ]
    cross = truth_checks.cross_repeat(figures)
    assert cross[0]["a"]["inside"] == {1: True, 2: True}
    assert cross[0]["a"]["all_inside"] is True
    # 104 is inside repeat 0's [95, 105] but not repeat 2's [100, 102]
    assert cross[1]["a"]["inside"] == {0: True, 2: False}
    assert cross[1]["a"]["all_inside"] is False
    assert cross[1]["a"]["overlap"] == {0: True, 2: True}
    # b: only repeats 0 and 1 have it; 50 vs [58, 62]: outside, no overlap
    assert cross[0]["b"]["inside"] == {1: False}
    assert cross[0]["b"]["overlap"] == {1: False}
    assert "b" not in cross[2]


def test_cross_repeat_undecided_without_intervals():
    cross = truth_checks.cross_repeat([{"a": figure(1, None, None)}, {"a": figure(1, None, None)}])
    assert cross[0]["a"]["inside"] == {1: None}
    assert cross[0]["a"]["all_inside"] is None


# --- agreement with the bare timer -----------------------------------------------------------------------------


def test_agreement_within_tolerance_and_proven_by_the_interval():
    close = stats.ratio([100, 101, 99, 100], [97, 98, 96, 97]).to_dict()  # ~ x1.03
    result = truth_checks.agreement(close, 0.05)
    assert result["within"] is True
    assert result["interval_within"] is True
    far = truth_checks.agreement({"estimate": 0.93, "ci_low": 0.9, "ci_high": 0.96}, 0.05)
    assert far["within"] is False and far["interval_within"] is False
    seen_not_proven = truth_checks.agreement({"estimate": 1.02, "ci_low": 0.9, "ci_high": 1.1}, 0.05)
    assert seen_not_proven == {"within": True, "interval_within": False, "tolerance": 0.05}
    assert truth_checks.agreement(None)["within"] is None
    assert truth_checks.agreement({"estimate": 1.0, "ci_low": None, "ci_high": None})["interval_within"] is None


def test_agreement_boundary_is_inclusive():
    assert truth_checks.agreement({"estimate": 0.95, "ci_low": None, "ci_high": None}, 0.05)["within"] is True
    assert truth_checks.agreement({"estimate": 1.0501, "ci_low": None, "ci_high": None}, 0.05)["within"] is False


# --- rankings across repeats ------------------------------------------------------------------------------------


def test_a_tie_is_no_conflict_but_two_winners_are():
    r1 = {"completion_tokens_per_s": {"best": "batched"}, "latency_s": {"best": None}, "peak_gpu_bytes": None}
    r2 = {"completion_tokens_per_s": {"best": None}, "latency_s": {"best": "standard"}}
    r3 = {"completion_tokens_per_s": {"best": "batched"}, "latency_s": {"best": "beam_search"}}
    assert truth_checks.winners(r1) == {"completion_tokens_per_s": "batched", "latency_s": None}
    assert truth_checks.winner_conflicts([r1, r2]) == {}
    assert truth_checks.winner_conflicts([r1, r2, r3]) == {"latency_s": ["standard", "beam_search"]}


def test_verdict_lines_say_pass_fail_and_undecided():
    cross = truth_checks.cross_repeat([{"a": figure(100, 95, 105)}, {"a": figure(130, 125, 135)}])
    agreements = [{"a": truth_checks.agreement({"estimate": 1.01, "ci_low": 0.99, "ci_high": 1.03})},
                  {"a": truth_checks.agreement({"estimate": 0.90, "ci_low": 0.85, "ci_high": 0.95})}]
    lines = truth_checks.verdict_lines(cross, agreements, [True, False], {}, loaded=True)
    assert lines[0].startswith("FAIL") and "0 of 2 pairs" in lines[0]
    assert lines[1].startswith("FAIL")  # intervals [95, 105] and [125, 135] do not overlap
    assert lines[2].startswith("FAIL") and "1 of 2" in lines[2]
    assert lines[4] == "FAIL: loaded runs flagged noisy: 1 of 2"
    assert lines[5].startswith("PASS")
    undecided = truth_checks.verdict_lines(truth_checks.cross_repeat([{"a": figure(1, None, None)}] * 2),
                                           [{}, {}], [False, False], {"x": ["a", "b"]}, loaded=False)
    assert undecided[0].startswith("UNDECIDED")
    assert undecided[4].startswith("INFO")
    assert undecided[5] == "FAIL: repeats named different winners (x: a, b)"


# --- the busy-loop load: always killed --------------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_busy_load_processes_run_inside_the_block_and_are_killed_after_an_error():
    with pytest.raises(RuntimeError), measurement_truth.busy_load(2) as load:
        pids = load.pids
        assert len(pids) == 2 and all(alive(p) for p in pids) and load.running() == 2
        raise RuntimeError("the benchmark broke")
    assert not any(alive(p) for p in pids)


@pytest.fixture
def subreaper():
    """This process adopts orphans while the test runs (PR_SET_CHILD_SUBREAPER), so whether an orphan dies is up to
    the orphan, not to whatever the machine's init does with orphans (on this sandbox's init they died anyway)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:
        pytest.skip("PR_SET_CHILD_SUBREAPER not available")
    yield
    libc.prctl(36, 0, 0, 0, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_busy_loops_die_with_a_benchmark_killed_by_sigkill(tmp_path, subreaper):
    """kill -9 skips every finally: the kernel must end the loops (PR_SET_PDEATHSIG)."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(BENCHMARKS)!r})
        import measurement_truth
        with measurement_truth.busy_load(1) as load:
            print(load.pids[0], flush=True)
            time.sleep(60)
    """))
    env = {**os.environ, "PYTHONPATH": str(BENCHMARKS.parent)}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    child = int(parent.stdout.readline())
    # Only once the loop spins: a child that starts after its parent died exits by itself (a different path).
    deadline = time.monotonic() + 10
    while cpu_seconds(child) < 0.3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(child) and cpu_seconds(child) >= 0.3
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.waitpid(child, os.WNOHANG)[0] == child:  # adopted by this process: reap it when it ends
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)  # never leave it spinning, even when the test fails
    os.waitpid(child, 0)
    pytest.fail("the busy loop outlived its parent")


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "truth_checks.py"))
def test_every_benchmark_script_starts(script):
    """A benchmark is run by hand, rarely: its imports and arguments must not rot unseen (engines.py once imported
    a name that had moved). `--help` imports everything the script imports at the top and parses no more."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
