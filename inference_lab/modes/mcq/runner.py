"""Run an MCQ config: score the set with the base model and, when an adapter is named, with the adapter.

`prepare` (no file written yet): the set is read whole and validated, the model loaded, the adapter attached
through the one adapter switch (`PeftModel` changes the base in place, so the base is scored under
`disable_adapter()`, checked by a test against a model that never saw the adapter), and every request encoded
once: a choice longer than the model's context is one line naming its file and line, before anything runs.

`run`: per variant, a warm-up (untimed scoring of the first question), then the timed scoring; each question's
prediction (every choice's log-likelihood) is a record, and a `variant` record closes a finished variant. A resumed
run keeps the finished variants and redoes the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...core import stats
from ...core.context import Prepared, RunContext, RunResult
from ...core.errors import UserError
from ...core.measure import Stopwatch
from ...models.adapters import AdapterSource, AdapterSwitch
from ...models.loading import LoadedModel, load_model
from .config import MCQConfig
from .data import MCQItem, read_mcq, resolve_data_file
from .prompts import Template, build_requests
from .requests import Request
from .results import NORMALISATIONS, VariantSummary, accuracy, confusion, make_predictions, per_subject
from .scoring import LoglikelihoodScorer, model_max_length


@dataclass
class MCQPrepared(Prepared):
    config: MCQConfig | None = None
    items: list[MCQItem] = field(default_factory=list)
    requests: list[list[Request]] = field(default_factory=list)
    template: Template | None = None
    loaded: LoadedModel | None = None
    model: object = None  # what is called: the base, or the PEFT wrapper around it
    variants: list[tuple[str, Callable]] = field(default_factory=list)
    test_file: Path | None = None


def template_from(config: MCQConfig) -> Template:
    return Template(question=config.question_template, cloze=config.cloze_template, choice=config.choice_template,
                    delimiter=config.answer_delimiter, letters=config.letters)


def load_items(config: MCQConfig) -> tuple[Path, list[MCQItem]]:
    path = resolve_data_file(config.test_file)
    items = read_mcq(path, config.letters)
    return path, (items[:config.limit] if config.limit else items)


def variant_name(adapter: str) -> str:
    name = Path(adapter).name
    return name if name and name != "base" else "adapter"


def _scorer(model, tokenizer, config: MCQConfig) -> LoglikelihoodScorer:
    return LoglikelihoodScorer(model, tokenizer, batch_size=config.batch_size, max_batch_size=config.max_batch_size,
                               padding_side=config.padding_side, add_bos_token=config.add_bos_token)


def check_lengths(scorer: LoglikelihoodScorer, items: Sequence[MCQItem], requests: Sequence[Sequence[Request]],
                  path: Path) -> None:
    """Every scored continuation must fit the model's context (the context's start may be cut, never the choice)."""
    limit = model_max_length(scorer.model)
    if limit is None:
        return
    for item, item_requests in zip(items, requests):
        for i, (_ctx, cont) in enumerate(scorer.encode(item_requests)):
            if len(cont) > limit:
                raise UserError(f"{path}:{item.line}: choice {i} of question {item.id!r} is {len(cont)} tokens, more "
                                f"than the model's context of {limit}")


def prepare(config: MCQConfig, log=lambda _m: None) -> MCQPrepared:
    template = template_from(config)
    path, items = load_items(config)
    requests = build_requests(items, config.mode, template)
    log(f"loading model '{config.main_model}'")
    loaded = load_model(config.main_model, config, field_name="main_model")
    model, variants = loaded.model, [("base", contextlib.nullcontext)]
    models = {"main": loaded.report.to_dict()}
    if config.adapter is not None:
        source = AdapterSource.trained(config.adapter, "adapter", config.allow_pickle_weights)
        switch = AdapterSwitch(loaded.model, source, base_name=config.main_model)
        model = switch.attach()
        variants = [("base", switch.mixed_model.disable_adapter),
                    (variant_name(config.adapter), contextlib.nullcontext)]
        models["adapter"] = {"name": config.adapter, "path": str(source.path), **switch.footprint.to_dict()}
    check_lengths(_scorer(model, loaded.tokenizer, config), items, requests, path)
    return MCQPrepared(models=models, inputs={"test_file": path}, config=config, items=items, requests=requests,
                       template=template, loaded=loaded, model=model, variants=variants, test_file=path)


def score_variant(name: str, prep: MCQPrepared, ctx: RunContext) -> tuple[VariantSummary, list]:
    config = prep.config
    flat = [r for item_requests in prep.requests for r in item_requests]
    for _ in range(config.warmup_runs):
        _scorer(prep.model, prep.loaded.tokenizer, config).score(prep.requests[0])
    scorer = _scorer(prep.model, prep.loaded.tokenizer, config)
    ctx.progress.start(name, len(flat), unit="choices")
    with Stopwatch(prep.loaded.report.device) as watch:
        scores = scorer.score(flat, progress=lambda n: ctx.progress.advance(name, n))
    predictions = make_predictions(name, prep.items, prep.requests, scores, prep.template, config.normalisation)
    summary = VariantSummary(
        variant=name, n_questions=len(prep.items), accuracy=accuracy(predictions),
        accuracy_ci=stats.wilson_interval(sum(p.correct for p in predictions), len(predictions)),
        accuracy_by_normalisation={n: accuracy(predictions, n) for n in NORMALISATIONS},
        per_subject=per_subject(predictions), seconds=watch.seconds, forward_passes=scorer.forward_passes,
        batch_size_used=scorer.batch_size_used, oom_retries=scorer.oom_retries,
        extra={"choices_scored": len(flat), "confusion": confusion(predictions, config.letters)})
    ctx.progress.finish(name)
    return summary, predictions


def run(prep: MCQPrepared, ctx: RunContext) -> RunResult:
    config = prep.config
    done: dict[str, dict] = {}
    if ctx.resuming:
        done = {r["variant"]: r["summary"] for r in ctx.records() if r.get("kind") == "variant"}
        ctx.folder.keep_records(lambda r: r["variant"] in done)
    summaries: list[dict] = []

    def payload() -> dict:
        return {"test_file": str(prep.test_file), "questions": len(prep.items), "scoring": config.mode,
                "normalisation": config.normalisation, "variants": list(summaries)}

    try:
        for name, active in prep.variants:
            if name in done:
                summaries.append(done[name])
                continue
            with active():
                summary, predictions = score_variant(name, prep, ctx)
            entry = summary.to_dict()
            ctx.append([{"kind": "prediction", **p.to_dict()} for p in predictions])
            ctx.append([{"kind": "variant", "variant": name, "summary": entry}])
            summaries.append(entry)
            ctx.checkpoint(payload())
    except KeyboardInterrupt:
        ctx.payload = payload()
        raise
    return RunResult(payload())
