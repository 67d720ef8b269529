"""Build the demo kit once: tokenizer, main model, assistant, LoRA adapter, data sets, manifest.

Where a kit lives and what its names mean is `names` (pure). A build goes to a temporary folder and is renamed
into place at the end, under a file lock, so an interrupted or concurrent build never leaves a half kit behind.
Commands build the kits their config names before they start (`ensure_named`); the model loader never builds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core import signals
from . import corpus
from .names import (
    DEFAULT_SEED,
    KIT_VERSION,
    VARIANTS,
    default_variant,
    is_built,
    kit_dir,
    parse_demo_name,
    read_manifest,
    spec_hash,
)
from .train import build_model, heldout_loss, token_stream, train_lm, train_lora, train_tokenizer


def ensure_named(names: Iterable[str | None], log: Callable[[str], None] | None = None) -> list[Path]:
    """Build every demo kit the given model/data names refer to (once); other names are left alone."""
    variants = {parsed[0] for name in names if name and (parsed := parse_demo_name(name)) is not None}
    return [ensure_kit(variant, log=log) for variant in sorted(variants)]


def resolve_demo_name(name: str, log: Callable[[str], None] | None = None) -> Path | None:
    """Path of a demo kit model, adapter or data set (building the kit on first use); None if not a demo name."""
    parsed = parse_demo_name(name)
    if parsed is None:
        return None
    variant, role = parsed
    return ensure_kit(variant, log=log) / role


def ensure_kit(variant: str | None = None, seed: int = DEFAULT_SEED, log: Callable[[str], None] | None = None,
               force: bool = False) -> Path:
    variant = variant or default_variant()
    target = kit_dir(variant, seed)
    if is_built(target) and not force:
        return target
    if log is None:  # a first use from any command: say what takes minutes, and what came out
        from ..ui.console import console
        from .display import manifest_table

        err = console(stderr=True)
        err.print(f"[bold]Building the demo kit '{variant}' (once; cached in {target.parent})[/bold]")
        path = ensure_kit(variant, seed, log=lambda msg: err.print(f"[dim]{msg}[/dim]"), force=force)
        err.print(manifest_table(read_manifest(path), path))
        return path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the kit built
        if is_built(target) and not force:
            return target
        staging = target.parent / f".build-{target.name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        # armed: a stop raises here instead of ending the process at once, so the staging folder is removed
        with signals.armed():
            try:
                build_kit(staging, variant, seed, log=log)
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def _versions() -> dict[str, str]:
    import peft
    import tokenizers
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "peft": peft.__version__}


def build_kit(out: Path, variant: str, seed: int, log: Callable[[str], None] | None = None) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from ..models.answers import extract_answer
    from ..models.noise import silence_library_noise
    from ..models.textgen import greedy_generate

    silence_library_noise()

    say = log or (lambda _msg: None)
    spec = VARIANTS[variant]
    started = time.perf_counter()
    out.mkdir(parents=True)

    say(f"demo kit '{variant}': training tokenizer")
    tokenizer = train_tokenizer(corpus.tokenizer_corpus(seed, spec.n_stories), spec.vocab_size)
    docs = corpus.pretraining_documents(seed, spec.n_stories)
    stream = token_stream(tokenizer, docs)
    heldout = token_stream(tokenizer, corpus.pretraining_documents(seed + 100, max(spec.n_stories // 10, 40)))

    models: dict[str, dict] = {}
    for role, lm_spec, role_seed in (("main", spec.main, seed), ("assistant", spec.assistant, seed + 1)):
        say(f"demo kit '{variant}': training {role} model ({lm_spec.steps} steps)")
        model = build_model(lm_spec, tokenizer, role_seed)
        untrained = heldout_loss(model, heldout, lm_spec.seq_len)
        stats = train_lm(model, stream, lm_spec, role_seed)
        model.save_pretrained(out / role, safe_serialization=True)
        tokenizer.save_pretrained(out / role)
        models[role] = {
            "params": sum(p.numel() for p in model.parameters()),
            "bytes": _folder_bytes(out / role),
            "initial_loss": round(stats.initial_loss, 4),
            "final_loss": round(stats.final_loss, 4),
            "heldout_loss": round(heldout_loss(model, heldout, lm_spec.seq_len), 4),
            "untrained_heldout_loss": round(untrained, 4),
            "train_seconds": round(stats.seconds, 1),
            "config": dataclasses.asdict(lm_spec),
        }

    say(f"demo kit '{variant}': training LoRA adapter on the sentiment task")
    train_rows = corpus.task_documents(seed + 2, spec.n_task_train)
    test_rows = [{"id": f"task-{i:04d}", **row}
                 for i, row in enumerate(corpus.task_documents(seed + 3, spec.n_task_test))]
    base = AutoModelForCausalLM.from_pretrained(out / "main")
    lora_model, lora_stats = train_lora(
        base, tokenizer, [(r["prompt"], r["label"]) for r in train_rows], rank=spec.lora_rank,
        steps=spec.lora_steps, batch_size=spec.lora_batch, lr=spec.lora_lr, seed=seed + 2,
    )
    lora_model.save_pretrained(out / "lora")
    # PEFT records the base model's folder, here the temporary build folder: name the kit model instead,
    # so the adapter files do not depend on where (or in which process) the kit was built.
    # PEFT also writes `target_modules` from a set, in an order that changes with each process's hash seed:
    # sort it so the same seed gives the same files in any process.
    for written in ("adapter_config.json", "README.md"):
        path = out / "lora" / written
        if path.is_file():
            path.write_text(path.read_text().replace(str(out / "main"), f"demo-{variant}"))
    adapter_config = out / "lora" / "adapter_config.json"
    settings = json.loads(adapter_config.read_text())
    if isinstance(settings.get("target_modules"), list):
        settings["target_modules"] = sorted(settings["target_modules"])
    adapter_config.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(out / "lora")

    prompts = [r["prompt"] for r in test_rows]

    def accuracy(texts: list[str]) -> float:
        hits = [extract_answer(t, corpus.TASK_ANSWER_PATTERN) == r["label"] for t, r in zip(texts, test_rows)]
        return sum(hits) / len(hits)

    with torch.no_grad():
        with lora_model.disable_adapter():  # pure base: PEFT wrapped the model in place
            base_acc = accuracy(greedy_generate(lora_model, tokenizer, prompts, max_new_tokens=8))
        lora_acc = accuracy(greedy_generate(lora_model, tokenizer, prompts, max_new_tokens=8))
    models["lora"] = {
        "rank": spec.lora_rank,
        "trainable_params": sum(p.numel() for p in lora_model.parameters() if p.requires_grad),
        "bytes": _folder_bytes(out / "lora"),
        "initial_loss": round(lora_stats.initial_loss, 4),
        "final_loss": round(lora_stats.final_loss, 4),
        "train_seconds": round(lora_stats.seconds, 1),
        "task_accuracy_base": round(base_acc, 4),
        "task_accuracy_lora": round(lora_acc, 4),
    }

    _write_jsonl(out / "data" / "task_test.jsonl", test_rows)
    _write_jsonl(out / "data" / "mcq.jsonl",
                 [{"id": f"mcq-{i:04d}", **row} for i, row in enumerate(corpus.mcq_items(seed + 4, spec.n_mcq))])
    manifest = {
        "kit_version": KIT_VERSION,
        "variant": variant,
        "seed": seed,
        "spec_hash": spec_hash(variant, seed),
        "versions": _versions(),
        "vocab_size": len(tokenizer),
        "models": models,
        "data": {"task_test": len(test_rows), "mcq": spec.n_mcq, "task_labels": list(corpus.TASK_LABELS),
                 "task_answer_pattern": corpus.TASK_ANSWER_PATTERN},
        "build_seconds": round(time.perf_counter() - started, 1),
        "files": file_hashes(out),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"demo kit '{variant}': built in {manifest['build_seconds']} s")
    return manifest


