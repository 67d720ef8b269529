"""LoRA-vs-base on the tiny demo kit: equal outputs across modes, pure base, warm-up, resume, bad inputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inference_lab import session
from inference_lab.cli import main as cli_main
from inference_lab.core.config import validate_config
from inference_lab.core.errors import UserError
from inference_lab.core.rundir import load_summary
from inference_lab.modes import MODES
from inference_lab.modes.lora.config import LoraConfig, PromptSection
from inference_lab.modes.lora.data import SampleFile, chunked, read_samples
from inference_lab.modes.lora.metrics import disagreements, score
from inference_lab.modes.lora.prompts import PromptFormatter
from inference_lab.modes.lora.results import OUTPUT_FIELDS

REPO = Path(__file__).resolve().parent.parent
BASE, LORA = "base", "lora"


def config_for(out_dir: Path, test_file: str = "demo-tiny-task", **inference) -> LoraConfig:
    return LoraConfig.model_validate({
        "main_model": "demo-tiny", "adapter": "demo-tiny-lora", "output_dir": str(out_dir),
        "inference": {"test_file": test_file, "batch_size": 4, "chunk_size": 8, **inference},
        "generation": {"max_new_tokens": 6},
    })


def run_folder(parent: Path, resume: Path | None = None, **inference) -> Path:
    outcome = session.execute(MODES["lora"], config_for(parent, **inference), label="test", resume=resume)
    assert outcome.exit_code == 0, outcome.error
    return outcome.folder


def run(parent: Path, **inference) -> dict:
    return load_summary(run_folder(parent, **inference))


def lines(folder: Path, model: str) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if row["model"] == model]


def outputs(folder: Path, model: str) -> dict[str, tuple]:
    """id -> what the model answered (no timing); asserts each id appears once."""
    rows = lines(folder, model)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), f"duplicate ids for {model}"
    return {row["id"]: tuple(row[f] for f in OUTPUT_FIELDS) for row in rows}


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


def synthetic_task(path: Path, n: int, seed: int = 7) -> Path:
    from inference_lab.demo_kit.corpus import task_example

    rng = random.Random(seed)
    path.write_text("".join(json.dumps({"id": f"syn-{i:05d}", **task_example(rng)}) + "\n" for i in range(n)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def chunked_run(tiny_kit, tmp_path_factory) -> Path:
    """24 samples, chunks of 8, batches of 4: the documents' way (adapter loaded and unloaded per chunk)."""
    return run_folder(tmp_path_factory.mktemp("lora"))


# --- modes give the same answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", [
    {"chunk_size": None},                                    # full mode
    {"chunk_size": 5},                                       # chunks that cut batches differently
    {"strategy": "mixed"},                                   # base and LoRA rows in one generate()
    {"use_peft_directly": False},                            # merged into a copy of the base
    {"keep_adapter_loaded": True},                           # base under disable_adapter()
], ids=["full", "chunk5", "mixed", "merged", "adapter-kept"])
def test_every_mode_gives_the_chunked_outputs(chunked_run, tmp_path, variant):
    folder = run_folder(tmp_path, **variant)
    assert load_summary(folder)["scored_samples"] == 24
    for model in (BASE, LORA):
        assert outputs(folder, model) == outputs(chunked_run, model)


def test_base_rows_come_from_a_never_adapted_model_in_every_chunk(chunked_run, tiny_main):
    from inference_lab.models.textgen import greedy_generate

    base = lines(chunked_run, BASE)
    lora = lines(chunked_run, LORA)
    assert {row["chunk"] for row in base} == {0, 1, 2}
    expected = greedy_generate(tiny_main.model, tiny_main.tokenizer, [row["prompt"] for row in base],
                               max_new_tokens=6, batch_size=4)
    assert [row["response"] for row in base] == expected
    later = [(b["response"], lo["response"]) for b, lo in zip(base, lora) if b["chunk"] > 0]
    assert sum(b != lo for b, lo in later) >= len(later) // 2  # so an adapter left on would have been caught


