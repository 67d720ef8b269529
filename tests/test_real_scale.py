"""Real architectures through the methods mode: random weights from a config, synthetic workloads decoding exactly N
tokens in every method, memory pre-flight, batch_size auto under an out-of-memory error, and the compiled method
with its compile time reported apart (the pieces themselves: test_catalogue, test_synthetic, test_preflight,
test_compiled)."""

from __future__ import annotations

import json

import pytest
import torch

from inference_lab import session
from inference_lab.core.errors import UserError
from inference_lab.core.storage import read_jsonl
from inference_lab.modes import MODES
from inference_lab.modes.methods import runner
from inference_lab.modes.methods.config import MethodsConfig

# A Qwen3 architecture small enough for CI (the catalogue's own shapes are checked on the meta device elsewhere).
TINY_QWEN3 = {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "vocab_size": 512, "max_position_embeddings": 256, "bos_token_id": 1, "eos_token_id": 2,
              "pad_token_id": 0, "tie_word_embeddings": True, "rms_norm_eps": 1e-6, "rope_theta": 10000.0}


@pytest.fixture
def arch(tmp_path):
    folder = tmp_path / "tiny-qwen3"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY_QWEN3))
    return folder


def config(arch, tmp_path, **overrides) -> MethodsConfig:
    settings = {"main_model": str(arch), "weights": "random", "assistant_model": None, "temperature": 0.0,
                "workload": {"prompt_tokens": 8, "new_tokens": 6, "batch_size": 3}, "warmup_runs": 1,
                "num_runs": 2, "num_threads": 1, "output_dir": str(tmp_path / "runs")}
    return MethodsConfig(**{**settings, **overrides})


def batches(folder) -> list[dict]:
    return [r for r in read_jsonl(folder / "results.jsonl")[0] if r["kind"] == "batch"]


def test_random_weights_decode_exactly_n_tokens_in_every_method(arch, tmp_path):
    cfg = config(arch, tmp_path, methods_to_test=["standard", "batched", "beam_search", "nucleus_sampling"])
    outcome = session.execute(MODES["methods"], cfg, label="random")
    assert outcome.exit_code == 0, outcome.error
    summary = outcome.summary
    assert any("random weights: speed and memory only" in flag for flag in summary["flags"])
    assert summary["models"]["main"]["source"].startswith("random:")
    assert summary["work"]["weights"] == "random" and summary["work"]["workload"]["new_tokens"] == 6
    for record in batches(outcome.folder):
        assert record["new_tokens"] == [6] * record["rows"], record["method"]  # EOS ignored: the same work everywhere
    by_name = {m["method"]: m for m in summary["methods"]}
    assert by_name["batched"]["effective_batch_size"] == 3 and by_name["standard"]["batches_per_run"] == 3
    assert summary["memory_estimate"]["total"] > 0 and summary["memory_estimate"]["rows"] == 3


def test_random_weights_need_a_workload(arch):
    with pytest.raises(ValueError, match="needs a workload"):
        MethodsConfig(main_model=str(arch), weights="random")


def test_preflight_refuses_an_impossible_config_with_the_numbers(tmp_path):
    cfg = MethodsConfig(main_model="meta-llama/Llama-3.1-8B", weights="random", dtype="float32", assistant_model=None,
                        workload={"prompt_tokens": 8192, "new_tokens": 1024, "batch_size": 64},
                        methods_to_test=["batched"], output_dir=str(tmp_path))
    with pytest.raises(UserError) as info:
        runner.prepare(cfg)  # refused before any model is built
    message = str(info.value)
    assert message.startswith("main_model: needs ") and "GiB free on cpu" in message
    assert "weights 29.9" in message and "KV cache" in message and "\n" not in message


def test_batch_size_auto_halves_under_out_of_memory_and_completes(arch, tmp_path, monkeypatch):
    original = runner.Measurer.measure

    def small_memory(self, plan, items, run, index, seed):
        if len(items) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, plan, items, run, index, seed)

    monkeypatch.setattr(runner.Measurer, "measure", small_memory)
    cfg = config(arch, tmp_path, methods_to_test=["batched"], workload={"prompt_tokens": 8, "new_tokens": 4,
                                                                       "batch_size": "auto"}, max_batch_size=8)
    outcome = session.execute(MODES["methods"], cfg, label="auto")
    assert outcome.exit_code == 0, outcome.error
    [batched] = outcome.summary["methods"]
    assert [t["batch_size"] for t in batched["batch_auto"]] == [8, 4, 2]
    assert [t["outcome"] for t in batched["batch_auto"]] == ["out of memory", "out of memory", "ok"]
    assert batched["effective_batch_size"] == 2 and {r["rows"] for r in batches(outcome.folder)} == {2}
    rows = read_jsonl(outcome.folder / "results.jsonl")[0]
    assert [r["batch_size"] for r in rows if r["kind"] == "auto_batch"] == [2]  # what a resumed run reuses


