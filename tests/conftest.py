"""Test-wide settings: offline, the tiny demo kit behind every `demo` name, a kit cache that persists locally."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("INFERENCE_LAB_HOME", str(REPO / ".cache" / "test-home"))
os.environ["INFERENCE_LAB_DEMO_VARIANT"] = "tiny"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(scope="session")
def tiny_kit() -> Path:
    from inference_lab.demo_kit.build import ensure_kit

    return ensure_kit("tiny")


@pytest.fixture(scope="session")
def tiny_main(tiny_kit):
    """The tiny main model and tokenizer, loaded once (read-only: tests must not modify it)."""
    from inference_lab.models.loading import load_model
    from inference_lab.models.settings import ModelSettings

    return load_model("demo-tiny", ModelSettings())


@pytest.fixture(scope="session")
def methods_run(tiny_kit, tmp_path_factory) -> Path:
    """One finished tiny methods run (standard and batched, 2 rounds, a skipped speculative variant)."""
    from inference_lab import session
    from inference_lab.modes import MODES
    from inference_lab.modes.methods.config import MethodsConfig

    config = MethodsConfig(main_model="demo", assistant_model=None, prompts=["Once upon a time", "The dog"],
                           num_completions=2, max_new_tokens=6, methods_to_test=["standard", "batched"],
                           use_speculative_decoding=True, warmup_runs=0, num_runs=2, temperature=0,
                           output_dir=str(tmp_path_factory.mktemp("runs")))
    return session.execute(MODES["methods"], config, label="report").folder
