import json
import subprocess
import sys

from inference_lab.cli import COMMANDS, main

from .conftest import REPO


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_exits_2():
    out = subprocess.run([sys.executable, "-m", "inference_lab", "frobnicate"], capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 2 and "unknown command 'frobnicate'" in out.stderr


def test_run_sh_help_lists_subcommands():
    out = subprocess.run(["bash", "run.sh", "--help"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0
    for sub in ("setup", "test", "quick", "comprehensive", "run CONFIG", "demo", "check", "lora", "mcq"):
        assert sub in out.stdout


def test_headless_run_succeeds_and_prints_the_table(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"main_model": "demo-tiny", "prompts": ["Once upon a time"], "num_completions": 2,
                                  "max_new_tokens": 8, "methods_to_test": ["batched"], "warmup_runs": 0,
                                  "num_runs": 1, "output_dir": str(tmp_path / "out")}))
    out = subprocess.run([sys.executable, "inference_comparison.py", "--config", str(config), "--no-progress"],
                         capture_output=True, text=True, cwd=REPO, env={"COLUMNS": "120", **__import__("os").environ})
    assert out.returncode == 0, out.stderr
    assert "batched" in out.stdout and "tok/s" in out.stdout
    [run_dir] = list((tmp_path / "out").iterdir())
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "results.jsonl", "summary.json", "summary.md"}
    compare = subprocess.run([sys.executable, "inference_comparison.py", "compare", str(run_dir), str(run_dir)],
                             capture_output=True, text=True, cwd=REPO)
    assert compare.returncode == 0 and "x1.00" in compare.stdout


def test_compare_of_a_non_run_folder_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "inference_lab", "compare", str(tmp_path)], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 2 and "not a run folder" in out.stderr and "Traceback" not in out.stderr
