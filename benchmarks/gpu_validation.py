"""GPU validation at real scale with random weights (run by benchmarks/gpu_validation.sh on a bare CUDA machine).

Steps, each recorded in one JSON (benchmarks/results/gpu_validation.json) and summarised in a table:
1. environment: torch/CUDA/transformers versions, GPU, which optional packages exist (flash-attn, bitsandbytes, NVML);
2. the real-gpu preset (configs/real-gpu.json: a sweep config, each point in its own process) through the CLI
   (`python -m inference_lab methods CONFIG --output DIR --quiet --yes`); quantized values of the sweep are dropped
   (and recorded as skipped, with the reason) when bitsandbytes is missing; each point's status is read from the
   sweep's index.json;
3. LoRA strategies at Qwen3-4B shape: random weights, a random LoRA on every projection; base (adapter disabled),
   unmerged, merged (a merged copy), and the mixed-adapter batch (half the rows on the base), interleaved rounds;
   tokens/s and, where NVML can, joules per output token;
4. stopwatch vs CUDA events around the same generate() calls (measure.Stopwatch syncs the device; events are
   recorded on the stream after a sync): they must agree within 2 % for every call.

    python3 benchmarks/gpu_validation.py [--quick] [--skip-preset]

Everything but the CUDA-only parts runs on CPU too (tests/test_gpu_validation.py runs them on a tiny shape).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TOLERANCE = 0.02
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
OPTIONAL_PACKAGES = {"flash_attn": "flash-attn", "bitsandbytes": "bitsandbytes", "pynvml": "nvidia-ml-py"}


# --- pure parts ------------------------------------------------------------------------------------------------


# Sweep values that need a package: (config key, values) -> the module that must be importable.
NEEDS = {("use_quantization", ("4bit", "8bit", True)): "bitsandbytes"}


def drop_unavailable(preset: dict, installed=None) -> tuple[dict, list[dict]]:
    """The sweep config without the swept values whose package is missing (grid values, or whole zip rows), and
    one {"label", "status": "skipped", "reason"} per value dropped (pure given `installed`)."""
    from inference_lab.sweep.plan import point_label  # labels as the sweep's own points read

    installed = installed or (lambda module: importlib.util.find_spec(module) is not None)
    sweep = copy.deepcopy(preset.get("sweep") or {})
    skipped = []
    for (key, values), module in NEEDS.items():
        if installed(module):
            continue
        reason = f"{module} not installed"

        def needs(value, values=values) -> bool:
            return any(value is v or (isinstance(v, str) and value == v) for v in values)

        grid = sweep.get("grid") or {}
        if key in grid:
            skipped += [{"label": point_label({key: v}), "status": "skipped", "reason": reason}
                        for v in grid[key] if needs(v)]
            grid[key] = [v for v in grid[key] if not needs(v)]
        for group in sweep.get("zip") or []:
            if key in group:
                keep = [i for i, v in enumerate(group[key]) if not needs(v)]
                skipped += [{"label": point_label({k: group[k][i] for k in group}), "status": "skipped",
                             "reason": reason} for i in range(len(group[key])) if i not in keep]
                for k in group:
                    group[k] = [group[k][i] for i in keep]
    return {**preset, "sweep": sweep}, skipped


def timing_agreement(stopwatch_seconds: list[float], event_seconds: list[float],
                     tolerance: float = TOLERANCE) -> dict:
    """Relative difference |stopwatch - events| / events per call; `ok` when every call is within `tolerance`."""
    diffs = [abs(s - e) / e for s, e in zip(stopwatch_seconds, event_seconds)]
    return {"calls": len(diffs), "median_rel_diff": statistics.median(diffs), "max_rel_diff": max(diffs),
            "tolerance": tolerance, "ok": max(diffs) <= tolerance}


def stats(values: list[float]) -> dict:
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


# --- measurement parts -----------------------------------------------------------------------------------------


def environment() -> dict:
    import torch
    import transformers

    from inference_lab.core import device as dev

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "transformers": transformers.__version__, "device": dev.device_name("cuda" if dev.cuda_available()
                                                                               else None),
            "cuda_available": dev.cuda_available(),
            "optional": {pip: importlib.util.find_spec(mod) is not None for mod, pip in OPTIONAL_PACKAGES.items()}}
    try:
        import peft

        info["peft"] = peft.__version__
    except ImportError:
        info["peft"] = None
    return info


def run_preset(preset_path: Path, out_dir: Path, timeout: int, installed=None) -> list[dict]:
    """The preset's sweep through the CLI in one process (each point in its own); one result per point (from the
    sweep's index) plus one per value dropped for a missing package."""
    preset, results = drop_unavailable(json.loads(preset_path.read_text()), installed)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / preset_path.name  # the same name: the sweep folder is named after it
        config.write_text(json.dumps(preset, indent=2))
        before = {p.name for p in out_dir.iterdir()}
        cmd = [sys.executable, "-m", "inference_lab", "methods", str(config), "--output", str(out_dir), "--quiet",
               "--yes"]
        try:
            done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return results + [{"label": "sweep", "status": "failed", "reason": f"timed out after {timeout} s"}]
    made = sorted(p for p in out_dir.iterdir() if p.name not in before and (p / "index.json").is_file())
    if not made:  # refused before the sweep folder existed (bad input): the CLI's one line says why
        return results + [{"label": "sweep", "status": "failed", "returncode": done.returncode,
                           "reason": (done.stderr.strip().splitlines() or ["no sweep folder"])[-1],
                           "stdout_tail": done.stdout[-3000:]}]
    for point in json.loads((made[-1] / "index.json").read_text())["points"]:
        results.append({"label": point["label"], "status": point["status"], "returncode": point["exit_code"],
                        "reason": point["error"], "run_dir": str(made[-1] / point["run_dir"]) if point["run_dir"]
                        else None})
    return results


