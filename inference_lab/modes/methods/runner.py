"""The methods mode: every requested method over prompts x completions, measured in interleaved rounds.

Order of work: every method is warmed up first (`warmup_runs` untimed calls on its first batch); then
`num_runs` timed rounds, each running every method once over all its batches (A B C, A B C, ...), so a change
in the machine's speed during the run hits every method alike and the per-round samples can be compared
paired. Each method's pass within a round runs under its own peak-memory tracker.

Records stream to results.jsonl: one `batch` record per generate call, then one `round` record when a
method's pass is complete (with its memory peaks). A resumed run keeps exactly the passes that have their
round record (a pass cut by a kill is measured again), repeats the warm-up in the new process, and runs the
rest. A combination transformers refuses is `unsupported` with its reason; an out-of-memory error or another
failure in one method marks it `failed` and the other methods go on.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ...core import device as dev
from ...core.context import Prepared, RunContext, RunResult
from ...core.errors import LabError, UserError, first_line
from ...core.measure import PeakMemory
from ...core.roofline import bytes_per_step, roofline
from ...models.loading import LoadedModel, load_model
from ...models.timed import ForwardCounter, cache_kwargs, timed_generate
from .config import MethodsConfig
from .planning import WorkItem, batches, flatten, per_prompt
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
    bandwidth: dict | None = None


def format_prompts(tokenizer, prompts: list[str], use_chat_template: bool) -> list[str]:
    if not use_chat_template:
        return list(prompts)
    if not getattr(tokenizer, "chat_template", None):
        raise UserError("use_chat_template: the tokenizer has no chat template")
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]


def prepare(config: MethodsConfig, log=lambda _m: None, *, main: LoadedModel | None = None,
            assistant: LoadedModel | None = None) -> MethodsPrepared:
    """Load the models (or take loaded ones: tests reuse them) and plan the methods; nothing is written."""
    cache_kwargs(config.cache_implementation, dev.resolve_device(config.device))  # fail before a slow load
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
    from ...models.bandwidth import device_bandwidth

    models = {"main": main.report.to_dict(), "assistant": assistant.report.to_dict() if assistant else None,
              "assistant_error": assistant_error}
    return MethodsPrepared(
        models=models, config=config, main=main, assistant=assistant, assistant_error=assistant_error,
        plans=build_plans(config, assistant_error=assistant_error),
        prompts=format_prompts(main.tokenizer, config.prompts, config.use_chat_template),
        bandwidth=device_bandwidth(dev.resolve_device(main.report.device)),
    )


def groups_for(plan: MethodPlan, items: list[WorkItem]) -> list[list[WorkItem]]:
    return per_prompt(items) if plan.beams_per_prompt else batches(items, plan.batch_size)


class _Measurer:
    """Runs one batch of one plan through the one timed generate and turns it into a record."""

    def __init__(self, prep: MethodsPrepared):
        cfg = prep.config
        self.prep = prep
        self.model, self.tokenizer = prep.main.model, prep.main.tokenizer
        self.device = dev.resolve_device(prep.main.report.device)
        self.cache = cache_kwargs(cfg.cache_implementation, self.device)
        self.main_calls = ForwardCounter(self.model)
        self.draft_calls = ForwardCounter(prep.assistant.model if prep.assistant else None)

    def close(self) -> None:
        self.main_calls.remove()
        self.draft_calls.remove()

    def measure(self, plan: MethodPlan, items: list[WorkItem], run: int, index: int, seed: int) -> BatchRecord:
        prompts = self.prep.prompts
        if plan.beams_per_prompt:
            texts_in = [prompts[items[0].prompt_index]]
            computed_rows = max(2, len(items))  # every beam is decoded; len(items) of them come back
            extra = {"num_beams": computed_rows, "num_return_sequences": len(items), "early_stopping": True}
        else:
            texts_in = [prompts[item.prompt_index] for item in items]
            computed_rows, extra = len(items), {}
        kwargs = {**plan.generate_kwargs, **extra, **self.cache, "max_new_tokens": self.prep.config.max_new_tokens}
        if plan.draft_source == "assistant":
            kwargs["assistant_model"] = self.prep.assistant.model
        timing = timed_generate(self.model, self.tokenizer, texts_in, generate_kwargs=kwargs, seed=seed,
                                main_calls=self.main_calls,
                                draft_calls=self.draft_calls if plan.draft_source == "assistant" else None,
                                device=self.device)
        completion = timing.total_new_tokens
        return BatchRecord(
            method=plan.name, run=run, batch_index=index, prompt_indices=[i.prompt_index for i in items],
            completion_indices=[i.completion_index for i in items], rows=len(items), latency_s=timing.e2el_s,
            ttft_s=timing.ttft_s, tpot_s=timing.tpot_s, itl_s=[round(g, 7) for g in timing.itl_s],
            steps=timing.steps, new_tokens=timing.new_tokens, completion_tokens=completion,
            generated_tokens=computed_rows * timing.steps if plan.draft_source is None else completion,
            tokens_per_s=completion / timing.e2el_s if timing.e2el_s > 0 else 0.0,
            forward_calls=timing.forward_calls, draft_forward_calls=timing.draft_forward_calls, texts=timing.texts,
            pid=os.getpid(),
        )


def _batch_record(row: dict) -> BatchRecord:
    return BatchRecord(**{k: v for k, v in row.items() if k != "kind"})


def _kept_passes(ctx: RunContext) -> tuple[dict[tuple[str, int], list[BatchRecord]], dict[tuple[str, int], dict]]:
    """On resume: the (method, round) passes that finished (their round record exists); the rest is dropped."""
    rows = ctx.records()
    rounds = {(r["method"], r["run"]): r for r in rows if r.get("kind") == "round"}
    ctx.folder.keep_records(lambda r: (r["method"], r["run"]) in rounds)
    kept: dict[tuple[str, int], list[BatchRecord]] = {}
    for row in rows:
        if row.get("kind", "batch") == "batch" and (row["method"], row["run"]) in rounds:
            kept.setdefault((row["method"], row["run"]), []).append(_batch_record(row))
    return kept, rounds


def _roofline(prep: MethodsPrepared, plan: MethodPlan, summary: MethodSummary) -> dict | None:
    if plan.draft_source is not None or not summary.tpot_s:
        return None  # a speculative step verifies several tokens: bytes per token is not one weight pass
    from ...models.bandwidth import model_shape

    shape = model_shape(prep.main.model)
    tokenizer = prep.main.tokenizer
    prompt_tokens = sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prep.prompts)
    prompt_tokens /= len(prep.prompts)
    rows = summary.beams or summary.effective_batch_size or 1
    new = (summary.completion_tokens_per_run or 0) / max(summary.completions, 1)
    result = roofline(bytes_per_step(shape, rows, prompt_tokens, new), summary.tpot_s["median"],
                      (prep.bandwidth or {}).get("bytes_per_s"))
    return result.to_dict() if result else None


def run(prep: MethodsPrepared, ctx: RunContext) -> RunResult:
    cfg = prep.config
    items = flatten(cfg.prompts, cfg.completions_per_prompt())
    plans = prep.plans
    kept, round_rows = _kept_passes(ctx) if ctx.resuming else ({}, {})
    if ctx.resuming:
        ctx.log(f"resuming: {len(kept)} finished method passes kept")
    summaries: dict[str, MethodSummary] = {}
    records: dict[str, list[BatchRecord]] = {}
    peaks: dict[str, dict[int, dict]] = {}
    for plan in plans:
        if isinstance(plan, Skip):
            summaries[plan.name] = MethodSummary(plan.name, None, None, status="skipped", reason=plan.reason)
            continue
        groups = groups_for(plan, items)
        summaries[plan.name] = MethodSummary(
            plan.name, plan.base_method, plan.variant, status="ok", notes=list(plan.notes),
            effective_batch_size=plan.batch_size, generate_settings=dict(plan.generate_kwargs),
            completions=sum(len(g) for g in groups), batches_per_run=len(groups),
            beams=max(2, max(len(g) for g in groups)) if plan.beams_per_prompt else None)
        records[plan.name] = [r for (m, _run), rows in sorted(kept.items()) if m == plan.name for r in rows]
        peaks[plan.name] = {run: {"rss": row.get("peak_rss_bytes"), "gpu": row.get("peak_gpu_bytes")}
                            for (m, run), row in round_rows.items() if m == plan.name}

    def payload() -> dict:
        done = []
        for plan in plans:
            summary = summaries[plan.name]
            if isinstance(plan, MethodPlan):
                aggregate(summary, records[plan.name], peaks[plan.name])
                summary.roofline = _roofline(prep, plan, summary)
            done.append(summary.to_dict())
        return {"work": {"prompts": len(cfg.prompts), "completions": len(items), "max_new_tokens": cfg.max_new_tokens,
                         "warmup_runs": cfg.warmup_runs, "num_runs": cfg.num_runs, "interleaved": True},
                "bandwidth": prep.bandwidth, "methods": done, "rankings": rankings(done)}

    runnable = [p for p in plans if isinstance(p, MethodPlan)]
    measurer = _Measurer(prep)
    position = {"where": "warm-up"}

    def fail(plan: MethodPlan, exc: BaseException) -> None:
        summary = summaries[plan.name]
        if isinstance(exc, (ValueError, TypeError, NotImplementedError)):
            summary.status, summary.reason = "unsupported", f"transformers refused: {first_line(exc)}"
        elif dev.is_out_of_memory(exc):
            summary.status = "failed"
            summary.reason = (f"out of memory at {position['where']} (rows={plan.batch_size}); lower batch_size "
                              "or max_new_tokens")
            dev.empty_cache()
        else:
            summary.status, summary.reason = "failed", f"{first_line(exc)} at {position['where']}"
        ctx.progress.finish(plan.name, summary.status)

    try:
        for plan in runnable:
            todo = [run for run in range(cfg.num_runs) if (plan.name, run) not in kept]
            ctx.progress.start(plan.name, len(todo) * summaries[plan.name].batches_per_run)
            if not todo:
                continue
            try:
                for warm in range(cfg.warmup_runs):
                    measurer.measure(plan, groups_for(plan, items)[0], -1, 0, cfg.seed + warm)
            except Exception as exc:  # noqa: BLE001 - a refused combination is this method's result
                fail(plan, exc)
        dev.empty_cache()
        for run in range(cfg.num_runs):
            for plan in runnable:
                summary = summaries[plan.name]
                if summary.status != "ok" or (plan.name, run) in kept:
                    continue
                groups = groups_for(plan, items)
                fresh: list[BatchRecord] = []
                try:
                    with PeakMemory(measurer.device) as memory:
                        for index, group in enumerate(groups):
                            position["where"] = f"round {run + 1}, batch {index + 1}/{len(groups)}"
                            record = measurer.measure(plan, group, run, index, cfg.seed + 1000 * run + index)
                            ctx.append([{"kind": "batch", **asdict(record)}])
                            fresh.append(record)
                            ctx.progress.advance(plan.name)
                except KeyboardInterrupt:
                    summary.status, summary.reason = "interrupted", "stopped: finished rounds kept"
                    raise
                except Exception as exc:  # noqa: BLE001 - one broken method must not lose the others' results
                    fail(plan, exc)
                    continue
                ctx.append([{"kind": "round", "method": plan.name, "run": run, "batches": len(groups),
                             "peak_rss_bytes": memory.peak_rss_bytes, "peak_gpu_bytes": memory.peak_gpu_bytes,
                             "pid": os.getpid()}])
                records[plan.name].extend(fresh)
                peaks[plan.name][run] = {"rss": memory.peak_rss_bytes, "gpu": memory.peak_gpu_bytes}
                ctx.checkpoint(payload())
        for plan in runnable:
            ctx.progress.finish(plan.name, summaries[plan.name].status)
    except KeyboardInterrupt:
        for plan in runnable:
            if summaries[plan.name].status == "ok" and len(peaks[plan.name]) < cfg.num_runs:
                summary = summaries[plan.name]
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
    return RunResult(final, failed=any(m["status"] == "failed" for m in final["methods"]), flags=flags)


def method_summaries(summary: dict) -> dict[str, dict[str, Any]]:
    return {m["method"]: m for m in summary.get("methods", [])}
