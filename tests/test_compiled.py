"""Compiled decoding: compile time is measured on its own and excluded from timed calls, greedy tokens equal eager
generate()'s, a new prompt length reuses the graph, and a new batch size is a counted recompile."""

from __future__ import annotations

import statistics

import pytest
import torch

from inference_lab.core.measure import Stopwatch, TokenClock
from inference_lab.models.compiled import CompiledDecoding
from inference_lab.models.textgen import encode_batch

NEW = 12


@pytest.fixture(scope="module")
def fresh_tiny(tiny_kit):
    """Its own copy of the tiny model: compiling attaches a compiled call to the model it runs on."""
    from inference_lab.models.loading import load_model
    from inference_lab.models.settings import ModelSettings

    return load_model("demo-tiny", ModelSettings())


def _greedy(model, tokenizer, encoded, **extra):
    with torch.inference_mode():
        return model.generate(**encoded, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                              pad_token_id=tokenizer.pad_token_id, **extra)


def test_compiled_variant_excludes_compile_time_and_counts_recompiles(fresh_tiny):
    model, tokenizer = fresh_tiny.model, fresh_tiny.tokenizer
    compiled = CompiledDecoding(model, max_cache_len=64)
    sampling = {"do_sample": False, "min_new_tokens": NEW, "pad_token_id": tokenizer.pad_token_id}
    one = encode_batch(tokenizer, ["dog and cat"])

    with pytest.raises(RuntimeError, match="warm_up"):
        compiled.generate(one["input_ids"], one["attention_mask"], NEW, **sampling)
    report = compiled.warm_up(one["input_ids"], one["attention_mask"], NEW, **sampling)
    assert report.graphs >= 1 and report.compile_seconds > 0

    latencies = []
    for _ in range(3):
        clock = TokenClock()
        with Stopwatch() as watch:
            out = compiled.generate(one["input_ids"], one["attention_mask"], NEW, clock=clock, **sampling)
        latencies.append(watch.seconds)
        assert len(clock.stamps) == NEW
    assert report.first_call_seconds > 5 * statistics.median(latencies)  # compile is not in the timed calls
    assert compiled.graphs_during_timing == 0 and compiled.recompiles == 0
    assert torch.equal(out, _greedy(model, tokenizer, one))  # same tokens as eager decoding

    longer = encode_batch(tokenizer, ["generate short bed time story containing word elephant and cake"])
    out = compiled.generate(longer["input_ids"], longer["attention_mask"], NEW, **sampling)
    assert compiled.graphs_during_timing == 0  # fixed max_cache_len: a new prompt length reuses the graph
    assert torch.equal(out, _greedy(model, tokenizer, longer))

    two = encode_batch(tokenizer, ["dog", "a story about a cake"])
    second = compiled.warm_up(two["input_ids"], two["attention_mask"], NEW, **sampling)
    assert second.graphs >= 1 and compiled.recompiles >= 1  # a new batch size is a new graph, counted
    out = compiled.generate(two["input_ids"], two["attention_mask"], NEW, **sampling)
    assert torch.equal(out, _greedy(model, tokenizer, two))
    summary = compiled.summary()
    assert summary["mode"] == "default" and [s["batch_size"] for s in summary["shapes"]] == [1, 2]


def test_a_prompt_longer_than_the_static_cache_is_refused(fresh_tiny):
    compiled = CompiledDecoding(fresh_tiny.model, max_cache_len=8)
    ids = torch.ones(1, 6, dtype=torch.long)
    with pytest.raises(ValueError, match="max_cache_len 8"):
        compiled.warm_up(ids, torch.ones_like(ids), 4)


def test_the_compiled_method_on_text_prompts_says_what_batched_says(fresh_tiny, tmp_path):
    """Through the methods mode with text prompts (padding, several prompt lengths, a short last batch): the compiled
    method decodes the same greedy tokens as eager batched generate(), at every batch size."""
    from inference_lab import session
    from inference_lab.core.storage import read_jsonl
    from inference_lab.modes import MODES
    from inference_lab.modes.methods.config import MethodsConfig

    for batch in (1, 2, 3):
        config = MethodsConfig(main_model="demo-tiny", assistant_model=None, temperature=0.0, max_new_tokens=10,
                               prompts=["dog and cat", "generate short bed time story containing word cake"],
                               num_completions=[2, 3], batch_size=batch, methods_to_test=["batched", "compiled"],
                               warmup_runs=1, num_runs=1, num_threads=1, output_dir=str(tmp_path / str(batch)))
        prep = MODES["methods"].module("runner").prepare(config, main=fresh_tiny)
        outcome = session.execute(MODES["methods"], config, label=f"compiled-b{batch}", prepared=prep)
        by_name = {m["method"]: m for m in outcome.summary["methods"]}
        assert by_name["compiled"]["status"] == "ok", by_name["compiled"].get("reason")
        texts: dict[str, dict] = {"batched": {}, "compiled": {}}
        for r in read_jsonl(outcome.folder / "results.jsonl")[0]:
            if r["kind"] == "batch":
                for prompt, completion, text in zip(r["prompt_indices"], r["completion_indices"], r["texts"]):
                    texts[r["method"]][(prompt, completion)] = text
        assert len(texts["compiled"]) == 5 and texts["compiled"] == texts["batched"], batch
