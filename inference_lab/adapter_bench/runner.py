"""Run experiments: load the base, get base results (cache or measure), add the adapter, time every category,
save one result file per experiment.

An experiment that fails is saved with status `failed` and its error, and the next one runs; Ctrl-C saves the
current one as `cancelled` and stops. `run_experiments` is the plain function the CLI and the menu call.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import device as dev
from ..environment import collect_environment, package_versions
from ..errors import RunFailed
from ..loading import LoadedModel, load_model
from ..measure import Stopwatch
from . import cache
from .adapters import MB, apply_adapter, footprint_bytes
from .config import CATEGORIES, DEFAULTS_FILE, BenchmarkParams, check_overrides, load_params
from .experiments import Experiment, discover, find_root
from .memory import MemoryLog
from .prompts import FittedPrompt, load_prompts, select_prompts
from .results import BenchmarkResult, RunInfo, now_iso, save_result
from .timing import CategoryMetrics, base_drift, compare_to_base, measure_category, overall_metrics, probe_seconds

DEFAULT_OUTPUT_DIR = Path("results") / "peft_bench"


@dataclass
class RunOptions:
    output_dir: Path = DEFAULT_OUTPUT_DIR
    overrides: list[str] = field(default_factory=list)  # `--set key=value`, applied after the params files
    rebuild_base: bool = False  # measure the base again even when the cache matches
    require_cached_base: bool = False  # a missing or stale base cache is an error instead of a rebuild
    log: Callable[[str], None] = lambda _message: None

    @property
    def cache_dir(self) -> Path:
        return self.output_dir / "base_cache"


@dataclass
class Prepared:
    params: BenchmarkParams
    loaded: LoadedModel
    prompts: dict[str, list[FittedPrompt]]


def _hardware(device: str) -> dict:
    env = collect_environment(device)
    keys = ("device", "device_name", "cuda_available", "cuda_version", "cpu_count", "torch_threads", "platform")
    return {k: env[k] for k in keys}


def prepare(params: BenchmarkParams, root: Path, memory: MemoryLog) -> Prepared:
    prompts = load_prompts(root / params.prompts_file)
    with memory.stage("model load"):
        loaded = load_model(params.model_id, params.model_settings(), field_name="model_id")
    return Prepared(params, loaded, select_prompts(loaded.model, loaded.tokenizer, prompts, params))


def measure_all(models: dict, prepared: Prepared, memory: MemoryLog, label: str) -> dict[str, dict[str, dict]]:
    """{model name: {category: CategoryResult dict}}; several models are timed interleaved."""
    params = prepared.params
    out: dict[str, dict[str, dict]] = {name: {} for name in models}
    for category in CATEGORIES:
        with memory.stage(f"{label} inference {category}"):
            results = measure_category(
                models, prepared.loaded.tokenizer, prepared.prompts[category],
                params.max_new_tokens.for_category(category), num_runs=params.num_inference_runs,
                warmup_runs=params.warmup_runs, fixed_length=params.fixed_length, device=prepared.loaded.model.device,
            )
        for name, result in results.items():
            out[name][category] = result.to_dict()
    return out


def probe_base(model, prepared: Prepared) -> float | None:
    if model is None:
        return None
    params = prepared.params
    return probe_seconds(model, prepared.loaded.tokenizer, prepared.prompts["short"][0], params.max_new_tokens.short,
                         num_runs=params.num_inference_runs, warmup_runs=params.warmup_runs,
                         fixed_length=params.fixed_length, device=prepared.loaded.model.device)


def _without_adapter(peft_model):
    """The base model back, adapter layers removed (PEFT's `unload`); None for a method that cannot unload."""
    try:
        return peft_model.unload()
    except (AttributeError, NotImplementedError, ValueError):
        return None


def base_results(prepared: Prepared, options: RunOptions, memory: MemoryLog) -> tuple[dict, dict]:
    """(cache entry, how it was obtained). Must run before an adapter wraps the model."""
    loaded = prepared.loaded
    fingerprint = cache.model_fingerprint(loaded.report, loaded.model)
    settings = cache.base_settings(prepared.params, prepared.prompts, fingerprint,
                                   cache.machine_fingerprint(loaded.report.device))
    found = cache.lookup(options.cache_dir, settings)
    if found.status == "hit" and not options.rebuild_base:
        options.log(found.describe())
        return found.entry, {"key": found.key, "path": str(found.path), "source": "cache"}
    reason = "rebuild requested" if found.status == "hit" else found.describe()
    if options.require_cached_base:
        raise RunFailed(f"{reason}; run `inference-lab peft-bench base` first (or drop --require-cached-base)")
    options.log(f"{reason}: measuring the base model now")
    first_stage = len(memory.rows)
    by_category = measure_all({"base": loaded.model}, prepared, memory, "base")["base"]
    entry = cache.save(found.path, found.key, settings, {
        "by_category": by_category,
        "overall": overall_metrics({c: v["metrics"] for c, v in by_category.items()}),
        "memory": MemoryLog.summarize_rows(memory.rows[first_stage:]),
        "parameters": {"base_params": sum(p.numel() for p in loaded.model.parameters())},
        "model_size": {"base_model_bytes": footprint_bytes(loaded.model)},
        "load_report": loaded.report.to_dict(),
        "environment": collect_environment(loaded.report.device),
    })
    return entry, {"key": found.key, "path": str(found.path), "source": "measured", "reason": reason}


def run_base(root: str | Path = "experiments", options: RunOptions | None = None) -> dict:
    """Build (or confirm) the base cache for the shared defaults plus `options.overrides`."""
    options = options or RunOptions()
    root = find_root(Path(root).resolve())
    params = load_params(root / DEFAULTS_FILE, None, options.overrides)
    memory = MemoryLog(dev.resolve_device(params.device))
    entry, origin = base_results(prepare(params, root, memory), options, memory)
    return {**entry, "origin": origin}


@dataclass
class Timings:
    by_category: dict  # adapter
    base_by_category: dict
    base_origin: dict  # run_info.base_results
    base_memory: dict | None


def _timed_against_cache(prepared: Prepared, options: RunOptions, memory: MemoryLog, experiment: Experiment):
    """Base from the cache (or measured now), adapter after it; the base re-timed around the adapter run."""
    base, origin = base_results(prepared, options, memory)
    with memory.stage("base check before"):
        before = probe_base(prepared.loaded.model, prepared)
    with memory.stage("adapter load"):
        model, adapter = apply_adapter(prepared.loaded.model, experiment, prepared.params)
    by_category = measure_all({"adapter": model}, prepared, memory, "adapter")["adapter"]
    with memory.stage("base check after"):
        after = probe_base(_without_adapter(model), prepared)
    origin["drift"] = base_drift(base["by_category"]["short"], before, after)
    if not origin["drift"]["reliable"]:
        options.log(f"{experiment.id}: base speed drifted {origin['drift']['max_abs_drift_pct']:.0f}% from the cached "
                    "base: the machine's speed changed (load?); overhead figures are not reliable "
                    "(paired_base=true measures both interleaved)")
    return adapter, Timings(by_category, base["by_category"], origin, base.get("memory"))


def _timed_paired(prepared: Prepared, memory: MemoryLog, experiment: Experiment):
    """A second, untouched copy of the base timed interleaved with the adapter: no cache, no drift."""
    params = prepared.params
    with memory.stage("paired base load"):
        reference = load_model(params.model_id, params.model_settings(), field_name="model_id")
    with memory.stage("adapter load"):
        model, adapter = apply_adapter(prepared.loaded.model, experiment, params)
    timed = measure_all({"base": reference.model, "adapter": model}, prepared, memory, "paired")
    origin = {"source": "paired", "note": "base timed in this run on a second copy, interleaved with the adapter"}
    return adapter, Timings(timed["adapter"], timed["base"], origin, None)


def _fill_success(result: BenchmarkResult, prepared: Prepared, options: RunOptions, memory: MemoryLog,
                  experiment: Experiment) -> None:
    loaded = prepared.loaded
    base_bytes = footprint_bytes(loaded.model)  # before PEFT adds its layers to it
    if prepared.params.paired_base:
        adapter, timings = _timed_paired(prepared, memory, experiment)
    else:
        adapter, timings = _timed_against_cache(prepared, options, memory, experiment)
    result.run_info.base_results = timings.base_origin
    result.run_info.peft_config = adapter.config
    by_category = timings.by_category
    for category, entry in by_category.items():
        metrics = CategoryMetrics(**entry["metrics"])
        entry["metrics"] = vars(compare_to_base(metrics, timings.base_by_category[category]["metrics"]))
    gen = result.generation_info
    gen.by_category = by_category
    gen.overall = overall_metrics({c: v["metrics"] for c, v in by_category.items()},
                                  {c: v["metrics"] for c, v in timings.base_by_category.items()})
    gen.memory["base"] = timings.base_memory
    if prepared.params.paired_base:
        gen.base_by_category = timings.base_by_category
    meta = result.meta_info
    meta.model = {"model_id": prepared.params.model_id, "source": loaded.report.source,
                  "peft_method": adapter.peft_method, "adapter_origin": adapter.origin,
                  "adapter_source": adapter.source, "load_report": loaded.report.to_dict()}
    meta.parameters = {"base_params": adapter.base_params, "adapter_params": adapter.adapter_params,
                       "trainable_params": adapter.adapter_params, "total_params": adapter.total_params,
                       "param_ratio_pct": adapter.param_ratio_pct}
    meta.model_size = {"base_model_mb": base_bytes / MB, "adapter_mb": adapter.adapter_mb,
                       "base_model_bytes": base_bytes, "adapter_bytes": adapter.adapter_bytes}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def run_experiment(experiment: Experiment, options: RunOptions | None = None) -> dict:
    """Run one experiment and save its result file; failures are recorded, not raised (Ctrl-C is re-raised)."""
    options = options or RunOptions()
    result = BenchmarkResult(RunInfo(experiment=experiment.id, path=str(experiment.path), timestamp=now_iso()))
    run = result.run_info
    memory = MemoryLog()
    interrupted: KeyboardInterrupt | None = None
    with Stopwatch() as watch:
        try:
            params = load_params(experiment.defaults_path, experiment.path, options.overrides)
            run.benchmark_config = params.model_dump(mode="json")
            memory.device = dev.resolve_device(params.device)
            run.hardware = _hardware(str(memory.device))
            options.log(f"{experiment.id}: loading {params.model_id}")
            _fill_success(result, prepare(params, experiment.root, memory), options, memory, experiment)
            run.status = "success"
        except KeyboardInterrupt as exc:
            run.status, run.error, interrupted = "cancelled", "interrupted (Ctrl-C)", exc
        except Exception as exc:  # one experiment's failure is its result; the others still run
            run.status, run.error, run.traceback = "failed", _one_line(exc), traceback.format_exc(limit=8)
    run.duration_s = round(watch.seconds, 3)
    result.generation_info.memory.update(memory.summary())
    result.meta_info.packages = package_versions()
    result.meta_info.system = {k: v for k, v in collect_environment().items() if k != "packages"}
    path = save_result(result, options.output_dir)
    options.log(f"{experiment.id}: {run.status}{f' ({run.error})' if run.error else ''} -> {path}")
    if interrupted is not None:
        raise interrupted
    return {**result.to_dict(), "result_path": str(path)}


def run_experiments(targets: list[str | Path], options: RunOptions | None = None) -> list[dict]:
    """Every experiment under each target (a folder of experiments or one experiment), in order."""
    options = options or RunOptions()
    check_overrides(options.overrides)
    experiments: list[Experiment] = []
    for target in targets:
        experiments += [e for e in discover(target) if e not in experiments]
    return [run_experiment(e, options) for e in experiments]
