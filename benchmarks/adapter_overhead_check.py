"""Is the adapter benchmark's overhead true? The suite's lora_r8 overhead against a bare, interleaved timing.

For each demo kit present (tiny always; full when built under $INFERENCE_LAB_HOME/kits/full-*), on the same model:
- suite, cached: `inference-lab peft-bench experiments/lora/lora_r8` (through the session, in this process) with
  `paired_base=false` and `rebuild_base=true`: the base measured afresh first, then the adapter, each category
  warmed up, the base re-timed before and after the adapter to check drift;
- suite, paired: the same with `paired_base=true` (the default: base on a second copy, interleaved ABBA);
- bare: a pristine copy of the base and the same fresh lora_r8 (same seed) on a second copy, timed with nothing
  but `Stopwatch` around `model.generate` (under `torch.inference_mode`, as the tool's timed generate), interleaved
  prompt by prompt, alternating which goes first on every run (ABBA), so drift in machine speed hits both alike;
  same prompts, token counts and `min_new_tokens`. The adapter under `disable_adapter()` is timed too: the cost of
  PEFT's wrapper layers alone.
Overhead in all three = (sum over categories of the median time of one prompt) adapter vs base, with a 95 %
bootstrap interval: the suite's own `inference_overhead`, and for the bare timing `core.stats` on the per-run
samples, resampled by (prompt, run) pair since the bare timing interleaves (`ratio` per category,
`ratio_of_sums` overall, the suite's own definitions).
Results: benchmarks/results/adapter_overhead_check-<UTC time>.json (the suite's run folders under
benchmarks/results/adapter_overhead_check/).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/adapter_overhead_check.py
    .venv/bin/python benchmarks/adapter_overhead_check.py --kits tiny --runs 9
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from rich.console import Console  # noqa: E402

from inference_lab import session  # noqa: E402
from inference_lab.core import stats  # noqa: E402
from inference_lab.core.config import apply_overrides, validate_config  # noqa: E402
from inference_lab.core.device import apply_threads, thread_settings  # noqa: E402
from inference_lab.core.environment import collect_environment, load_average  # noqa: E402
from inference_lab.core.measure import Stopwatch  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.demo_kit import kit_dir, kit_home  # noqa: E402
from inference_lab.models.loading import load_model  # noqa: E402
from inference_lab.models.textgen import encode_batch  # noqa: E402
from inference_lab.modes import MODES  # noqa: E402
from inference_lab.modes.peft_bench.config import CATEGORIES, PeftBenchConfig, load_params  # noqa: E402
from inference_lab.modes.peft_bench.experiments import discover  # noqa: E402
from inference_lab.modes.peft_bench.prompts import load_prompts, select_prompts  # noqa: E402
from inference_lab.modes.peft_bench.results import overhead_pct  # noqa: E402
from inference_lab.ui.console import compact_table, console  # noqa: E402

EXPERIMENT = REPO / "experiments" / "lora" / "lora_r8"
SUITE_OUTPUT = REPO / "benchmarks" / "results" / "adapter_overhead_check"  # the suite's own run folders


def find_full_kit() -> Path | None:
    """The current full kit, else the newest full kit built from an older spec (same model shapes)."""
    if (kit_dir("full") / "manifest.json").is_file():
        return kit_dir("full")
    built = sorted(kit_home().glob("kits/full-*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return built[-1].parent if built else None


def max_abs_drift(drift: dict | None) -> float | None:
    """The largest change of the base's speed (before or after the adapter, any category) in a cached run."""
    if not drift:
        return None
    changes = [abs(d[when]["estimate"]) for d in drift.values() for when in ("before", "after")
               if d.get(when) and d[when].get("estimate") is not None]
    return max(changes) if changes else None


def suite_overhead(model_id: str, overrides: list[str], out: Path, paired: bool, threads: int | None) -> dict:
    """One peft-bench run of lora_r8 through the session (the CLI's path), in this process."""
    data = apply_overrides({"experiments": [str(EXPERIMENT)], "model_id": model_id, "paired_base": paired,
                            "rebuild_base": not paired, "output_dir": str(out), "num_threads": threads}, overrides)
    config = validate_config(PeftBenchConfig, data, "adapter_overhead_check")
    outcome = session.execute(MODES["peft-bench"], config, label=f"overhead-{'paired' if paired else 'cached'}")
    [result] = outcome.summary["experiments"]
    if result["status"] == "failed":  # `unreliable` (measurable drift in cached mode) is a finding, not a failure
        raise SystemExit(f"suite run failed: {result['error']} ({outcome.folder})")
    by_category, base = result["by_category"], result["base_by_category"]
    fastest = [sum(cats[c]["metrics"]["inference_time_s"]["min"] for c in CATEGORIES) for cats in (by_category, base)]
    return {
        "by_category": {c: {"base_s": by_category[c]["metrics"]["base_inference_time_s"],
                            "adapter_s": by_category[c]["metrics"]["inference_time_s"]["median"],
                            "overhead_pct": by_category[c]["metrics"]["inference_overhead_pct"],
                            "overhead": by_category[c]["metrics"]["inference_overhead"]}
                        for c in CATEGORIES},
        "overall_overhead_pct": result["overall"]["inference_overhead_pct"],
        "overall_overhead": result["overall"]["inference_overhead"],
        "min_overhead_pct": overhead_pct(*fastest),  # on the fastest run of each category: least disturbed
        "status": result["status"],
        "base_drift": result["base"].get("drift"),
        "max_abs_drift_pct": max_abs_drift(result["base"].get("drift")),
        "flags": outcome.summary.get("flags"),
        "run_folder": str(outcome.folder),
    }


