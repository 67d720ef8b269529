"""The adapter benchmark: every experiment's adapter timed against its base model, per prompt category.

`prepare` validates every experiment before anything runs: its parameter files merged with the run's overrides,
its prompts, its adapter (a trained folder, weights policy included, or a fresh one from adapter_config.json).
A bad file or override is exit 2 with nothing written.

`run`, per experiment: load the base model (shared by experiments with the same model settings), fit the prompts,
then one of two ways to get the base's timings:
- paired (the default): a copy of the untouched base is timed interleaved with the adapter, prompt by prompt in
  ABBA order, so a change in the machine's speed hits both; the overhead's interval is paired.
- cached (`paired_base: false`): base results from the cache (or measured now and cached), the adapter timed
  after; the base is re-timed on each category's first prompt before the adapter is added and after it is
  removed, and a category whose drift is measurable (its interval excludes no change) makes the experiment
  `unreliable`, never `ok`.
One record per finished experiment; a resumed run keeps them and runs the rest. A failing experiment is recorded
as `failed` with its error, and the next one runs.
"""

from __future__ import annotations

import copy
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ...core import device as dev
from ...core.context import Prepared, RunContext, RunResult
from ...core.environment import collect_environment
from ...core.errors import RunFailed, UserError, WriteFailed, first_line
from ...core.measure import StageLog, Stopwatch
from ...models.adapters import AdapterSource, AdapterSwitch, footprint_bytes
from ...models.loading import LoadedModel, load_model
from . import cache
from .config import CATEGORIES, BenchmarkParams, PeftBenchConfig, load_params
from .experiments import ADAPTER_CONFIG, DEFAULTS_FILE, OVERRIDES_FILE, Experiment, discover, find_root
from .prompts import FittedPrompt, load_prompts, select_prompts
from .results import CategoryMetrics, base_drift, compare_to_base, overall_metrics
from .timing import measure_category, probe_runs


@dataclass
class Job:
    experiment: Experiment | None  # None: the base-only run
    params: BenchmarkParams
    prompts: dict[str, list[str]]
    source: AdapterSource | None


@dataclass
class PeftPrepared(Prepared):
    config: PeftBenchConfig | None = None
    root: Path | None = None
    jobs: list[Job] = field(default_factory=list)

    @property
    def cache_dir(self) -> Path:
        return Path(self.config.output_dir) / "base_cache"


def _source(experiment: Experiment, params: BenchmarkParams) -> AdapterSource:
    if params.adapter is not None:
        return AdapterSource.trained(params.adapter, f"{experiment.path / OVERRIDES_FILE}: adapter",
                                     params.allow_pickle_weights)
    if experiment.adapter_config_path is not None:
        return AdapterSource.fresh(experiment.path, params.seed)
    raise UserError(f"{experiment.path}: needs {ADAPTER_CONFIG} or an adapter in {OVERRIDES_FILE}")


def prepare(config: PeftBenchConfig, log=lambda _m: None) -> PeftPrepared:
    root = find_root(config.root().resolve())
    overrides = config.overrides()
    inputs: dict[str, Path] = {"defaults": root / DEFAULTS_FILE}
    jobs: list[Job] = []
    if config.base_only:
        params = load_params(root / DEFAULTS_FILE, None, overrides)
        jobs.append(Job(None, params, load_prompts(root / params.prompts_file), None))
        inputs["prompts"] = root / params.prompts_file
    else:
        experiments: list[Experiment] = []
        for target in config.experiments or [str(root)]:
            experiments += [e for e in discover(target) if e not in experiments]
        for experiment in experiments:
            params = load_params(experiment.defaults_path, experiment.path, overrides)
            prompts = load_prompts(experiment.root / params.prompts_file)
            jobs.append(Job(experiment, params, prompts, _source(experiment, params)))
            for name in (ADAPTER_CONFIG, OVERRIDES_FILE):
                if (experiment.path / name).is_file():
                    inputs[f"{experiment.id}/{name}"] = experiment.path / name
            inputs[f"prompts:{params.prompts_file}"] = experiment.root / params.prompts_file
    models = {"base_models": sorted({job.params.model_id for job in jobs})}
    return PeftPrepared(models=models, inputs=inputs, config=config, root=root, jobs=jobs)


