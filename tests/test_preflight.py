"""Memory pre-flight and batch_size auto: impossible configs are refused with the numbers before loading; the KV
term matches a hand computation; auto batch halves under out-of-memory and records what it tried."""

from __future__ import annotations

import pytest
import torch

from inference_lab.core.errors import RunFailed, UserError
from inference_lab.models.batch_auto import largest_fitting_batch
from inference_lab.models.catalogue import catalogue_config, param_count_meta
from inference_lab.models.preflight import (
    GIB,
    Estimate,
    check_fits,
    estimate_bytes,
    free_bytes,
    kv_cache_bytes,
    weight_bytes,
)


def test_kv_cache_matches_a_hand_computation():
    config = catalogue_config("Qwen/Qwen3-0.6B")  # 28 layers, 8 KV heads, head_dim 128
    # 2 (K,V) x 28 layers x 8 heads x 128 dims x (100 + 28) positions x 2 rows x 3 beams x 2 bytes
    assert kv_cache_bytes(config, dtype="bfloat16", batch_size=2, tokens=128, num_beams=3) == \
        2 * 28 * 8 * 128 * 128 * 2 * 3 * 2 == 88_080_384


def test_sliding_window_layers_hold_at_most_the_window():
    config = catalogue_config("google/gemma-2-2b-it")  # 26 layers, half sliding with a 4096 window
    full = 2 * 4 * 256 * 2  # K and V, 4 heads, head_dim 256, bfloat16, per position per layer
    expected = full * (13 * 10_000 + 13 * 4096)
    assert kv_cache_bytes(config, dtype="bfloat16", batch_size=1, tokens=10_000) == expected


def test_weights_follow_dtype_and_quantization():
    config = catalogue_config("Qwen/Qwen3-4B")
    params = param_count_meta(config)
    assert weight_bytes(config, "bfloat16") == 2 * params
    assert weight_bytes(config, "float32") == 4 * params
    four = weight_bytes(config, "bfloat16", "4bit")
    eight = weight_bytes(config, "bfloat16", "8bit")
    assert 0.25 * 2 * params < four < eight < 2 * params
    embeddings = config.vocab_size * config.hidden_size * 2  # tied head, kept in bfloat16
    assert four > embeddings


def test_an_impossible_config_is_refused_with_the_numbers():
    config = catalogue_config("meta-llama/Llama-3.1-8B")
    estimate = estimate_bytes(config, dtype="float32", batch_size=64, prompt_tokens=8192, new_tokens=256)
    assert estimate.weights == 8_030_261_248 * 4
    free = free_bytes("cpu")
    assert free is not None and free < estimate.total
    with pytest.raises(UserError) as err:
        check_fits(estimate, free, field_name="main_model", device="cpu")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"main_model: needs {estimate.total / GIB:.1f} GiB (weights 29.9, KV cache ")
    assert f"{free / GIB:.1f} GiB free on cpu" in message


def test_a_tiny_config_passes_and_unknown_free_memory_is_not_a_refusal():
    config = catalogue_config("HuggingFaceTB/SmolLM2-135M")
    estimate = estimate_bytes(config, dtype="float32", batch_size=4, prompt_tokens=64, new_tokens=32)
    assert estimate.total < 1 * GIB
    check_fits(estimate, free_bytes("cpu"))
    check_fits(Estimate(weights=10**15, kv_cache=0, activations=0), None)


def test_headroom_is_said_when_it_is_what_refuses():
    with pytest.raises(UserError, match=r"needs 9\.5 GiB .*, 10\.0 GiB free on cpu \(at most 90% of it is used\)"):
        check_fits(Estimate(weights=int(9.5 * GIB), kv_cache=0, activations=0), 10 * GIB)


def test_assistant_adds_its_weights_and_cache():
    main = catalogue_config("Qwen/Qwen3-8B")
    draft = catalogue_config("Qwen/Qwen3-0.6B")
    alone = estimate_bytes(main, dtype="bfloat16", batch_size=1, prompt_tokens=128, new_tokens=128)
    both = estimate_bytes(main, dtype="bfloat16", batch_size=1, prompt_tokens=128, new_tokens=128,
                          assistant_config=draft)
    assert both.weights - alone.weights == 2 * param_count_meta(draft)
    assert both.kv_cache - alone.kv_cache == kv_cache_bytes(draft, dtype="bfloat16", batch_size=1, tokens=256)


def _oom_above(limit: int, kind: str):
    calls = []

    def run_one(batch: int) -> str:
        calls.append(batch)
        if batch > limit:
            if kind == "cuda":
                raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch} GiB")
            raise RuntimeError(f"[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                               f"you tried to allocate {batch} GiB")
        return f"ran {batch}"

    return run_one, calls


@pytest.mark.parametrize("kind", ["cuda", "cpu"])
def test_auto_batch_halves_on_out_of_memory_and_records_each_try(kind):
    run_one, calls = _oom_above(12, kind)
    result, tried = largest_fitting_batch(run_one, start=64)
    assert result == "ran 8" and calls == [64, 32, 16, 8]
    assert [t["batch_size"] for t in tried] == [64, 32, 16, 8]
    assert [t["outcome"] for t in tried] == ["out of memory"] * 3 + ["ok"]
    assert "allocate" in tried[0]["error"]


def test_auto_batch_gives_up_below_one_and_does_not_swallow_other_errors():
    run_one, _ = _oom_above(0, "cuda")
    with pytest.raises(RunFailed, match=r"out of memory at every batch size tried \(4, 2, 1\)"):
        largest_fitting_batch(run_one, start=4)

    def broken(batch: int):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        largest_fitting_batch(broken, start=8)
