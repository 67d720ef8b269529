"""What an MCQ run produces, as dataclasses with the field names used on disk: one `Prediction` per question
(every choice's log-likelihood) and one `VariantSummary` per model variant (base, adapter). Pure functions only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .config import Normalisation
from .data import MCQItem
from .prompts import Template
from .requests import Request, Score

NORMALISATIONS: tuple[Normalisation, ...] = ("sum", "per_token", "per_char")


@dataclass
class ChoiceScore:
    letter: str
    text: str
    loglik: float  # sum over the scored tokens
    n_tokens: int
    n_chars: int  # characters of the choice itself, without the delimiter before it: lm-eval's acc_norm
    # divides by `len(choice)` of `doc_to_choice` (lm_eval/api/task.py, process_results), never the " " in front
    is_greedy: bool

    def value(self, normalisation: Normalisation) -> float:
        if normalisation == "per_token":
            return self.loglik / self.n_tokens
        if normalisation == "per_char":
            return self.loglik / max(self.n_chars, 1)
        return self.loglik


@dataclass
class Prediction:
    variant: str
    id: str
    subject: str | None
    answer: int
    predicted: int
    correct: bool
    choices: list[ChoiceScore]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SubjectAccuracy:
    n: int
    correct: int
    accuracy: float


@dataclass
class VariantSummary:
    variant: str
    n_questions: int
    accuracy: float
    accuracy_by_normalisation: dict[str, float]
    per_subject: dict[str, SubjectAccuracy]
    seconds: float
    forward_passes: int
    batch_size_used: int | None
    oom_retries: int
    extra: dict = field(default_factory=dict)
    accuracy_ci: tuple[float, float] | None = None  # 95 % Wilson interval over the questions

    @property
    def questions_per_second(self) -> float | None:
        return self.n_questions / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict:
        return {**asdict(self), "questions_per_second": self.questions_per_second}


def best_choice(choices: Sequence[ChoiceScore], normalisation: Normalisation) -> int:
    """Index of the highest-scoring choice; ties go to the first (stable, like argmax)."""
    values = [c.value(normalisation) for c in choices]
    return values.index(max(values))


def make_predictions(variant: str, items: Sequence[MCQItem], requests: Sequence[Sequence[Request]],
                     scores: Sequence[Score], template: Template, normalisation: Normalisation) -> list[Prediction]:
    """`scores` is flat, in the order of the flattened `requests`."""
    out: list[Prediction] = []
    position = 0
    for item, item_requests in zip(items, requests):
        choices = []
        for i, request in enumerate(item_requests):
            score = scores[position + i]
            target = request.continuation[len(template.delimiter):] if request.continuation.startswith(
                template.delimiter) else request.continuation
            choices.append(ChoiceScore(letter=template.letters[i], text=item.choices[i], loglik=score.loglik,
                                       n_tokens=score.n_tokens, n_chars=len(target), is_greedy=score.is_greedy))
        position += len(item_requests)
        predicted = best_choice(choices, normalisation)
        out.append(Prediction(variant, item.id, item.subject, item.answer, predicted, predicted == item.answer,
                              choices))
    return out


def accuracy(predictions: Sequence[Prediction], normalisation: Normalisation | None = None) -> float:
    """Share correct; with `normalisation`, re-decided under that normalisation instead of the run's."""
    if not predictions:
        return 0.0
    if normalisation is None:
        hits = sum(p.correct for p in predictions)
    else:
        hits = sum(best_choice(p.choices, normalisation) == p.answer for p in predictions)
    return hits / len(predictions)


def per_subject(predictions: Sequence[Prediction]) -> dict[str, SubjectAccuracy]:
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(p.subject or "(none)", []).append(p)
    return {name: SubjectAccuracy(len(group), sum(p.correct for p in group), accuracy(group))
            for name, group in sorted(groups.items())}


def confusion(predictions: Sequence[Prediction], letters: str) -> dict[str, dict[str, int]]:
    """gold letter -> predicted letter -> count (the letters a model favours show up as a heavy column)."""
    out: dict[str, dict[str, int]] = {}
    for p in predictions:
        row = out.setdefault(letters[p.answer], {})
        row[letters[p.predicted]] = row.get(letters[p.predicted], 0) + 1
    return out
