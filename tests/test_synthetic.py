"""Synthetic workloads: random ordinary prompt ids, and generate() settings under which every row decodes exactly N
tokens, even with a trained model that would stop at EOS, with batching, sampling, beams and speculation."""

from __future__ import annotations

import pytest
import torch

from inference_lab.models.catalogue import build_random_model, catalogue_config, generation_token_ids
from inference_lab.models.synthetic import (
    Workload,
    exact_length_kwargs,
    ordinary_id_range,
    special_token_ids,
    synthetic_batch,
)
from inference_lab.models.textgen import encode_batch, split_new_tokens

EARLY_STOPPER = "dog"  # the tiny kit's main model answers this prompt and emits EOS after ~19 tokens


def test_workload_accepts_auto_and_rejects_unknown_keys():
    assert Workload(prompt_tokens=8, new_tokens=4, batch_size="auto").fixed_batch_size() is None
    assert Workload(prompt_tokens=8, new_tokens=4, batch_size=3).fixed_batch_size() == 3
    with pytest.raises(ValueError):
        Workload(prompt_tokens=8, new_tokens=4, batch="auto")


@pytest.mark.parametrize("name", ["Qwen/Qwen3-0.6B", "meta-llama/Llama-3.1-8B", "HuggingFaceTB/SmolLM2-135M",
                                  "google/gemma-2-2b-it"])
def test_synthetic_ids_are_seeded_and_avoid_special_blocks(name):
    config = catalogue_config(name)
    workload = Workload(prompt_tokens=512, new_tokens=4, batch_size=4)
    batch = synthetic_batch(config, workload, seed=3)
    assert batch["input_ids"].shape == (4, 512) and batch["attention_mask"].all()
    assert torch.equal(batch["input_ids"], synthetic_batch(config, workload, seed=3)["input_ids"])
    low, high = ordinary_id_range(config)
    assert batch["input_ids"].min() >= low and batch["input_ids"].max() < high
    assert not set(batch["input_ids"].flatten().tolist()) & special_token_ids(config)
    if name.startswith("meta-llama"):
        assert high == 128000  # the whole reserved block, not only bos/eos


def test_trained_model_would_stop_early_but_decodes_exactly_n(tiny_main):
    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    n = 48
    plain_in = encode_batch(tokenizer, [EARLY_STOPPER])
    plain = model.generate(**plain_in, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    width = plain_in["input_ids"].shape[1]
    assert len(split_new_tokens(model, tokenizer, plain, width)[0]) < n  # the premise: EOS comes early

    kwargs = exact_length_kwargs(n, model.config.eos_token_id, tokenizer.pad_token_id)
    encoded = encode_batch(tokenizer, [EARLY_STOPPER, "generate short bed time story containing word cake", "cat"])
    width = encoded["input_ids"].shape[1]
    for extra in ({"do_sample": False}, {"do_sample": True, "temperature": 1.5}, {"num_beams": 2, "do_sample": False}):
        torch.manual_seed(0)
        out = model.generate(**encoded, **kwargs, **extra, pad_token_id=tokenizer.pad_token_id)
        assert [len(r) for r in split_new_tokens(model, tokenizer, out, width)] == [n] * 3, extra


def test_exact_length_holds_for_speculative_and_prompt_lookup(tiny_main, tiny_kit):
    from inference_lab.models.loading import load_model
    from inference_lab.models.settings import ModelSettings

    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    assistant = load_model("demo-tiny-assistant", ModelSettings(), with_tokenizer=False).model
    kwargs = exact_length_kwargs(40, model.config.eos_token_id, tokenizer.pad_token_id)
    encoded = encode_batch(tokenizer, [EARLY_STOPPER])
    width = encoded["input_ids"].shape[1]
    for extra in ({"assistant_model": assistant}, {"prompt_lookup_num_tokens": 4}):
        out = model.generate(**encoded, **kwargs, **extra, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert [len(r) for r in split_new_tokens(model, tokenizer, out, width)] == [40], list(extra)


def test_random_model_decodes_exactly_n_per_row_from_synthetic_batch():
    base = catalogue_config("HuggingFaceTB/SmolLM2-135M").to_dict()
    config = catalogue_config("HuggingFaceTB/SmolLM2-135M").__class__(**{**base, "num_hidden_layers": 2})
    model, _ = build_random_model(config, dtype="float32", seed=0)
    workload = Workload(prompt_tokens=6, new_tokens=12, batch_size=3)
    ids = generation_token_ids(config)
    batch = synthetic_batch(config, workload, seed=1)
    kwargs = exact_length_kwargs(workload.new_tokens, ids["eos_token_id"], ids["pad_token_id"])
    out = model.generate(**batch, **kwargs, do_sample=True, pad_token_id=ids["pad_token_id"])
    new = out[:, workload.prompt_tokens:]
    assert new.shape == (3, 12)
    assert not set(new.flatten().tolist()) & {ids["pad_token_id"], *ids["eos_token_id"]}


def test_ids_only_tokenizer_serves_the_result_readers():
    from inference_lab.models.synthetic import IdsOnlyTokenizer
    from inference_lab.models.textgen import decode

    config = catalogue_config("Qwen/Qwen3-0.6B")
    tokenizer = IdsOnlyTokenizer(config)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id == 151645
    sequences = torch.tensor([[5, 6, 7, 8, 151645, 151645], [5, 6, 9, 10, 11, 12]])

    class Model:  # split_new_tokens reads eos ids from the model's generation config
        generation_config = type("G", (), {"eos_token_id": 151645})()

    rows = split_new_tokens(Model(), tokenizer, sequences, prompt_width=2)
    assert rows == [[7, 8, 151645], [9, 10, 11, 12]]
    assert decode(tokenizer, rows) == ["7 8 151645", "9 10 11 12"]
    with pytest.raises(TypeError, match="synthetic_batch"):
        tokenizer(["text"])