class Models:
    """Base models by their loading settings: experiments on the same base share one load."""

    def __init__(self):
        self.loaded: dict[str, LoadedModel] = {}

    def get(self, params: BenchmarkParams) -> LoadedModel:
        key = repr((params.model_id, params.model_settings().model_dump()))
        if key not in self.loaded:
            self.loaded.clear()  # one base in memory at a time
            self.loaded[key] = load_model(params.model_id, params.model_settings(), field_name="model_id")
        return self.loaded[key]


def _measure(models: dict, tokenizer, prompts: dict[str, list[FittedPrompt]], params: BenchmarkParams,
             stages: StageLog, label: str) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {name: {} for name in models}
    for category in CATEGORIES:
        with stages.track(f"{label} inference {category}"):
            results = measure_category(models, tokenizer, prompts[category],
                                       params.max_new_tokens.for_category(category),
                                       num_runs=params.num_inference_runs, warmup_runs=params.warmup_runs,
                                       fixed_length=params.fixed_length)
        for name, result in results.items():
            out[name][category] = result.to_dict()
    return out


def _probes(model, tokenizer, prompts: dict[str, list[FittedPrompt]], params: BenchmarkParams) -> dict[str, list]:
    return {c: probe_runs(model, tokenizer, prompts[c][0], params.max_new_tokens.for_category(c),
                          num_runs=params.num_inference_runs, warmup_runs=params.warmup_runs,
                          fixed_length=params.fixed_length) for c in CATEGORIES}


def base_results(loaded: LoadedModel, prompts, params: BenchmarkParams, prep: PeftPrepared,
                 stages: StageLog) -> tuple[dict, dict]:
    """(cache entry, how it was obtained). Runs before an adapter wraps the model."""
    settings = cache.base_settings(params, prompts, cache.model_fingerprint(loaded.report, loaded.model),
                                   cache.machine_fingerprint(loaded.report.device))
    found = cache.lookup(prep.cache_dir, settings)
    if found.status == "hit" and not prep.config.rebuild_base:
        return found.entry, {"source": "cache", "key": found.key, "path": str(found.path)}
    reason = "rebuild requested" if found.status == "hit" else found.describe()
    if prep.config.require_cached_base:
        raise RunFailed(f"{reason}; run `inference-lab peft-bench base` first (or drop --require-cached-base)")
    by_category = _measure({"base": loaded.model}, loaded.tokenizer, prompts, params, stages, "base")["base"]
    entry = cache.save(found.path, found.key, settings, {
        "by_category": by_category, "overall": overall_metrics(by_category),
        "parameters": {"base_params": sum(p.numel() for p in loaded.model.parameters())},
        "model_size": {"base_model_bytes": footprint_bytes(loaded.model)},
        "load_report": loaded.report.to_dict(), "environment": collect_environment(loaded.report.device)})
    return entry, {"source": "measured", "key": found.key, "path": str(found.path), "reason": reason}


