"""CPU figures at a real model's shape, with random weights: eager vs compiled decoding vs prompt lookup, the old
dynamic-shape `torch_compile` path, and merged vs unmerged LoRA.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/realscale_cpu.py --threads 1 --rounds 5
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/realscale_cpu.py --threads 2 --rounds 5 --skip-compile

Model: a catalogue architecture (default HuggingFaceTB/SmolLM2-135M) in float32 with seeded random weights; workload:
random prompt ids, exactly --new-tokens tokens per row (EOS ignored). Every variant is run interleaved, round by
round, so drifting machine load hits all of them alike; medians with min-max. Compile time is measured apart (first
call per shape) and never enters a median. Writes benchmarks/results/realscale_cpu-<threads>t.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from inference_lab.core.measure import Stopwatch  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.models.catalogue import build_random_model, catalogue_config, generation_token_ids  # noqa: E402
from inference_lab.models.compiled import CompiledDecoding  # noqa: E402
from inference_lab.models.random_adapter import attach_random_lora  # noqa: E402
from inference_lab.models.synthetic import Workload, exact_length_kwargs, synthetic_batch  # noqa: E402

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[:3].__str__()


def graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def stats(values: list[float]) -> dict:
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


def timed(fn) -> tuple[float, object]:
    with Stopwatch() as watch, torch.inference_mode():
        out = fn()
    return watch.seconds, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-lora", action="store_true")
    parser.add_argument("--skip-dynamic", action="store_true", help="skip today's dynamic=True forward compile")
    parser.add_argument("--hand-loop", action="store_true",
                        help="also a gpt-fast style hand-written loop (compiled decode step, no generate())")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"model": args.model, "dtype": "float32", "threads": args.threads,
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "loadavg_start": loadavg(),
                    "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens}
    config = catalogue_config(args.model)
    model, report = build_random_model(config, dtype="float32", seed=0)
    result["build_seconds"] = report.build_seconds
    ids = generation_token_ids(config)
    exact = {**exact_length_kwargs(args.new_tokens, ids["eos_token_id"], ids["pad_token_id"]),
             "pad_token_id": ids["pad_token_id"], "do_sample": False}
    batches = {b: synthetic_batch(config, Workload(prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens,
                                                   batch_size=b), seed=1) for b in (1, 4)}

    variants = {
        "eager b1": lambda: model.generate(**batches[1], **exact),
        "eager b4": lambda: model.generate(**batches[4], **exact),
        "prompt_lookup b1": lambda: model.generate(**batches[1], **exact, prompt_lookup_num_tokens=10),
    }
    compile_info: dict = {}
    if not args.skip_compile:
        compiled = CompiledDecoding(model, max_cache_len=args.prompt_tokens + args.new_tokens)
        rest = {k: v for k, v in exact.items() if k != "max_new_tokens"}
        for b in (1, 4):
            rep = compiled.warm_up(batches[b]["input_ids"], batches[b]["attention_mask"], args.new_tokens, **rest)
            compile_info[f"compiled b{b}"] = rep.to_dict()
            variants[f"compiled b{b}"] = (lambda b=b: compiled.generate(
                batches[b]["input_ids"], batches[b]["attention_mask"], args.new_tokens, **rest))
    if not args.skip_compile and not args.skip_dynamic:
        dynamic_model, dynamic_info = dynamic_forward_compile(config, batches, exact, args)
        result["dynamic_compile"] = dynamic_info
        for b in (1, 4):
            variants[f"dynamic-compile b{b}"] = lambda b=b: dynamic_model.generate(**batches[b], **exact)
    if args.hand_loop:
        loop = HandLoop(model, max_cache_len=args.prompt_tokens + args.new_tokens)
        for b in (1, 4):
            first, _ = timed(lambda b=b: loop.generate(batches[b], args.new_tokens))
            compile_info[f"hand-loop b{b}"] = {"first_call_seconds": first}
            variants[f"hand-loop b{b}"] = lambda b=b: loop.generate(batches[b], args.new_tokens)
    reference = {b: timed(lambda b=b: model.generate(**batches[b], **exact))[1] for b in (1, 4)}

    seconds: dict[str, list[float]] = {name: [] for name in variants}
    same_tokens: dict[str, bool] = {}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            elapsed, out = timed(fn)
            seconds[name].append(elapsed)
            batch = 4 if name.endswith("b4") else 1
            same_tokens[name] = same_tokens.get(name, True) and torch.equal(out, reference[batch])
    result["variants"] = {
        name: {"seconds": stats(values), "tokens_per_s": stats([(4 if name.endswith("b4") else 1) *
                                                                 args.new_tokens / s for s in values]),
               "same_tokens_as_eager": same_tokens[name], **({"compile": compile_info[name]}
                                                             if name in compile_info else {})}
        for name, values in seconds.items()}
    if not args.skip_compile:
        result["compiled_summary"] = compiled.summary()
    if not args.skip_lora:
        result["lora"] = lora_merged_vs_unmerged(config, batches[1], exact, args.rounds)
    result["loadavg_end"] = loadavg()
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / f"realscale_cpu-{args.threads}t.json", result)
    print(json.dumps(result, indent=1))


class HandLoop:
    """gpt-fast's shape without generate(): eager prefill, then a compiled greedy decode step over a static cache.
    Greedy argmax only, no logits processors (so EOS is not suppressed: token equality with generate() holds as
    long as the random model never picks an EOS/pad id, which is checked, not assumed)."""

    def __init__(self, model, max_cache_len: int):
        self.model = model
        self.max_cache_len = max_cache_len
        self.caches: dict[int, object] = {}
        self.step = torch.compile(self._decode_one, fullgraph=True, dynamic=False)

    def _decode_one(self, token, cache_position, cache):
        logits = self.model(input_ids=token, past_key_values=cache, cache_position=cache_position,
                            use_cache=True).logits
        return logits[:, -1].argmax(-1, keepdim=True)

    def generate(self, batch, new_tokens: int):
        from transformers import StaticCache

        ids = batch["input_ids"]
        rows, width = ids.shape
        if rows not in self.caches:
            self.caches[rows] = StaticCache(config=self.model.config, max_cache_len=self.max_cache_len)
        cache = self.caches[rows]
        cache.reset()
        logits = self.model(input_ids=ids, past_key_values=cache, cache_position=torch.arange(width),
                            use_cache=True, logits_to_keep=1).logits
        token = logits[:, -1].argmax(-1, keepdim=True)
        out = [ids, token]
        for i in range(new_tokens - 1):
            token = self.step(token, torch.tensor([width + i]), cache)
            out.append(token)
        return torch.cat(out, dim=1)


def dynamic_forward_compile(config, batches, exact, args) -> tuple[object, dict]:
    """What `torch_compile: true` does today (loading.py): model.forward = torch.compile(forward, dynamic=True)
    with the default dynamic cache. First call per shape and graphs compiled when prompt length or batch change;
    the model is returned for the interleaved steady-state rounds."""
    model, _ = build_random_model(config, dtype="float32", seed=0)
    model.forward = torch.compile(model.forward, dynamic=True)
    before = graphs()
    first, _ = timed(lambda: model.generate(**batches[1], **exact))
    after_first = graphs()
    longer = synthetic_batch(config, Workload(prompt_tokens=args.prompt_tokens * 2, new_tokens=args.new_tokens,
                                              batch_size=1), seed=2)
    new_prompt, _ = timed(lambda: model.generate(**longer, **exact))
    after_prompt = graphs()
    new_batch, _ = timed(lambda: model.generate(**batches[4], **exact))
    after_batch = graphs()
    return model, {"first_call_seconds": first, "graphs_first_call": after_first - before,
                   "new_prompt_length_seconds": new_prompt, "graphs_new_prompt_length": after_prompt - after_first,
                   "new_batch_seconds": new_batch, "graphs_new_batch": after_batch - after_prompt}


def lora_merged_vs_unmerged(config, batch, exact, rounds: int) -> dict:
    """Random LoRA r=8 on every projection; unmerged PEFT forward vs a merged copy, interleaved."""
    base, _ = build_random_model(config, dtype="float32", seed=0)
    peft_model = attach_random_lora(base, r=8, alpha=16, target_modules=ALL_PROJECTIONS, seed=1)
    merged = copy.deepcopy(peft_model).merge_and_unload()
    runs = {"unmerged": lambda: peft_model.generate(**batch, **exact),
            "merged": lambda: merged.generate(**batch, **exact)}
    for fn in runs.values():
        timed(fn)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            seconds[name].append(timed(fn)[0])
    ratios = [u / m for u, m in zip(seconds["unmerged"], seconds["merged"])]
    return {"r": 8, "alpha": 16, "target_modules": ALL_PROJECTIONS,
            **{name: stats(values) for name, values in seconds.items()},
            "merged_speedup_pct_per_round": stats([(r - 1) * 100 for r in ratios])}


if __name__ == "__main__":
    main()
