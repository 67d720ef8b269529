"""Catalogue: every bundled architecture builds on the meta device at its published size; random models build
deterministically, tie their embeddings, run, and carry a LoRA that changes outputs."""

from __future__ import annotations

import json

import pytest
import torch

from inference_lab.core.errors import UserError
from inference_lab.models.catalogue import (
    CATALOGUE,
    PUBLISHED_PARAMS,
    build_random_model,
    catalogue_config,
    generation_token_ids,
    meta_model,
    param_count_meta,
)
from inference_lab.models.random_adapter import attach_random_lora

REQUIRED = ["Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B", "Qwen/Qwen3-8B", "meta-llama/Llama-3.2-1B",
            "meta-llama/Llama-3.2-3B", "meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.3",
            "HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-360M", "HuggingFaceTB/SmolLM2-1.7B",
            "microsoft/Phi-3.5-mini-instruct", "google/gemma-2-2b-it"]


def test_catalogue_covers_the_issue_list_and_every_entry_has_a_published_count():
    from inference_lab.models.catalogue_configs import DERIVED

    assert set(REQUIRED) <= set(CATALOGUE)
    assert set(CATALOGUE) - set(DERIVED) == set(PUBLISHED_PARAMS)  # derived drafts are no public checkpoint
    assert all(name.startswith("inference-lab/") for name in DERIVED)


@pytest.mark.parametrize("name", REQUIRED)
def test_meta_parameter_count_matches_the_published_size(name):
    config = catalogue_config(name)
    count = param_count_meta(config)
    published = PUBLISHED_PARAMS[name]
    if published["lm_head_stored"]:  # the checkpoint stores the tied head a second time; the model holds it once
        count += config.vocab_size * config.hidden_size
    assert abs(count - published["params"]) / published["params"] < 0.01, (count, published)


def test_lookup_is_case_insensitive_and_unknown_names_get_near_matches():
    assert catalogue_config("qwen3-4b").hidden_size == 2560
    with pytest.raises(UserError) as err:
        catalogue_config("Qwen/Qwen3-5B")
    message = str(err.value)
    assert "\n" not in message and "Qwen/Qwen3-4B" in message and message.startswith("main_model:")


def test_a_local_config_json_path_or_folder_builds(tmp_path):
    data = dict(CATALOGUE["HuggingFaceTB/SmolLM2-135M"], num_hidden_layers=2)
    (tmp_path / "config.json").write_text(json.dumps(data))
    for where in (tmp_path, tmp_path / "config.json"):
        config = catalogue_config(str(where))
        assert config.num_hidden_layers == 2 and config.hidden_size == 576


def test_remote_code_only_architectures_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "my_custom_lm", "auto_map": {"AutoConfig": "x.Y"}}))
    with pytest.raises(UserError, match="not built into transformers"):
        catalogue_config(str(tmp_path))


def test_generation_ids_come_from_the_config():
    assert generation_token_ids(catalogue_config("Qwen/Qwen3-0.6B")) == {
        "pad_token_id": 151645, "eos_token_id": [151645], "bos_token_id": 151643}
    ids = generation_token_ids(catalogue_config("google/gemma-2-2b-it"))
    assert ids["pad_token_id"] == 0 and ids["eos_token_id"] == [1, 107]


def _small(name: str, layers: int = 2):
    """A real catalogue architecture cut to a few layers: every code path of the builder, in a fraction of a second."""
    data = {k: v for k, v in catalogue_config(name).to_dict().items() if k != "layer_types"}
    return catalogue_config(name).__class__(**{**data, "num_hidden_layers": layers})


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_random_model_is_seeded_tied_finite_and_built_in_its_dtype(dtype):
    config = _small("HuggingFaceTB/SmolLM2-135M")
    first, report = build_random_model(config, dtype=dtype, seed=7)
    again, _ = build_random_model(config, dtype=dtype, seed=7)
    other, _ = build_random_model(config, dtype=dtype, seed=8)
    assert report.num_parameters == param_count_meta(config)
    assert first.lm_head.weight is first.model.embed_tokens.weight
    assert all(p.dtype == getattr(torch, dtype) and p.device.type == "cpu" for p in first.parameters())
    assert torch.equal(first.model.layers[0].mlp.up_proj.weight, again.model.layers[0].mlp.up_proj.weight)
    assert not torch.equal(first.model.layers[0].mlp.up_proj.weight, other.model.layers[0].mlp.up_proj.weight)
    assert torch.all(first.model.norm.weight == 1)
    weights = first.model.layers[1].self_attn.q_proj.weight.float()
    std = config.initializer_range
    assert 0.9 * std < weights.std().item() < 1.1 * std
    assert weights[weights != 0].abs().min().item() > 1e-30  # no denormals (they slow CPU matmuls)
    with torch.inference_mode():
        logits = first(torch.randint(10, 1000, (2, 9))).logits
    assert torch.isfinite(logits).all()


def test_rotary_buffers_are_computed_not_left_empty():
    config = _small("meta-llama/Llama-3.2-1B")  # llama3 rope scaling: inv_freq differs from the default formula
    model, _ = build_random_model(config, dtype="float32", seed=0)
    rotary_class = type(meta_model(config).model.rotary_emb)
    rotary = rotary_class(config=config)  # computes inv_freq at construction, on CPU
    assert torch.allclose(model.model.rotary_emb.inv_freq, rotary.inv_freq)
    assert not torch.allclose(rotary.inv_freq, 1.0 / (500000.0 ** (torch.arange(0, 64, 2).float() / 64)))


def test_gemma_norms_follow_the_models_own_init():
    config = _small("google/gemma-2-2b-it")
    model, _ = build_random_model(config, dtype="float32", seed=0)
    assert torch.all(model.model.norm.weight == 0)  # Gemma scales by (1 + w): zeros are its identity
    with torch.inference_mode():
        assert torch.isfinite(model(torch.randint(200, 1000, (1, 5))).logits).all()


def test_random_lora_changes_outputs_and_merges_to_the_same_function():
    config = _small("HuggingFaceTB/SmolLM2-135M")
    model, _ = build_random_model(config, dtype="float32", seed=0)
    ids = torch.randint(10, 1000, (1, 8))
    with torch.inference_mode():
        base = model(ids).logits
    lora = attach_random_lora(model, r=4, alpha=8, target_modules=["q_proj", "v_proj", "up_proj"], seed=1)
    b_weights = [p for n, p in lora.named_parameters() if "lora_B" in n]
    assert b_weights and all(p.abs().sum() > 0 for p in b_weights)
    with torch.inference_mode():
        unmerged = lora(ids).logits
        assert (unmerged - base).abs().max() > 1e-3
        merged = lora.merge_and_unload()(ids).logits
    assert torch.allclose(merged, unmerged, atol=1e-4)


def test_adapter_spec_validates_the_issue_shape():
    from inference_lab.models.random_adapter import RandomAdapterSpec

    spec = RandomAdapterSpec(r=8, alpha=16, target_modules=["q_proj"], init="random")
    assert spec.r == 8 and spec.target_modules == ["q_proj"]
    with pytest.raises(ValueError):
        RandomAdapterSpec(r=8, init="trained")
    for bad in ({"seed": 10**30}, {"seed": -1}, {"r": 10**12}, {"alpha": float("inf")}, {"r": True}):
        with pytest.raises(ValueError):  # values torch would refuse with a traceback, and a bool for an int
            RandomAdapterSpec(**bad)
