"""InferenceMethodsComparator: every requested method over prompts x completions, measured, streamed to disk.

Order of work per method: warm-up runs on the first batch (not recorded), then `num_runs` timed passes over
every batch inside one peak-memory tracker (reset per method). Each finished batch is appended to
`results.jsonl` at once and the summary is rewritten after each method, so Ctrl-C keeps a valid folder.
`resume=RUN_DIR` continues such a folder: methods that finished (ok, skipped, unsupported, failed) are kept,
an interrupted one is measured again from scratch (timings from two processes are never mixed).
A combination transformers refuses is recorded as `unsupported` with its reason; an out-of-memory or
other failure in one method is recorded as `failed` and the next method still runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from . import device as dev
from .config import InferenceConfig
from .environment import collect_environment
from .errors import LabError, UserError, first_line
from .generation import BatchGenerator, BatchMeasurement, cache_kwargs
from .loading import LoadedModel, load_model
from .measure import PeakMemory
from .methods import MethodPlan, Skip, build_plans
from .planning import WorkItem, batches, flatten, per_prompt
from .results import BatchRecord, MethodSummary, RunWriter, aggregate, new_run_dir, rankings


class ProgressHooks(Protocol):
    def method_started(self, name: str, total_batches: int) -> None: ...
    def batch_done(self, name: str) -> None: ...
    def method_finished(self, summary: MethodSummary) -> None: ...


class NoProgress:
    def method_started(self, name: str, total_batches: int) -> None:
        pass

    def batch_done(self, name: str) -> None:
        pass

    def method_finished(self, summary: MethodSummary) -> None:
        pass



def format_prompts(tokenizer, prompts: list[str], use_chat_template: bool) -> list[str]:
    if not use_chat_template:
        return list(prompts)
    if not getattr(tokenizer, "chat_template", None):
        raise UserError("use_chat_template: the tokenizer has no chat template")
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]


def needs_assistant(plans_preview: list[str]) -> bool:
    return any(name.endswith("_speculative") for name in plans_preview)


class InferenceMethodsComparator:
    def __init__(self, config: InferenceConfig, *, output_dir: str | Path | None = None, label: str = "run",
                 progress: ProgressHooks | None = None, log=None, resume: str | Path | None = None):
        self.config = config
        self.output_dir = Path(output_dir or config.output_dir)
        self.label = label
        self.progress = progress or NoProgress()
        self.log = log or (lambda _msg: None)
        self.main: LoadedModel | None = None
        self.assistant: LoadedModel | None = None
        self.assistant_error: str | None = None
        self.folder: Path | None = Path(resume) if resume else None
        self.resume = resume is not None
        self.summary: dict = {}

    # --- set-up ---------------------------------------------------------------------------------------

    def work_items(self) -> list[WorkItem]:
        return flatten(self.config.prompts, self.config.completions_per_prompt())

    def groups_for(self, plan: MethodPlan) -> list[list[WorkItem]]:
        items = self.work_items()
        return per_prompt(items) if plan.beams_per_prompt else batches(items, plan.batch_size)

    def load(self) -> None:
        from .methods import requested_names

        cfg = self.config
        cache_kwargs(cfg.cache_implementation, dev.resolve_device(cfg.device))  # fail before a slow load
        self.log(f"loading main model '{cfg.main_model}'")
        self.main = load_model(cfg.main_model, cfg, field_name="main_model")
        if needs_assistant(requested_names(cfg)):
            if not cfg.assistant_model:
                self.assistant_error = "no assistant_model configured"
                return
            self.log(f"loading assistant model '{cfg.assistant_model}'")
            try:
                self.assistant = load_model(cfg.assistant_model, cfg, field_name="assistant_model")
            except (LabError, OSError, ValueError, RuntimeError) as exc:
                self.assistant_error = str(exc) if isinstance(exc, LabError) else first_line(exc)

    # --- running --------------------------------------------------------------------------------------

    def run(self) -> dict:
        cfg = self.config
        started = time.perf_counter()
        if self.main is None:
            self.load()
        assert self.main is not None
        plans = build_plans(cfg, assistant_error=self.assistant_error)
        kept: list[MethodSummary] = []
        if self.resume:
            kept = finished_methods(self.folder, cfg)
            plans = [p for p in plans if p.name not in {m.method for m in kept}]
            self.log(f"resuming {self.folder.name}: {len(kept)} methods kept, {len(plans)} to run")
        else:
            self.folder = new_run_dir(self.output_dir, self.label)
        writer = RunWriter(self.folder)
        writer.write_config(cfg.model_dump(mode="json"))
        model, tokenizer = self.main.model, self.main.tokenizer
        prompts = format_prompts(tokenizer, cfg.prompts, cfg.use_chat_template)
        generator = BatchGenerator(model, tokenizer, max_new_tokens=cfg.max_new_tokens,
                                   cache_implementation=cfg.cache_implementation,
                                   assistant_model=self.assistant.model if self.assistant else None)
        environment = collect_environment(self.main.report.device)
        self.summary = {
            "run_id": self.folder.name,
            "label": self.label,
            "status": "running",
            "config": cfg.model_dump(mode="json"),
            "environment": environment,
            "models": {"main": self.main.report.to_dict(),
                       "assistant": self.assistant.report.to_dict() if self.assistant else None,
                       "assistant_error": self.assistant_error},
            "work": {"prompts": len(cfg.prompts), "completions": len(self.work_items()),
                     "max_new_tokens": cfg.max_new_tokens, "warmup_runs": cfg.warmup_runs, "num_runs": cfg.num_runs},
            "methods": [],
            "rankings": {},
            "wall_seconds": 0.0,
        }
        results: list[MethodSummary] = list(kept)
        try:
            for plan in plans:
                results.append(self._run_method(plan, generator, prompts, writer))
                self._write_summary(writer, results, "running", started)
        except _Interrupted as stop:
            results.append(stop.summary)
            self._write_summary(writer, results, "interrupted", started)
            raise KeyboardInterrupt from None
        except KeyboardInterrupt:
            self._write_summary(writer, results, "interrupted", started)
            raise
        finally:
            generator.close()
        failed = any(m.status == "failed" for m in results)
        self._write_summary(writer, results, "failed" if failed else "complete", started)
        return self.summary

    def _write_summary(self, writer: RunWriter, results: list[MethodSummary], status: str, started: float) -> None:
        self.summary["methods"] = [asdict(m) for m in results]
        self.summary["rankings"] = rankings(results)
        self.summary["status"] = status
        self.summary["wall_seconds"] = round(time.perf_counter() - started, 3)
        writer.write_summary(self.summary)

    def _run_method(self, plan: MethodPlan | Skip, generator: BatchGenerator, prompts: list[str],
                    writer: RunWriter) -> MethodSummary:
        cfg = self.config
        if isinstance(plan, Skip):
            summary = MethodSummary(plan.name, None, None, status="skipped", reason=plan.reason)
            self.progress.method_finished(summary)
            return summary
        groups = self.groups_for(plan)
        summary = MethodSummary(
            plan.name, plan.base_method, plan.variant, status="ok", notes=list(plan.notes),
            effective_batch_size=plan.batch_size, generate_settings=dict(plan.generate_kwargs),
            completions=sum(len(g) for g in groups), batches_per_run=len(groups),
        )
        records: list[BatchRecord] = []
        self.progress.method_started(plan.name, len(groups) * cfg.num_runs)
        device = self.main.report.device
        position = "warm-up"
        try:
            for warm in range(cfg.warmup_runs):
                generator.run(plan, groups[0], prompts, seed=cfg.seed + warm)
            dev.empty_cache()
            with PeakMemory(device) as memory:
                for run in range(cfg.num_runs):
                    for index, group in enumerate(groups):
                        position = f"run {run + 1}, batch {index + 1}/{len(groups)}"
                        measured = generator.run(plan, group, prompts, seed=cfg.seed + 1000 * run + index)
                        record = _record(plan.name, run, index, group, measured)
                        writer.append(record)
                        records.append(record)
                        self.progress.batch_done(plan.name)
        except KeyboardInterrupt:
            summary.status, summary.reason = "interrupted", "Ctrl-C: finished batches kept"
            aggregate(summary, records)
            self.progress.method_finished(summary)
            raise _Interrupted(summary) from None
        except (ValueError, TypeError, NotImplementedError) as exc:
            summary.status, summary.reason = "unsupported", f"transformers refused: {first_line(exc)}"
        except Exception as exc:  # one broken method must not lose the others' results
            if dev.is_out_of_memory(exc):
                summary.status = "failed"
                summary.reason = (f"out of memory at {position} (rows={plan.batch_size}); "
                                  "lower batch_size or max_new_tokens")
                dev.empty_cache()
            else:
                summary.status, summary.reason = "failed", f"{first_line(exc)} at {position}"
        else:
            summary.peak_rss_bytes = memory.peak_rss_bytes
            summary.peak_gpu_bytes = memory.peak_gpu_bytes
        aggregate(summary, records)
        self.progress.method_finished(summary)
        return summary


def finished_methods(folder: Path, config: InferenceConfig) -> list[MethodSummary]:
    """Summaries of the methods a run folder finished; results.jsonl is cut down to their records."""
    import json

    from .results import load_run
    from .storage import read_jsonl, write_text_atomic

    previous = load_run(folder)
    if previous["config"] != config.model_dump(mode="json"):
        raise UserError(f"resume: {folder} was run with a different config; start a new run instead")
    kept = [MethodSummary(**m) for m in previous["methods"] if m["status"] != "interrupted"]
    names = {m.method for m in kept}
    path = folder / "results.jsonl"
    rows = read_jsonl(path)[0] if path.is_file() else []  # a torn last line is dropped here
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["method"] in names))
    return kept


class _Interrupted(KeyboardInterrupt):
    def __init__(self, summary: MethodSummary):
        super().__init__()
        self.summary = summary


def _record(method: str, run: int, index: int, group: list[WorkItem], m: BatchMeasurement) -> BatchRecord:
    total = sum(m.new_tokens)
    return BatchRecord(
        method=method, run=run, batch_index=index,
        prompt_indices=[i.prompt_index for i in group], completion_indices=[i.completion_index for i in group],
        rows=len(group), latency_s=m.latency_s, ttft_s=m.ttft_s, tpot_s=m.tpot_s, new_tokens=m.new_tokens,
        total_new_tokens=total, tokens_per_s=total / m.latency_s if m.latency_s > 0 else 0.0,
        forward_calls=m.forward_calls, draft_forward_calls=m.draft_forward_calls, texts=m.texts,
    )
