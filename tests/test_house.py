"""The house itself: the import graph (no cycles, nothing reaching up, no mode importing another), reading results
without torch, one CLI vocabulary, `--version`, `$schema`, files that honour the umask, and the package working
from any folder once installed."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from inference_lab.modes import MODES

from .conftest import REPO

PACKAGE = REPO / "inference_lab"


def import_graph() -> dict[str, set[str]]:
    """module -> the inference_lab modules it imports (at the top or inside functions: both are dependencies)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                anchor = package[: len(package) - node.level + 1] if node.level else []
                base = ".".join(anchor + ([node.module] if node.module else [])) if node.level else node.module
                for alias in node.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if target in modules and target != module:
                        graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    head = parts[1]
    if head == "demo_kit" and len(parts) > 2 and parts[2] in {"names", "corpus"}:
        return "demo_kit.pure"
    if head == "modes":
        return "modes.table" if len(parts) == 2 else f"mode:{parts[2]}"
    return head


# What each layer may import (besides itself). The floors know no mode; a mode knows no other mode and not the table.
ALLOWED = {
    "top": {"top"},
    "core": {"top"},
    "demo_kit.pure": {"core"},
    "models": {"core", "demo_kit.pure"},
    "engines": {"core", "models", "demo_kit", "demo_kit.pure"},
    "ui": {"core"},
    "demo_kit": {"core", "models", "ui", "demo_kit.pure"},
    "presets": {"core"},
    "mode": {"core", "models", "ui", "engines", "demo_kit", "demo_kit.pure", "presets"},
    "modes.table": set(),
}


def test_every_mode_has_the_spine():
    for info in MODES.values():
        folder = REPO / "inference_lab" / "modes" / info.name.replace("-", "_")
        assert {"config.py", "runner.py", "results.py", "display.py", "report.py"} <= {p.name for p in folder.iterdir()}


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_nothing_reaches_up_and_no_mode_imports_another():
    problems = []
    for module, targets in import_graph().items():
        mine = layer(module)
        key = "mode" if mine.startswith("mode:") else mine
        if key not in ALLOWED:
            continue  # the top floor: cli, session, menu, commands, setup_check, sweep may use anything below them
        for target in targets:
            theirs = layer(target)
            if theirs == mine or theirs in ALLOWED[key]:
                continue
            problems.append(f"{module} -> {target}")
    assert problems == []


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_reading_and_comparing_results_never_imports_torch(methods_run):
    code = f"""
import sys
from pathlib import Path
from inference_lab.core.rundir import find_runs, load_summary
from inference_lab.commands.compare import compare_table
from inference_lab.menu.browse import all_runs, describe
from inference_lab.modes import MODES
from inference_lab.ui.console import console
summary = load_summary({str(methods_run)!r})
console().print(compare_table([summary, summary]))
runs = all_runs(Path({str(methods_run.parent)!r}))
print(describe(runs[0]))
for info in MODES.values():
    info.module("display"); info.module("report"); info.module("results"); info.config_class
MODES["methods"].module("display").show(summary, console())
assert "torch" not in sys.modules, "torch was imported"
print("no torch")
"""
    out = _run_python(code)
    assert out.returncode == 0, out.stderr
    assert "no torch" in out.stdout and "2/4 methods ok" in out.stdout


def test_every_mode_takes_the_same_flags():
    from inference_lab.cli import mode_parser

    for info in MODES.values():
        parser = mode_parser(info)
        args = parser.parse_args(["x.json", "--set", "a=1", "--output", "out", "--resume", "r", "--quiet", "--yes"])
        assert (args.overrides, args.output, args.resume, args.quiet, args.yes) == (["a=1"], "out", "r", True, True)
        assert parser.parse_args(["--no-progress"]).quiet  # the older spelling of --quiet


def test_version_and_help_list_every_mode_from_the_table():
    from inference_lab import __version__

    out = subprocess.run([sys.executable, "-m", "inference_lab", "--version"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == f"inference-lab {__version__}"
    out = subprocess.run([sys.executable, "-m", "inference_lab", "--help"], capture_output=True, text=True, cwd=REPO)
    for info in MODES.values():
        assert f"{info.name} [CONFIG]" in out.stdout and info.help in out.stdout
    run_sh = subprocess.run(["bash", "run.sh", "help"], capture_output=True, text=True, cwd=REPO)
    for info in MODES.values():
        assert f"{info.name} [CONFIG]" in run_sh.stdout


def test_a_config_naming_its_schema_is_accepted(tmp_path):
    from inference_lab.core.config import json_schema, load_config

    for info in MODES.values():
        schema = json_schema(info.config_class)
        assert "$schema" in schema["properties"]
        path = tmp_path / f"{info.name}.json"
        path.write_text(json.dumps({"$schema": f"./{info.name}.schema.json"}))
        load_config(info.config_class, path)  # no "unknown key '$schema'"


def test_files_honour_the_umask(tmp_path):
    from inference_lab.core.storage import write_json_atomic

    old = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "a.json", {"a": 1})
        assert path.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        path = write_json_atomic(tmp_path / "b.json", {"b": 1})
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_result_json_is_strict():
    from inference_lab.core.storage import dumps

    with pytest.raises(ValueError):
        dumps({"temperature": float("inf")})


@pytest.mark.slow
def test_installed_package_runs_every_mode_from_any_folder(tmp_path, tiny_kit):
    """`pip install .` (here into a folder, dependencies from this venv) carries the presets and templates:
    lora, mcq and peft-bench run their defaults from a folder that has no configs/ or experiments/."""
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(target), str(REPO)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (target / "inference_lab" / "presets" / "configs" / "lora_chunked.json").is_file()
    assert (target / "inference_lab" / "presets" / "experiments" / "lora" / "lora_r8" / "adapter_config.json").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1", "INFERENCE_LAB_DEMO_VARIANT": "tiny"}
    runs = {
        "lora": ["--set", "inference.max_samples=4", "--set", "warmup_runs=0"],
        "mcq": ["--set", "limit=3", "--set", "warmup_runs=0"],
        "peft-bench": ["lora/lora_r8", "--root", str(target / "inference_lab" / "presets" / "experiments"),
                       "--set", "num_inference_runs=1", "--set", "warmup_runs=0", "--set", "max_new_tokens=2",
                       "--set", "num_prompt_samples=1"],
    }
    for mode, args in runs.items():
        if mode == "peft-bench":
            args[0] = str(target / "inference_lab" / "presets" / "experiments" / args[0])
        result = subprocess.run([sys.executable, "-m", "inference_lab", mode, *args, "--quiet", "--output", "runs"],
                                cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (mode, result.stderr[-2000:])
        header = json.loads(next((elsewhere / "runs").glob(f"*-{mode}-*/run.json")).read_text())
        assert header["mode"] == mode and header["status"] == "complete"