@torch.inference_mode()
def timed_generate(model, tokenizer, prompt: str, max_new_tokens: int, fixed_length: bool) -> float:
    encoded = encode_batch(tokenizer, [prompt], model.device)
    extra = {"min_new_tokens": max_new_tokens} if fixed_length else {}
    with Stopwatch(model.device) as watch:
        model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                       pad_token_id=tokenizer.pad_token_id, **extra)
    return watch.seconds


def bare_overhead(model_id: str, overrides: list[str], runs: int) -> dict:
    from peft import PeftConfig, get_peft_model

    experiment = discover(EXPERIMENT)[0]
    params = load_params(experiment.defaults_path, experiment.path, [f"model_id={model_id}", *overrides])
    base = load_model(model_id, params.model_settings(), field_name="model_id")
    wrapped = load_model(model_id, params.model_settings(), field_name="model_id")
    torch.manual_seed(params.seed)
    adapter = get_peft_model(wrapped.model, PeftConfig.from_pretrained(str(EXPERIMENT))).eval()
    tokenizer = base.tokenizer
    prompts = select_prompts(base.model, tokenizer, load_prompts(experiment.root / params.prompts_file), params)
    fixed = params.fixed_length

    def adapter_off(prompt, n):
        with adapter.disable_adapter():
            return timed_generate(adapter, tokenizer, prompt, n, fixed)

    variants = {"base": lambda p, n: timed_generate(base.model, tokenizer, p, n, fixed),
                "adapter": lambda p, n: timed_generate(adapter, tokenizer, p, n, fixed),
                "adapter_disabled": adapter_off}
    by_category, samples = {}, {}
    for category in CATEGORIES:
        n = params.max_new_tokens.for_category(category)
        times: dict[str, list[list[float]]] = {v: [[] for _ in prompts[category]] for v in variants}
        for _ in range(params.warmup_runs):  # untimed, like the suite
            for fn in variants.values():
                for p in prompts[category]:
                    fn(p.text, n)
        for run in range(runs):
            order = list(variants) if run % 2 == 0 else list(reversed(variants))  # ABBA
            for i, p in enumerate(prompts[category]):
                for name in order:
                    times[name][i].append(variants[name](p.text, n))
        # prompt after prompt, as the suite's `run_seconds` orders them: index k pairs the same (prompt, run)
        flat = {name: [t for rows in per for t in rows] for name, per in times.items()}
        samples[category] = flat
        med = {name: statistics.median(values) for name, values in flat.items()}
        by_category[category] = {
            "base_s": med["base"], "adapter_s": med["adapter"], "adapter_disabled_s": med["adapter_disabled"],
            "overhead_pct": overhead_pct(med["adapter"], med["base"]),
            "overhead": stats.percent_change(stats.ratio(flat["adapter"], flat["base"], paired=True)),
            "wrapper_only_pct": overhead_pct(med["adapter_disabled"], med["base"]),
            "wrapper_only": stats.percent_change(stats.ratio(flat["adapter_disabled"], flat["base"], paired=True)),
            "base_min_s": min(flat["base"]), "adapter_min_s": min(flat["adapter"]),
            "run_seconds": flat}

    def overall(name: str) -> dict | None:
        return stats.percent_change(stats.ratio_of_sums([samples[c][name] for c in CATEGORIES],
                                                        [samples[c]["base"] for c in CATEGORIES], paired=True))

    total = {k: sum(c[k] for c in by_category.values()) for k in ("base_s", "adapter_s", "adapter_disabled_s")}
    fastest = {k: sum(c[k] for c in by_category.values()) for k in ("base_min_s", "adapter_min_s")}
    return {"by_category": by_category, "overall_overhead_pct": overhead_pct(total["adapter_s"], total["base_s"]),
            "overall_overhead": overall("adapter"),
            "min_overhead_pct": overhead_pct(fastest["adapter_min_s"], fastest["base_min_s"]),
            "overall_wrapper_only_pct": overhead_pct(total["adapter_disabled_s"], total["base_s"]),
            "overall_wrapper_only": overall("adapter_disabled"), "runs": runs}


def pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def pct_ci(change: dict | None) -> str:
    """'+3.1% [-1.0, +7.2]': an overhead with its 95 % interval; '*' marks one whose interval excludes 0."""
    if not change or change.get("estimate") is None:
        return ""
    if change.get("ci_low") is None:
        return f"{change['estimate']:+.1f}%"
    mark = "*" if change.get("separated") else ""
    return f"{change['estimate']:+.1f}%{mark} [{change['ci_low']:+.1f}, {change['ci_high']:+.1f}]"