def test_lora_beats_base_and_report_matches_the_rows(chunked_run):
    report = json.loads((chunked_run / "summary.json").read_text())
    base, lora = report["metrics"]["base"], report["metrics"]["lora"]
    assert lora["accuracy"] > base["accuracy"]
    for model in (BASE, LORA):
        assert report["metrics"][model]["accuracy"] == sum(r["correct"] for r in lines(chunked_run, model)) / 24
    d = report["disagreements"]
    assert d["lora_improvements"] + d["regressions"] + d["both_wrong"] + d["both_right"] == 24
    assert report["metrics"]["difference"]["accuracy"] == pytest.approx(lora["accuracy"] - base["accuracy"])
    for stage in ("read", "load", "base", "adapter_load", "lora", "write", "adapter_unload"):
        assert report["stages"][stage]["calls"] >= 1 and report["stages"][stage]["peak_rss_bytes"] > 0
    assert report["stages"]["adapter_check"]["calls"] == 1  # attach, warm-up, detach before any file is touched
    assert report["stages"]["adapter_load"]["calls"] == report["stages"]["adapter_unload"]["calls"] == 3
    assert report["environment"]["packages"]["peft"] and report["config"]["inference"]["chunk_size"] == 8
    assert report["mode"] == "lora" and report["status"] == "complete" and report["inputs"]["test_file"]["sha256"]
    # speed: new tokens/s per generate call for each model, and the adapter against the base with its interval
    timing = report["timing"]
    for model in (BASE, LORA):
        calls = {(r["chunk"], r["batch_seconds"]) for r in lines(chunked_run, model)}
        assert timing[model]["tokens_per_s_per_call"]["n"] == len(calls) > 1
    change = timing["lora_vs_base_tokens_per_s"]
    ratio = timing[LORA]["tokens_per_s_per_call"]["median"] / timing[BASE]["tokens_per_s_per_call"]["median"]
    assert change["estimate"] == pytest.approx((ratio - 1) * 100)
    assert change["ci_low"] < change["ci_high"] and change["n_a"] == timing[LORA]["tokens_per_s_per_call"]["n"]
    html = (chunked_run / "report.html").read_text()
    assert "Where base and LoRA disagree" in html and "improvement" in html
    assert (chunked_run / "summary.csv").read_text().startswith("run_id,mode,model")


# --- resume ------------------------------------------------------------------------------------------------------

def test_resume_after_sigkill_mid_chunk_gives_the_uninterrupted_result(tiny_kit, tmp_path):
    test_file = synthetic_task(tmp_path / "task.jsonl", 32)
    config = {"base_model": "demo-tiny", "adapter": "demo-tiny-lora",
              "inference": {"test_file": str(test_file), "batch_size": 4, "chunk_size": 4},
              "generation": {"max_new_tokens": 6}}
    config_file = tmp_path / "lora.json"
    config_file.write_text(json.dumps(config))
    parent = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "inference_lab", "lora", str(config_file), "--output", str(parent),
                             "--quiet"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None:
            found = list(parent.glob("*/results.jsonl"))  # chunk 1's 8 rows on disk: chunk 2 is under way
            if found and found[0].read_bytes().count(b"\n") >= 8:
                proc.send_signal(signal.SIGKILL)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.01)  # the poll interval
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    [killed] = [p.parent for p in parent.glob("*/run.json")]
    assert (killed / "results.jsonl").read_bytes().count(b"\n") < 64  # the kill left work to do
    assert load_summary(killed)["status"] == "interrupted"  # "running" in its header, but nobody holds it

    assert cli_main(["lora", "--resume", str(killed), "--quiet"]) == 0
    reference = run_folder(tmp_path / "reference", test_file=str(test_file), chunk_size=4)
    for model in (BASE, LORA):
        resumed = outputs(killed, model)
        assert len(resumed) == 32 and len(lines(killed, model)) == 32
        assert resumed == outputs(reference, model)
    report = load_summary(killed)
    assert report["scored_samples"] == 32 and report["resume"]["done_before"] >= 4
    assert report["processed_this_run"] == 32 - report["resume"]["done_before"]


