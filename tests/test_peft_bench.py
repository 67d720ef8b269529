"""Adapter benchmark suite: params merging, experiment discovery, prompt fitting, base cache keys, overhead,
and whole runs on the tiny demo kit (a failing experiment saved as failed while the others continue)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from inference_lab import session
from inference_lab.core.errors import UserError
from inference_lab.modes import MODES
from inference_lab.modes.peft_bench import cache
from inference_lab.modes.peft_bench.config import (
    BenchmarkParams,
    PeftBenchConfig,
    check_overrides,
    load_params,
    merge_params,
)
from inference_lab.modes.peft_bench.experiments import discover
from inference_lab.modes.peft_bench.prompts import FittedPrompt, fit_prompt, load_prompts, select_prompts
from inference_lab.modes.peft_bench.results import overall_metrics, overhead_pct

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "experiments"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Small enough for 1 CPU thread: every category generates 3 tokens once, no warm-up.
FAST = {"max_new_tokens": 3, "num_inference_runs": 1, "warmup_runs": 0, "num_prompt_samples": 1}

# One non-default value per field: each must survive the merge (a new field must be added here).
NON_DEFAULT = {
    "model_id": "demo-tiny",
    "dtype": "bfloat16",
    "device": "cpu",
    "seed": 7,
    "max_new_tokens": {"short": 5, "medium": 6, "long": 7},
    "fixed_length": False,
    "num_inference_runs": 9,
    "warmup_runs": 3,
    "num_prompt_samples": 1,
    "max_prompt_tokens": 40,
    "prompts_file": "other.json",
    "use_4bit": True,
    "use_8bit": True,  # alone; with use_4bit it is an error (tested below)
    "paired_base": False,
    "adapter": "demo-lora",
    "allow_pickle_weights": True,
}


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def make_root(tmp_path: Path, **defaults) -> Path:
    root = tmp_path / "experiments"
    write_json(root / "default_benchmark_params.json", {"model_id": "demo", **FAST, **defaults})
    shutil.copy(SHIPPED / "prompts.json", root / "prompts.json")
    return root


def lora_experiment(root: Path, name: str, r: int = 2, targets: list[str] | None = None, **overrides) -> Path:
    from peft import LoraConfig

    path = root / "lora" / name
    LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets or TARGETS, task_type="CAUSAL_LM",
               base_model_name_or_path="demo").save_pretrained(str(path))
    if overrides:
        write_json(path / "benchmark_params.json", overrides)
    return path


# --- params -----------------------------------------------------------------------------------------------


def test_non_default_table_covers_every_field():
    assert set(NON_DEFAULT) == set(BenchmarkParams.model_fields)
    defaults = BenchmarkParams().model_dump(mode="json")
    assert all(defaults[k] != v for k, v in NON_DEFAULT.items())


@pytest.mark.parametrize("key", sorted(NON_DEFAULT))
def test_each_experiment_override_takes_effect(tmp_path, key):
    root = make_root(tmp_path)
    exp = root / "lora" / "x"
    write_json(exp / "benchmark_params.json", {"_comment": "notes are allowed", key: NON_DEFAULT[key]})
    params = load_params(root / "default_benchmark_params.json", exp)
    assert params.model_dump(mode="json")[key] == NON_DEFAULT[key]
    # the defaults file still applies to every key the experiment does not override
    if key != "max_new_tokens":
        assert params.max_new_tokens.short == FAST["max_new_tokens"]


@pytest.mark.parametrize("key", ["seed", "num_inference_runs", "dtype", "max_prompt_tokens"])
def test_set_overrides_beat_the_experiment_file(tmp_path, key):
    root = make_root(tmp_path)
    exp = root / "lora" / "x"
    write_json(exp / "benchmark_params.json", {key: NON_DEFAULT[key]})
    value = {"seed": 11, "num_inference_runs": 2, "dtype": "float32", "max_prompt_tokens": 12}[key]
    params = load_params(root / "default_benchmark_params.json", exp, [f"{key}={json.dumps(value)}"])
    assert getattr(params, key) == value


def test_max_new_tokens_merges_per_category():
    merged = merge_params({"max_new_tokens": 10}, {"max_new_tokens": {"long": 99}})
    assert BenchmarkParams.model_validate(merged).max_new_tokens.model_dump() == {"short": 10, "medium": 10, "long": 99}
    one_number = BenchmarkParams.model_validate(merge_params({"max_new_tokens": {"short": 1}}, {"max_new_tokens": 4}))
    assert one_number.max_new_tokens.model_dump() == {"short": 4, "medium": 4, "long": 4}


def test_unknown_key_is_an_error_naming_the_file(tmp_path):
    root = make_root(tmp_path)
    exp = root / "lora" / "x"
    write_json(exp / "benchmark_params.json", {"num_prompt_sample": 3})
    with pytest.raises(UserError, match=r"benchmark_params.json: unknown key 'num_prompt_sample'; did you mean "
                                        r"'num_prompt_samples'"):
        load_params(root / "default_benchmark_params.json", exp)
    with pytest.raises(UserError, match=r"unknown key 'max_new_tokens.huge'"):
        load_params(root / "default_benchmark_params.json", None, ['max_new_tokens={"huge": 3}'])
    with pytest.raises(UserError, match=r"--set: unknown key 'use_4bits'"):
        check_overrides(["use_4bits=true"])


def test_both_quantizations_is_an_error(tmp_path):
    root = make_root(tmp_path, use_4bit=True, use_8bit=True)
    with pytest.raises(UserError, match="use_4bit and use_8bit"):
        load_params(root / "default_benchmark_params.json")


def test_shipped_experiments_are_valid():
    from peft import PeftConfig

    found = {e.id: e for e in discover(SHIPPED)}
    assert {"lora/lora_r8", "lora/lora_r16", "ia3/ia3_default", "lora/lora_r8_trained"} <= set(found)
    for experiment in found.values():
        params = load_params(experiment.defaults_path, experiment.path)
        if experiment.adapter_config_path:
            assert PeftConfig.from_pretrained(str(experiment.path)).base_model_name_or_path == "demo"
        else:
            assert params.adapter == "demo-lora"
    assert found["lora/lora_r16"].adapter_config_path is not None
    assert discover(SHIPPED / "lora" / "lora_r8")[0].id == "lora/lora_r8"
    with pytest.raises(UserError, match="does not exist"):
        discover(SHIPPED / "nope")


# --- prompts ----------------------------------------------------------------------------------------------


def test_long_prompt_is_cut_to_its_last_tokens(tiny_main):
    tokenizer = tiny_main.tokenizer
    text = " ".join(f"The fox found apple number {i}." for i in range(60)) + " The end."
    full = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    fitted = fit_prompt(tokenizer, "long", text, budget=20)
    assert full > 20 and fitted.truncated and fitted.original_tokens == full
    assert fitted.tokens <= 20 and len(tokenizer(fitted.text, add_special_tokens=False)["input_ids"]) == fitted.tokens
    assert fitted.text.endswith("The end.") and text.endswith(fitted.text.strip())
    short = fit_prompt(tokenizer, "short", "The fox slept.", budget=20)
    assert not short.truncated and short.text == "The fox slept."


def test_categories_fit_the_model_context(tiny_main):
    prompts = load_prompts(SHIPPED / "prompts.json")
    context = tiny_main.model.config.max_position_embeddings
    params = BenchmarkParams(max_new_tokens={"short": 4, "medium": 4, "long": 100}, num_prompt_samples=2)
    selected = select_prompts(tiny_main.model, tiny_main.tokenizer, prompts, params)
    assert [len(v) for v in selected.values()] == [2, 2, 2]
    assert all(p.tokens <= context - 100 for p in selected["long"])
    assert any(p.truncated for p in selected["long"])  # the shipped file has one longer than the context
    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    capped = select_prompts(model, tokenizer, prompts, params.model_copy(update={"max_prompt_tokens": 16}))
    assert all(p.tokens <= 16 for rows in capped.values() for p in rows)
    with pytest.raises(UserError, match="num_prompt_samples"):
        select_prompts(model, tokenizer, prompts, params.model_copy(update={"num_prompt_samples": 50}))


# --- base cache key ---------------------------------------------------------------------------------------

PROMPTS = {"short": [FittedPrompt("short", "a fox", 2, 2)], "medium": [FittedPrompt("medium", "b", 1, 1)],
           "long": [FittedPrompt("long", "c", 1, 1)]}
MODEL = {"source": "/kits/main", "revision": None, "files": {"model.safetensors": [100, 1]}, "dtype": "float32",
         "attention": "sdpa", "quantization": "none", "device": "cpu"}
MACHINE = {"device_name": "x86_64", "cpu_count": 2, "torch_threads": 1, "packages": {"torch": "2.13.0"}}
RELEVANT = {"model_id": "demo-tiny", "dtype": "bfloat16", "device": "cpu", "max_new_tokens": {"long": 7},
            "fixed_length": False, "num_inference_runs": 9, "warmup_runs": 3, "num_prompt_samples": 1,
            "max_prompt_tokens": 40, "use_4bit": True, "use_8bit": True}
IRRELEVANT = {"seed": 7, "adapter": "demo-lora", "prompts_file": "copy-of-prompts.json", "paired_base": False,
              "allow_pickle_weights": True}


def key_for(params: BenchmarkParams, prompts=PROMPTS, model=MODEL, machine=MACHINE) -> str:
    return cache.cache_key(cache.base_settings(params, prompts, model, machine))


def test_every_param_is_classified_for_the_cache():
    assert set(cache.BASE_FIELDS) | set(cache.NOT_BASE_FIELDS) == set(BenchmarkParams.model_fields)
    assert not set(cache.BASE_FIELDS) & set(cache.NOT_BASE_FIELDS)
    assert set(RELEVANT) == set(cache.BASE_FIELDS) and set(IRRELEVANT) == set(cache.NOT_BASE_FIELDS)


@pytest.mark.parametrize("key", sorted(RELEVANT))
def test_cache_key_changes_with_each_relevant_setting(key):
    assert key_for(BenchmarkParams.model_validate({key: RELEVANT[key]})) != key_for(BenchmarkParams())


@pytest.mark.parametrize("key", sorted(IRRELEVANT))
def test_cache_key_stays_for_irrelevant_settings(key):
    base = BenchmarkParams()
    assert key_for(base.model_copy(update={key: IRRELEVANT[key]})) == key_for(base)


@pytest.mark.parametrize("change", ["prompt", "weights", "effective_dtype", "package", "threads"])
def test_cache_key_changes_with_prompts_model_and_machine(change):
    params = BenchmarkParams()
    prompts, model, machine = dict(PROMPTS), dict(MODEL), json.loads(json.dumps(MACHINE))
    if change == "prompt":
        prompts["long"] = [FittedPrompt("long", "d", 1, 1)]
    elif change == "weights":
        model["files"] = {"model.safetensors": [100, 2]}
    elif change == "effective_dtype":
        model["dtype"] = "bfloat16"
    elif change == "package":
        machine["packages"]["torch"] = "2.14.0"
    else:
        machine["torch_threads"] = 2
    assert key_for(params, prompts, model, machine) != key_for(params)


def test_cache_lookup_hit_stale_corrupt(tmp_path):
    settings = cache.base_settings(BenchmarkParams(), PROMPTS, MODEL, MACHINE)
    assert cache.lookup(tmp_path, settings).status == "missing"
    found = cache.lookup(tmp_path, settings)
    cache.save(found.path, found.key, settings, {"by_category": {}})
    assert cache.lookup(tmp_path, settings).status == "hit"
    assert json.loads(found.path.read_text())["status"] == "complete"  # the one status vocabulary
    newer = cache.base_settings(BenchmarkParams(dtype="bfloat16"), PROMPTS, MODEL, MACHINE)
    stale = cache.lookup(tmp_path, newer)
    assert stale.status == "stale" and stale.entry is None
    assert any(line.startswith("params.dtype") for line in stale.changes)
    found.path.write_text(found.path.read_text().replace('"num_inference_runs": 5', '"num_inference_runs": 6'))
    assert cache.lookup(tmp_path, settings).status == "corrupt"  # edited by hand: no longer matches its key


# --- overhead ---------------------------------------------------------------------------------------------


def test_overhead_formula():
    assert overhead_pct(1.5, 1.0) == pytest.approx(50.0)
    assert overhead_pct(0.8, 1.0) == pytest.approx(-20.0)
    assert overhead_pct(1.0, 0.0) is None and overhead_pct(None, 1.0) is None


def test_base_drift_is_significant_only_beyond_its_interval():
    from inference_lab.modes.peft_bench.results import base_drift

    cached = {"samples": [{"run_seconds": [0.98, 1.0, 1.02, 0.99, 1.01]}, {"run_seconds": [5.0]}]}
    steady = base_drift(cached, {"before": [1.0, 1.01, 0.99, 1.02, 0.98], "after": [0.99, 1.0, 1.01, 1.0, 0.98]})
    assert not steady["significant"] and abs(steady["before"]["estimate"]) < 2
    slowed = base_drift(cached, {"before": [1.0, 1.01, 0.99, 1.0, 1.02], "after": [1.30, 1.31, 1.29, 1.32, 1.30]})
    assert slowed["significant"] and slowed["after"]["separated"]
    assert slowed["after"]["estimate"] == pytest.approx(30, abs=2)


def test_overall_sums_category_medians():
    def cat(times, tokens):
        return {"metrics": {"inference_time_s": {"median": sorted(times)[len(times) // 2]},
                            "generated_tokens": {"median": tokens}},
                "samples": [{"run_seconds": times}]}

    adapter = {"short": cat([0.2, 0.21, 0.19], 10), "medium": cat([0.3, 0.31, 0.29], 10),
               "long": cat([0.7, 0.71, 0.69], 20)}
    base = {"short": cat([0.1, 0.11, 0.09], 10), "medium": cat([0.2, 0.21, 0.19], 10),
            "long": cat([0.5, 0.51, 0.49], 20)}
    overall = overall_metrics(adapter, base, paired=True)
    assert overall["inference_time_s"] == pytest.approx(1.2)
    assert overall["time_per_token_s"] == pytest.approx(1.2 / 40)
    assert overall["inference_overhead_pct"] == pytest.approx((1.2 - 0.8) / 0.8 * 100)
    change = overall["inference_overhead"]
    assert change["estimate"] == pytest.approx(50.0) and change["ci_low"] <= 50.0 <= change["ci_high"]
    assert change["separated"] and change["paired"]


def test_fixed_length_forces_the_same_work(tiny_main):
    from inference_lab.modes.peft_bench.timing import time_one

    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    prompt = "Then Pip curled up in the burrow and fell asleep. The end."  # the kit's stories stop here (EOS)
    free, _ = time_one(model, tokenizer, prompt, 12, False)
    fixed, _ = time_one(model, tokenizer, prompt, 12, True)
    assert free.generated_tokens < 12 and fixed.generated_tokens == 12
    assert fixed.ttft_seconds is not None and fixed.seconds_per_token == pytest.approx(fixed.seconds / 12)
    # TPOT (vLLM's definition) excludes the first token; the suite's time per token includes it
    assert fixed.tpot_seconds == pytest.approx((fixed.seconds - fixed.ttft_seconds) / 11)


# --- whole runs on the tiny kit ---------------------------------------------------------------------------


def expected_lora_params(model, r: int) -> int:
    import torch

    return sum(r * (m.in_features + m.out_features) for name, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in TARGETS)


def bench(root: Path, out: Path, **settings) -> dict:
    config = PeftBenchConfig(experiments_root=str(root), output_dir=str(out), **settings)
    outcome = session.execute(MODES["peft-bench"], config, label="test")
    return outcome.summary


def by_id(summary: dict) -> dict[str, dict]:
    return {r["experiment"]: r for r in summary["experiments"]}


def test_failing_experiment_is_recorded_and_the_others_continue(tmp_path, tiny_main):
    root = make_root(tmp_path, paired_base=False)
    lora_experiment(root, "a_good", r=2)
    lora_experiment(root, "b_broken", r=2, targets=["no_such_module"])
    lora_experiment(root, "c_trained_real", r=2, adapter="demo-lora")
    out = tmp_path / "results"
    summary = bench(root, out)

    assert [r["experiment"] for r in summary["experiments"]] == ["lora/a_good", "lora/b_broken", "lora/c_trained_real"]
    good, broken, trained = summary["experiments"]
    assert good["status"] in {"ok", "unreliable"} and trained["status"] in {"ok", "unreliable"}
    assert broken["status"] == "failed" and "no_such_module" in broken["error"]
    assert summary["status"] == "failed"  # one item failed; its record and the others' are all on disk
    records = [json.loads(line) for line in next(out.glob("*/results.jsonl")).read_text().splitlines()]
    assert [r["experiment"] for r in records] == ["lora/a_good", "lora/b_broken", "lora/c_trained_real"]

    # the base was measured once, then every later experiment read the cache
    assert good["base"]["source"] == "measured" and trained["base"]["source"] == "cache"
    assert len(list((out / "base_cache").glob("base-*.json"))) == 1

    drift = good["base"]["drift"]  # base re-timed per category, before the adapter and after unloading it
    assert set(drift) == {"short", "medium", "long"}
    assert all(d["before"]["n_a"] == 1 and d["after"]["n_a"] == 1 for d in drift.values())

    for category, entry in good["by_category"].items():
        m = entry["metrics"]
        assert m["generated_tokens"]["median"] == 3, category  # fixed_length: exactly max_new_tokens
        assert m["inference_overhead_pct"] == pytest.approx(
            overhead_pct(m["inference_time_s"]["median"], m["base_inference_time_s"]))
    stages = list(good["stages"])
    assert stages[:2] == ["model load", "base inference short"] and "adapter load" in stages
    assert stages[-2:] == ["adapter inference long", "base check after"] and good["peak_rss_bytes"] > 0

    adapter = good["adapter"]
    assert adapter["adapter_params"] == expected_lora_params(tiny_main.model, 2)
    assert adapter["total_params"] == adapter["base_params"] + adapter["adapter_params"]
    assert adapter["adapter_mb"] == pytest.approx(adapter["adapter_params"] * 4 / 2**20)
    # an adapter in benchmark_params.json wins over adapter_config.json: the kit's rank-8 LoRA, not rank 2
    from inference_lab.demo_kit import read_manifest

    kit_lora = read_manifest(Path(tiny_main.report.source).parent)["models"]["lora"]
    assert trained["adapter"]["origin"] == "trained"
    assert trained["adapter"]["adapter_params"] == kit_lora["trainable_params"]


def test_paired_mode_is_the_default_and_times_the_base_alongside(tmp_path):
    root = make_root(tmp_path, num_inference_runs=2)
    lora_experiment(root, "paired")
    out = tmp_path / "results"
    summary = bench(root, out)
    [result] = summary["experiments"]
    assert result["status"] == "ok", result["error"]
    assert result["base"]["source"] == "paired"
    assert not (out / "base_cache").exists()
    for category, entry in result["by_category"].items():
        base = result["base_by_category"][category]["metrics"]
        assert base["num_runs"] == 2 and len(result["base_by_category"][category]["samples"][0]["run_seconds"]) == 2
        assert entry["metrics"]["base_inference_time_s"] == base["inference_time_s"]["median"]
        assert entry["metrics"]["inference_overhead"]["paired"] is True
    assert "paired base copy" in result["stages"]
    html = next(out.glob("*/report.html")).read_text()
    assert "Overhead per category" in html and "lora/paired" in html


def test_quantized_run_on_cpu_works_or_fails_cleanly(tmp_path):
    root = make_root(tmp_path)
    lora_experiment(root, "q4", use_4bit=True)
    [result] = bench(root, tmp_path / "results")["experiments"]
    if importlib.util.find_spec("bitsandbytes") is None:
        assert result["status"] == "failed" and "bitsandbytes" in result["error"]
    else:
        assert result["status"] == "ok", result["error"]
        assert result["model"]["quantization"] == "4bit"


def test_interrupted_run_keeps_finished_experiments_and_resumes(tmp_path, monkeypatch):
    from inference_lab.modes.peft_bench import runner

    root = make_root(tmp_path)
    lora_experiment(root, "a")
    lora_experiment(root, "b")
    original, calls = runner.run_job, []

    def interrupt_second(job, prep, models):
        calls.append(job.experiment.id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(job, prep, models)

    monkeypatch.setattr(runner, "run_job", interrupt_second)
    out = tmp_path / "results"
    config = PeftBenchConfig(experiments_root=str(root), output_dir=str(out))
    outcome = session.execute(MODES["peft-bench"], config, label="test")
    assert outcome.status == "interrupted" and outcome.exit_code == 130
    assert [r["experiment"] for r in outcome.summary["experiments"]] == ["lora/a"]
    monkeypatch.setattr(runner, "run_job", original)
    resumed = session.execute(MODES["peft-bench"], config, label="test", resume=outcome.folder)
    assert resumed.status == "complete"
    assert [r["experiment"] for r in resumed.summary["experiments"]] == ["lora/a", "lora/b"]
    records = [json.loads(line) for line in (outcome.folder / "results.jsonl").read_text().splitlines()]
    assert [r["experiment"] for r in records] == ["lora/a", "lora/b"]  # each exactly once


def test_a_failed_experiment_is_measured_again_on_resume(tmp_path, monkeypatch):
    """A failure may be a stop a library turned into an error, or a full disk since cleared: resume redoes it, and
    the folder keeps one record per experiment."""
    from inference_lab.modes.peft_bench import runner

    root = make_root(tmp_path)
    lora_experiment(root, "a")
    lora_experiment(root, "b")
    original = runner.run_job

    def fail_b(job, prep, models):
        if job.experiment.id == "lora/b":
            raise RuntimeError("the disk was full")
        return original(job, prep, models)

    monkeypatch.setattr(runner, "run_job", fail_b)
    config = PeftBenchConfig(experiments_root=str(root), output_dir=str(tmp_path / "results"))
    first = session.execute(MODES["peft-bench"], config, label="test")
    assert first.exit_code == 1 and by_id(first.summary)["lora/b"]["status"] == "failed"
    monkeypatch.setattr(runner, "run_job", original)
    resumed = session.execute(MODES["peft-bench"], config, label="test", resume=first.folder)
    assert resumed.exit_code == 0 and by_id(resumed.summary)["lora/b"]["status"] != "failed"
    records = [json.loads(line) for line in (first.folder / "results.jsonl").read_text().splitlines()]
    assert [r["experiment"] for r in records] == ["lora/a", "lora/b"]  # the failed record was replaced
    assert all(r["status"] != "failed" for r in records)


def test_cli_base_then_require_cached_base(tmp_path, capsys):
    from inference_lab.cli import main

    root = make_root(tmp_path, paired_base=False)
    lora_experiment(root, "a")
    out = str(tmp_path / "results")
    assert main(["peft-bench", "base", "--root", str(root), "--output-dir", out, "--quiet"]) == 0
    assert "(measured)" in capsys.readouterr().out
    assert main(["peft-bench", str(root / "lora" / "a"), "--require-cached-base", "--output-dir", out, "--quiet"]) == 0
    # a token count that changes the base numbers: the cache no longer matches and is not reused
    assert main(["peft-bench", "--all", str(root), "--require-cached-base", "--set", "max_new_tokens={\"long\": 2}",
                 "--output-dir", out, "--quiet"]) == 1
    assert "stale" in capsys.readouterr().out
    # a bad override is the caller's mistake: exit 2 before anything runs, nothing written
    before = sorted(Path(out).rglob("*"))
    assert main(["peft-bench", "--all", str(root), "--set", "num_prompt_sample=1", "--output-dir", out]) == 2
    assert "did you mean 'num_prompt_samples'" in capsys.readouterr().err
    assert main(["peft-bench", "--all", str(root), "--set", "a.b=5", "--output-dir", out]) == 2
    assert "unknown key 'a'" in capsys.readouterr().err
    assert main(["peft-bench", "--all", str(root), "--set", "num_inference_runs=\"many\"", "--output-dir", out]) == 2
    assert "num_inference_runs" in capsys.readouterr().err
    assert sorted(Path(out).rglob("*")) == before


def test_num_threads_is_the_runs_not_an_experiments_and_keys_the_base_cache():
    import torch

    config = PeftBenchConfig(num_threads=1)
    assert "num_threads" not in config.overrides()  # never merged into an experiment's parameters
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = cache.machine_fingerprint("cpu")
        torch.set_num_threads(2)
        two = cache.machine_fingerprint("cpu")
    finally:
        torch.set_num_threads(before)
    assert one["torch_threads"] == 1 and two["torch_threads"] == 2 and one != two