def overhead_table(rows: list[dict]):
    table = compact_table(
        title="lora_r8 overhead: the suite against a bare interleaved generate() timing",
        caption="ms = median time of one prompt; overhead = adapter vs base, median [95% CI], * = interval excludes "
                "0; cached = paired_base=false, base measured first, then the adapter; paired = paired_base=true "
                "(the default); wrapper = adapter disabled vs base (bare); drift = largest change of the base's speed "
                "during the cached run; 'fastest runs' = on the fastest run of each category")
    for column in ("kit", "category", "cached base ms", "cached adapter ms", "cached", "paired", "bare base ms",
                   "bare adapter ms", "bare", "wrapper", "cached - bare", "paired - bare", "drift"):
        table.add_column(column, justify="left" if column in {"kit", "category"} else "right",
                         no_wrap=column in {"cached", "paired", "bare", "wrapper"})

    def ms(value):
        return "" if value is None else f"{value * 1000:.1f}"

    def diff(a, b):
        return "" if a is None or b is None else f"{a - b:+.1f} pp"

    for row in rows:
        cached, paired, bare = row["suite"], row["suite_paired"], row["bare"]
        for category in CATEGORIES:
            c, p, b = (x["by_category"][category] for x in (cached, paired, bare))
            table.add_row(row["kit"], category, ms(c["base_s"]), ms(c["adapter_s"]), pct_ci(c["overhead"]),
                          pct_ci(p["overhead"]), ms(b["base_s"]), ms(b["adapter_s"]), pct_ci(b["overhead"]),
                          pct_ci(b["wrapper_only"]), diff(c["overhead_pct"], b["overhead_pct"]),
                          diff(p["overhead_pct"], b["overhead_pct"]), "")
        drift = cached["max_abs_drift_pct"]
        table.add_row(row["kit"], "overall", "", "", pct_ci(cached["overall_overhead"]),
                      pct_ci(paired["overall_overhead"]), "", "", pct_ci(bare["overall_overhead"]),
                      pct_ci(bare["overall_wrapper_only"]),
                      diff(cached["overall_overhead_pct"], bare["overall_overhead_pct"]),
                      diff(paired["overall_overhead_pct"], bare["overall_overhead_pct"]),
                      "" if drift is None else f"{drift:.0f}%" + (" (unreliable)" if cached["status"] == "unreliable"
                                                                   else ""))
        table.add_row(row["kit"], "overall, fastest runs", "", "", pct(cached["min_overhead_pct"]),
                      pct(paired["min_overhead_pct"]), "", "", pct(bare["min_overhead_pct"]), "",
                      diff(cached["min_overhead_pct"], bare["min_overhead_pct"]),
                      diff(paired["min_overhead_pct"], bare["min_overhead_pct"]), "")
        table.add_section()
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kits", nargs="+", default=None, help="tiny and/or full (default: tiny + full if built)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per prompt (default: the suite's)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the suite and the bare timing (default 1: the machine is shared)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="benchmark parameter overrides for both measurements")
    args = parser.parse_args()
    kits = args.kits or ["tiny"] + (["full"] if find_full_kit() else [])
    overrides = args.overrides + ([f"num_inference_runs={args.runs}"] if args.runs else [])
    runs = args.runs or load_params(EXPERIMENT.parent.parent / "default_benchmark_params.json", EXPERIMENT,
                                    overrides).num_inference_runs
    if "full" in kits and find_full_kit() is None:  # never built here (minutes of CPU); `inference-lab demo` does
        raise SystemExit("no full demo kit under $INFERENCE_LAB_HOME/kits/ (build with ./run.sh demo --variant full)")
    load_before = load_average()
    rows = []
    for kit in kits:
        model_id = "demo-tiny" if kit == "tiny" else str(find_full_kit() / "main")
        console(stderr=True).print(f"[dim]{model_id}: suite (cached base), suite (paired), bare interleaved[/dim]")
        cached = suite_overhead(model_id, overrides, SUITE_OUTPUT, paired=False, threads=args.threads)
        paired = suite_overhead(model_id, overrides, SUITE_OUTPUT, paired=True, threads=args.threads)
        apply_threads(args.threads)  # the session set the same count for the suite
        rows.append({"kit": kit, "model_id": model_id, "suite": cached, "suite_paired": paired,
                     "bare": bare_overhead(model_id, overrides, runs), "threads": thread_settings()})
    screen = console() if console().is_terminal else Console(width=200, highlight=False)
    screen.print(overhead_table(rows))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    load_after = load_average()
    path = write_json_atomic(REPO / "benchmarks" / "results" / f"adapter_overhead_check-{stamp}.json",
                             {"benchmark": "adapter_overhead_check", "environment": collect_environment(),
                              "overrides": overrides, "runs": runs, "load_average_before": load_before,
                              "load_average_after": load_after, "rows": rows})
    screen.print(f"[dim]load average {load_before} -> {load_after}; {path}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
