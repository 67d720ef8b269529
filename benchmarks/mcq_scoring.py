"""MCQ scoring speed: the one-pass batched scorer against a per-choice loop, on the same questions.

Strategies (all share `encode_pair`, so they score the same tokens):
- per-choice loop: one forward pass per (question, choice), the "before" of the reference document;
- per-question batch: the reference document's "after", one forward pass holding a question's choices;
- batched scorer: `LoglikelihoodScorer` as the `mcq` command runs it (rows shared by identical inputs, sorted by
  length, batched across questions).

Each strategy runs `--warmup` untimed times, then `--runs` timed times; the table shows medians, forward passes,
the largest score difference to the per-choice loop, and accuracy. Results: benchmarks/results/mcq_scoring-*.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mcq_scoring.py            # full demo kit if built, else tiny
    .venv/bin/python benchmarks/mcq_scoring.py --model demo-tiny --runs 7
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from inference_lab.config import ModelSettings  # noqa: E402
from inference_lab.environment import collect_environment  # noqa: E402
from inference_lab.loading import load_model  # noqa: E402
from inference_lab.mcq.data import read_mcq, resolve_data_file  # noqa: E402
from inference_lab.mcq.prompts import Template, build_requests  # noqa: E402
from inference_lab.mcq.results import accuracy, make_predictions  # noqa: E402
from inference_lab.mcq.scoring import LoglikelihoodScorer, Score  # noqa: E402
from inference_lab.measure import Stopwatch, summarize  # noqa: E402
from inference_lab.report import console, fmt_seconds  # noqa: E402
from inference_lab.storage import write_json_atomic  # noqa: E402
from rich.table import Table  # noqa: E402

GOAL_SPEEDUP = 3.0


def per_choice_loop(model, tokenizer, requests, batch_size):
    scorer = LoglikelihoodScorer(model, tokenizer, batch_size=1, share_inputs=False)
    return scorer.score([r for q in requests for r in q]), scorer.forward_passes


def per_question_batch(model, tokenizer, requests, batch_size):
    scorer = LoglikelihoodScorer(model, tokenizer, batch_size=max(len(q) for q in requests), share_inputs=False)
    scores: list[Score] = []
    for question in requests:
        scores.extend(scorer.score(question))
    return scores, scorer.forward_passes


def batched_scorer(model, tokenizer, requests, batch_size):
    scorer = LoglikelihoodScorer(model, tokenizer, batch_size=batch_size)
    return scorer.score([r for q in requests for r in q]), scorer.forward_passes


STRATEGIES: dict[str, Callable] = {
    "per-choice loop": per_choice_loop,
    "per-question batch": per_question_batch,
    "batched scorer": batched_scorer,
}


def default_model() -> str:
    from inference_lab.demo_kit.build import is_built, kit_dir

    return "demo-full" if is_built(kit_dir("full")) else "demo-tiny"  # never builds the full kit


def default_data(model_name: str) -> str:
    """The kit's MCQ set: demo-X-mcq for a demo name, <kit>/data/mcq.jsonl for a model folder inside a kit."""
    from inference_lab.demo_kit import parse_demo_name

    if parse_demo_name(model_name) is not None:
        return f"{model_name}-mcq"
    return str(Path(model_name).expanduser().parent / "data" / "mcq.jsonl")


def measure(fn, model, tokenizer, requests, batch_size, device, warmup, runs):
    for _ in range(warmup):
        fn(model, tokenizer, requests, batch_size)
    seconds = []
    for _ in range(runs):
        with Stopwatch(device) as watch:
            scores, passes = fn(model, tokenizer, requests, batch_size)
        seconds.append(watch.seconds)
    return scores, passes, summarize(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help="model name or folder (default: demo-full if built, else demo-tiny); a kit's main/ "
                             "folder brings its data/mcq.jsonl")
    parser.add_argument("--data", default=None, help="MCQ JSONL (default: the kit's demo MCQ set)")
    parser.add_argument("--modes", nargs="+", default=["letters", "choices"], choices=["letters", "choices"])
    parser.add_argument("--batch-size", default="auto", help="batched scorer's batch size (int or auto)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output-dir", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)

    model_name = args.model or default_model()
    data_name = args.data or default_data(model_name)
    loaded = load_model(model_name, ModelSettings(device=args.device), field_name="model")
    device = loaded.report.device
    items = read_mcq(resolve_data_file(data_name, "data"))
    template = Template()

    out = console()
    table = Table(title=f"MCQ scoring: {model_name}, {len(items)} questions, median of {args.runs} runs "
                        f"after {args.warmup} warm-up")
    for column in ("mode", "strategy", "forward passes", "median", "p90", "speed-up", "max |Δ loglik|", "accuracy"):
        table.add_column(column, justify="left" if column in {"mode", "strategy"} else "right")
    rows = []
    for mode in args.modes:
        requests = build_requests(items, mode, template)
        reference: list[Score] | None = None
        baseline = None
        for name, fn in STRATEGIES.items():
            scores, passes, stats = measure(fn, loaded.model, loaded.tokenizer, requests, batch_size, device,
                                            args.warmup, args.runs)
            reference = reference or scores
            baseline = baseline or stats.median
            diff = max(abs(a.loglik - b.loglik) for a, b in zip(scores, reference))
            acc = accuracy(make_predictions(name, items, requests, scores, template, "per_char"))
            row = {"mode": mode, "strategy": name, "forward_passes": passes, "seconds": stats.to_dict(),
                   "speedup_vs_per_choice": baseline / stats.median, "max_abs_loglik_diff": diff,
                   "accuracy_per_char": acc, "choices_scored": len(scores)}
            rows.append(row)
            table.add_row(mode, name, str(passes), fmt_seconds(stats.median), fmt_seconds(stats.p90),
                          f"{row['speedup_vs_per_choice']:.1f}x", f"{diff:.1e}", f"{acc:.1%}")
        table.add_section()
    out.print(table)

    batched = [r for r in rows if r["strategy"] == "batched scorer"]
    goal_met = all(r["speedup_vs_per_choice"] >= GOAL_SPEEDUP for r in batched)
    speedups = ", ".join(f"{r['mode']} {r['speedup_vs_per_choice']:.1f}x" for r in batched)
    verdict = "[green]met[/green]" if goal_met else "[red]not met[/red]"
    out.print(f"goal: batched scorer >= {GOAL_SPEEDUP:.0f}x faster than the per-choice loop: {verdict} ({speedups})")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = write_json_atomic(Path(args.output_dir) / f"mcq_scoring-{stamp}.json", {
        "benchmark": "mcq_scoring",
        "model": model_name,
        "data": str(resolve_data_file(data_name, "data")),
        "n_questions": len(items),
        "batch_size": batch_size,
        "warmup": args.warmup,
        "runs": args.runs,
        "goal_speedup": GOAL_SPEEDUP,
        "goal_met": goal_met,
        "results": rows,
        "load": loaded.report.to_dict(),
        "environment": collect_environment(device),
    })
    out.print(f"[dim]written: {path}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
