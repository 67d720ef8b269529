"""The engine layer against vLLM's CPU server (skipped without .venv-vllm: ./run.sh engine-setup vllm).

One server for the module (~60 s to ready on 2 busy cores): the tiny kit's main model as `demo` and its LoRA
adapter as `demo-lora`, from the tiny kit made vLLM-ready (`engines.demo`: vLLM's CPU attention has no
head size 16, the tiny kit's).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inference_lab.core.errors import UserError
from inference_lab.engines.commands import REPO_ROOT, VLLM_PYTHON_ENV, vllm_command
from inference_lab.engines.config import LoadShape, ServerSettings
from inference_lab.engines.demo import vllm_ready_tiny_kit
from inference_lab.engines.reference import greedy_ids, model_eos_ids
from inference_lab.engines.runner import measure_server, server_agreement
from inference_lab.engines.server import group_alive, launched_server

VLLM_PYTHON = Path(os.environ.get(VLLM_PYTHON_ENV, REPO_ROOT / ".venv-vllm" / "bin" / "python"))
pytestmark = pytest.mark.skipif(not VLLM_PYTHON.exists(),
                                reason=f"vLLM not installed ({VLLM_PYTHON} missing): ./run.sh engine-setup vllm")

PROMPTS = ["Once upon a time", "The little dog", "One day the cat"]
MAX_NEW = 16


@pytest.fixture(scope="module")
def kit() -> Path:
    return vllm_ready_tiny_kit()


@pytest.fixture(scope="module")
def vllm_server(kit):
    run_dir = Path(os.environ["INFERENCE_LAB_HOME"]) / "engine-tests-vllm"
    settings = ServerSettings(launch="vllm", max_model_len=256)
    plan = vllm_command(settings, kit / "main", served_name="demo", dtype="float32",
                        adapters={"demo-lora": kit / "lora"}, python=VLLM_PYTHON)
    with launched_server(plan.argv, log_path=run_dir / "vllm.log", env=plan.env, ready_timeout_s=300) as server:
        yield server
    assert not group_alive(server.pgid)  # API server, engine core and workers: one group, all gone


@pytest.fixture(scope="module")
def references(kit):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(kit / "main")
    base = AutoModelForCausalLM.from_pretrained(kit / "main", dtype="float32").eval()
    out = {"tokenizer": tokenizer, "eos": model_eos_ids(base, tokenizer),
           "base": greedy_ids(base, tokenizer, PROMPTS, MAX_NEW, batch_size=1),
           "fixed": greedy_ids(base, tokenizer, PROMPTS, MAX_NEW, batch_size=1, fixed_length=True)}
    lora = PeftModel.from_pretrained(base, kit / "lora").eval()  # edits `base` in place: used last
    out["lora"] = greedy_ids(lora, tokenizer, PROMPTS, MAX_NEW, batch_size=1)
    return out


def test_vllm_greedy_agrees_and_lora_is_served_per_request(vllm_server, references, tmp_path):
    settings = ServerSettings(base_url=vllm_server.base_url, model="demo")  # dialect found from /v1/models
    result = measure_server(settings, PROMPTS, model_path=None, max_new_tokens=MAX_NEW, run_dir=tmp_path,
                            adapters={"demo-lora": None}, shape=LoadShape(concurrency=[1, 2], warmup_requests=1),
                            tokenizer=references["tokenizer"], reference_ids=references["base"],
                            eos_ids=references["eos"])
    assert result.status == "complete" and result.dialect == "vllm"
    assert set(result.served_models) == {"demo", "demo-lora"}
    assert [(lv.mix, lv.concurrency) for lv in result.levels] == [
        ("base", 1), ("base", 2), ("demo-lora", 1), ("demo-lora", 2), ("mixed", 1), ("mixed", 2)]
    for level in result.levels:
        for r in level.requests:
            assert r.ok, r.error
            assert 0 < r.ttft_s <= r.e2el_s and sum(r.itl_s) <= r.e2el_s - r.ttft_s + 1e-6
            assert sum(r.chunk_tokens) == len(r.token_ids) == r.output_tokens  # ids streamed = usage
            assert r.token_count_mismatch is False
    assert {r.model for r in result.levels[-1].requests} == {"demo", "demo-lora"}
    assert result.agreement["rate"] == 1.0 and result.agreement["basis"] == "token ids"
    lora = server_agreement(result, references["lora"], tokenizer=references["tokenizer"],
                            eos_ids=references["eos"], model="demo-lora")
    assert lora["rate"] == 1.0  # the adapter served by vLLM = PEFT in process, token for token
    assert references["lora"] != references["base"]  # ... and it really answers differently
    assert {(row["mix"], row["concurrency"]) for row in result.adapter_overhead} == {
        ("demo-lora", 1), ("demo-lora", 2), ("mixed", 1), ("mixed", 2)}


def test_vllm_fixed_length_under_concurrency(vllm_server, references, tmp_path):
    settings = ServerSettings(base_url=vllm_server.base_url, model="demo")
    result = measure_server(settings, PROMPTS, model_path=None, max_new_tokens=MAX_NEW, run_dir=tmp_path,
                            fixed_length=True, shape=LoadShape(concurrency=[4], num_requests=8, warmup_requests=2),
                            reference_ids=references["fixed"], eos_ids=references["eos"])
    level = result.levels[0]
    assert all(r.ok and r.output_tokens == MAX_NEW for r in level.requests)
    assert level.aggregate["output_tokens"] == 8 * MAX_NEW
    assert result.agreement["rate"] == 1.0


def test_vllm_wrong_model_name_lists_the_served_ones(vllm_server, tmp_path):
    with pytest.raises(UserError, match=r"^server.model: 'nope' is not served by .*\(served: demo, demo-lora\)$"):
        measure_server(ServerSettings(base_url=vllm_server.base_url, model="nope"), PROMPTS, model_path=None,
                       max_new_tokens=4, run_dir=tmp_path)
