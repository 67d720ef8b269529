"""test_setup.py and its checks: ready on this CPU machine (CUDA a warning), exit 1 when a required package breaks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from inference_lab import setup_check
from inference_lab.setup_check import Check, check_model, check_package, check_python, model_names, ok, render

from .conftest import REPO


def run_test_setup(*args: str, block: tuple[str, ...] = (), tmp_path=None) -> subprocess.CompletedProcess:
    """`python test_setup.py ARGS` in a subprocess; `block` makes those packages unimportable in it."""
    env = dict(os.environ)
    if block:
        shim = tmp_path / "shim"
        shim.mkdir()
        # None in sys.modules makes `import x` raise ImportError while find_spec("x") answers None, as for a
        # package that is simply not installed (transformers probes optional packages with find_spec).
        (shim / "sitecustomize.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in block))
        env["PYTHONPATH"] = os.pathsep.join([str(shim), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "120"
    return subprocess.run([sys.executable, "test_setup.py", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_test_setup_passes_on_this_cpu_machine_with_cuda_as_a_warning(tiny_kit):
    out = run_test_setup("--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    checks = by_name(report["checks"])
    assert report["ok"] is True
    assert checks["CUDA"]["status"] == "warn" and "CPU" in checks["CUDA"]["detail"]
    assert checks["package torch"]["status"] == "pass" and checks["package torch"]["detail"].startswith("2.")
    assert checks["model demo"]["status"] == "pass" and "tiny" in checks["model demo"]["detail"]
    smoke = checks["generate 1 token (demo)"]
    assert smoke["status"] == "pass" and "ms on cpu" in smoke["detail"]
    assert {c["status"] for c in report["checks"]} <= {"pass", "warn"}
    assert all(c["hint"] for c in report["checks"] if c["status"] == "warn")  # every warning says what to do


def test_test_setup_fails_with_exit_1_when_a_required_package_does_not_import(tmp_path):
    out = run_test_setup("--json", "--no-smoke-test", block=("peft",), tmp_path=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    peft = by_name(report["checks"])["package peft"]
    assert report["ok"] is False and peft["status"] == "fail" and "does not import" in peft["detail"]
    assert "run.sh setup" in peft["hint"]
    assert by_name(report["checks"])["package torch"]["status"] == "pass"
    assert "Traceback" not in out.stderr


def test_the_plain_text_table_is_used_when_rich_itself_is_missing(tmp_path):
    out = run_test_setup("--no-smoke-test", block=("rich",), tmp_path=tmp_path)
    assert out.returncode == 1
    assert "FAIL  package rich" in out.stdout and "not ready: fix the failed checks" in out.stdout
    assert "Traceback" not in out.stderr


def test_python_version_gate():
    assert check_python((3, 9, 18)).status == "fail"
    assert check_python((3, 11, 7)).status == "pass"


def test_missing_required_package_fails_and_optional_one_warns():
    assert check_package("no_such_package_xyz", "no-such-package").status == "fail"
    optional = check_package("no_such_package_xyz", "no-such-package", required=False, purpose="nothing")
    assert optional.status == "warn" and optional.hint == "pip install no-such-package"


def test_model_access(tiny_kit, tmp_path, monkeypatch):
    assert check_model("demo").status == "pass"
    assert check_model(str(tmp_path / "missing-model")).status == "fail"
    (tmp_path / "empty").mkdir()
    assert "no config.json" in check_model(str(tmp_path / "empty")).detail
    (tmp_path / "empty" / "config.json").write_text("{}")
    assert check_model(str(tmp_path / "empty")).status == "pass"
    # Offline (conftest sets HF_HUB_OFFLINE=1) and not cached: a run would fail, so the check does.
    offline = check_model("nobody-here/no-such-model-123")
    assert offline.status == "fail" and "offline" in offline.detail
    # Online, without --download: reported, not fetched.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    online = check_model("nobody-here/no-such-model-123")
    assert online.status == "warn" and "--download" in online.hint


def test_an_unbuilt_demo_kit_is_a_warning_not_a_build(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_LAB_HOME", str(tmp_path / "empty-home"))
    check = check_model("demo-assistant")
    assert check.status == "warn" and "not built yet" in check.detail
    assert not (tmp_path / "empty-home").exists()
    checks = setup_check.run_checks(smoke=True)
    assert by_name([c.to_dict() for c in checks])["generate 1 token (demo)"]["status"] == "warn"


def test_models_named_in_any_modes_config(tmp_path):
    lora = tmp_path / "lora.json"
    lora.write_text(json.dumps({"base_model": "demo", "adapter": "demo-lora", "inference": {"test_file": "demo-task"}}))
    assert model_names(lora) == ["demo", "demo-lora"]
    comparator = tmp_path / "c.yaml"
    comparator.write_text("main_model: org/model\nassistant_model: null\n")
    assert model_names(comparator) == ["org/model"]
    assert model_names(None) == ["demo", "demo-assistant", "demo-lora"]


@pytest.mark.parametrize("statuses, verdict_text", [(("pass", "warn"), "ready"), (("pass", "fail"), "not ready")])
def test_rendered_table_and_verdict(statuses, verdict_text):
    checks = [Check(f"check {i}", s, f"detail {i}", "do this") for i, s in enumerate(statuses)]
    buffer = io.StringIO()
    render(checks, Console(file=buffer, width=120, color_system=None))
    text = buffer.getvalue()
    assert ok(checks) is (verdict_text == "ready")
    assert "check 1" in text and "do this" in text and "1 passed, " in text and verdict_text in text
