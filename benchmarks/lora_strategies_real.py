"""The LoRA-vs-base strategies at a real model's shape (random weights, a random LoRA): do the demo kit's
conclusions hold at 0.1-0.6 B parameters?

The lora mode needs a tokenizer and labelled text, which random weights do not have, so this script runs the same
strategies with the same pieces the mode uses (`models.adapters.AdapterSwitch`: unmerged PEFT, merged copy, mixed
batches through `adapter_names`; the base pass always on the pure base) over a synthetic workload: N rows of random
prompt ids, each decoding exactly `--new-tokens` (so base and LoRA passes do the same work, unlike the demo task
where the adapter stops early). Strategies, as in the mode:

    unmerged chunked / full    base pass, attach (PEFT wraps the base), LoRA pass, unload; per chunk or once
    merged chunked / full      base pass, merged copy of the base, LoRA pass on it, drop it; per chunk or once
    mixed chunked / full       one pass: every row twice in one batch, half through the adapter (adapter_names)

Every strategy runs once per round, strategies interleaved, `--rounds` rounds (+1 warm-up round); medians with
bootstrap intervals, ratios paired by round. The adapter is written once to a temporary folder and loaded from it on
every attach, as a trained adapter would be. Memory is reported as what each strategy holds beyond the base (the
adapter's tensors; for merged, a whole copy of the base weights): the process's peak RSS cannot show it, because
freed weights stay in the allocator's heap across strategies.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lora_strategies_real.py                  # SmolLM2-135M shape
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lora_strategies_real.py --model Qwen/Qwen3-0.6B --rows 16

Writes benchmarks/results/lora_strategies_real-<model>-<time>.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from rich.table import Table  # noqa: E402

from inference_lab.core import device as dev  # noqa: E402
from inference_lab.core.environment import collect_environment, load_average  # noqa: E402
from inference_lab.core.measure import Stopwatch  # noqa: E402
from inference_lab.core.stats import percent_change, ratio, summarize  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.models.adapters import AdapterSource, AdapterSwitch, footprint_bytes  # noqa: E402
from inference_lab.models.catalogue import build_random_model, catalogue_config, generation_token_ids  # noqa: E402
from inference_lab.models.random_adapter import attach_random_lora  # noqa: E402
from inference_lab.models.synthetic import Workload, exact_length_kwargs, synthetic_batch  # noqa: E402
from inference_lab.ui.console import console, fmt_change  # noqa: E402

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STRATEGIES = ["unmerged chunked", "unmerged full", "merged chunked", "merged full", "mixed chunked", "mixed full"]


class Runner:
    def __init__(self, model, rows: torch.Tensor, batch: int, chunk: int, exact: dict, adapter_dir: Path):
        self.model, self.rows, self.batch, self.chunk, self.exact = model, rows, batch, chunk, exact
        self.source = AdapterSource.trained(str(adapter_dir))

    def _generate(self, model, ids: torch.Tensor, **extra) -> None:
        for start in range(0, ids.shape[0], self.batch):
            part = ids[start:start + self.batch]
            model.generate(input_ids=part, attention_mask=torch.ones_like(part), **self.exact, **extra)

    def run(self, strategy: str) -> dict:
        """One strategy over all rows; seconds per phase (attach/detach included in `adapter`)."""
        kind, layout = strategy.split()
        chunks = ([self.rows[i:i + self.chunk] for i in range(0, self.rows.shape[0], self.chunk)]
                  if layout == "chunked" else [self.rows])
        phases = {"base": 0.0, "lora": 0.0, "mixed": 0.0, "adapter": 0.0}
        switch = AdapterSwitch(self.model, self.source, merged=kind == "merged", base_name="random base")
        with Stopwatch() as total, torch.inference_mode():
            for ids in chunks:
                if kind != "mixed":
                    with Stopwatch() as watch:
                        self._generate(self.model, ids)  # the pure base: nothing attached yet
                    phases["base"] += watch.seconds
                with Stopwatch() as watch:
                    adapted = switch.attach()
                phases["adapter"] += watch.seconds
                with Stopwatch() as watch:
                    if kind == "mixed":  # base and adapter rows in one batch of twice the rows
                        both = torch.cat([ids, ids])
                        names = ["__base__"] * ids.shape[0] + [AdapterSwitch.ADAPTER_NAME] * ids.shape[0]
                        for start in range(0, both.shape[0], 2 * self.batch):
                            part = both[start:start + 2 * self.batch]
                            switch.mixed_model.generate(input_ids=part, attention_mask=torch.ones_like(part),
                                                        adapter_names=names[start:start + 2 * self.batch],
                                                        **self.exact)
                    else:
                        self._generate(adapted, ids)
                phases["mixed" if kind == "mixed" else "lora"] += watch.seconds
                with Stopwatch() as watch:
                    switch.detach()
                phases["adapter"] += watch.seconds
        return {"work_s": total.seconds, **{f"{k}_s": v for k, v in phases.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    threads = dev.apply_threads(args.threads)
    config = catalogue_config(args.model)
    model, build = build_random_model(config, dtype="float32", seed=0)
    ids = generation_token_ids(config)
    exact = {**exact_length_kwargs(args.new_tokens, ids["eos_token_id"], ids["pad_token_id"]),
             "pad_token_id": ids["pad_token_id"], "do_sample": False}
    rows = synthetic_batch(config, Workload(prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens,
                                            batch_size=args.rows), seed=1)["input_ids"]
    weights = footprint_bytes(model)
    with tempfile.TemporaryDirectory(prefix="lora-real-") as adapter_dir:
        peft = attach_random_lora(model, r=args.r, alpha=2 * args.r, target_modules=ALL_PROJECTIONS, seed=1)
        adapter_bytes = footprint_bytes(peft) - weights
        peft.save_pretrained(adapter_dir, save_embedding_layers=False)  # "auto" asks the hub about the base
        model = peft.unload()
        runner = Runner(model, rows, args.batch, args.chunk, exact, Path(adapter_dir))
        load_before = load_average()
        for strategy in STRATEGIES:  # warm-up round, not recorded
            runner.run(strategy)
        samples: dict[str, list[dict]] = {s: [] for s in STRATEGIES}
        for _ in range(args.rounds):
            for strategy in STRATEGIES:
                samples[strategy].append(runner.run(strategy))
    rows_out = {}
    for strategy, runs in samples.items():
        rows_out[strategy] = {key: summarize([r[key] for r in runs]).to_dict()
                              for key in runs[0] if any(r[key] for r in runs)}
        rows_out[strategy]["held_bytes"] = adapter_bytes + (weights if strategy.startswith("merged") else 0)
        rows_out[strategy]["samples"] = runs

    def series(strategy: str, key: str) -> list[float]:
        return [r[key] for r in samples[strategy]]

    verdicts = {
        "merged LoRA pass vs unmerged (full)": percent_change(ratio(series("merged full", "lora_s"),
                                                                    series("unmerged full", "lora_s"), paired=True)),
        "merged LoRA pass vs unmerged (chunked)": percent_change(ratio(
            series("merged chunked", "lora_s"), series("unmerged chunked", "lora_s"), paired=True)),
        "mixed pass vs base + LoRA passes (full, unmerged)": percent_change(ratio(
            series("mixed full", "mixed_s"),
            [b + lo for b, lo in zip(series("unmerged full", "base_s"), series("unmerged full", "lora_s"))],
            paired=True)),
        "unmerged work: full vs chunked": percent_change(ratio(series("unmerged full", "work_s"),
                                                               series("unmerged chunked", "work_s"), paired=True)),
        "merged work: full vs chunked": percent_change(ratio(series("merged full", "work_s"),
                                                             series("merged chunked", "work_s"), paired=True)),
        "merged work vs unmerged work (full)": percent_change(ratio(series("merged full", "work_s"),
                                                                    series("unmerged full", "work_s"), paired=True)),
    }
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = REPO / "benchmarks" / "results" / f"lora_strategies_real-{args.model.split('/')[-1]}-{stamp}.json"
    payload = {"benchmark": "lora_strategies_real", "settings": vars(args), "threads": threads,
               "parameters": sum(p.numel() for p in model.parameters()), "build_seconds": build.build_seconds,
               "weight_bytes": weights, "adapter_bytes": adapter_bytes,
               "load_average": {"before": load_before, "after": load_average()}, "strategies": rows_out,
               "verdicts": verdicts, "environment": collect_environment("cpu")}
    write_json_atomic(out, payload)
    show(payload, out)
    return 0


def _s(stats: dict | None) -> str:
    if not stats:
        return "-"
    text = f"{stats['median']:.2f}"
    return text if stats.get("ci_low") is None else f"{text} [{stats['ci_low']:.2f}-{stats['ci_high']:.2f}]"


def _pct(change: dict | None) -> str:
    return fmt_change(change, missing="-", ci_digits=1, mark_ties=False)


def show(payload: dict, path: Path) -> None:
    s = payload["settings"]
    table = Table(title=f"LoRA strategies at {s['model']} shape ({payload['parameters'] / 1e6:.0f} M parameters, "
                        f"random weights, r={s['r']} on every projection): {s['rows']} rows x {s['new_tokens']} "
                        f"tokens, batch {s['batch']}, chunks of {s['chunk']}, {s['rounds']} rounds, "
                        f"{payload['threads']['intra_op']} thread(s); seconds, median [95% CI]")
    for col in ("strategy", "work", "base pass", "LoRA pass", "mixed pass", "adapter attach+detach",
                "held beyond base MiB"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, row in payload["strategies"].items():
        table.add_row(name, _s(row.get("work_s")), _s(row.get("base_s")), _s(row.get("lora_s")),
                      _s(row.get("mixed_s")), _s(row.get("adapter_s")), f"{row['held_bytes'] / 2**20:,.1f}")
    screen = console()
    screen.print(table)
    for name, change in payload["verdicts"].items():
        verdict = "" if not change else (" (no measurable difference)" if not change["separated"] else "")
        screen.print(f"  {name}: {_pct(change)}{verdict}")
    load = payload["load_average"]
    screen.print(f"load average {load['before']} -> {load['after']}; results: {path}")


if __name__ == "__main__":
    sys.exit(main())