def build(name: str, device: str, dtype: str, layers: int | None = None):
    from inference_lab.models.catalogue import build_random_model, catalogue_config

    config = catalogue_config(name)
    if layers is not None:  # a cut-down copy for CPU tests; the real validation uses the full depth
        data = {k: v for k, v in config.to_dict().items() if k != "layer_types"}
        config = config.__class__(**{**data, "num_hidden_layers": layers})
    model, report = build_random_model(config, dtype=dtype, device=device, seed=0)
    return config, model, report


def lora_strategies(name: str, *, device: str, dtype: str, prompt_tokens: int, new_tokens: int, batch_size: int,
                    r: int, rounds: int, layers: int | None = None) -> dict:
    """Base, unmerged, merged and mixed-batch LoRA generation at this shape; interleaved rounds."""
    import torch

    from inference_lab.core.measure import Stopwatch
    from inference_lab.models.catalogue import generation_token_ids
    from inference_lab.models.energy import EnergyMeter, joules_per_token
    from inference_lab.models.random_adapter import attach_random_lora
    from inference_lab.models.synthetic import Workload, exact_length_kwargs, synthetic_batch

    config, model, build_report = build(name, device, dtype, layers)
    ids = generation_token_ids(config)
    workload = Workload(prompt_tokens=prompt_tokens, new_tokens=new_tokens, batch_size=batch_size)
    batch = synthetic_batch(config, workload, seed=1, device=device)
    exact = {**exact_length_kwargs(new_tokens, ids["eos_token_id"], ids["pad_token_id"]),
             "pad_token_id": ids["pad_token_id"], "do_sample": False}
    peft_model = attach_random_lora(model, r=r, alpha=2 * r, target_modules=ALL_PROJECTIONS, seed=2)
    merged = copy.deepcopy(peft_model).merge_and_unload()
    half = batch_size // 2
    adapter_names = ["__base__"] * half + ["default"] * (batch_size - half)

    def base():
        with peft_model.disable_adapter():
            return peft_model.generate(**batch, **exact)

    variants = {"base": base, "unmerged": lambda: peft_model.generate(**batch, **exact),
                "merged": lambda: merged.generate(**batch, **exact),
                "mixed batch": lambda: peft_model.generate(**batch, **exact, adapter_names=adapter_names)}
    tokens = batch_size * new_tokens
    with torch.inference_mode():
        for fn in variants.values():
            fn()  # warm-up
        seconds: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for variant, fn in variants.items():
                with Stopwatch(device) as watch:
                    fn()
                seconds[variant].append(watch.seconds)
        energy = {}
        idle = None
        for variant, fn in variants.items():
            # Back-to-back calls filling >= 2 s: NVML's counter needs spans over a second to mean anything.
            calls = max(1, math.ceil(2.0 / statistics.median(seconds[variant])))
            with EnergyMeter(device, idle_watts=idle) as meter:
                if meter.idle_watts is not None:  # None: no NVML here, the reading says why; skip the calls
                    for _ in range(calls):
                        fn()
            idle = meter.idle_watts
            reading = meter.reading
            energy[variant] = {**reading.to_dict(), "calls": calls,
                               "joules_per_token": joules_per_token(reading.joules, calls * tokens)}
    return {"model": name, "layers": layers or config.num_hidden_layers, "dtype": dtype, "r": r,
            "workload": workload.model_dump(), "build_seconds": build_report.build_seconds,
            "tokens_per_s": {k: stats([tokens / s for s in v]) for k, v in seconds.items()},
            "unmerged_overhead_pct_vs_merged": stats([(u / m - 1) * 100 for u, m in
                                                      zip(seconds["unmerged"], seconds["merged"])]),
            "energy": energy}


