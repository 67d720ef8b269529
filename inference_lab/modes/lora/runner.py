"""The LoRA-vs-base run: validate and load everything, warm up, then the chunk loop.

`prepare` (no file written yet, so bad input leaves nothing behind): the test file is validated in one pass,
the adapter folder and its weights checked, the model loaded, the prompt template tried on the first row, and
the adapter attached once to prove it fits the model. While it is attached, one LoRA batch and (before it) one
base batch run untimed: the warm-up, so the first timed pass does not absorb one-time costs.

`run`, per chunk (the reference documents' loop): format prompts once; base pass on pure base weights; LoRA pass;
append both passes' rows in one write (flush + fsync); unload the adapter (unless kept loaded); release what the
chunk held. Full mode is the same loop with one chunk. On resume, the samples already done (both rows on disk)
are skipped and rows without their pair are dropped and redone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...core import device as dev
from ...core.context import Prepared, RunContext, RunResult
from ...core.errors import RunFailed
from ...core.measure import StageLog
from ...core.rundir import RECORDS
from ...models.adapters import AdapterSource, AdapterSwitch
from ...models.answers import extract_answer
from ...models.loading import LoadedModel, load_model
from .config import LoraConfig
from .data import Sample, SampleFile, resolve_test_file
from .prompts import PromptFormatter
from .results import PredictionRow, build_summary, done_ids
from .strategies import STRATEGIES, ChunkJob, Generation, generate_batch


@dataclass
class LoraPrepared(Prepared):
    config: LoraConfig | None = None
    samples: SampleFile | None = None
    loaded: LoadedModel | None = None
    formatter: PromptFormatter | None = None
    switch: AdapterSwitch | None = None
    stages: StageLog = field(default_factory=StageLog)


def _warm_up(config: LoraConfig, switch: AdapterSwitch, tokenizer, prompts: list[str], stages: StageLog) -> None:
    """The fit check: attach the adapter (an adapter that does not fit fails before any file is touched), then the
    warm-up: untimed base and LoRA generate() calls on the first prompt, a few tokens long. What a warm-up must absorb
    here is per process (lazy imports, first-call set-up: 3.7 s against 0.28 s for the same pass, measured), not per
    shape, so one short call per model does it; full batches cost a short run 0.07 s more for nothing.
    The adapter stays attached for the first chunk, which would load it next anyway (a second load cost 0.17 s)."""
    first = prompts[:1]
    warm = config.generation.model_copy(update={"max_new_tokens": min(2, config.generation.max_new_tokens)})
    with stages.track("adapter_load"):
        switch.attach()
    with stages.track("adapter_check"):
        for _ in range(config.warmup_runs):
            with switch.pure_base() as base:
                generate_batch(base, tokenizer, first, warm, config.generation.seed)
            generate_batch(switch.lora_model, tokenizer, first, warm, config.generation.seed)


def prepare(config: LoraConfig, log=lambda _m: None) -> LoraPrepared:
    device = dev.resolve_device(config.device)
    stages = StageLog(device)
    with stages.track("read"):
        test_file = resolve_test_file(config.inference.test_file)
        samples = SampleFile(test_file, label_field=config.answer.label_field, id_field=config.answer.id_field,
                             labels=config.answer.labels, max_samples=config.inference.max_samples,
                             template=config.prompt.template)  # every row's prompt checked before chunk 1
        source = AdapterSource.trained(config.adapter, "adapter", config.allow_pickle_weights)
    log(f"loading base model '{config.main_model}'")
    with stages.track("load"):
        loaded = load_model(config.main_model, config, field_name="main_model")
    formatter = PromptFormatter(config.prompt, loaded.tokenizer, config.main_model)
    first_chunk = [s for s, _ in zip(samples, range(config.inference.batch_size))]
    prompts = formatter.format_chunk(first_chunk)  # a template naming a missing field fails here
    switch = AdapterSwitch(loaded.model, source, merged=not config.inference.use_peft_directly,
                           base_name=config.main_model)
    _warm_up(config, switch, loaded.tokenizer, prompts, stages)
    models = {"main": loaded.report.to_dict(),
              "adapter": {"name": config.adapter, "path": str(source.path),
                          **(switch.footprint.to_dict() if switch.footprint else {})}}
    return LoraPrepared(models=models, inputs={"test_file": test_file}, config=config, samples=samples,
                        loaded=loaded, formatter=formatter, switch=switch, stages=stages)


def _rows(model: str, samples: list[Sample], prompts: list[str], outputs: list[Generation], config: LoraConfig,
          chunk: int) -> list[dict]:
    answer = config.answer
    labels = tuple(answer.labels) if answer.labels is not None else None
    rows = []
    for sample, prompt, gen in zip(samples, prompts, outputs, strict=True):
        prediction = extract_answer(gen.response, answer.pattern, labels)
        rows.append(PredictionRow(
            id=sample.id, model=model, label=sample.label, prediction=prediction, correct=prediction == sample.label,
            prompt=prompt, response=gen.response, new_tokens=gen.new_tokens, chunk=chunk,
            batch_seconds=round(gen.batch_seconds, 6), batch_rows=gen.batch_rows).to_dict())
    return rows


def run(prep: LoraPrepared, ctx: RunContext) -> RunResult:
    config, samples, switch, stages = prep.config, prep.samples, prep.switch, prep.stages
    resumed = {"done_before": 0, "dropped_rows": 0, "torn_tail_cut": False}
    done: set[str] = set()
    if ctx.resuming:
        done = done_ids(ctx.records())
        _kept, dropped = ctx.folder.keep_records(lambda row: row["id"] in done)
        resumed = {"done_before": len(done), "dropped_rows": dropped, "torn_tail_cut": ctx.folder.torn_tail_cut}
    chunk_size = config.inference.chunk_size or len(samples)
    n_chunks = math.ceil(len(samples) / chunk_size)
    pending = sum(1 for sample_id in samples.ids if sample_id not in done)
    if not pending and switch.attached:  # nothing left to run: the adapter loaded by the fit check goes again
        switch.detach()
    ctx.progress.start("base + LoRA", 2 * pending, unit="samples")
    processed, first = 0, 0

    def payload() -> dict:
        summary = build_summary(samples.ids, ctx.path / RECORDS, config.answer.labels)
        return {**summary, "processed_this_run": processed, "resume": resumed, "chunks": n_chunks,
                "strategy": config.inference.strategy, "merged": not config.inference.use_peft_directly,
                "stages": stages.to_dict(), "peak_rss_bytes": stages.peak_rss_bytes,
                "peak_gpu_bytes": stages.peak_gpu_bytes, "memory_method": stages.memory_method}

    try:
        for index, chunk in enumerate(samples.chunks(config.inference.chunk_size)):
            todo = [(first + offset, s) for offset, s in enumerate(chunk) if s.id not in done]
            first += len(chunk)
            if not todo:
                continue
            chunk_samples = [sample for _, sample in todo]
            prompts = prep.formatter.format_chunk(chunk_samples)
            job = ChunkJob(switch, prep.loaded.tokenizer, prompts, config, todo[0][0], stages,
                           lambda n: ctx.progress.advance("base + LoRA", n))
            try:
                outputs = STRATEGIES[config.inference.strategy](job)
            except Exception as exc:
                if dev.is_out_of_memory(exc):
                    raise RunFailed(f"out of memory in chunk {index + 1}/{n_chunks}: lower inference.batch_size or "
                                    "inference.chunk_size; finished chunks are kept (--resume continues)") from None
                raise
            with stages.track("write"):
                ctx.append(_rows("base", chunk_samples, prompts, outputs.base, config, index)
                           + _rows("lora", chunk_samples, prompts, outputs.lora, config, index))
            if not config.inference.keep_adapter_loaded:
                with stages.track("adapter_unload"):
                    switch.detach()
            # Reference counting frees the chunk's rows and a detached adapter (measured: neither sits in a
            # reference cycle), so no gc.collect(), which took 0.6-1.1 s per call here; only CUDA's cache needs it.
            del outputs, prompts
            with stages.track("release"):
                dev.empty_cache()
            processed += len(chunk_samples)
            ctx.checkpoint(payload())
        if switch.attached:
            with stages.track("adapter_unload"):
                switch.detach()
    except KeyboardInterrupt:
        ctx.payload = payload()
        raise
    ctx.progress.finish("base + LoRA")
    return RunResult(payload())