def test_compiled_method_reports_compile_time_apart(arch, tmp_path):
    cfg = config(arch, tmp_path, methods_to_test=["batched", "compiled"], num_runs=2)
    outcome = session.execute(MODES["methods"], cfg, label="compiled")
    assert outcome.exit_code == 0, outcome.error
    by_name = {m["method"]: m for m in outcome.summary["methods"]}
    compiled = by_name["compiled"]
    report = compiled["compile"]
    assert report["compile_seconds"] > 0 and report["graphs_during_timing"] == 0
    first_call = report["shapes"][0]["first_call_seconds"]
    assert compiled["latency_s"]["max"] < first_call  # the compiling call is never a timed latency
    texts = {m: [r["texts"] for r in batches(outcome.folder) if r["method"] == m] for m in ("batched", "compiled")}
    assert texts["compiled"] == texts["batched"]  # greedy: the compiled decode step gives the same tokens


def test_random_weights_quantize_through_bitsandbytes(arch):
    """4-bit random weights go through transformers' own quantizing loader (bitsandbytes also runs on CPU)."""
    pytest.importorskip("bitsandbytes")
    from inference_lab.models.loading import load_model
    from inference_lab.models.settings import ModelSettings

    loaded = load_model(str(arch), ModelSettings(weights="random", use_quantization="4bit", device="cpu",
                                                 use_flash_attention=False))
    layer = loaded.model.model.layers[0].self_attn.q_proj
    assert type(layer).__name__ == "Linear4bit" and loaded.report.quantization == "4bit"
    assert any("quantized 4bit" in note for note in loaded.report.notes)


def test_device_map_places_the_model_and_records_where(tiny_kit):
    from inference_lab.models.loading import load_model
    from inference_lab.models.settings import ModelSettings

    loaded = load_model("demo-tiny", MethodsConfig(main_model="demo-tiny", device_map="auto", device="auto"))
    assert loaded.report.placement and sum(loaded.report.placement.values()) >= 1
    if not torch.cuda.is_available():
        assert set(loaded.report.placement) == {"cpu"}
        assert any("no GPU visible" in note for note in loaded.report.notes)
    with pytest.raises(ValueError, match="device_map: 'auto' places the model over GPUs itself"):
        MethodsConfig(main_model="demo-tiny", device_map="auto", device="cpu")
    with pytest.raises(UserError, match="device_map: random weights"):
        load_model("HuggingFaceTB/SmolLM2-135M", ModelSettings(weights="random", device_map="auto"))


def test_a_random_lora_of_a_given_shape_times_adapter_overhead_on_a_random_model(arch, tmp_path):
    cfg = config(arch, tmp_path, methods_to_test=["batched"],
                 adapter={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "init": "random"})
    outcome = session.execute(MODES["methods"], cfg, label="random-lora")
    assert outcome.exit_code == 0, outcome.error
    by_name = {m["method"]: m for m in outcome.summary["methods"]}
    assert set(by_name) == {"batched", "batched+lora-r4"} and all(m["status"] == "ok" for m in by_name.values())
    # 2 layers x (q_proj 64->64, v_proj 64->32): r x (in + out) each
    assert outcome.summary["adapters"]["lora-r4"]["adapter_params"] == 2 * 4 * ((64 + 64) + (64 + 32))
    for record in batches(outcome.folder):
        assert record["new_tokens"] == [6] * record["rows"]  # the adapter rows decode the same exact work


def test_a_random_draft_is_not_a_copy_of_the_main_model(arch, tmp_path):
    """Main and assistant of one family, both random: built from the config's seed told apart per model, so the
    draft is its own model (one shared seed made it an exact copy of the main model's first layers), the same on
    every load; speculative decoding runs on them and decodes exactly N tokens."""
    from inference_lab.models.loading import load_model

    settings = config(arch, tmp_path)
    main = load_model(str(arch), settings, field_name="main_model")
    again = load_model(str(arch), settings, field_name="main_model")
    draft = load_model(str(arch), settings, field_name="assistant_model")
    other_seed = load_model(str(arch), config(arch, tmp_path, seed=7), field_name="main_model")
    weights = [dict(m.model.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
               for m in (main, again, draft, other_seed)]
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2]) and not torch.equal(weights[0], weights[3])

    run = session.execute(MODES["methods"], config(arch, tmp_path, assistant_model=str(arch),
                                                   methods_to_test=["standard"], use_speculative_decoding=True),
                          label="draft").folder
    summary = json.loads((run / "summary.json").read_text())
    spec = next(m for m in summary["methods"] if m["method"] == "standard_speculative")
    assert spec["status"] == "ok" and spec["acceptance_rate"] is not None
    assert {b["completion_tokens"] for b in batches(run) if b["method"] == "standard_speculative"} == {6}
