"""Measure the LoRA-vs-base strategies instead of repeating the reference documents' claims.

Runs `inference-lab lora` in a fresh subprocess per run (so every run's peak RSS is its own) on the same
synthetic samples of the demo kit's sentiment task, for:
  unmerged PEFT vs merged (merge_and_unload into a copy), chunked vs full, adapter kept vs loaded per chunk,
  and the mixed-adapter single pass;
and reports throughput, per-stage time, peak RSS (peak GPU memory on CUDA), output agreement with the
unmerged chunked run, and peak RSS for 100 vs 10,000 samples (streaming should keep it flat).
Each run gets its own parent folder (`--output`); the mode creates one run folder in it, whose summary.json
(`stages`, `metrics`, `peak_rss_bytes`) and results.jsonl (`prediction` rows, `model: base|lora`) are read back.

    .venv/bin/python benchmarks/lora_strategies.py --kit tiny            # quick
    .venv/bin/python benchmarks/lora_strategies.py --kit full --skip-scale

Writes benchmarks/results/lora_strategies-<kit>.json and prints a rich table. Never builds the full kit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from inference_lab.core import stats  # noqa: E402
from inference_lab.core.environment import collect_environment, load_average  # noqa: E402
from inference_lab.core.storage import read_jsonl, write_json_atomic  # noqa: E402
from inference_lab.demo_kit import is_built, kit_dir, kit_home, read_manifest  # noqa: E402
from inference_lab.demo_kit.build import ensure_kit  # noqa: E402
from inference_lab.demo_kit.corpus import task_example  # noqa: E402
from inference_lab.ui.console import compact_table, console, fmt_bytes, fmt_seconds  # noqa: E402

# name -> config overrides; "chunked" uses --chunk-size, "full" one chunk.
STRATEGIES: dict[str, dict] = {
    "unmerged, chunked": {"inference.use_peft_directly": True},
    "unmerged, full": {"inference.use_peft_directly": True, "inference.chunk_size": None},
    "merged, chunked": {"inference.use_peft_directly": False},
    "merged, full": {"inference.use_peft_directly": False, "inference.chunk_size": None},
    "unmerged, adapter kept, chunked": {"inference.keep_adapter_loaded": True},
    "mixed pass, chunked": {"inference.strategy": "mixed"},
    "mixed pass, full": {"inference.strategy": "mixed", "inference.chunk_size": None},
}
REFERENCE = "unmerged, chunked"
# The stages that are the work itself: not reading the test file, loading the model or the warm-up
# (`adapter_check`), which every strategy pays alike.
WORK_STAGES = ("base", "lora", "mixed", "adapter_load", "adapter_unload", "write", "release")


def write_samples(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"syn-{i:05d}", **task_example(rng)}) + "\n")
    return path


def the_run_folder(parent: Path) -> Path:
    """The one run folder the mode created in `parent` (each run gets a parent of its own)."""
    folders = [p for p in parent.iterdir() if (p / "summary.json").is_file()]
    if len(folders) != 1:
        raise SystemExit(f"expected one run folder in {parent}, found {len(folders)}")
    return folders[0]


def responses_by_model(records: list[dict]) -> dict[str, dict[str, str]]:
    """{model: {sample id: response}} from the run's `prediction` records."""
    out: dict[str, dict[str, str]] = {"base": {}, "lora": {}}
    for row in records:
        if row.get("kind") == "prediction":
            out[row["model"]][row["id"]] = row["response"]
    return out


def run_cli(config: dict, overrides: dict, out_dir: Path, threads: int) -> dict:
    """One `inference-lab lora` run in its own process; returns its summary plus its outputs."""
    out_dir.mkdir(parents=True)
    config_file = out_dir.with_suffix(".json")
    config_file.write_text(json.dumps({**config, "num_threads": threads}))
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={json.dumps(value)}")]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "inference_lab", "lora", str(config_file), "--output", str(out_dir), "--quiet",
           "--yes", *sets]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    folder = the_run_folder(out_dir)
    summary = json.loads((folder / "summary.json").read_text())
    return {"summary": summary, "responses": responses_by_model(read_jsonl(folder / "results.jsonl")[0])}


def stage(summary: dict, name: str, key: str) -> float:
    return summary["stages"].get(name, {}).get(key) or 0.0


def summarize_run(summary: dict) -> dict:
    work = sum(stage(summary, p, "seconds") for p in WORK_STAGES)
    lora_pass = "mixed" if "mixed" in summary["stages"] else "lora"
    return {
        "work_seconds": work,
        "samples_per_s": summary["samples"] / work if work else None,
        "base_tokens_per_s": stage(summary, "base", "tokens_per_s") or None,
        "lora_tokens_per_s": stage(summary, lora_pass, "tokens_per_s") or None,
        "adapter_seconds": stage(summary, "adapter_load", "seconds") + stage(summary, "adapter_unload", "seconds"),
        "adapter_calls": int(stage(summary, "adapter_load", "calls")),
        "peak_rss_bytes": summary["peak_rss_bytes"],
        "peak_gpu_bytes": summary["peak_gpu_bytes"],
        "stage_seconds": {name: p["seconds"] for name, p in summary["stages"].items()},
        "accuracy": {"base": summary["metrics"]["base"]["accuracy"], "lora": summary["metrics"]["lora"]["accuracy"]},
        "noisy": [f for f in summary.get("flags") or [] if f.startswith("noisy")],
        "status": summary["status"],
    }


