"""The methods mode: every requested method over prompts x completions, measured in interleaved rounds.

Order of work: every method is warmed up first (`warmup_runs` untimed calls on its first batch; for `compiled` the
first call of each batch size compiles, and that time is reported apart; for `batch_size: auto` the warm-up halves
the batch on out-of-memory until it fits); then `num_runs` timed rounds, each running every method once over all
its batches (A B C, A B C, ...), so a change in the machine's speed during the run hits every method alike and the
per-round samples can be compared paired. Each method's pass within a round runs under its own peak-memory tracker
(and, on CUDA, its own energy meter).

Records stream to results.jsonl: one `batch` record per generate call, then one `round` record when a method's
pass is complete (with its memory peaks). A resumed run keeps exactly the passes that have their round record (a
pass cut by a kill is measured again), repeats the warm-up in the new process, reuses the batch sizes `auto` chose
(`auto_batch` records), and runs the rest. A combination transformers refuses is `unsupported` with its reason; an
out-of-memory error or another failure in one method marks it `failed` and the other methods go on.

With a synthetic `workload`, every row is `prompt_tokens` random ids decoding exactly `new_tokens` (EOS ignored), so
every method does the same work; with `weights: random` the results are labelled speed and memory only.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ...core import device as dev
from ...core.context import Prepared, RunContext, RunResult
from ...core.errors import LabError, UserError, WriteFailed, first_line
from ...core.measure import PeakMemory
from ...models.loading import LoadedModel, load_model
from ...models.textgen import format_prompts
from ...models.timed import cache_kwargs
from .config import MethodsConfig
from .measurer import Measurer, groups_for, roofline_of, settle_batch
from .planning import WorkItem, flatten
from .preflight import preflight
from .registry import MethodPlan, Skip, build_plans, requested_names
from .results import BatchRecord, MethodSummary, aggregate, rankings


@dataclass
class MethodsPrepared(Prepared):
    config: MethodsConfig | None = None
    main: LoadedModel | None = None
    assistant: LoadedModel | None = None
    assistant_error: str | None = None
    plans: list[MethodPlan | Skip] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    synthetic: Any = None  # (rows, prompt_tokens) tensor of random ids for a workload, else None
    bandwidth: dict | None = None
    memory_estimate: dict | None = None
    adapters: dict[str, Any] = field(default_factory=dict)  # name -> models.adapters.AdapterSource


def prepare(config: MethodsConfig, log=lambda _m: None, *, main: LoadedModel | None = None,
            assistant: LoadedModel | None = None) -> MethodsPrepared:
    """Check memory, load the models (or take loaded ones: tests reuse them) and plan the methods; nothing written."""
    from ...models.bandwidth import device_bandwidth
    from ...models.synthetic import synthetic_batch

    device = dev.resolve_device(config.device)
    cache_kwargs(config.cache_implementation, device)  # fail before a slow load
    sources = adapter_sources(config)
    estimate = preflight(config, device) if main is None else None
    if main is None:
        log(f"loading main model '{config.main_model}'")
        main = load_model(config.main_model, config, field_name="main_model")
    assistant_error = None
    wants_assistant = any(n.endswith("_speculative") for n in requested_names(config))
    if wants_assistant and assistant is None:
        if not config.assistant_model:
            assistant_error = "no assistant_model configured"
        else:
            log(f"loading assistant model '{config.assistant_model}'")
            try:
                assistant = load_model(config.assistant_model, config, field_name="assistant_model")
            except (LabError, OSError, ValueError, RuntimeError) as exc:
                assistant_error = str(exc) if isinstance(exc, LabError) else first_line(exc)
    if assistant is not None and assistant.model.config.vocab_size != main.model.config.vocab_size:
        raise UserError("assistant_model: vocabulary differs from the main model's; speculative decoding here "
                        "needs a shared tokenizer")
    flags = []
    if config.weights == "random":
        # Random draft and main models almost never agree, so acceptance (and the speed-up it buys) says nothing
        # about trained models; the speculative rows still show what drafting costs at this shape.
        flags.append("random weights: speed and memory only (outputs are meaningless, correctness checks skipped; "
                     "speculative acceptance does not reflect trained models)")
    synthetic = None
    if config.workload is not None:
        rows = len(config.effective_prompts())
        synthetic = synthetic_batch(main.model.config, config.workload, config.seed, device,
                                    batch_size=rows)["input_ids"]
        prompts = config.effective_prompts()
    else:
        prompts = format_prompts(main.tokenizer, config.prompts, config.use_chat_template)
    check_adapters_fit(main, sources, config.main_model)
    if config.engine == "openai":
        from . import engine

        engine.check(config, main.report.source)
    models = {"main": main.report.to_dict(), "assistant": assistant.report.to_dict() if assistant else None,
              "assistant_error": assistant_error}
    return MethodsPrepared(
        models=models, flags=flags, config=config, main=main, assistant=assistant, assistant_error=assistant_error,
        plans=build_plans(config, assistant_error=assistant_error), prompts=prompts, synthetic=synthetic,
        bandwidth=device_bandwidth(dev.resolve_device(main.report.device)), memory_estimate=estimate,
        adapters=sources,
    )


def adapter_sources(config: MethodsConfig) -> dict[str, Any]:
    """Name -> AdapterSource; a folder that is missing or not an adapter is one line naming the key (before loading)."""
    from ...models.adapters import AdapterSource
    from ...models.random_adapter import RandomAdapterSpec

    key = "adapters" if config.adapters else "adapter"
    out = {}
    for name, ref in config.named_adapters().items():
        field_name = f"{key}.{name}" if key == "adapters" else key
        out[name] = (AdapterSource.random_lora(name, ref) if isinstance(ref, RandomAdapterSpec)
                     else AdapterSource.trained(str(ref), field_name, config.allow_pickle_weights))
    return out


def check_adapters_fit(main: LoadedModel, sources: dict[str, Any], base_name: str) -> None:
    """Attach and unload every adapter once: one that does not fit the base is bad input, found before any timing."""
    from ...models.adapters import AdapterSwitch

    for source in sources.values():
        switch = AdapterSwitch(main.model, source, base_name=base_name)
        switch.attach()
        switch.detach()


def _batch_record(row: dict) -> BatchRecord:
    return BatchRecord(**{k: v for k, v in row.items() if k != "kind"})


def _kept(ctx: RunContext) -> tuple[dict, dict, dict]:
    """On resume: the (method, round) passes that finished (their round record exists), the batch sizes `auto`
    settled on, a finished server phase (its `engine` record and its `request` records); the rest is dropped."""
    rows = ctx.records()
    rounds = {(r["method"], r["run"]): r for r in rows if r.get("kind") == "round"}
    autos = {r["method"]: r for r in rows if r.get("kind") == "auto_batch"}
    server_done = any(r.get("kind") == "engine" for r in rows)

    def keep(r: dict) -> bool:
        kind = r.get("kind", "batch")
        if kind in {"engine", "request"}:
            return server_done
        return kind == "auto_batch" or (r["method"], r["run"]) in rounds

    ctx.folder.keep_records(keep)
    kept: dict[tuple[str, int], list[BatchRecord]] = {}
    for row in rows:
        if row.get("kind", "batch") == "batch" and (row["method"], row["run"]) in rounds:
            kept.setdefault((row["method"], row["run"]), []).append(_batch_record(row))
    return kept, rounds, autos


def run(prep: MethodsPrepared, ctx: RunContext) -> RunResult:
    cfg = prep.config
    items = flatten(prep.prompts, cfg.completions_per_prompt())
    plans = list(prep.plans)
    kept, round_rows, autos = _kept(ctx) if ctx.resuming else ({}, {}, {})
    if ctx.resuming:
        ctx.log(f"resuming: {len(kept)} finished method passes kept")
    plans = [replace(p, batch_size=autos[p.name]["batch_size"], auto_batch=False)
             if isinstance(p, MethodPlan) and p.name in autos else p for p in plans]
    summaries: dict[str, MethodSummary] = {}
    records: dict[str, list[BatchRecord]] = {}
    peaks: dict[str, dict[int, dict]] = {}
    energy: dict[str, dict[int, dict]] = {}

    def describe(plan: MethodPlan) -> None:
        groups = groups_for(plan, items)
        summary = summaries[plan.name]
        summary.effective_batch_size = plan.batch_size
        summary.completions = sum(len(g) for g in groups)
        summary.batches_per_run = len(groups)
        summary.beams = max(2, max(len(g) for g in groups)) if plan.beams_per_prompt else None

    for plan in plans:
        if isinstance(plan, Skip):
            summaries[plan.name] = MethodSummary(plan.name, None, None, status="skipped", reason=plan.reason)
            continue
        summaries[plan.name] = MethodSummary(plan.name, plan.base_method, plan.variant, status="ok",
                                             notes=list(plan.notes), generate_settings=dict(plan.generate_kwargs))
        if plan.name in autos:
            summaries[plan.name].batch_auto = autos[plan.name]["tried"]
        describe(plan)
        records[plan.name] = [r for (m, _run), rows in sorted(kept.items()) if m == plan.name for r in rows]
        peaks[plan.name] = {run: {"rss": row.get("peak_rss_bytes"), "gpu": row.get("peak_gpu_bytes")}
                            for (m, run), row in round_rows.items() if m == plan.name}
        energy[plan.name] = {run: row["energy"] for (m, run), row in round_rows.items() if m == plan.name
                             and row.get("energy")}
    measurer = Measurer(prep)

    def payload() -> dict:
        done = []
        for plan in plans:
            summary = summaries[plan.name]
            if isinstance(plan, MethodPlan):
                aggregate(summary, records[plan.name], peaks[plan.name])
                summary.roofline = roofline_of(prep, plan, summary)
                summary.energy = _energy(energy[plan.name], records[plan.name])
                if plan.compiled and measurer._compiled is not None:
                    summary.compile = measurer._compiled.summary()
            done.append(summary.to_dict())
        work = {"prompts": len(prep.prompts), "completions": len(items),
                "max_new_tokens": cfg.effective_max_new_tokens(),
                "warmup_runs": cfg.warmup_runs, "num_runs": cfg.num_runs, "interleaved": True,
                "workload": cfg.workload.model_dump() if cfg.workload else None, "weights": cfg.weights}
        out = {"work": work, "bandwidth": prep.bandwidth, "memory_estimate": prep.memory_estimate, "methods": done,
               "rankings": rankings(done)}
        if not dev.is_cuda(measurer.device):  # on CUDA each method carries its own `energy`
            out["energy"] = {"available": False, "reason": f"energy is measured on CUDA only (NVML's counter); this "
                                                           f"run is on {measurer.device}"}
        if prep.adapters:
            out["adapters"] = {name: {"source": str(src.path) if src.path else "random", **measurer.footprints.get(
                name, {})} for name, src in prep.adapters.items()}
        if server["entry"] is not None:
            out["engine"] = server["entry"]
        return out

    position = {"where": "warm-up"}
    server: dict[str, Any] = {"entry": None}

    def fail(plan: MethodPlan, exc: BaseException) -> None:
        summary = summaries[plan.name]
        if isinstance(exc, (ValueError, TypeError, NotImplementedError)):
            summary.status, summary.reason = "unsupported", f"transformers refused: {first_line(exc)}"
        elif dev.is_out_of_memory(exc) or isinstance(exc, LabError) and "out of memory" in str(exc):
            summary.status = "failed"
            summary.reason = (f"out of memory at {position['where']} (rows={plan.batch_size}); lower batch_size "
                              "or max_new_tokens")
            dev.empty_cache()
        else:
            summary.status, summary.reason = "failed", f"{first_line(exc)} at {position['where']}"
        ctx.progress.finish(plan.name, summary.status)

    try:
        for i, plan in enumerate(plans):
            if not isinstance(plan, MethodPlan):
                continue
            todo = [run for run in range(cfg.num_runs) if (plan.name, run) not in kept]
            try:
                with measurer.adapter(plan.adapter):
                    if plan.auto_batch:
                        position["where"] = "batch_size auto"
                        plan, tried = settle_batch(plan, items, measurer, cfg.seed)
                        plans[i] = plan
                        summaries[plan.name].batch_auto = tried
                        describe(plan)
                        ctx.append([{"kind": "auto_batch", "method": plan.name, "batch_size": plan.batch_size,
                                     "tried": tried}])
                    ctx.progress.start(plan.name, len(todo) * summaries[plan.name].batches_per_run)
                    position["where"] = "warm-up"
                    for warm in range(cfg.warmup_runs if todo else 0):
                        measurer.measure(plan, groups_for(plan, items)[0], -1, 0, cfg.seed + warm)
            except (KeyboardInterrupt, WriteFailed):
                raise
            except Exception as exc:  # noqa: BLE001 - a refused combination is this method's result
                fail(plan, exc)
        dev.empty_cache()
        for run in range(cfg.num_runs):
            for plan in plans:
                if not isinstance(plan, MethodPlan):
                    continue
                summary = summaries[plan.name]
                if summary.status != "ok" or (plan.name, run) in kept:
                    continue
                fresh = _pass(plan, run, items, measurer, ctx, position, fail)
                if fresh is None:
                    continue
                batch_records, memory, meter = fresh
                ctx.append([{"kind": "round", "method": plan.name, "run": run, "batches": len(batch_records),
                             "peak_rss_bytes": memory.peak_rss_bytes, "peak_gpu_bytes": memory.peak_gpu_bytes,
                             "energy": meter, "pid": os.getpid()}])
                records[plan.name].extend(batch_records)
                peaks[plan.name][run] = {"rss": memory.peak_rss_bytes, "gpu": memory.peak_gpu_bytes}
                if meter:
                    energy[plan.name][run] = meter
                ctx.checkpoint(payload())
        for plan in plans:
            if isinstance(plan, MethodPlan):
                ctx.progress.finish(plan.name, summaries[plan.name].status)
        if cfg.engine == "openai":
            from . import engine

            ctx.checkpoint(payload())  # the in-process results are safe before the server starts
            server["entry"] = engine.run_phase(prep, ctx)
    except KeyboardInterrupt:
        for plan in plans:
            summary = summaries[plan.name]
            if isinstance(plan, MethodPlan) and summary.status == "ok" and len(peaks[plan.name]) < cfg.num_runs:
                summary.status, summary.reason = "interrupted", "stopped: finished rounds kept"
        ctx.payload = payload()
        raise
    finally:
        measurer.close()
    final = payload()
    noisy = [m["method"] for m in final["methods"] if m.get("noisy")]
    measured = [m for m in final["methods"] if m.get("runs")]
    flags = [f"noisy: {len(noisy)} of {len(measured)} methods' rounds spread more than 10 % of their median (MAD): "
             f"{', '.join(noisy)}; rankings only name winners their intervals separate"] if noisy else []
    flags += [f"{m['method']}: {m['compile']['graphs_during_timing']} graph(s) compiled during timed calls"
              for m in final["methods"] if (m.get("compile") or {}).get("graphs_during_timing")]
    served = final.get("engine") or {}
    if served.get("status") == "failed":
        flags.append(f"server phase failed: {served.get('error')} (levels measured before it are kept)")
    agreement = served.get("agreement") or {}
    if agreement.get("prompts") and agreement.get("exact") != agreement.get("prompts"):
        flags.append(f"server output differs from in-process greedy on {agreement['prompts'] - agreement['exact']} "
                     f"of {agreement['prompts']} prompts (see the agreement table)")
    failed = any(m["status"] == "failed" for m in final["methods"]) or served.get("status") == "failed"
    return RunResult(final, failed=failed, flags=flags)


def _pass(plan: MethodPlan, run: int, items: list[WorkItem], measurer: Measurer, ctx: RunContext, position: dict,
          fail) -> tuple[list[BatchRecord], PeakMemory, dict | None] | None:
    """One method's timed pass over all its batches in one round; None when it failed (recorded by `fail`)."""
    import contextlib

    from ...models.energy import EnergyMeter

    cfg = measurer.prep.config
    groups = groups_for(plan, items)
    fresh: list[BatchRecord] = []
    # Energy on CUDA only (NVML's counter); the idle power is measured once per run, by the first meter.
    meter = EnergyMeter(measurer.device, idle_watts=measurer.idle_watts) if dev.is_cuda(measurer.device) else None
    try:
        with measurer.adapter(plan.adapter), PeakMemory(measurer.device) as memory, \
                (meter or contextlib.nullcontext()):
            for index, group in enumerate(groups):
                position["where"] = f"round {run + 1}, batch {index + 1}/{len(groups)}"
                record = measurer.measure(plan, group, run, index, cfg.seed + 1000 * run + index)
                ctx.append([{"kind": "batch", **asdict(record)}])
                fresh.append(record)
                ctx.progress.advance(plan.name)
    except (KeyboardInterrupt, WriteFailed):  # a full disk ends the run (one line), not one method after another
        raise
    except Exception as exc:  # noqa: BLE001 - one broken method must not lose the others' results
        fail(plan, exc)
        return None
    if meter is not None:
        measurer.idle_watts = meter.idle_watts
    return fresh, memory, (meter.reading.to_dict() if meter is not None else None)


def _energy(readings: dict[int, dict], records: list[BatchRecord]) -> dict | None:
    """Joules per completion token per round, above idle power (CUDA with NVML only; spans under a second give no
    figure, with the reason). None on CPU: no pretence of a figure."""
    from ...core import stats
    from ...models.energy import joules_per_token

    if not readings:
        return None
    tokens: dict[int, int] = {}
    for record in records:
        tokens[record.run] = tokens.get(record.run, 0) + record.completion_tokens
    per_token = [joules_per_token(r.get("joules"), tokens.get(run, 0)) for run, r in readings.items()]
    per_token = [v for v in per_token if v is not None]
    if not per_token:
        return {"available": False, "reason": next(iter(readings.values())).get("reason")}
    return {"available": True, "joules_per_token": stats.summary_dict(per_token),
            "idle_watts": next(iter(readings.values())).get("idle_watts")}


def method_summaries(summary: dict) -> dict[str, dict[str, Any]]:
    return {m["method"]: m for m in summary.get("methods", [])}
