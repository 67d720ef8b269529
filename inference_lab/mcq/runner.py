"""Run an MCQ config: load the set and the model, score it (base, then with the adapter), write and show results.

Files in the run folder: `config.json`, `predictions.jsonl` (one row per question and variant, every choice's
log-likelihood) and `summary.json` (accuracy overall, per subject and under each normalisation; timing; the
load report; the environment).

Base vs adapter in one command: `PeftModel.from_pretrained` changes the base model in place, so after it the
"base" model *is* the adapter model. The base scores are therefore taken under `disable_adapter()`, which the
tests check against a model that never saw the adapter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import save_config
from ..environment import collect_environment
from ..errors import UserError
from ..loading import LoadedModel, load_model, resolve_source
from ..measure import Stopwatch
from ..report import console as default_console
from ..report import fmt_seconds
from ..storage import append_jsonl, write_json_atomic
from .config import MCQConfig
from .data import MCQItem, read_mcq, resolve_data_file
from .prompts import Template, build_requests
from .results import NORMALISATIONS, VariantSummary, accuracy, make_predictions, per_subject
from .scoring import LoglikelihoodScorer, Request


@dataclass
class MCQRun:
    folder: Path
    summary: dict
    variants: list[VariantSummary]


def template_from(config: MCQConfig) -> Template:
    return Template(question=config.question_template, cloze=config.cloze_template, choice=config.choice_template,
                    delimiter=config.answer_delimiter, letters=config.letters)


def load_items(config: MCQConfig) -> list[MCQItem]:
    items = read_mcq(resolve_data_file(config.data_file), config.letters)
    return items[:config.limit] if config.limit else items


def attach_adapter(loaded: LoadedModel, adapter: str):
    """Wrap the model with the adapter (in place, see module docstring); a bad adapter is a UserError."""
    from peft import PeftModel

    path = resolve_source(adapter, "adapter")
    try:
        model = PeftModel.from_pretrained(loaded.model, path)
    except Exception as exc:  # peft raises ValueError, OSError or hub errors for a missing/incompatible adapter
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"adapter: cannot load '{adapter}': {first}") from None
    model.eval()
    return model


def variants_for(loaded: LoadedModel, config: MCQConfig) -> tuple[object, list[tuple[str, Callable]]]:
    """(model to call, [(variant name, context manager factory)]): base first, then the adapter."""
    if config.adapter is None:
        return loaded.model, [("base", contextlib.nullcontext)]
    model = attach_adapter(loaded, config.adapter)
    name = Path(config.adapter).name
    name = name if name and name != "base" else "adapter"
    return model, [("base", model.disable_adapter), (name, contextlib.nullcontext)]


def score_variant(name: str, model, tokenizer, config: MCQConfig, items: Sequence[MCQItem],
                  requests: Sequence[Sequence[Request]], template: Template, device,
                  progress: Progress | None = None) -> tuple[VariantSummary, list]:
    flat = [r for item_requests in requests for r in item_requests]
    scorer = LoglikelihoodScorer(model, tokenizer, batch_size=config.batch_size, max_batch_size=config.max_batch_size,
                                 padding_side=config.padding_side, add_bos_token=config.add_bos_token)
    task = progress.add_task(name, total=len(flat)) if progress is not None else None
    advance = (lambda n: progress.advance(task, n)) if progress is not None else None
    with Stopwatch(device) as watch:
        scores = scorer.score(flat, progress=advance)
    predictions = make_predictions(name, items, requests, scores, template, config.normalisation)
    summary = VariantSummary(
        variant=name,
        n_questions=len(items),
        accuracy=accuracy(predictions),
        accuracy_by_normalisation={n: accuracy(predictions, n) for n in NORMALISATIONS},
        per_subject=per_subject(predictions),
        seconds=watch.seconds,
        forward_passes=scorer.forward_passes,
        batch_size_used=scorer.batch_size_used,
        oom_retries=scorer.oom_retries,
        extra={"choices_scored": len(flat)},
    )
    return summary, predictions


def new_run_folder(output_dir: str | Path, label: str) -> Path:
    from ..results import new_run_dir

    return new_run_dir(output_dir, f"mcq-{label}")


def run_mcq(config: MCQConfig, *, console: Console | None = None, show_progress: bool = True) -> MCQRun:
    out = console or default_console()
    template = template_from(config)
    items = load_items(config)
    requests = build_requests(items, config.mode, template)
    loaded = load_model(config.model, config, field_name="model")
    model, variants = variants_for(loaded, config)
    device = loaded.report.device
    folder = new_run_folder(config.output_dir, Path(config.model).name)
    save_config(config, folder / "config.json")
    summaries: list[VariantSummary] = []
    progress = Progress(TextColumn("[bold]{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("choices"), TimeElapsedColumn(), console=out, disable=not show_progress)
    with progress:
        for name, active in variants:
            with active():
                summary, predictions = score_variant(name, model, loaded.tokenizer, config, items, requests,
                                                     template, device, progress)
            append_jsonl(folder / "predictions.jsonl", [p.to_dict() for p in predictions])
            summaries.append(summary)
    payload = {
        "mode": "mcq",
        "data_file": str(resolve_data_file(config.data_file)),
        "config": config.model_dump(mode="json"),
        "variants": [s.to_dict() for s in summaries],
        "load": loaded.report.to_dict(),
        "environment": collect_environment(device),
    }
    write_json_atomic(folder / "summary.json", payload)
    out.print(summary_table(summaries, config))
    out.print(f"[dim]results: {folder}[/dim]")
    return MCQRun(folder, payload, summaries)


def summary_table(summaries: Sequence[VariantSummary], config: MCQConfig) -> Table:
    title = f"MCQ accuracy ({config.mode} mode, {config.normalisation}) on {Path(config.data_file).name}"
    table = Table(title=title)
    table.add_column("subject")
    table.add_column("n", justify="right")
    for s in summaries:
        table.add_column(s.variant, justify="right")
    subjects = sorted({name for s in summaries for name in s.per_subject})
    for subject in subjects:
        cells = []
        for s in summaries:
            entry = s.per_subject.get(subject)
            cells.append(f"{entry.accuracy:.1%} ({entry.correct}/{entry.n})" if entry else "")
        n = next(s.per_subject[subject].n for s in summaries if subject in s.per_subject)
        table.add_row(subject, str(n), *cells)
    table.add_section()
    table.add_row("[bold]overall", str(summaries[0].n_questions), *[f"[bold]{s.accuracy:.1%}" for s in summaries])
    for norm in NORMALISATIONS:
        if norm != config.normalisation:
            table.add_row(f"[dim]overall, {norm}", "", *[f"[dim]{s.accuracy_by_normalisation[norm]:.1%}"
                                                          for s in summaries])
    table.add_section()
    table.add_row("time", "", *[fmt_seconds(s.seconds) for s in summaries])
    table.add_row("forward passes", "", *[f"{s.forward_passes} (batch {s.batch_size_used})" for s in summaries])
    return table