def events_vs_stopwatch(name: str, *, device: str, dtype: str, batch_sizes: list[int], new_tokens: int,
                        calls: int, layers: int | None = None) -> dict:
    """Time the same generate() calls with measure.Stopwatch and with CUDA events; CUDA only."""
    import torch

    from inference_lab.core import device as dev
    from inference_lab.core.measure import Stopwatch
    from inference_lab.models.catalogue import generation_token_ids
    from inference_lab.models.synthetic import Workload, exact_length_kwargs, synthetic_batch

    if not dev.is_cuda(device):
        return {"available": False, "reason": "CUDA events need a CUDA device"}
    config, model, _ = build(name, device, dtype, layers)
    ids = generation_token_ids(config)
    exact = {**exact_length_kwargs(new_tokens, ids["eos_token_id"], ids["pad_token_id"]),
             "pad_token_id": ids["pad_token_id"], "do_sample": False}
    out: dict = {"available": True, "per_batch": {}}
    with torch.inference_mode():
        for b in batch_sizes:
            batch = synthetic_batch(config, Workload(prompt_tokens=128, new_tokens=new_tokens, batch_size=b),
                                    seed=1, device=device)
            model.generate(**batch, **exact)  # warm-up
            watch_s, event_s = [], []
            for _ in range(calls):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                with Stopwatch(device) as watch:
                    start.record()
                    model.generate(**batch, **exact)
                    end.record()
                torch.cuda.synchronize(device)
                watch_s.append(watch.seconds)
                event_s.append(start.elapsed_time(end) / 1000.0)
            out["per_batch"][str(b)] = {"stopwatch": stats(watch_s), "events": stats(event_s),
                                        **timing_agreement(watch_s, event_s)}
    out["ok"] = all(v["ok"] for v in out["per_batch"].values())
    return out


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="GPU validation (random weights: speed and memory only)")
    table.add_column("check")
    table.add_column("result")
    for run in result.get("preset", []):
        table.add_row(f"preset {run['label']}", run["status"] + (f": {run.get('reason')}" if run.get("reason") else ""))
    lora = result.get("lora")
    if lora:
        for variant, tps in lora["tokens_per_s"].items():
            jpt = lora["energy"][variant].get("joules_per_token")
            energy = f", {jpt:.3f} J/token" if jpt else f" ({lora['energy'][variant].get('reason')})"
            table.add_row(f"LoRA {variant}", f"{tps['median']:.1f} tok/s [{tps['min']:.1f}-{tps['max']:.1f}]{energy}")
        over = lora["unmerged_overhead_pct_vs_merged"]
        table.add_row("LoRA unmerged vs merged", f"{over['median']:+.1f} % [{over['min']:+.1f}, {over['max']:+.1f}]")
    timing = result.get("timing")
    if timing:
        if not timing.get("available"):
            table.add_row("stopwatch vs CUDA events", f"not run: {timing.get('reason')}")
        for b, row in timing.get("per_batch", {}).items():
            verdict = "ok" if row["ok"] else "DISAGREE"
            spread = f"median {row['median_rel_diff'] * 100:.2f} %, max {row['max_rel_diff'] * 100:.2f} %"
            table.add_row(f"stopwatch vs events, batch {b}", f"{verdict}: {spread}")
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=str(REPO / "configs" / "real-gpu.json"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu_validation.json"))
    parser.add_argument("--skip-preset", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (a smoke run)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset-timeout", type=int, default=1800)
    args = parser.parse_args()
    from inference_lab.core.storage import write_json_atomic

    rounds, calls = (2, 3) if args.quick else (5, 10)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {"environment": environment(), "note": "random weights: speed and memory only"}
    write_json_atomic(out, result)
    if not args.skip_preset:
        result["preset"] = run_preset(Path(args.preset), out.parent / "gpu_validation_runs", args.preset_timeout)
        write_json_atomic(out, result)
    result["lora"] = lora_strategies("Qwen/Qwen3-4B", device=args.device, dtype="bfloat16", prompt_tokens=256,
                                     new_tokens=64, batch_size=8, r=16, rounds=rounds)
    write_json_atomic(out, result)
    result["timing"] = events_vs_stopwatch("Qwen/Qwen3-4B", device=args.device, dtype="bfloat16",
                                           batch_sizes=[1, 8], new_tokens=64, calls=calls)
    write_json_atomic(out, result)
    print_table(result)
    print(f"wrote {out}")
    failed = [r for r in result.get("preset", []) if r["status"] not in {"ok", "skipped"}]
    return 1 if failed or (result["timing"].get("available") and not result["timing"]["ok"]) else 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
