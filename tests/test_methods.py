"""The methods mode on the tiny demo kit: equal greedy outputs across methods, interleaved rounds, speculative
variants, beam accounting, result files, Ctrl-C and resume, out-of-memory, cache implementations."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from inference_lab import session
from inference_lab.core.errors import UserError
from inference_lab.core.rundir import load_summary
from inference_lab.core.storage import read_jsonl
from inference_lab.models.loading import load_model
from inference_lab.models.textgen import trim_generated
from inference_lab.modes import MODES
from inference_lab.modes.methods import runner
from inference_lab.modes.methods.config import MethodsConfig

from .conftest import REPO

PROMPTS = ["generate short bed time story containing word elephant and cake",
           "generate short bed time story containing word dog and sausage",
           "Once upon a time"]


@pytest.fixture(scope="module")
def assistant(tiny_kit):
    return load_model("demo-tiny-assistant", MethodsConfig())


def run(tmp_path, tiny_main, assistant=None, resume=None, **overrides):
    settings = {"main_model": "demo-tiny", "assistant_model": "demo-tiny-assistant", "prompts": PROMPTS,
                "num_completions": [2, 1, 3], "batch_size": 4, "max_new_tokens": 12, "temperature": 0.0,
                "warmup_runs": 0, "num_runs": 1, "output_dir": str(tmp_path)}
    config = MethodsConfig(**{**settings, **overrides})
    if assistant is None and config.use_speculative_decoding:
        config = config.model_copy(update={"assistant_model": None})
    prepared = runner.prepare(config, main=tiny_main, assistant=assistant)
    outcome = session.execute(MODES["methods"], config, label="test", prepared=prepared, resume=resume)
    return outcome.summary, outcome.folder


def batch_records(folder) -> list[dict]:
    return [r for r in read_jsonl(folder / "results.jsonl")[0] if r["kind"] == "batch"]


def texts_by_item(folder, method):
    out = {}
    for record in batch_records(folder):
        if record["method"] == method:
            for p, c, text in zip(record["prompt_indices"], record["completion_indices"], record["texts"]):
                out[(p, c)] = text
    return out


def methods(summary):
    return {m["method"]: m for m in summary["methods"]}


def test_batched_greedy_equals_one_at_a_time(tmp_path, tiny_main):
    summary, folder = run(tmp_path, tiny_main, methods_to_test=["standard", "batched"])
    assert summary["status"] == "complete"
    single, batched = texts_by_item(folder, "standard"), texts_by_item(folder, "batched")
    assert len(single) == 6 and single == batched
    assert methods(summary)["batched"]["effective_batch_size"] == 4
    assert methods(summary)["batched"]["batches_per_run"] == 2  # [p1 p1 p2 p3], [p3 p3]
    assert summary["mode"] == "methods" and summary["work"]["interleaved"] is True


def test_speculative_greedy_equals_plain_greedy(tmp_path, tiny_main, assistant):
    summary, folder = run(tmp_path, tiny_main, assistant, methods_to_test=["standard"],
                          use_speculative_decoding=True, prompt_lookup_num_tokens=3)
    by_name = methods(summary)
    assert {"standard", "standard_speculative", "standard_prompt_lookup"} <= set(by_name)
    plain = texts_by_item(folder, "standard")
    assert texts_by_item(folder, "standard_speculative") == plain
    assert texts_by_item(folder, "standard_prompt_lookup") == plain
    spec = by_name["standard_speculative"]
    assert spec["status"] == "ok" and 0.0 <= spec["acceptance_rate"] <= 1.0
    assert by_name["standard"]["acceptance_rate"] is None


def test_beam_search_returns_distinct_completions(tmp_path, tiny_main):
    summary, folder = run(tmp_path, tiny_main, methods_to_test=["beam_search"])
    texts = texts_by_item(folder, "beam_search")
    assert len(texts) == 6
    for prompt_index, count in enumerate([2, 1, 3]):
        mine = [texts[(prompt_index, c)] for c in range(count)]
        assert len(set(mine)) == count
    beam = methods(summary)["beam_search"]
    assert beam["batches_per_run"] == 3  # one call per prompt
    # ranked on returned completions; the beams decoded (3 for the 3-completion prompt, 2 for the others) are more
    for record in batch_records(folder):
        beams = max(2, record["rows"])
        assert record["generated_tokens"] == beams * record["steps"] >= record["completion_tokens"]
    assert beam["generated_tokens_per_s"]["median"] > beam["completion_tokens_per_s"]["median"]


def test_unsupported_combinations_record_their_reason(tmp_path, tiny_main, assistant):
    summary, _ = run(tmp_path, tiny_main, assistant, methods_to_test=["batched", "beam_search"],
                     use_speculative_decoding=True)
    by_name = methods(summary)
    assert by_name["beam_search_speculative"]["status"] == "skipped"
    assert "beam search" in by_name["beam_search_speculative"]["reason"]
    batched_spec = by_name["batched_speculative"]
    assert batched_spec["status"] == "ok" and batched_spec["effective_batch_size"] == 1
    assert any("one at a time" in note for note in batched_spec["notes"])


def test_missing_assistant_skips_speculative_with_reason(tmp_path, tiny_main):
    summary, _ = run(tmp_path, tiny_main, None, methods_to_test=["standard"], use_speculative_decoding=True)
    spec = methods(summary)["standard_speculative"]
    assert spec["status"] == "skipped" and "assistant model unavailable" in spec["reason"]
    assert methods(summary)["standard"]["status"] == "ok"


def test_offloaded_cache_on_cpu_is_a_clear_error(tmp_path, tiny_main):
    with pytest.raises(UserError, match="cache_implementation: 'offloaded' .* needs a CUDA device"):
        run(tmp_path, tiny_main, cache_implementation="offloaded")


def test_static_cache_gives_the_same_greedy_text(tmp_path, tiny_main):
    _, dynamic = run(tmp_path / "d", tiny_main, methods_to_test=["batched"])
    _, static = run(tmp_path / "s", tiny_main, methods_to_test=["batched"], cache_implementation="static")
    assert texts_by_item(dynamic, "batched") == texts_by_item(static, "batched")


def test_token_counts_exclude_padding_and_after_eos():
    eos, pad = 0, 1
    assert trim_generated([5, 6, 0, 1, 1], {eos}, pad) == [5, 6, 0]
    assert trim_generated([5, 6, 7], {eos}, pad) == [5, 6, 7]
    assert trim_generated([0, 5], {eos}, pad) == [0]
    assert trim_generated([5, 1, 1], {eos}, pad) == [5]


def test_records_count_only_real_new_tokens(tmp_path, tiny_main):
    summary, folder = run(tmp_path, tiny_main, methods_to_test=["batched"], max_new_tokens=40)
    tokenizer = tiny_main.tokenizer
    for record in batch_records(folder):
        assert record["completion_tokens"] == sum(record["new_tokens"])
        assert record["generated_tokens"] == record["rows"] * record["steps"] >= record["completion_tokens"]
        for text, count in zip(record["texts"], record["new_tokens"]):
            assert count <= 40
            # decoded text (special tokens dropped) re-encodes to at most the counted tokens
            assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= count
    assert methods(summary)["batched"]["completion_tokens_per_run"] == sum(
        r["completion_tokens"] for r in batch_records(folder))


def test_result_files_round_trip(tmp_path, tiny_main):
    summary, folder = run(tmp_path, tiny_main, methods_to_test=["standard", "nucleus_sampling"], num_runs=2)
    reloaded = load_summary(folder)
    assert reloaded["methods"] == json.loads(json.dumps(summary["methods"]))
    assert json.loads((folder / "config.json").read_text())["num_runs"] == 2
    records = batch_records(folder)
    assert len(records) == 2 * (6 + 2)  # standard: 6 batches of 1; nucleus: 2 batches of 4, twice
    # interleaved: round 0 of both methods before round 1 of either
    order = [(r["run"], r["method"]) for r in records]
    assert order.index((1, "standard")) > order.index((0, "nucleus_sampling"))
    env = reloaded["environment"]
    assert env["packages"]["torch"] and env["device"] == "cpu"
    assert reloaded["models"]["main"]["dtype"] == "float32"
    nucleus = methods(reloaded)["nucleus_sampling"]
    assert nucleus["generate_settings"]["top_p"] == 0.9 and nucleus["generate_settings"]["temperature"] == 0.8
    assert nucleus["latency_s"]["n"] == 4 and nucleus["run_seconds"]["n"] == 2
    assert nucleus["completion_tokens_per_s"]["ci_low"] <= nucleus["completion_tokens_per_s"]["median"]
    assert "nucleus_sampling" in (folder / "summary.md").read_text()
    header = json.loads((folder / "run.json").read_text())
    assert header["mode"] == "methods" and header["status"] == "complete" and len(header["config_hash"]) == 16
    assert header["environment"]["threads"]["intra_op"] >= 1 and header["environment"]["machine"]["load_average"]
    # energy is a CUDA figure: on CPU the summary says so once, and no method pretends to a figure
    assert reloaded["energy"]["available"] is False and "CUDA only" in reloaded["energy"]["reason"]
    assert all(m.get("energy") is None for m in reloaded["methods"])


def test_sigint_leaves_valid_files(tmp_path):
    config = tmp_path / "long.json"
    config.write_text(json.dumps({
        "main_model": "demo-tiny", "prompts": PROMPTS, "num_completions": 8, "batch_size": 2,
        "max_new_tokens": 24, "temperature": 0.0, "methods_to_test": ["standard", "batched"],
        "warmup_runs": 0, "num_runs": 2, "output_dir": str(tmp_path / "out")}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "inference_comparison.py", "--config", str(config), "--no-progress"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    results = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "out").glob("*/results.jsonl"))
        if found and found[0].read_text().count("\n") >= 3:
            results = found[0]
            break
        time.sleep(0.05)  # polling for the file, not waiting for a result
    assert results is not None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    summary = load_summary(results.parent)
    assert summary["status"] == "interrupted"
    rows = read_jsonl(results)[0]
    assert rows, "finished batches must be kept"
    done = methods(summary)
    assert done["standard"]["status"] == "interrupted"
    finished_rounds = {(r["method"], r["run"]) for r in rows if r["kind"] == "round"}
    kept = [r for r in rows if r["kind"] == "batch" and (r["method"], r["run"]) in finished_rounds]
    assert (done["standard"]["latency_s"] or {"n": 0})["n"] == len([r for r in kept if r["method"] == "standard"])

    # resume: a pass cut by the stop is measured again, finished passes are kept, the rest of the plan runs
    resumed = subprocess.run([sys.executable, "inference_comparison.py", "--resume", str(results.parent),
                              "--no-progress"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    final = load_summary(results.parent)
    assert final["status"] == "complete"
    assert [m["status"] for m in final["methods"]] == ["ok", "ok"]
    records = batch_records(results.parent)
    for method, per_run in (("standard", 24), ("batched", 12)):
        keys = [(r["run"], r["batch_index"]) for r in records if r["method"] == method]
        assert len(keys) == len(set(keys)) == 2 * per_run  # every batch of every round exactly once


def test_out_of_memory_fails_one_method_and_keeps_the_others(tmp_path, tiny_main, monkeypatch):
    original = runner.Measurer.measure

    def flaky(self, plan, items, run, index, seed):
        if plan.name == "batched":
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, plan, items, run, index, seed)

    monkeypatch.setattr(runner.Measurer, "measure", flaky)
    summary, folder = run(tmp_path, tiny_main, methods_to_test=["standard", "batched", "nucleus_sampling"],
                          warmup_runs=1)
    by_name = methods(summary)
    assert summary["status"] == "failed"
    assert by_name["batched"]["status"] == "failed"
    assert "out of memory at warm-up" in by_name["batched"]["reason"] and "batch_size" in by_name["batched"]["reason"]
    assert by_name["standard"]["status"] == by_name["nucleus_sampling"]["status"] == "ok"
    assert {r["method"] for r in batch_records(folder)} == {"standard", "nucleus_sampling"}


def test_resume_refuses_a_different_config(tmp_path, tiny_main):
    _, folder = run(tmp_path, tiny_main, methods_to_test=["standard"])
    with pytest.raises(UserError, match="another config .*'methods_to_test'"):
        run(tmp_path, tiny_main, resume=folder, methods_to_test=["batched"])


def test_cache_implementations_map_to_generate_kwargs_or_clear_errors(monkeypatch):
    import torch

    from inference_lab.models import timed as generation

    cpu = torch.device("cpu")
    assert generation.cache_kwargs("dynamic", cpu) == {}
    assert generation.cache_kwargs("static", cpu) == {"cache_implementation": "static"}
    with pytest.raises(UserError, match="offloaded_static"):
        generation.cache_kwargs("offloaded_static", cpu)
    monkeypatch.setattr(generation, "_installed", lambda module: False)
    with pytest.raises(UserError, match="'quantized' needs optimum-quanto or hqq"):
        generation.cache_kwargs("quantized", cpu)
    monkeypatch.setattr(generation, "_installed", lambda module: module == "hqq")
    assert generation.cache_kwargs("quantized", cpu)["cache_config"] == {"backend": "HQQ", "nbits": 4}
