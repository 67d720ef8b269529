"""MCQ scoring speed: the one-pass batched scorer against a per-choice loop, on the same questions.

Strategies (all share `encode_pair`, so they score the same tokens):
- per-choice loop: one forward pass per (question, choice), the "before" of the reference document;
- per-question batch: the reference document's "after", one forward pass holding a question's choices;
- batched scorer: `LoglikelihoodScorer` as the `mcq` command runs it (rows shared by identical inputs, sorted by
  length, batched across questions).

Each strategy runs `--warmup` untimed times, then `--runs` timed rounds, interleaved (every strategy once per
round, so machine drift hits all alike); the table shows medians with their 95 % bootstrap intervals, forward
passes, the speed-up over the per-choice loop with its interval (rounds resampled together: paired), the largest
score difference to the per-choice loop, and accuracy. The goal verdict says "met" only where the speed-up's
interval lies wholly above the goal. Results: benchmarks/results/mcq_scoring-*.json.

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

from inference_lab.core import stats  # noqa: E402
from inference_lab.core.device import apply_threads  # noqa: E402
from inference_lab.core.environment import collect_environment, load_average  # noqa: E402
from inference_lab.core.measure import Stopwatch  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.demo_kit.build import ensure_named  # noqa: E402
from inference_lab.models.loading import load_model  # noqa: E402
from inference_lab.models.settings import ModelSettings  # noqa: E402
from inference_lab.modes.mcq.data import read_mcq, resolve_data_file  # noqa: E402
from inference_lab.modes.mcq.prompts import Template, build_requests  # noqa: E402
from inference_lab.modes.mcq.requests import Score  # noqa: E402
from inference_lab.modes.mcq.results import accuracy, make_predictions  # noqa: E402
from inference_lab.modes.mcq.scoring import LoglikelihoodScorer  # noqa: E402
from inference_lab.ui.console import compact_table, console  # noqa: E402

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


BASELINE = "per-choice loop"
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


def measure_interleaved(fns: dict[str, Callable], model, tokenizer, requests, batch_size, device, warmup, runs):
    """Every strategy warmed up, then `runs` rounds each timing every strategy once (A B C, A B C, ...), so a
    change in the machine's speed hits all alike and the speed-ups can be resampled by round (paired).
    Returns {name: (scores, forward passes, [seconds per round])}."""
    for fn in fns.values():
        for _ in range(warmup):
            fn(model, tokenizer, requests, batch_size)
    out: dict[str, tuple[list[Score], int, list[float]]] = {}
    for _ in range(runs):
        for name, fn in fns.items():
            with Stopwatch(device) as watch:
                scores, passes = fn(model, tokenizer, requests, batch_size)
            out.setdefault(name, (scores, passes, []))[2].append(watch.seconds)
    return out


def fmt_interval(low: float | None, high: float | None, fmt) -> str:
    return "-" if low is None or high is None else f"{fmt(low)}-{fmt(high)}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def goal_verdict(speedup: stats.Ratio, goal: float) -> str:
    """met / not met only where the interval is wholly on one side of the goal; otherwise undecided."""
    if speedup.ci_low is not None and speedup.ci_low >= goal:
        return "met"
    if speedup.ci_high is not None and speedup.ci_high < goal:
        return "not met"
    return "undecided (the interval spans the goal)"


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
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: physical cores)")
    parser.add_argument("--output-dir", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)

    threads = apply_threads(args.threads)
    load_before = load_average()
    model_name = args.model or default_model()
    data_name = args.data or default_data(model_name)
    ensure_named([model_name, data_name])
    loaded = load_model(model_name, ModelSettings(device=args.device), field_name="model")
    device = loaded.report.device
    items = read_mcq(resolve_data_file(data_name, "data"))
    template = Template()

    out = console()
    table = compact_table(title=f"MCQ scoring: {model_name}, {len(items)} questions, median of {args.runs} "
                                f"interleaved rounds after {args.warmup} warm-up, {threads['intra_op']} thread(s)",
                          caption="passes = forward passes; max |Δ| = largest log-likelihood difference to the "
                                  "per-choice loop; accuracy per-char normalised")
    for column in ("mode", "strategy", "passes", "median ms", "95% CI", "p90 ms", "speed-up", "95% CI",
                   "max |Δ|", "accuracy"):
        table.add_column(column, justify="left" if column in {"mode", "strategy"} else "right", no_wrap=True)
    rows = []
    for mode in args.modes:
        requests = build_requests(items, mode, template)
        measured = measure_interleaved(STRATEGIES, loaded.model, loaded.tokenizer, requests, batch_size, device,
                                       args.warmup, args.runs)
        reference, _, baseline = measured[BASELINE]
        for name, (scores, passes, seconds) in measured.items():
            summary = stats.summarize(seconds)
            speedup = stats.ratio(baseline, seconds, paired=True)  # per-choice seconds / these seconds
            diff = max(abs(a.loglik - b.loglik) for a, b in zip(scores, reference))
            acc = accuracy(make_predictions(name, items, requests, scores, template, "per_char"))
            row = {"mode": mode, "strategy": name, "forward_passes": passes, "seconds": summary.to_dict(),
                   "seconds_per_round": seconds, "speedup_vs_per_choice": speedup.to_dict(),
                   "max_abs_loglik_diff": diff, "accuracy_per_char": acc, "choices_scored": len(scores)}
            rows.append(row)
            table.add_row(mode, name, str(passes), fmt_ms(summary.median),
                          fmt_interval(summary.ci_low, summary.ci_high, fmt_ms), fmt_ms(summary.p90),
                          f"x{speedup.estimate:.2f}", fmt_interval(speedup.ci_low, speedup.ci_high, "{:.2f}".format),
                          f"{diff:.1e}", f"{acc:.1%}")
        table.add_section()
    out.print(table)

    verdicts = {}
    for r in (r for r in rows if r["strategy"] == "batched scorer"):
        speedup = stats.Ratio(**r["speedup_vs_per_choice"])
        verdicts[r["mode"]] = goal_verdict(speedup, GOAL_SPEEDUP)
        r["goal"] = verdicts[r["mode"]]
        out.print(f"goal ({r['mode']}): batched scorer >= {GOAL_SPEEDUP:.0f}x faster than the per-choice loop: "
                  f"{verdicts[r['mode']]} (x{speedup.estimate:.1f}, "
                  f"{fmt_interval(speedup.ci_low, speedup.ci_high, '{:.1f}'.format)})")
    load_after = load_average()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = write_json_atomic(Path(args.output_dir) / f"mcq_scoring-{stamp}.json", {
        "benchmark": "mcq_scoring",
        "model": model_name,
        "data": str(resolve_data_file(data_name, "data")),
        "n_questions": len(items),
        "batch_size": batch_size,
        "warmup": args.warmup,
        "runs": args.runs,
        "interleaved": True,
        "goal_speedup": GOAL_SPEEDUP,
        "goal": verdicts,
        "goal_met": all(v == "met" for v in verdicts.values()),
        "results": rows,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "load": loaded.report.to_dict(),
        "environment": collect_environment(device),
    })
    out.print(f"[dim]load average {load_before} -> {load_after}; written: {path}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
