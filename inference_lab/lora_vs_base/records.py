"""One prediction row: the same fields in memory, in base_predictions.jsonl / lora_predictions.jsonl and in tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..answers import extract_answer
from .config import AnswerSection
from .data import Sample
from .generation import Generation

BASE_FILE = "base_predictions.jsonl"
LORA_FILE = "lora_predictions.jsonl"
REPORT_FILE = "comparison_report.json"
RUN_CONFIG_FILE = "run_config.json"
PREDICTION_FILES = {"base": BASE_FILE, "lora": LORA_FILE}

# Fields that say *what* a model answered; the rest (timing, chunk) says how the run went.
OUTPUT_FIELDS = ("id", "model", "label", "prediction", "correct", "prompt", "response", "new_tokens")


@dataclass
class PredictionRow:
    id: str
    model: str
    label: str
    prediction: str | None
    correct: bool
    prompt: str
    response: str
    new_tokens: int
    chunk: int
    batch_seconds: float
    batch_rows: int

    def to_dict(self) -> dict:
        return asdict(self)


def build_rows(model: str, samples: list[Sample], prompts: list[str], generations: list[Generation],
               answer: AnswerSection, chunk: int) -> list[dict]:
    labels = tuple(answer.labels) if answer.labels is not None else None
    rows = []
    for sample, prompt, gen in zip(samples, prompts, generations, strict=True):
        prediction = extract_answer(gen.response, answer.pattern, labels)
        rows.append(PredictionRow(
            id=sample.id, model=model, label=sample.label, prediction=prediction, correct=prediction == sample.label,
            prompt=prompt, response=gen.response, new_tokens=gen.new_tokens, chunk=chunk,
            batch_seconds=round(gen.batch_seconds, 6), batch_rows=gen.batch_rows,
        ).to_dict())
    return rows


def iter_rows(path: Path) -> Iterator[dict]:
    """Stream a prediction file that `prepare_output` has already checked (whole lines only)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
