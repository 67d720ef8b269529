import json
import os
import subprocess
import sys

import pytest
import torch

from inference_lab.demo_kit import corpus, parse_demo_name, read_manifest
from inference_lab.demo_kit.build import file_hashes, resolve_demo_name
from inference_lab.demo_kit.names import LMSpec
from inference_lab.demo_kit.train import build_model, heldout_loss, token_stream
from inference_lab.models.answers import extract_answer, strip_think
from inference_lab.models.textgen import greedy_generate

from .conftest import REPO


def test_rebuild_with_same_seed_gives_identical_files(tiny_kit, tmp_path):
    # A separate process with another hash seed: set iteration order must not leak into any file.
    script = ("import sys; from pathlib import Path; from inference_lab.demo_kit.build import build_kit; "
              "build_kit(Path(sys.argv[1]), 'tiny', int(sys.argv[2]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "again"), str(read_manifest(tiny_kit)["seed"])],
                   check=True, env=env, cwd=REPO, capture_output=True)
    assert file_hashes(tmp_path / "again") == file_hashes(tiny_kit)


def test_corpus_is_deterministic_and_seed_dependent():
    assert corpus.pretraining_documents(7, 20) == corpus.pretraining_documents(7, 20)
    assert corpus.pretraining_documents(7, 20) != corpus.pretraining_documents(8, 20)


def test_stories_contain_the_prompt_words():
    import random

    rng = random.Random(3)
    for _ in range(50):
        prompt, story = corpus.story_example(rng)
        words = prompt.removeprefix("generate short bed time story containing word ").split(" and ")
        assert all(w in story for w in words), (prompt, story)


def test_manifest_records_the_build(tiny_kit):
    manifest = read_manifest(tiny_kit)
    assert manifest["variant"] == "tiny" and manifest["versions"]["torch"]
    for role in ("main", "assistant"):
        assert (tiny_kit / role / "model.safetensors").is_file()
        assert manifest["models"][role]["final_loss"] < manifest["models"][role]["initial_loss"]
    assert manifest["models"]["assistant"]["params"] < manifest["models"]["main"]["params"]
    assert (tiny_kit / "lora" / "adapter_config.json").is_file()


def test_tokenizer_round_trip_and_special_tokens(tiny_main):
    tokenizer = tiny_main.tokenizer
    text = "Once upon a time, the elephant ate cake. Sentiment: positive"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    for token in (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token):
        assert token is not None
    assert len({tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id}) == 3
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_trained_main_model_beats_untrained_on_heldout(tiny_main):
    tokenizer = tiny_main.tokenizer
    stream = token_stream(tokenizer, corpus.pretraining_documents(999, 40))
    cfg = tiny_main.model.config
    untrained = build_model(LMSpec(cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads,
                                   cfg.num_key_value_heads, cfg.intermediate_size, 0, 1, 64, 0.0), tokenizer, seed=0)
    trained_loss = heldout_loss(tiny_main.model, stream, 64)
    assert trained_loss < heldout_loss(untrained, stream, 64) - 2.0


def test_trained_model_writes_the_story_format(tiny_main):
    [text] = greedy_generate(tiny_main.model, tiny_main.tokenizer,
                             ["generate short bed time story containing word dog and sausage\n"], 12)
    assert any(word in text for word in ("Once", "Long", "In a", "dog", "named"))


def test_lora_adapter_improves_task_accuracy(tiny_kit):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from inference_lab.models.loading import load_tokenizer

    rows = [json.loads(line) for line in (tiny_kit / "data" / "task_test.jsonl").read_text().splitlines()]
    tokenizer = load_tokenizer(str(tiny_kit / "main"))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_kit / "main"), tiny_kit / "lora")
    prompts = [r["prompt"] for r in rows]

    def accuracy(texts):
        return sum(extract_answer(t, corpus.TASK_ANSWER_PATTERN) == r["label"] for t, r in zip(texts, rows)) / len(rows)

    with torch.no_grad(), model.disable_adapter():
        base = accuracy(greedy_generate(model, tokenizer, prompts, 8))
    lora = accuracy(greedy_generate(model, tokenizer, prompts, 8))
    assert lora >= base + 0.4, (base, lora)
    assert lora >= 0.75


@pytest.mark.parametrize("name, expected", [
    ("demo", ("tiny", "main")),  # conftest sets INFERENCE_LAB_DEMO_VARIANT=tiny
    ("demo-assistant", ("tiny", "assistant")),
    ("demo-full-lora", ("full", "lora")),
    ("demo-tiny-task", ("tiny", "data/task_test.jsonl")),
    ("demo-mcq", ("tiny", "data/mcq.jsonl")),
    ("demo-other", None),
    ("gpt2", None),
    ("demonstration/model", None),
])
def test_demo_names(name, expected):
    assert parse_demo_name(name) == expected


def test_resolve_demo_name_points_into_the_kit(tiny_kit):
    assert resolve_demo_name("demo-tiny-lora") == tiny_kit / "lora"
    assert resolve_demo_name("Qwen/Qwen3-4B") is None


def test_answer_extraction_ignores_think_blocks():
    assert strip_think("<think>negative?</think> positive") == " positive"
    assert extract_answer("<think>it is negative</think>Answer: Positive.", corpus.TASK_ANSWER_PATTERN) == "positive"
    assert extract_answer("<think>unclosed negative", corpus.TASK_ANSWER_PATTERN) is None
    assert extract_answer("maybe", corpus.TASK_ANSWER_PATTERN) is None
