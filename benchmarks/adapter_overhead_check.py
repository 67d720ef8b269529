"""Is the adapter benchmark's overhead true? The suite's lora_r8 overhead against a bare, interleaved timing.

For each demo kit present (tiny always; full when built under $INFERENCE_LAB_HOME/kits/full-*), on the same model:
- suite, cached: `run_experiment(experiments/lora/lora_r8)` with the base measured afresh in this process (as a cache
  rebuild does: the base first, then the adapter, each category warmed up);
- suite, paired: the same with `paired_base=true` (base on a second copy, interleaved with the adapter);
- bare: a pristine copy of the base and the same fresh lora_r8 (same seed) on a second copy, timed with nothing
  but `Stopwatch` around `model.generate`, interleaved prompt by prompt, alternating which goes first on every run
  (ABBA), so drift in machine speed hits both alike; same prompts, token counts and `min_new_tokens`.
  The adapter with `disable_adapter()` is timed too: the cost of PEFT's wrapper layers alone.
Overhead in both = (sum over categories of the median time of one prompt) adapter vs base.
Results: benchmarks/results/adapter_overhead_check-<UTC time>.json (the suite's own result files under
benchmarks/results/adapter_overhead_check/).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/adapter_overhead_check.py
    .venv/bin/python benchmarks/adapter_overhead_check.py --kits tiny --runs 9
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from inference_lab.adapter_bench.config import CATEGORIES, load_params  # noqa: E402
from inference_lab.adapter_bench.experiments import discover  # noqa: E402
from inference_lab.adapter_bench.prompts import load_prompts, select_prompts  # noqa: E402
from inference_lab.adapter_bench.runner import RunOptions, run_experiment  # noqa: E402
from inference_lab.adapter_bench.timing import overhead_pct  # noqa: E402
from inference_lab.environment import collect_environment  # noqa: E402
from inference_lab.loading import load_model  # noqa: E402
from inference_lab.measure import Stopwatch  # noqa: E402
from inference_lab.report import console  # noqa: E402
from inference_lab.storage import write_json_atomic  # noqa: E402
from inference_lab.textgen import encode_batch  # noqa: E402
from rich.table import Table  # noqa: E402

from inference_lab.demo_kit import kit_dir, kit_home  # noqa: E402

EXPERIMENT = REPO / "experiments" / "lora" / "lora_r8"
SUITE_OUTPUT = REPO / "benchmarks" / "results" / "adapter_overhead_check"  # the suite's own result files


def find_full_kit() -> Path | None:
    """The current full kit, else the newest full kit built from an older spec (same model shapes)."""
    if (kit_dir("full") / "manifest.json").is_file():
        return kit_dir("full")
    built = sorted(kit_home().glob("kits/full-*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return built[-1].parent if built else None


def suite_overhead(model_id: str, overrides: list[str], out: Path, paired: bool) -> dict:
    experiment = discover(EXPERIMENT)[0]
    extra = [f"model_id={model_id}", f"paired_base={'true' if paired else 'false'}"]
    result = run_experiment(experiment, RunOptions(output_dir=out, overrides=[*extra, *overrides], rebuild_base=True))
    if result["run_info"]["status"] != "success":
        raise SystemExit(f"suite run failed: {result['run_info']['error']}")
    gen = result["generation_info"]
    base = gen["base_by_category"] if paired else json.loads(
        Path(result["run_info"]["base_results"]["path"]).read_text())["by_category"]
    fastest = [sum(cats[c]["metrics"]["inference_time_s"]["min"] for c in CATEGORIES)
               for cats in (gen["by_category"], base)]
    return {
        "by_category": {c: {"base_s": gen["by_category"][c]["metrics"]["base_inference_time_s"],
                            "adapter_s": gen["by_category"][c]["metrics"]["inference_time_s"]["median"],
                            "overhead_pct": gen["by_category"][c]["metrics"]["inference_overhead_pct"]}
                        for c in CATEGORIES},
        "overall_overhead_pct": gen["overall"]["inference_overhead_pct"],
        "min_overhead_pct": overhead_pct(*fastest),  # on the fastest run of each category: least disturbed
        "base_drift": result["run_info"]["base_results"].get("drift"),
        "result_path": result["result_path"],
    }


@torch.no_grad()
def timed_generate(model, tokenizer, prompt: str, max_new_tokens: int) -> float:
    encoded = encode_batch(tokenizer, [prompt], model.device)
    with Stopwatch(model.device) as watch:
        model.generate(**encoded, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False,
                       pad_token_id=tokenizer.pad_token_id)
    return watch.seconds


def bare_overhead(model_id: str, overrides: list[str], runs: int) -> dict:
    from peft import PeftConfig, get_peft_model

    experiment = discover(EXPERIMENT)[0]
    params = load_params(experiment.defaults_path, experiment.path, [f"model_id={model_id}", *overrides])
    base = load_model(model_id, params.model_settings())
    wrapped = load_model(model_id, params.model_settings())
    torch.manual_seed(params.seed)
    adapter = get_peft_model(wrapped.model, PeftConfig.from_pretrained(str(EXPERIMENT))).eval()
    tokenizer = base.tokenizer
    prompts = select_prompts(base.model, tokenizer, load_prompts(experiment.root / params.prompts_file), params)

    def adapter_off(prompt, n):
        with adapter.disable_adapter():
            return timed_generate(adapter, tokenizer, prompt, n)

    variants = {"base": lambda p, n: timed_generate(base.model, tokenizer, p, n),
                "adapter": lambda p, n: timed_generate(adapter, tokenizer, p, n),
                "adapter_disabled": adapter_off}
    by_category = {}
    for category in CATEGORIES:
        n = params.max_new_tokens.for_category(category)
        times: dict[str, list[list[float]]] = {v: [[] for _ in prompts[category]] for v in variants}
        for fn in variants.values():  # warm-up, untimed
            for p in prompts[category]:
                fn(p.text, n)
        for run in range(runs):
            order = list(variants) if run % 2 == 0 else list(reversed(variants))  # ABBA
            for i, p in enumerate(prompts[category]):
                for name in order:
                    times[name][i].append(variants[name](p.text, n))
        # one number per category like the suite: the median over all (prompt, run) timings
        med = {name: statistics.median([t for rows in per for t in rows]) for name, per in times.items()}
        fastest = {name: min(t for rows in per for t in rows) for name, per in times.items()}
        by_category[category] = {"base_s": med["base"], "adapter_s": med["adapter"],
                                 "adapter_disabled_s": med["adapter_disabled"],
                                 "overhead_pct": overhead_pct(med["adapter"], med["base"]),
                                 "wrapper_only_pct": overhead_pct(med["adapter_disabled"], med["base"]),
                                 "base_min_s": fastest["base"], "adapter_min_s": fastest["adapter"]}
    total = {k: sum(c[k] for c in by_category.values()) for k in ("base_s", "adapter_s", "adapter_disabled_s")}
    fastest = {k: sum(c[k] for c in by_category.values()) for k in ("base_min_s", "adapter_min_s")}
    return {"by_category": by_category, "overall_overhead_pct": overhead_pct(total["adapter_s"], total["base_s"]),
            "min_overhead_pct": overhead_pct(fastest["adapter_min_s"], fastest["base_min_s"]),
            "overall_wrapper_only_pct": overhead_pct(total["adapter_disabled_s"], total["base_s"])}


def overhead_table(rows: list[dict]) -> Table:
    table = Table(title="lora_r8 overhead: the suite against a bare interleaved generate() timing",
                  caption="ms = median time of one prompt; overhead = adapter vs base; cached = base measured first, "
                          "then the adapter (the suite's default); paired = paired_base=true; wrapper = adapter "
                          "disabled vs base; drift = largest change of the base's speed during the cached run")
    for column in ("kit", "category", "cached base ms", "cached adapter ms", "cached", "paired", "bare base ms",
                   "bare adapter ms", "bare", "wrapper", "cached - bare", "paired - bare", "drift"):
        table.add_column(column, justify="left" if column in {"kit", "category"} else "right")

    def ms(value):
        return "" if value is None else f"{value * 1000:.1f}"

    def pct(value):
        return "" if value is None else f"{value:+.1f}%"

    for row in rows:
        cached, paired, bare = row["suite"], row["suite_paired"], row["bare"]
        for category in CATEGORIES:
            c, p, b = (x["by_category"][category] for x in (cached, paired, bare))
            table.add_row(row["kit"], category, ms(c["base_s"]), ms(c["adapter_s"]), pct(c["overhead_pct"]),
                          pct(p["overhead_pct"]), ms(b["base_s"]), ms(b["adapter_s"]), pct(b["overhead_pct"]),
                          pct(b["wrapper_only_pct"]), f"{c['overhead_pct'] - b['overhead_pct']:+.1f} pp",
                          f"{p['overhead_pct'] - b['overhead_pct']:+.1f} pp", "")
        for label, key in (("overall", "overall_overhead_pct"), ("overall, fastest runs", "min_overhead_pct")):
            c, p, b = cached[key], paired[key], bare[key]
            drift = cached["base_drift"]["max_abs_drift_pct"] if key == "overall_overhead_pct" else None
            table.add_row(row["kit"], label, "", "", pct(c), pct(p), "", "", pct(b),
                          pct(bare["overall_wrapper_only_pct"]) if key == "overall_overhead_pct" else "",
                          f"{c - b:+.1f} pp", f"{p - b:+.1f} pp", "" if drift is None else f"{drift:.0f}%")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kits", nargs="+", default=None, help="tiny and/or full (default: tiny + full if built)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per prompt (default: the suite's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="benchmark parameter overrides for both measurements")
    args = parser.parse_args()
    kits = args.kits or ["tiny"] + (["full"] if find_full_kit() else [])
    overrides = args.overrides + ([f"num_inference_runs={args.runs}"] if args.runs else [])
    runs = args.runs or load_params(EXPERIMENT.parent.parent / "default_benchmark_params.json", EXPERIMENT,
                                    overrides).num_inference_runs
    if "full" in kits and find_full_kit() is None:  # never built here (minutes of CPU); `inference-lab demo` does
        raise SystemExit("no full demo kit under $INFERENCE_LAB_HOME/kits/ (build with ./run.sh demo --variant full)")
    rows = []
    for kit in kits:
        model_id = "demo-tiny" if kit == "tiny" else str(find_full_kit() / "main")
        console(stderr=True).print(f"[dim]{model_id}: suite (cached base), suite (paired), bare interleaved[/dim]")
        rows.append({"kit": kit, "model_id": model_id,
                     "suite": suite_overhead(model_id, overrides, SUITE_OUTPUT, paired=False),
                     "suite_paired": suite_overhead(model_id, overrides, SUITE_OUTPUT, paired=True),
                     "bare": bare_overhead(model_id, overrides, runs)})
    console().print(overhead_table(rows))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = write_json_atomic(REPO / "benchmarks" / "results" / f"adapter_overhead_check-{stamp}.json",
                             {"environment": collect_environment(), "overrides": overrides, "runs": runs, "rows": rows})
    console().print(f"[dim]{path}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