def _half_line(folder: Path, removed: list[str]) -> None:
    with (folder / "results.jsonl").open("a") as f:
        f.write(removed[0][: len(removed[0]) // 2])


def _whole_row_without_newline(folder: Path, removed: list[str]) -> None:
    row = json.loads(removed[8])  # the first LoRA row of the lost chunk
    row["response"] = "TORN"
    with (folder / "results.jsonl").open("a") as f:
        f.write(json.dumps(row))


def _base_rows_without_lora_rows(folder: Path, removed: list[str]) -> None:
    with (folder / "results.jsonl").open("a") as f:
        f.write("\n".join(removed[:8]) + "\n")


@pytest.mark.parametrize("damage", [_half_line, _whole_row_without_newline, _base_rows_without_lora_rows],
                         ids=["half-line", "row-without-newline", "unpaired-rows"])
def test_torn_or_unpaired_tail_is_redone_not_parsed(chunked_run, tmp_path, damage):
    folder = tmp_path / chunked_run.name
    shutil.copytree(chunked_run, folder)
    text = (folder / "results.jsonl").read_text().splitlines()
    kept, removed = text[:32], text[32:]  # chunk 3 (8 base + 8 LoRA rows) is "lost"
    (folder / "results.jsonl").write_text("\n".join(kept) + "\n")
    damage(folder, removed)
    report = load_summary(run_folder(tmp_path, resume=folder))
    assert report["processed_this_run"] == 8 and report["resume"]["done_before"] == 16
    for model in (BASE, LORA):
        assert outputs(folder, model) == outputs(chunked_run, model)
    assert (folder / "results.jsonl").read_text().endswith("\n")
    assert all(row["response"] != "TORN" for row in lines(folder, LORA))
    if damage is _base_rows_without_lora_rows:
        assert report["resume"]["dropped_rows"] == 8
    else:
        assert report["resume"]["torn_tail_cut"] is True


# --- bad input: one line, exit 2, earlier results untouched ------------------------------------------------------

def _adapter_without_config(tmp_path: Path, tiny_kit: Path) -> list[str]:
    folder = tmp_path / "not-an-adapter"
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes((tiny_kit / "lora" / "adapter_model.safetensors").read_bytes())
    return ["--set", f"adapter={folder}"]


def _malformed_test_file(tmp_path: Path, tiny_kit: Path) -> list[str]:
    rows = (tiny_kit / "data" / "task_test.jsonl").read_text().splitlines()
    rows[2] = rows[2][:-5]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(rows) + "\n")
    return ["--set", f"inference.test_file={bad}"]


BAD_INPUTS = {
    "missing-test-file": (lambda tmp, kit: ["--set", f"inference.test_file={tmp / 'nope.jsonl'}"],
                          ["inference.test_file", "nope.jsonl", "not found"]),
    "malformed-line": (_malformed_test_file, ["bad.jsonl:3:", "malformed JSON"]),
    "no-adapter-config": (_adapter_without_config, ["adapter", "adapter_config.json"]),
    "other-architecture": (lambda tmp, kit: ["--set", "main_model=demo-tiny-assistant"],
                           ["does not fit base model 'demo-tiny-assistant'", "size mismatch"]),
    "other-settings": (lambda tmp, kit: ["--set", "generation.max_new_tokens=9"],
                       ["another config", "generation.max_new_tokens", "6 in the run, 9 now"]),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_keeps_results(chunked_run, tiny_kit, tmp_path, capsys, case):
    config_file = tmp_path / "lora.json"
    config_file.write_text(config_for(chunked_run.parent).model_dump_json())
    before = folder_digest(chunked_run.parent)
    make_args, expected = BAD_INPUTS[case]
    capsys.readouterr()
    # --output naming the finished run folder: the given config must match it (else one line says what differs)
    code = cli_main(["lora", str(config_file), "--quiet", "--output", str(chunked_run), *make_args(tmp_path, tiny_kit)])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("notice: ")]
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    for fragment in expected:
        assert fragment in err[0]
    assert folder_digest(chunked_run.parent) == before  # nothing added, nothing changed


def test_config_rejects_mixed_with_merged_weights():
    with pytest.raises(UserError, match="strategy 'mixed' needs inference.use_peft_directly"):
        validate_config(LoraConfig, {"inference": {"strategy": "mixed", "use_peft_directly": False}})
    with pytest.raises(UserError, match="unknown key 'inference.chunk_sise'; did you mean 'chunk_size'"):
        validate_config(LoraConfig, {"inference": {"chunk_sise": 3}})


def test_old_key_spelling_works_with_a_notice(capsys):
    config = validate_config(LoraConfig, {"base_model": "demo-tiny"}, "old.json")
    assert config.main_model == "demo-tiny"
    assert "old.json: key 'base_model' is now 'main_model'" in capsys.readouterr().err


def test_preset_configs_validate():
    from inference_lab.core.config import load_config

    chunked = load_config(LoraConfig, REPO / "configs" / "lora_chunked.json")
    full = load_config(LoraConfig, REPO / "configs" / "lora_full.yaml")
    assert chunked.inference.chunk_size and full.inference.chunk_size is None


# --- pure parts ----------------------------------------------------------------------------------------------------

def test_scores_and_disagreements_by_hand():
    gold = ["positive", "positive", "negative", "negative"]
    base = ["positive", None, "positive", "negative"]
    lora = ["positive", "positive", "negative", "positive"]
    s = score(gold, base, ["positive", "negative"])
    assert s.accuracy == 0.5 and s.unparsed == 1
    assert s.per_label["positive"].precision == 0.5 and s.per_label["positive"].recall == 0.5
    assert s.per_label["negative"].precision == 1.0 and s.per_label["negative"].recall == 0.5
    assert s.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    d = disagreements(["a", "b", "c", "d"], gold, base, lora)
    assert (d.lora_improvements, d.regressions, d.both_right, d.both_wrong) == (2, 1, 1, 0)
    assert d.improvement_ids == ["b", "c"] and d.regression_ids == ["d"] and d.changed_predictions == 3


def test_reading_samples(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": 1, "prompt": "a", "label": "Positive"}\n\n{"prompt": "b", "label": "negative"}\n')
    samples = read_samples(path, labels=["positive", "negative"])
    assert [(s.id, s.label, s.line) for s in samples] == [("1", "positive", 1), ("line-3", "negative", 3)]
    assert [len(c) for c in chunked(samples * 3, 4)] == [4, 2]
    assert [[s.id for s in c] for c in SampleFile(path, max_samples=1).chunks(None)] == [["1"]]
    path.write_text('{"id": 1, "prompt": "a", "label": "positive"}\n{"id": 1, "prompt": "b", "label": "negative"}\n')
    with pytest.raises(UserError, match=r"t.jsonl:2: duplicate id '1' \(first at line 1\)"):
        read_samples(path)
    path.write_text('{"id": 1, "prompt": "a", "label": "maybe"}\n')
    with pytest.raises(UserError, match=r"t.jsonl:1: label 'maybe'"):
        read_samples(path, labels=["positive", "negative"])


def test_prompt_template_names_missing_field_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"prompt": "a", "label": "positive"}\n')
    sample = read_samples(path)[0]
    assert PromptFormatter(PromptSection(template="Q: {prompt}\nA:"), tokenizer=None)(sample) == "Q: a\nA:"
    with pytest.raises(UserError, match=r"field 'text' is not in the test row at line 1"):
        PromptFormatter(PromptSection(template="{text}"), tokenizer=None)(sample)