def run_job(job: Job, prep: PeftPrepared, models: Models) -> dict:
    params, experiment = job.params, job.experiment
    stages = StageLog(dev.resolve_device(params.device))
    with stages.track("model load"):
        loaded = models.get(params)
    prompts = select_prompts(loaded.model, loaded.tokenizer, job.prompts, params)
    base_bytes = footprint_bytes(loaded.model)
    result: dict = {"experiment": experiment.id if experiment else "base", "status": "ok", "error": None,
                    "path": str(experiment.path) if experiment else str(prep.root),
                    "params": params.model_dump(mode="json"), "model": loaded.report.to_dict(),
                    "prompts": {c: [p.to_dict() for p in ps] for c, ps in prompts.items()}}
    if experiment is None:
        entry, origin = base_results(loaded, prompts, params, prep, stages)
        return {**result, "base": origin, "by_category": entry["by_category"], "overall": entry["overall"],
                "stages": stages.to_dict()}
    switch = AdapterSwitch(loaded.model, job.source, base_name=params.model_id)
    if params.paired_base:
        with stages.track("paired base copy"):
            reference = copy.deepcopy(loaded.model)
        with stages.track("adapter load"):
            adapter_model = switch.attach()
        timed = _measure({"base": reference, "adapter": adapter_model}, loaded.tokenizer, prompts, params, stages,
                         "paired")
        by_category, base_by_category = timed["adapter"], timed["base"]
        origin = {"source": "paired", "note": "base timed in this run on a copy, interleaved with the adapter"}
        del reference
    else:
        entry, origin = base_results(loaded, prompts, params, prep, stages)
        base_by_category = entry["by_category"]
        with stages.track("base check before"):
            before = _probes(loaded.model, loaded.tokenizer, prompts, params)
        with stages.track("adapter load"):
            adapter_model = switch.attach()
        timed = _measure({"adapter": adapter_model}, loaded.tokenizer, prompts, params, stages, "adapter")
        by_category = timed["adapter"]
        switch.detach()
        with stages.track("base check after"):
            after = _probes(switch.base, loaded.tokenizer, prompts, params)
        origin["drift"] = {c: base_drift(base_by_category[c], {"before": before[c], "after": after[c]})
                           for c in CATEGORIES}
        if any(d["significant"] for d in origin["drift"].values()):
            result["status"] = "unreliable"
            result["error"] = ("the base's speed changed measurably since the cached base was timed (drift beyond its "
                               "interval); use paired_base: true")
    for category, entry in by_category.items():
        metrics = CategoryMetrics(**entry["metrics"])
        entry["metrics"] = vars(compare_to_base(metrics, entry, base_by_category[category], params.paired_base))
    if switch.attached:
        switch.detach()
    footprint = switch.footprint.to_dict() if switch.footprint else {}
    return {**result, "base": origin, "by_category": by_category, "base_by_category": base_by_category,
            "overall": overall_metrics(by_category, base_by_category, paired=params.paired_base),
            "adapter": {**footprint, "origin": "trained" if job.source.path else "fresh",
                        "source": job.source.name, "peft_config": switch.peft_config},
            "sizes": {"base_model_bytes": base_bytes, "adapter_bytes": footprint.get("adapter_bytes")},
            "stages": stages.to_dict(), "peak_rss_bytes": stages.peak_rss_bytes,
            "peak_gpu_bytes": stages.peak_gpu_bytes}


def run(prep: PeftPrepared, ctx: RunContext) -> RunResult:
    done: dict[str, dict] = {}
    if ctx.resuming:
        # A failed experiment is measured again: its failure may have been a stop that a library turned into an
        # error, or a condition since fixed (a full disk). Its record is dropped so the folder holds one per experiment.
        def finished(r: dict) -> bool:
            return r.get("kind") != "experiment" or r.get("status") != "failed"

        ctx.folder.keep_records(finished)
        done = {r["experiment"]: r for r in ctx.records() if r.get("kind") == "experiment"}
    results: list[dict] = []
    models = Models()

    def payload() -> dict:
        return {"root": str(prep.root), "base_only": prep.config.base_only, "experiments": list(results)}

    ctx.progress.start("experiments", len(prep.jobs), unit="experiments")
    try:
        for job in prep.jobs:
            name = job.experiment.id if job.experiment else "base"
            if name in done:
                results.append({k: v for k, v in done[name].items() if k != "kind"})
                ctx.progress.advance("experiments")
                continue
            ctx.log(f"{name}: running")
            with Stopwatch() as watch:
                try:
                    result = run_job(job, prep, models)
                except (KeyboardInterrupt, WriteFailed):
                    raise
                except Exception as exc:  # noqa: BLE001 - one experiment's failure is its result; the others still run
                    result = {"experiment": name, "status": "failed", "error": first_line(exc),
                              "traceback": traceback.format_exc(limit=8), "params": job.params.model_dump(mode="json")}
            result["duration_s"] = round(watch.seconds, 3)
            ctx.append([{"kind": "experiment", **result}])
            results.append(result)
            ctx.log(f"{name}: {result['status']}" + (f" ({result['error']})" if result.get("error") else ""))
            ctx.progress.advance("experiments")
            ctx.checkpoint(payload())
    except KeyboardInterrupt:
        ctx.payload = payload()
        raise
    return RunResult(payload(), failed=any(r["status"] == "failed" for r in results),
                     flags=[f"{r['experiment']}: unreliable ({r['error']})" for r in results
                            if r["status"] == "unreliable"])
