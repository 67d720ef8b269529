"""The Ray executor on a local cluster (ray.init on this machine): points as tasks, their folders streamed back.
Ray is optional (requirements-ray.txt): without it these tests skip, and `--executor ray` is one clear line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from rich.console import Console

from inference_lab.core.errors import UserError
from inference_lab.sweep.point import read_summary
from inference_lab.sweep.runner import run_sweep

BASE = {"main_model": "demo-tiny", "assistant_model": None, "prompts": ["Once upon a time"], "max_new_tokens": 4,
        "num_completions": 2, "methods_to_test": ["batched"], "warmup_runs": 0, "num_runs": 1, "temperature": 0,
        "device": "cpu", "num_threads": 1, "sweep": {"grid": {"batch_size": [1, 2]}}}


def test_missing_ray_is_one_line_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without ray looks like to import
    with pytest.raises(UserError, match=r"--executor ray needs the ray package: pip install ray==2\.60\.0"):
        run_sweep("methods", BASE, output=tmp_path, yes=True, executor="ray", console=Console(file=io.StringIO()))
    assert not any(tmp_path.iterdir())  # refused before anything was created


@pytest.fixture
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (optional: pip install -r requirements-ray.txt)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_executor_runs_each_point_as_a_task_and_streams_its_folder_back(tiny_kit, local_ray, tmp_path):
    out = tmp_path / "out"
    assert run_sweep("methods", BASE, output=out, yes=True, executor="ray",
                     console=Console(file=io.StringIO())) == 0
    (sweep_dir,) = out.iterdir()
    entries = json.loads((sweep_dir / "index.json").read_text())["points"]
    assert [e["values"]["batch_size"] for e in entries] == [1, 2]
    node = local_ray.nodes()[0]["NodeManagerAddress"]
    for entry in entries:
        assert (entry["status"], entry["exit_code"], entry["worker"]) == ("ok", 0, f"ray:{node}")
        run = sweep_dir / entry["run_dir"]  # written by the driver from the task's returned files
        assert run.parent == sweep_dir / "points" / entry["id"]
        assert read_summary(run)["status"] == "complete"
        assert json.loads((run / "config.json").read_text())["batch_size"] == entry["values"]["batch_size"]
        assert (sweep_dir / "points" / entry["id"] / "stderr.log").is_file()
    # On a CPU-only cluster a point claims a whole node: the two points never ran at once.
    first, second = entries
    assert first["finished"] <= second["started"]
    assert json.loads((sweep_dir / "sweep.json").read_text())["executor"] == "ray"
    assert local_ray.is_initialized()  # a cluster the caller started is left to the caller
    assert "Pareto front" in (sweep_dir / "report.html").read_text()
