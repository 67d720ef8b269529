"""The engine and adapters inside the methods mode: one config measures the in-process methods and a real
`transformers serve` on the same prompts, with token-exact agreement, request records, a server that is gone
afterwards, a server phase that resumes; adapters run as `<method>+<name>` on a base that stays pure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference_lab import session
from inference_lab.core.storage import read_jsonl
from inference_lab.engines.server import group_alive
from inference_lab.modes import MODES
from inference_lab.modes.methods.config import MethodsConfig

REPO = Path(__file__).resolve().parent.parent
BASE = {"main_model": "demo-tiny", "assistant_model": None, "temperature": 0.0, "max_new_tokens": 10,
        "num_completions": 1, "batch_size": 2, "methods_to_test": ["standard", "batched"], "warmup_runs": 1,
        "num_runs": 2, "num_threads": 1}


def served_config(tmp_path, **extra) -> MethodsConfig:
    return MethodsConfig(**{**BASE, "engine": "openai", "server": {"launch": "transformers"},
                            "load": {"concurrency": [1, 2], "warmup_requests": 1},
                            "output_dir": str(tmp_path / "runs"), **extra})


@pytest.fixture(scope="module")
def served_run(tiny_kit, tmp_path_factory):
    outcome = session.execute(MODES["methods"], served_config(tmp_path_factory.mktemp("served")), label="served")
    assert outcome.exit_code == 0, outcome.error
    return outcome


def test_one_config_measures_in_process_and_server_on_the_same_prompts(served_run):
    summary = served_run.summary
    engine = summary["engine"]
    assert engine["status"] == "complete" and engine["ready_s"] > 0
    assert [lv["concurrency"] for lv in engine["levels"]] == [1, 2]
    for level in engine["levels"]:
        agg = level["aggregate"]
        assert agg["completed"] == 2 and agg["ttft_s"]["n"] == 2 and agg["itl_s"]["n"] > 0
        assert agg["ttft_s"]["p99_ci"] is not None and agg["output_throughput"] > 0
    agreement = engine["agreement"]
    assert agreement["prompts"] == 2 and agreement["exact"] == 2  # the server says what generate() says
    requests = [r for r in read_jsonl(served_run.folder / "results.jsonl")[0] if r["kind"] == "request"]
    assert len(requests) == 4 and all(r["error"] is None and r["ttft_s"] > 0 for r in requests)
    assert {m["method"] for m in summary["methods"]} == {"standard", "batched"}
    assert (served_run.folder / engine["server_log"]).is_file()


def test_the_launched_server_is_gone_after_the_run(served_run):
    assert served_run.summary["engine"]["server_pid"] and not group_alive(served_run.summary["engine"]["server_pid"])


def test_report_and_terminal_show_both_engines_side_by_side(served_run):
    from inference_lab.modes.methods import display, engine_view

    rows = engine_view.rows(served_run.summary)
    assert [r[0] for r in rows] == ["in process · standard", "in process · batched", "transformers serve",
                                    "transformers serve"]
    assert any("2 of 2 prompts token-exact" in line for line in display.engine_lines(served_run.summary))
    html = (served_run.folder / "report.html").read_text()
    assert "Engines side by side" in html and "against concurrency" in html
    assert "Inter-token latency (every gap)" in html
    assert "Agreement with in-process greedy (temperature 0)" in html
    assert engine_view.agreement_rows(served_run.summary) == [
        [str(i), "yes", "-", str(row["reference_tokens"]), str(row["candidate_tokens"]), "-", "-"]
        for i, row in enumerate(served_run.summary["engine"]["agreement"]["rows"])]


def test_a_divergence_is_shown_where_it_happens(served_run):
    from inference_lab.modes.methods import engine_view

    summary = json.loads(json.dumps(served_run.summary))
    row = summary["engine"]["agreement"]["rows"][1]
    row.update(exact=False, first_divergence=3, reference_context="the cat sat", candidate_context="the cat ran")
    summary["engine"]["agreement"]["exact"] = 1
    assert engine_view.agreement_rows(summary)[1] == ["1", "no", "3", str(row["reference_tokens"]),
                                                      str(row["candidate_tokens"]), "the cat sat", "the cat ran"]
    lines = engine_view.agreement_lines(summary)
    assert lines[0].startswith("agreement with in-process greedy (batch 1): 1 of 2 prompts token-exact")
    assert lines[1].startswith("  prompt 1: differs at token 3") and "'the cat sat' vs server 'the cat ran'" in lines[1]


def test_served_levels_are_headline_items_for_compare_and_sweeps(served_run):
    from inference_lab.modes.methods.report import headline

    items = headline(served_run.summary)
    # two loads of one traffic mix in one run: one item per load; the in-process methods as before
    assert set(items) == {"standard", "batched", "transformers serve · base · c1", "transformers serve · base · c2"}
    level = served_run.summary["engine"]["levels"][0]["aggregate"]
    served = items["transformers serve · base · c1"]
    assert served["completion_tokens_per_s"]["samples"] == [level["output_throughput"]]
    assert served["latency_s"]["samples"] == [level["e2el_s"]["median"]]
    single = json.loads(json.dumps(served_run.summary))
    single["engine"]["levels"] = single["engine"]["levels"][:1]  # a sweep point over the load: one name, one curve
    assert "transformers serve · base" in headline(single)


def test_an_unfinished_server_phase_is_measured_again_on_resume(served_run, tmp_path):
    import shutil

    folder = tmp_path / served_run.folder.name
    shutil.copytree(served_run.folder, folder)
    rows = read_jsonl(folder / "results.jsonl")[0]
    # as if killed after the first level: no engine record, two of four request records written
    kept = [r for r in rows if r["kind"] not in {"engine", "request"}] + [r for r in rows if r["kind"] == "request"][:2]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    summary = json.loads((folder / "summary.json").read_text())
    summary["status"] = "interrupted"
    (folder / "summary.json").write_text(json.dumps(summary))
    outcome = session.execute(MODES["methods"], served_config(tmp_path), label="served", resume=folder)
    assert outcome.exit_code == 0, outcome.error
    rows = read_jsonl(folder / "results.jsonl")[0]
    assert sum(r["kind"] == "request" for r in rows) == 4  # the partial level was dropped, not doubled
    assert sum(r["kind"] == "engine" for r in rows) == 1
    assert sum(r["kind"] == "batch" for r in rows) == sum(r["kind"] == "batch" for r in kept)  # rounds kept


def test_unreachable_server_is_one_line_and_exit_2_before_any_measurement(tiny_kit, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({**BASE, "engine": "openai", "server": {"base_url": "http://127.0.0.1:9"}}))
    done = subprocess.run([sys.executable, "-m", "inference_lab", "methods", str(config), "--output",
                           str(tmp_path / "out"), "--quiet", "--yes"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "server.base_url: http://127.0.0.1:9 does not answer" in lines[0]
    assert not list((tmp_path / "out").glob("*/results.jsonl"))  # nothing measured, nothing half-written


@pytest.mark.parametrize("bad, message", [
    ({"server": {"launch": "vllm"}}, "server: only used with engine: openai"),
    ({"engine": "openai"}, "engine: 'openai' needs server"),
    ({"engine": "openai", "server": {"launch": "transformers"}, "weights": "random",
      "workload": {"prompt_tokens": 4, "new_tokens": 2}}, "weights: random exists only in process"),
    ({"adapter": "demo-tiny-lora", "adapters": {"a": "demo-tiny-lora"}}, "not both"),
    ({"adapters": {"base": "demo-tiny-lora"}}, "adapter name 'base'"),
    ({"engine": "openai", "server": {"launch": "transformers"}, "adapter": {"r": 4}},
     "a random adapter exists only in process"),
])
def test_engine_and_adapter_settings_are_checked(bad, message):
    with pytest.raises(ValueError, match=message):
        MethodsConfig(**{**BASE, **bad})


def test_adapters_run_as_their_own_rows_on_a_base_that_stays_pure(tiny_kit, tmp_path):
    from inference_lab.models.loading import load_model

    config = MethodsConfig(**{**BASE, "adapter": "demo-tiny-lora", "output_dir": str(tmp_path / "runs")})
    main = load_model("demo-tiny", config)
    before = {k: v.clone() for k, v in main.model.state_dict().items()}
    prep = MODES["methods"].module("runner").prepare(config, main=main)
    outcome = session.execute(MODES["methods"], config, label="adapters", prepared=prep)
    assert outcome.exit_code == 0, outcome.error
    by_name = {m["method"]: m for m in outcome.summary["methods"]}
    assert set(by_name) == {"standard", "batched", "standard+demo-tiny-lora", "batched+demo-tiny-lora"}
    assert by_name["standard"]["sample_output"] != by_name["standard+demo-tiny-lora"]["sample_output"]
    assert outcome.summary["adapters"]["demo-tiny-lora"]["adapter_params"] > 0
    after = main.model.state_dict()
    assert set(after) == set(before) and all((after[k] == before[k]).all() for k in before)  # no LoRA left behind


def test_a_missing_adapter_is_bad_input_before_loading(tiny_kit, tmp_path):
    config = MethodsConfig(**{**BASE, "adapters": {"mine": str(tmp_path / "nowhere")}})
    from inference_lab.core.errors import UserError

    with pytest.raises(UserError, match="adapters.mine: path .* does not exist"):
        MODES["methods"].module("runner").prepare(config)


def test_a_launched_vllm_gets_a_max_model_len_from_the_work(tiny_main, tmp_path):
    """Not the model's whole context (vLLM's default), which its CPU build's KV-cache space cannot hold."""
    from types import SimpleNamespace

    from inference_lab.modes.methods.engine import server_settings

    prompts = ["Once upon a time there was a dog", "The cat"]
    prep = SimpleNamespace(main=tiny_main, prompts=prompts)
    longest = max(len(tiny_main.tokenizer(p)["input_ids"]) for p in prompts)
    cfg = MethodsConfig(**{**BASE, "prompts": prompts, "max_new_tokens": 300, "engine": "openai",
                           "server": {"launch": "vllm"}, "output_dir": str(tmp_path)})
    derived = server_settings(cfg, prep).max_model_len
    assert derived % 256 == 0 and longest + 300 + 64 <= derived < longest + 300 + 64 + 256
    given = MethodsConfig(**{**BASE, "engine": "openai", "server": {"launch": "vllm", "max_model_len": 4096},
                             "output_dir": str(tmp_path)})
    assert server_settings(given, prep).max_model_len == 4096  # the user's own wins
    other = MethodsConfig(**{**BASE, "engine": "openai", "server": {"launch": "transformers"},
                             "output_dir": str(tmp_path)})
    assert server_settings(other, prep).max_model_len is None  # only vLLM takes it
