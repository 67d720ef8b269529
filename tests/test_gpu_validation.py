"""The GPU validation script's CPU-side parts, and the real-scale presets: presets name buildable architectures,
the real-gpu sweep loses its quantized values (recorded) without bitsandbytes and runs through the CLI with each
point's status read from the sweep index, timing agreement is judged per call, and the LoRA strategy pass runs end
to end on a cut-down shape (on CPU the energy figures are absent with a reason)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from inference_lab.models.catalogue import catalogue_config
from inference_lab.models.synthetic import Workload

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gv():
    spec = importlib.util.spec_from_file_location("gpu_validation", REPO / "benchmarks" / "gpu_validation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_presets_name_buildable_architectures():
    cpu = json.loads((REPO / "configs" / "real-cpu.json").read_text())
    main = catalogue_config(cpu["main_model"])
    draft = catalogue_config(cpu["assistant_model"])
    assert draft.vocab_size == main.vocab_size and draft.num_hidden_layers < main.num_hidden_layers
    Workload(**cpu["workload"])
    gpu = json.loads((REPO / "configs" / "real-gpu.json").read_text())
    Workload(**gpu["workload"])
    pairs = gpu["sweep"]["zip"][0]
    assert len(pairs["main_model"]) == len(pairs["assistant_model"]) >= 2
    for main_name, draft_name in zip(pairs["main_model"], pairs["assistant_model"]):
        main = catalogue_config(main_name)
        draft = catalogue_config(draft_name)
        assert draft.vocab_size == main.vocab_size and draft.num_hidden_layers <= main.num_hidden_layers
    assert "4bit" in gpu["sweep"]["grid"]["use_quantization"]


def test_quantized_values_are_dropped_and_recorded_when_bitsandbytes_is_missing(gv):
    preset = json.loads((REPO / "configs" / "real-gpu.json").read_text())
    kept, skipped = gv.drop_unavailable(preset, installed=lambda module: module != "bitsandbytes")
    assert kept["sweep"]["grid"]["use_quantization"] == [False]
    assert skipped == [{"label": "use_quantization=4bit", "status": "skipped",
                        "reason": "bitsandbytes not installed"}]
    assert kept["sweep"]["zip"] == preset["sweep"]["zip"] and "4bit" in preset["sweep"]["grid"]["use_quantization"]
    assert gv.drop_unavailable(preset, installed=lambda module: True) == (preset, [])
    # In a zip group the whole row goes, so the other keys stay paired.
    zipped = {"sweep": {"zip": [{"use_quantization": [False, "8bit", True], "dtype": ["float16", "bfloat16", "x"]}]}}
    kept, skipped = gv.drop_unavailable(zipped, installed=lambda module: False)
    assert kept["sweep"]["zip"] == [{"use_quantization": [False], "dtype": ["float16"]}] and len(skipped) == 2


def test_run_preset_runs_the_sweep_through_the_cli_and_reads_the_index(gv, tiny_kit, tmp_path):
    preset = tmp_path / "tiny-gpu.json"
    preset.write_text(json.dumps({
        "main_model": "demo-tiny", "assistant_model": None, "prompts": ["Once upon a time"], "max_new_tokens": 4,
        "num_completions": 1, "methods_to_test": ["batched"], "warmup_runs": 0, "num_runs": 1, "temperature": 0,
        "device": "cpu", "num_threads": 1, "use_quantization": False,
        "sweep": {"grid": {"use_quantization": [False, "4bit"]}}}))
    results = gv.run_preset(preset, tmp_path / "runs", timeout=300, installed=lambda module: False)
    assert [(r["label"], r["status"]) for r in results] == [("use_quantization=4bit", "skipped"),
                                                            ("use_quantization=false", "ok")]
    assert json.loads((Path(results[1]["run_dir"]) / "summary.json").read_text())["status"] == "complete"


def test_timing_agreement_is_judged_per_call(gv):
    ok = gv.timing_agreement([1.01, 2.0, 0.5], [1.0, 2.02, 0.5])
    assert ok["ok"] and ok["max_rel_diff"] == pytest.approx(0.01)
    bad = gv.timing_agreement([1.0, 1.05], [1.0, 1.0])
    assert not bad["ok"] and bad["max_rel_diff"] == pytest.approx(0.05)


def test_lora_strategies_run_on_a_cut_down_shape(gv):
    result = gv.lora_strategies("HuggingFaceTB/SmolLM2-135M", device="cpu", dtype="float32", prompt_tokens=8,
                                new_tokens=4, batch_size=2, r=4, rounds=2, layers=2)
    assert set(result["tokens_per_s"]) == {"base", "unmerged", "merged", "mixed batch"}
    assert all(v["n"] == 2 and v["median"] > 0 for v in result["tokens_per_s"].values())
    assert all(e["available"] is False and "CUDA" in e["reason"] for e in result["energy"].values())
    assert gv.events_vs_stopwatch("HuggingFaceTB/SmolLM2-135M", device="cpu", dtype="float32", batch_sizes=[1],
                                  new_tokens=2, calls=1, layers=1) == {"available": False,
                                                                      "reason": "CUDA events need a CUDA device"}
