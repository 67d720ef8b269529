#!/usr/bin/env python
"""LoRA mode against the seed script it replaces, on the same rows: whole-process wall time, interleaved.

The seed (the reference documents' `compare_base_vs_lora.py`, full mode) is reproduced below as plainly as the
documents describe it: load the base, batched greedy generation over every prompt, `PeftModel.from_pretrained`,
the same for the adapter (used directly, or merged with `merge_and_unload`), write both prediction files and an
accuracy report. No warm-up, no fsync, no environment, no report page: the floor an honest tool must not fall far
below. Both run as fresh processes with one torch thread, alternating (seed, tool, seed, tool, ...), so a change in
the machine's speed hits both; medians of every round, with the ratio's 95 % bootstrap interval.

  .venv/bin/python benchmarks/lora_vs_seed.py [--kit full|tiny] [--rows 16] [--rounds 5] [--merged]

Writes benchmarks/results/lora_vs_seed-<time>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEED_SCRIPT = r'''
import json, re, sys, time
started = time.perf_counter()
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, adapter_dir, test_file, out_dir, rows, batch, merged = sys.argv[1:8]
rows, batch, merged = int(rows), int(batch), merged == "1"
samples = [json.loads(line) for line in open(test_file)][:rows]
tokenizer = AutoTokenizer.from_pretrained(model_dir)
tokenizer.padding_side = "left"
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(model_dir).eval()

def infer(m):
    out = []
    for i in range(0, len(samples), batch):
        prompts = [s["prompt"] for s in samples[i:i + batch]]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            gen = m.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return out

def answer(text):
    found = re.search(r"\b(positive|negative)\b", text, re.IGNORECASE)
    return found.group(1).lower() if found else None

base = infer(model)
lora_model = PeftModel.from_pretrained(model, adapter_dir).eval()
if merged:
    lora_model = lora_model.merge_and_unload()
lora = infer(lora_model)
report = {}
for name, texts in (("base", base), ("lora", lora)):
    with open(f"{out_dir}/{name}_predictions.jsonl", "w") as f:
        for s, t in zip(samples, texts):
            f.write(json.dumps({"id": s["id"], "response": t, "prediction": answer(t), "label": s["label"]}) + "\n")
    report[name] = sum(answer(t) == s["label"] for s, t in zip(samples, texts)) / len(samples)
json.dump(report, open(f"{out_dir}/comparison_report.json", "w"))
print(json.dumps({"accuracy": report, "seconds": time.perf_counter() - started}))
'''


def timed(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{out.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kit", choices=["full", "tiny"], default="full")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--merged", action="store_true", help="merge_and_unload on both sides (lora_full.yaml's way)")
    args = parser.parse_args()

    from inference_lab.core import stats
    from inference_lab.core.environment import load_average
    from inference_lab.demo_kit.build import ensure_kit
    from inference_lab.ui.console import compact_table, console

    kit = ensure_kit(args.kit)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "INFERENCE_LAB_DEMO_VARIANT": args.kit, "TOKENIZERS_PARALLELISM": "false"}
    work = Path(tempfile.mkdtemp(prefix="lora-vs-seed-"))
    (work / "seed.py").write_text(SEED_SCRIPT)
    test_file = kit / "data" / "task_test.jsonl"
    seed_cmd = [sys.executable, str(work / "seed.py"), str(kit / "main"), str(kit / "lora"), str(test_file),
                str(work), str(args.rows), str(args.batch), "1" if args.merged else "0"]
    tool_cmd = [sys.executable, "-m", "inference_lab", "lora", "configs/lora_full.yaml", "--quiet",
                "--set", f"inference.max_samples={args.rows}", "--set", f"inference.batch_size={args.batch}",
                "--set", f"inference.use_peft_directly={'false' if args.merged else 'true'}",
                "--set", "num_threads=1", "--output", str(work / "runs")]
    load_before = load_average()
    seed, tool = [], []
    timed(seed_cmd, env), timed(tool_cmd, env)  # first touches of the page cache: not measured
    for _ in range(args.rounds):
        seed.append(timed(seed_cmd, env))
        tool.append(timed(tool_cmd, env))
    ratio = stats.ratio(tool, seed, paired=True)
    result = {"kit": args.kit, "rows": args.rows, "batch": args.batch, "merged": args.merged, "rounds": args.rounds,
              "seed_s": stats.summary_dict(seed), "tool_s": stats.summary_dict(tool), "tool_over_seed": ratio.to_dict(),
              "load_average_before": load_before, "load_average_after": load_average(), "seed_runs": seed,
              "tool_runs": tool}
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"lora_vs_seed-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = compact_table(title=f"LoRA mode vs the seed script: {args.rows} rows, batch {args.batch}, full mode, "
                                f"{'merged' if args.merged else 'unmerged'}, {args.kit} kit, {args.rounds} rounds",
                          caption=f"whole process wall time; load {load_before} -> {result['load_average_after']}")
    for column in ("", "median s", "95% CI", "min-max"):
        table.add_column(column, justify="left" if not column else "right")
    for name, s in (("seed script", result["seed_s"]), ("inference-lab lora", result["tool_s"])):
        table.add_row(name, f"{s['median']:.2f}", f"{s['ci_low']:.2f}-{s['ci_high']:.2f}",
                      f"{s['min']:.2f}-{s['max']:.2f}")
    table.add_row("tool / seed", f"x{ratio.estimate:.3f}", f"{ratio.ci_low:.3f}-{ratio.ci_high:.3f}", "")
    console().print(table)
    console().print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
