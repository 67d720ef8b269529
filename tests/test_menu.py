"""The menu driven without a terminal: prompt_toolkit pipe input + DummyOutput, rich output into a buffer.

Every test sends its whole key sequence up front and closes the input; prompt_toolkit keeps unread keys for
the next question, and a closed input ends the menu (EOF = quit), so a wrong sequence fails instead of hanging.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from inference_lab import session
from inference_lab.core.config import load_config
from inference_lab.menu import UI, MenuPaths, run_menu
from inference_lab.menu.configs import configs_of_kind
from inference_lab.menu.fields import coerce, problem
from inference_lab.menu.modes import OTHER_MODES, run_mode
from inference_lab.modes import MODES
from inference_lab.modes.methods.config import MethodsConfig as InferenceConfig
from inference_lab.modes.methods.preview import method_previews, total_tokens

from .conftest import REPO

DOWN, ENTER, SPACE, CTRL_C, CLEAR = "\x1b[B", "\r", " ", "\x03", "\x15"  # CLEAR = Ctrl-U: empty the line

# Main-menu positions (app.ENTRIES order), and the browse screen's.
PRESET, CUSTOM, LORA, PEFT, MCQ, BROWSE, CHECK, QUIT = range(8)
OPEN, COMPARE, RESUME, BROWSE_BACK = range(4)

TINY_PRESET = {"main_model": "demo", "assistant_model": "demo-assistant", "prompts": ["Once upon a time"],
               "num_completions": 2, "max_new_tokens": 6, "methods_to_test": ["standard", "batched"],
               "warmup_runs": 0, "num_runs": 1, "temperature": 0}


def pick(position: int) -> str:
    return DOWN * position + ENTER


def typed(text: str) -> str:
    return CLEAR + text + ENTER


def drive(keys: str, paths: MenuPaths) -> tuple[int, str]:
    """Run the whole menu on `keys`; returns (exit code, everything rich printed, whitespace collapsed)."""
    buffer = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()
        ui = UI(console=Console(file=buffer, width=120, color_system=None), input=pipe, output=DummyOutput())
        code = run_menu(ui, paths)
    return code, " ".join(buffer.getvalue().split())  # rich wraps long lines: compare words, not layout


@pytest.fixture
def paths(tmp_path) -> MenuPaths:
    (tmp_path / "configs").mkdir()
    return MenuPaths(configs_dir=tmp_path / "configs", output_dir=tmp_path / "results")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_kit) -> Path:
    """A results folder with one real tiny run and a copy of it whose throughput is doubled."""
    out = tmp_path_factory.mktemp("runs")
    config = InferenceConfig(**{**TINY_PRESET, "methods_to_test": ["batched"], "num_runs": 2, "output_dir": str(out)})
    first = session.execute(MODES["methods"], config, label="first").folder
    second = out / first.name.replace("first", "second")
    shutil.copytree(first, second)
    summary = json.loads((second / "summary.json").read_text())
    summary["run_id"] = second.name
    for method in summary["methods"]:
        rounds = method["per_round"]["completion_tokens_per_s"]
        method["per_round"]["completion_tokens_per_s"] = [v * 2 for v in rounds]
    (second / "summary.json").write_text(json.dumps(summary))
    return out


# --- building a config --------------------------------------------------------------------------------


def test_custom_config_built_through_the_questions_is_saved_and_reloads(paths):
    keys = (
        pick(CUSTOM)
        + ENTER  # start from the defaults
        + ENTER  # main_model: demo
        + pick(1)  # assistant: none
        # prompts (defaults: elephant, dog): add one, remove #1, edit the new #2, done
        + pick(1) + "a fox story" + ENTER
        + pick(3) + pick(0)
        + pick(2) + pick(1) + typed("a fox and a crow")
        + ENTER
        # completions, one per prompt; 0 is refused by the model's validation and kept on screen
        + pick(1) + typed("0") + typed("2") + typed("4")
        + typed("2")  # batch_size
        + DOWN * 2 + SPACE + DOWN + SPACE + ENTER  # methods: untick beam_search and nucleus_sampling
        + ENTER  # engine: transformers, in process only
        + "y" + typed("16") + typed("0") + ENTER + ENTER + ENTER + ENTER  # generation: max_new_tokens, temperature
        + "y" + ENTER + ENTER + "y" + typed("3") + pick(1) + ENTER + ENTER + pick(1)  # quant .. device
        + typed("0") + typed("1")  # warmup_runs, num_runs
        + pick(1) + typed("fox")  # review: save only, as fox.json
    )
    code, out = drive(keys, paths)
    assert code == 0
    saved = paths.configs_dir / "fox.json"
    data = json.loads(saved.read_text())
    assert data["prompts"] == [InferenceConfig().prompts[1], "a fox and a crow"]
    assert data["num_completions"] == [2, 4]
    assert data["assistant_model"] is None
    assert data["methods_to_test"] == ["standard", "batched"]
    assert (data["batch_size"], data["max_new_tokens"], data["temperature"]) == (2, 16, 0.0)
    assert (data["use_speculative_decoding"], data["prompt_lookup_num_tokens"]) == (True, 3)
    assert (data["cache_implementation"], data["device"], data["warmup_runs"], data["num_runs"]) == (
        "static", "cpu", 0, 1)
    assert load_config(InferenceConfig, saved).model_dump(mode="json") == data
    assert "saved" in out and "fox.json" in out


def test_the_engine_step_writes_a_server_and_its_load(paths):
    keys = (
        pick(CUSTOM) + ENTER  # defaults
        + CTRL_C  # skip the walk-through: straight to the review
        + pick(3) + pick(6)  # change a step: Engine
        + pick(1)  # vLLM started by the tool
        + typed("0,2") + typed("1, 2")  # 0 is refused on screen; then two levels
        + pick(1) + typed("served")  # save only
    )
    code, out = drive(keys, paths)
    assert code == 0, out
    data = json.loads((paths.configs_dir / "served.json").read_text())
    assert data["engine"] == "openai" and data["server"]["launch"] == "vllm"
    assert data["load"]["concurrency"] == [1, 2]  # "0,2" was refused: accepted, it would have been saved


def test_a_saved_config_is_offered_as_a_preset_with_its_preview(paths):
    (paths.configs_dir / "mine.json").write_text(json.dumps({**TINY_PRESET, "num_completions": 3,
                                                             "batch_size": 2}))
    code, out = drive(pick(PRESET) + ENTER + "n", paths)  # preview, then decline to run
    assert code == 0
    assert "mine" in out and "What will run" not in out  # the preview is titled with the preset's name
    assert "mine (mine.json)" in out
    # standard: 3 calls of 1 row; batched: 2 calls (2 + 1 rows); 3 completions x 6 tokens each
    assert "3 completions per round" in out and "up to 36 new tokens" in out
    assert not paths.output_dir.exists()


def test_sweep_a_key_over_values_writes_a_sweep_block_listed_as_a_sweep(paths):
    keys = [k for k in InferenceConfig.model_fields if k != "output_dir"]  # the key list the sweep step offers
    code, out = drive(pick(CUSTOM) + ENTER + CTRL_C  # defaults, skip the steps to the review
                      + pick(4) + pick(keys.index("batch_size"))  # review: sweep a key -> batch_size
                      + typed("[0]") + typed("[1, 2, 4]")  # 0 is refused by the mode's config class, kept on screen
                      + pick(1) + typed("swept"), paths)  # review (now showing the plan): save only
    assert code == 0
    saved = json.loads((paths.configs_dir / "swept.json").read_text())
    assert saved["sweep"] == {"grid": {"batch_size": [1, 2, 4]}}
    assert "3 points = 3 batch_size x 1 repeat" in out and "batch_size=4" in out
    [found], problems = configs_of_kind(paths.configs_dir, "methods")  # validated without its block, kept apart
    assert problems == [] and found.sweep == {"grid": {"batch_size": [1, 2, 4]}} and found.config.batch_size == 4
    # The preset list offers it as a sweep and previews its plan; declined, nothing runs.
    code, out = drive(pick(PRESET) + ENTER + "n", paths)
    assert code == 0 and "sweep: 3 points = 3 batch_size x 1 repeat, each in its own process" in out
    assert not paths.output_dir.exists()


def test_a_sweep_preset_runs_as_a_sweep_from_the_menu(paths, tiny_kit):
    sweep = {**TINY_PRESET, "methods_to_test": ["batched"], "num_completions": 1, "device": "cpu",
             "sweep": {"grid": {"batch_size": [2]}}}
    (paths.configs_dir / "tiny-sweep.json").write_text(json.dumps(sweep))
    code, out = drive(pick(PRESET) + ENTER + ENTER, paths)
    assert code == 0
    [folder] = list(paths.output_dir.iterdir())
    [entry] = json.loads((folder / "index.json").read_text())["points"]
    assert entry["status"] == "ok" and (folder / entry["run_dir"] / "summary.json").is_file()
    assert (folder / "report.html").is_file() and "[1/1] batch_size=2 ok" in out and "report:" in out


# --- running ------------------------------------------------------------------------------------------


def test_run_a_preset_from_the_menu_on_the_tiny_kit(paths, tiny_kit):
    (paths.configs_dir / "tiny.json").write_text(json.dumps(TINY_PRESET))
    lora_like = {"main_model": "demo", "adapter": "demo-lora", "test_file": "demo-task"}
    (paths.configs_dir / "lora_like.json").write_text(json.dumps(lora_like))
    code, out = drive(pick(PRESET) + ENTER + ENTER, paths)
    assert code == 0
    [folder] = list(paths.output_dir.iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert [m["method"] for m in summary["methods"]] == ["standard", "batched"]
    assert {"report.html", "summary.csv"} <= {p.name for p in folder.iterdir()}
    assert "tok/s" in out and f"results: {folder}" in out and "report.html" in out
    assert "lora_like" not in out  # another mode's config is not a comparator preset


def test_ctrl_c_during_a_run_keeps_the_folder_and_returns_to_the_menu(paths, monkeypatch):
    from inference_lab.core.context import Prepared
    from inference_lab.modes.methods import runner

    (paths.configs_dir / "tiny.json").write_text(json.dumps(TINY_PRESET))

    def interrupted_run(prepared, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "prepare", lambda config, log: Prepared())
    monkeypatch.setattr(runner, "run", interrupted_run)
    code, out = drive(pick(PRESET) + ENTER + ENTER + pick(QUIT), paths)
    assert code == 0
    [kept] = list(paths.output_dir.iterdir())
    assert f"interrupted: finished work and its summary kept in {kept}" in out
    assert f"inference-lab methods --resume {kept}" in out
    assert json.loads((kept / "summary.json").read_text())["status"] == "interrupted"
    assert out.rstrip().endswith("bye")


# --- Ctrl-C at prompts --------------------------------------------------------------------------------


def test_ctrl_c_at_the_main_menu_exits_cleanly(paths):
    code, out = drive(CTRL_C, paths)
    assert code == 0 and out.rstrip().endswith("bye")


def test_ctrl_c_landing_between_two_prompts_also_means_back(paths, monkeypatch):
    """Between prompts the terminal is not raw, so Ctrl-C is a SIGINT wherever Python happens to be."""
    import questionary

    real_select = questionary.select
    calls = []

    def select_interrupted_while_building(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:  # the preset list: interrupted before it is shown
            raise KeyboardInterrupt
        return real_select(*args, **kwargs)

    monkeypatch.setattr(questionary, "select", select_interrupted_while_building)
    (paths.configs_dir / "tiny.json").write_text(json.dumps(TINY_PRESET))
    code, out = drive(pick(PRESET) + pick(QUIT), paths)
    assert code == 0 and calls == ["What would you like to do?", "Which preset?", "What would you like to do?"]
    assert "back to the main menu" in out and out.endswith("bye")


def test_ctrl_c_in_the_builder_goes_back_one_level_at_a_time(paths):
    # Ctrl-C at the model step skips to the review; Ctrl-C at the review goes back to the main menu.
    code, out = drive(pick(CUSTOM) + ENTER + CTRL_C + CTRL_C + pick(QUIT), paths)
    assert code == 0
    assert "remaining steps skipped" in out
    assert out.index("remaining steps skipped") < out.index("back to the main menu") < out.index("bye")
    assert list(paths.configs_dir.iterdir()) == []


def test_ctrl_c_while_adding_a_prompt_returns_to_the_prompt_list(paths):
    keys = (pick(CUSTOM) + ENTER + ENTER + ENTER  # defaults, demo, demo-assistant
            + pick(1) + "half typed" + CTRL_C  # add a prompt, then abandon it
            + ENTER  # done with prompts
            + CTRL_C  # skip to the review
            + pick(1) + typed("two"))  # save
    code, _out = drive(keys, paths)
    assert code == 0
    assert json.loads((paths.configs_dir / "two.json").read_text())["prompts"] == InferenceConfig().prompts


# --- browsing and comparing ---------------------------------------------------------------------------


def test_compare_two_runs_side_by_side_with_a_chosen_baseline(two_runs, paths):
    paths = MenuPaths(configs_dir=paths.configs_dir, output_dir=two_runs)
    # Browse -> compare -> tick both runs -> baseline = the second listed (the first run, listed older) -> back
    keys = pick(BROWSE) + pick(1) + SPACE + DOWN + SPACE + ENTER + pick(1) + pick(BROWSE_BACK) + pick(QUIT)
    code, out = drive(keys, paths)
    assert code == 0
    names = sorted(p.name for p in two_runs.iterdir())
    assert "2 methods runs compared (baseline: " + names[0] in out
    assert "x2.00" in out and "x1.00" in out  # the doubled copy against its original
    assert all(name[:16] in out for name in names)


def test_open_one_run_shows_its_table(two_runs, paths):
    paths = MenuPaths(configs_dir=paths.configs_dir, output_dir=two_runs)
    code, out = drive(pick(BROWSE) + pick(0) + pick(1) + pick(BROWSE_BACK) + pick(QUIT), paths)
    assert code == 0
    assert "p50" in out and "tok/s" in out and "batched" in out and "results:" in out


def test_an_interrupted_run_is_continued_in_its_own_folder(two_runs, tmp_path, paths):
    results = tmp_path / "resumable"
    [original] = [p for p in two_runs.iterdir() if p.name.endswith("first")]
    folder = results / original.name.replace("first", "cut")
    shutil.copytree(original, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(status="interrupted", run_id=folder.name)
    summary["methods"][0].update(status="interrupted", reason="stopped: finished rounds kept")
    (folder / "summary.json").write_text(json.dumps(summary))
    paths = MenuPaths(configs_dir=paths.configs_dir, output_dir=results)
    code, out = drive(pick(BROWSE) + pick(RESUME) + ENTER + pick(BROWSE_BACK) + pick(QUIT), paths)
    assert code == 0
    assert list(results.iterdir()) == [folder]  # no new folder: the same run, continued
    resumed = json.loads((folder / "summary.json").read_text())
    assert resumed["status"] == "complete" and resumed["methods"][0]["status"] == "ok"
    assert f"results: {folder}" in out


def test_browse_without_runs_says_so(paths):
    code, out = drive(pick(BROWSE) + pick(QUIT), paths)
    assert code == 0 and "No runs in" in out


# --- other modes --------------------------------------------------------------------------------------


def test_the_menu_offers_every_mode_of_the_table():
    from inference_lab.menu.app import ENTRIES

    titles = [entry.title for entry in ENTRIES]
    assert titles[LORA:MCQ + 1] == [info.title for info in OTHER_MODES]
    assert [info.name for info in OTHER_MODES] == ["lora", "peft-bench", "mcq"]  # the positions the tests use
    assert set(MODES) == {"methods", *(info.name for info in OTHER_MODES)}


def test_a_mode_runs_through_the_session_with_the_config_picked_and_previewed(paths, monkeypatch, tiny_kit):
    lora = {"main_model": "demo", "adapter": "demo-lora", "inference": {"chunk_size": 8}}
    for name in ("b.json", "lora_chunked.json", "a.json"):
        (paths.configs_dir / name).write_text(json.dumps(lora))
    calls = []

    def fake_execute(info, config, *, label, progress=None, log=None, resume=None):
        calls.append((info.name, label, config.inference.chunk_size, config.output_dir))
        return session.Outcome(paths.output_dir, {"run_id": "x", "status": "complete", "mode": "lora"}, 0, "complete")

    monkeypatch.setattr(session, "execute", fake_execute)
    buffer = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(ENTER + "y")  # the default config comes first; confirm
        ui = UI(console=Console(file=buffer, width=120), input=pipe, output=DummyOutput())
        run_mode(ui, paths, MODES["lora"])
    assert calls == [("lora", "lora_chunked", 8, str(paths.output_dir))]
    text = buffer.getvalue()
    assert "What will run" in text and "24" in text  # the preview: the tiny kit's 24 samples


# --- pure parts ---------------------------------------------------------------------------------------


def test_preview_follows_the_guide_batching():
    config = InferenceConfig(prompts=["a", "b", "c"], num_completions=[3, 2, 3], batch_size=4, max_new_tokens=10,
                             warmup_runs=1, num_runs=2, assistant_model=None, use_speculative_decoding=True,
                             methods_to_test=["standard", "batched", "beam_search"])
    previews = {p.name: p for p in method_previews(config)}
    assert (previews["batched"].rows_per_call, previews["batched"].calls_per_run) == (4, 2)
    assert previews["batched"].max_new_tokens == (8 * 2 + 4 * 1) * 10
    assert (previews["standard"].calls_per_run, previews["beam_search"].calls_per_run) == (8, 3)
    assert previews["batched_speculative"].rows_per_call is None
    assert "no assistant_model" in previews["batched_speculative"].notes[0]
    assert total_tokens(list(previews.values())) == sum(p.max_new_tokens for p in previews.values())


def test_answers_are_checked_by_the_config_model():
    data = InferenceConfig().model_dump(mode="json")
    assert "between 1 and 65536" in problem(data, "batch_size", "0")
    assert "unknown method 'greedy'" in problem(data, "methods_to_test", ["greedy"])
    assert problem(data, "top_p", "0.5") is None and coerce(data, "top_p", "0.5") == 0.5
    assert problem(data, "num_completions", [1, 2]) is None
    assert "3 entries" in problem(data, "num_completions", [1, 2, 3])


def test_a_current_value_outside_the_listed_choices_is_kept_by_enter():
    from inference_lab.menu.fields import ask_field

    data = InferenceConfig(device="cpu", use_quantization=True).model_dump(mode="json")
    data["device"] = "cuda:1"  # valid for the model, not one of the listed choices
    with create_pipe_input() as pipe:
        pipe.send_text(ENTER + ENTER)
        ui = UI(console=Console(file=io.StringIO()), input=pipe, output=DummyOutput())
        data = ask_field(ui, ask_field(ui, data, "device"), "use_quantization")
    assert (data["device"], data["use_quantization"]) == ("cuda:1", True)


def test_configs_of_the_wrong_kind_are_left_out_and_broken_ones_reported(tmp_path):
    (tmp_path / "good.yaml").write_text("main_model: demo\nmax_new_tokens: 8\n")
    (tmp_path / "typo.json").write_text(json.dumps({"main_model": "demo", "max_new_tokens": 8, "prompts": ["x"],
                                                    "batch_size": 2, "num_runs": 1, "top_p": 0.9, "seed": 1,
                                                    "btach_size": 2}))
    (tmp_path / "lora.json").write_text(json.dumps({"base_model": "demo", "adapter": "demo-lora"}))
    found, problems = configs_of_kind(tmp_path, "methods")
    assert [f.name for f in found] == ["good"]
    assert len(problems) == 1 and "unknown key 'btach_size'; did you mean 'batch_size'?" in problems[0]


def test_without_a_terminal_the_menu_explains_the_headless_commands():
    out = subprocess.run([sys.executable, "run_experiments.py"], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert out.returncode == 2
    assert "needs a terminal" in out.stderr and "inference-lab MODE [CONFIG]" in out.stderr
    assert "(modes: methods, also as run; lora; peft-bench; mcq)" in out.stderr  # from the table of modes
    assert "Traceback" not in out.stderr