def median_of(runs: list[dict], key: str):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def agreement(a: dict[str, str], b: dict[str, str]) -> float:
    return sum(a[i] == b.get(i) for i in a) / len(a)


def strategy_runs(args, kit: str, folder: Path, test_file: Path, work: Path) -> dict:
    config = {"main_model": str(folder / "main"), "adapter": str(folder / "lora"),
              "inference": {"test_file": str(test_file), "batch_size": args.batch_size, "chunk_size": args.chunk_size},
              "generation": {"max_new_tokens": args.max_new_tokens}}
    results: dict[str, dict] = {}
    for repeat in range(args.repeats):  # interleaved, so machine load drifts over all strategies alike
        for name, overrides in STRATEGIES.items():
            console(stderr=True).print(f"[dim]{kit}: {name} (run {repeat + 1}/{args.repeats})[/dim]")
            slug = "".join(c if c.isalnum() else "-" for c in name)
            out = run_cli(config, overrides, work / f"{kit}-{slug}-{repeat}", args.threads)
            entry = results.setdefault(name, {"overrides": overrides, "runs": [], "responses": out["responses"]})
            entry["runs"].append(summarize_run(out["summary"]))
            entry["model"] = out["summary"]["models"]["main"]
    reference = results[REFERENCE]["responses"]
    for entry in results.values():
        runs = entry["runs"]
        entry["median"] = {key: median_of(runs, key) for key in runs[0]
                           if key not in {"stage_seconds", "accuracy", "noisy", "status"}}
        entry["median"]["stage_seconds"] = {p: statistics.median(r["stage_seconds"].get(p, 0.0) for r in runs)
                                            for p in runs[0]["stage_seconds"]}
        entry["spread"] = {key: stats.summary_dict([r[key] for r in runs])
                           for key in ("work_seconds", "samples_per_s", "peak_rss_bytes")}
        entry["noisy_runs"] = sum(bool(r["noisy"]) for r in runs)
        entry["accuracy"] = runs[0]["accuracy"]
        entry["agreement_with_unmerged"] = {m: agreement(entry["responses"][m], reference[m]) for m in ("base", "lora")}
        del entry["responses"]
    return results


def scale_runs(args, tiny: Path, work: Path) -> dict:
    """Peak RSS for few vs many samples, tiny kit, tiny outputs: streaming should keep it flat."""
    out = {}
    large = args.scale_large
    cases = [("100, chunked", 100, args.scale_chunk), (f"{large}, chunked", large, args.scale_chunk),
             (f"{large}, full", large, None)]
    for name, n, chunk in cases:
        console(stderr=True).print(f"[dim]scale: {name}[/dim]")
        test_file = write_samples(work / f"scale-{n}.jsonl", n, seed=11)
        config = {"main_model": str(tiny / "main"), "adapter": str(tiny / "lora"),
                  "inference": {"test_file": str(test_file), "batch_size": args.scale_batch, "chunk_size": chunk},
                  "generation": {"max_new_tokens": 2}}
        summary = run_cli(config, {}, work / f"scale-{n}-{chunk}", args.threads)["summary"]
        out[name] = {"samples": n, "chunk_size": chunk, "peak_rss_bytes": summary["peak_rss_bytes"],
                     "stage_peak_rss_bytes": {p: v["peak_rss_bytes"] for p, v in summary["stages"].items()},
                     "work_seconds": summarize_run(summary)["work_seconds"]}
    small = out["100, chunked"]["peak_rss_bytes"]
    for entry in out.values():
        entry["vs_100_samples"] = entry["peak_rss_bytes"] / small - 1
    return out


