#!/usr/bin/env python
"""How much does the methods mode's measuring cost? Its tok/s for `standard` and `batched` against a bare
`model.generate` loop over the same batches, in the same process, runs interleaved (A B A B ...).

Two overhead figures per method:
- measured: the mode's own tok/s (completion tokens / summed batch latency, i.e. with TokenClock and the
  forward counters inside the timed region) vs the bare loop's tok/s;
- wall: the whole session (run folder, header, records, fsync'd result files, summaries, reports) vs the bare loop.
Goal: measured overhead <= 3 %.

    python benchmarks/harness_overhead.py [--variant full|tiny] [--rounds 5] [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference_lab import session  # noqa: E402
from inference_lab.core.environment import collect_environment  # noqa: E402
from inference_lab.core.measure import Stopwatch  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.models.loading import load_model  # noqa: E402
from inference_lab.models.textgen import encode_batch, split_new_tokens  # noqa: E402
from inference_lab.modes import MODES  # noqa: E402
from inference_lab.modes.methods import runner  # noqa: E402
from inference_lab.modes.methods.config import MethodsConfig as InferenceConfig  # noqa: E402
from inference_lab.modes.methods.planning import batches, flatten  # noqa: E402
from inference_lab.modes.methods.registry import build_plans  # noqa: E402
from inference_lab.ui.console import console  # noqa: E402


def bare_loop(loaded, config: InferenceConfig, batch_size: int) -> tuple[float, int]:
    """(seconds, new tokens) of plain generate calls over the same batches as the comparator."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    seconds, tokens = 0.0, 0
    for group in batches(flatten(config.prompts, config.completions_per_prompt()), batch_size):
        encoded = encode_batch(tokenizer, [item.prompt for item in group], model.device)
        with torch.inference_mode(), Stopwatch(model.device) as watch:
            out = model.generate(**encoded, max_new_tokens=config.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, use_cache=True)
        seconds += watch.seconds
        tokens += sum(len(r) for r in split_new_tokens(model, tokenizer, out, encoded["input_ids"].shape[1]))
    return seconds, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default=os.environ.get("INFERENCE_LAB_DEMO_VARIANT", "full"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--output", default="benchmarks/results/harness_overhead.json")
    args = parser.parse_args()

    import torch

    model_name = f"demo-{args.variant}"
    # The session sets torch's threads from num_threads: the bare loop must run with the same count.
    config = InferenceConfig(main_model=model_name, temperature=0.0, max_new_tokens=args.max_new_tokens,
                             num_completions=4, batch_size=4, warmup_runs=0, num_runs=1,
                             num_threads=torch.get_num_threads())
    loaded = load_model(model_name, config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("standard", "batched"):
            cfg = config.model_copy(update={"methods_to_test": [method], "output_dir": tmp})
            [plan] = build_plans(cfg)
            bare_loop(loaded, cfg, plan.batch_size)  # warm-up, not counted
            measured, wall, bare = [], [], []
            for _ in range(args.rounds):
                prepared = runner.prepare(cfg, main=loaded)
                with Stopwatch(loaded.model.device) as whole:
                    summary = session.execute(MODES["methods"], cfg, label="overhead", prepared=prepared).summary
                [result] = summary["methods"]
                tokens = result["completion_tokens_per_run"]
                measured.append(result["completion_tokens_per_s"]["median"])
                wall.append(tokens / whole.seconds)
                seconds, bare_tokens = bare_loop(loaded, cfg, plan.batch_size)
                assert bare_tokens == tokens, (bare_tokens, tokens)  # same work, greedy
                bare.append(bare_tokens / seconds)
            b, m, w = (statistics.median(v) for v in (bare, measured, wall))
            rows.append({"method": method, "batch_size": plan.batch_size, "rounds": args.rounds,
                         "bare_tok_s": b, "comparator_measured_tok_s": m, "comparator_wall_tok_s": w,
                         "measured_overhead_pct": 100 * (b - m) / b, "wall_overhead_pct": 100 * (b - w) / b,
                         "bare_tok_s_all": bare, "measured_tok_s_all": measured, "wall_tok_s_all": wall})
    payload = {"benchmark": "harness_overhead", "model": model_name, "max_new_tokens": args.max_new_tokens,
               "environment": collect_environment("cpu"), "results": rows}
    write_json_atomic(args.output, payload)

    from rich.table import Table

    table = Table(title=f"Comparator vs bare generate ({model_name}, {args.max_new_tokens} new tokens, "
                        f"median of {args.rounds} interleaved rounds)")
    for col in ("method", "batch", "bare tok/s", "comparator tok/s (measured)", "overhead %",
                "comparator tok/s (wall)", "wall overhead %"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        table.add_row(r["method"], str(r["batch_size"]), f"{r['bare_tok_s']:.1f}",
                      f"{r['comparator_measured_tok_s']:.1f}", f"{r['measured_overhead_pct']:+.1f}",
                      f"{r['comparator_wall_tok_s']:.1f}", f"{r['wall_overhead_pct']:+.1f}")
    console().print(table)
    console().print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