def strategies_table(payload: dict) -> Table:
    settings, results = payload["settings"], payload["strategies"]
    weights = payload["kit_models"]["main"]["bytes"]
    table = compact_table(title=f"LoRA vs base strategies, '{payload['kit']}' kit ({fmt_bytes(weights)} of weights): "
                        f"{settings['samples']} samples, batch {settings['batch_size']}, "
                        f"chunk {settings['chunk_size']}, {settings['max_new_tokens']} new tokens, "
                        f"{settings['threads']} thread(s), median of {settings['repeats']}",
                  caption=f"work time = the stages {', '.join(WORK_STAGES)} (not reading, loading or the warm-up); "
                          f"95% CI of the median work time; noisy = runs flagged noisy (machine busy); load average "
                          f"{payload.get('load_average_before')} -> {payload.get('load_average_after')}")
    for column in ("strategy", "work time", "95% CI", "samples/s", "base pass", "LoRA pass",
                   "adapter load+unload (loads)", "peak RSS", "Δ RSS", "LoRA = unmerged", "base = unmerged", "noisy"):
        table.add_column(column, justify="left" if column == "strategy" else "right",
                         no_wrap=column in {"strategy", "95% CI"})
    reference_rss = results[REFERENCE]["median"]["peak_rss_bytes"]
    for name, entry in results.items():
        m, agree = entry["median"], entry["agreement_with_unmerged"]
        seconds = m["stage_seconds"]
        work = entry.get("spread", {}).get("work_seconds") or {}
        interval = "-" if work.get("ci_low") is None else f"{work['ci_low'] * 1e3:.0f}-{work['ci_high'] * 1e3:.0f} ms"
        lora_pass = fmt_seconds(seconds.get("lora", seconds.get("mixed"))) + (" (both)" if "mixed" in seconds else "")
        table.add_row(name, fmt_seconds(m["work_seconds"]), interval, f"{m['samples_per_s']:.1f}",
                      fmt_seconds(seconds["base"]) if "base" in seconds else "(in mixed)",
                      lora_pass,
                      f"{fmt_seconds(m['adapter_seconds'])} ({m['adapter_calls']:g})", fmt_bytes(m["peak_rss_bytes"]),
                      f"{(m['peak_rss_bytes'] - reference_rss) / 2**20:+.1f} MiB", f"{agree['lora']:.0%}",
                      f"{agree['base']:.0%}", f"{entry.get('noisy_runs', 0)}/{len(entry['runs'])}")
    return table


def scale_table(scale: dict) -> Table:
    table = compact_table(title="Peak RSS vs number of samples (tiny kit, 2 new tokens)")
    for column in ("run", "samples", "work time", "peak RSS", "vs 100 samples"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, entry in scale.items():
        table.add_row(name, str(entry["samples"]), fmt_seconds(entry["work_seconds"]),
                      fmt_bytes(entry["peak_rss_bytes"]), f"{entry['vs_100_samples']:+.1%}")
    return table


def built_full_kit() -> Path | None:
    """The current full kit, else the newest full kit of an earlier kit version already on disk (never built here)."""
    if is_built(kit_dir("full")):
        return kit_dir("full")
    built = [p for p in (kit_home() / "kits").glob("full-*") if is_built(p)]
    return max(built, key=lambda p: p.stat().st_mtime) if built else None


def pick_kit(requested: str) -> tuple[str, Path]:
    full = built_full_kit() if requested in {"auto", "full"} else None
    if full is not None:
        return "full", full
    if requested == "full":
        raise SystemExit(f"no built full demo kit under {kit_home() / 'kits'}; build it with ./run.sh demo, "
                         "or use --kit tiny")
    return "tiny", ensure_kit("tiny")  # seconds to build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", choices=["auto", "tiny", "full"], default="auto",
                        help="auto = full if already built, else tiny")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (the machine is shared)")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 100 vs 10,000 samples memory runs")
    parser.add_argument("--scale-large", type=int, default=10_000)
    parser.add_argument("--scale-chunk", type=int, default=500)
    parser.add_argument("--scale-batch", type=int, default=64)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--render", type=Path, help="only print the tables of an earlier results file")
    args = parser.parse_args()
    if args.render:
        show(json.loads(args.render.read_text()), args.render)
        return 0
    kit, folder = pick_kit(args.kit)
    out_path = args.output or REPO / "benchmarks" / "results" / f"lora_strategies-{kit}.json"

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        work = Path(tmp)
        test_file = write_samples(work / "samples.jsonl", args.samples, seed=3)
        results = strategy_runs(args, kit, folder, test_file, work)
        scale = None if args.skip_scale else scale_runs(args, ensure_kit("tiny"), work)

    manifest = read_manifest(folder)
    payload = {"benchmark": "lora_strategies", "kit": kit, "kit_dir": str(folder),
               "kit_models": {role: {key: manifest["models"][role].get(key)
                                     for key in ("params", "trainable_params", "bytes")} for role in ("main", "lora")},
               "settings": vars(args) | {"output": str(out_path)},
               "strategies": results, "scale": scale, "load_average_before": load_before,
               "load_average_after": load_average(), "environment": collect_environment(None)}
    write_json_atomic(out_path, payload)
    show(payload, out_path)
    return 0


def show(payload: dict, path: Path) -> None:
    screen = console() if console().is_terminal else Console(width=170, highlight=False)
    screen.print(strategies_table(payload))
    if payload.get("scale"):
        screen.print(scale_table(payload["scale"]))
    screen.print(f"results: {path}")


if __name__ == "__main__":
    sys.exit(main())
