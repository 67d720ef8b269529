"""Scores and disagreements from (gold, prediction) pairs: pure functions, no model, no files.

An unparsed answer (None) is simply wrong: it lowers recall of the gold label and accuracy, and is counted
in `unparsed`. A ratio with an empty denominator is 0.0 (scikit-learn's zero_division=0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ModelMetrics:
    n: int
    accuracy: float
    unparsed: int
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_label: dict[str, LabelScores] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Disagreements:
    lora_improvements: int
    regressions: int
    both_wrong: int
    both_right: int
    changed_predictions: int
    improvement_ids: list[str]
    regression_ids: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str] | None = None) -> ModelMetrics:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    label_set = list(labels) if labels is not None else sorted(set(gold))
    per_label: dict[str, LabelScores] = {}
    for label in label_set:
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        predicted_as = sum(1 for p in predicted if p == label)
        support = sum(1 for g in gold if g == label)
        precision, recall = _ratio(tp, predicted_as), _ratio(tp, support)
        per_label[label] = LabelScores(precision, recall, _f1(precision, recall), support)
    scores = list(per_label.values())
    return ModelMetrics(
        n=len(gold),
        accuracy=_ratio(sum(1 for g, p in zip(gold, predicted) if g == p), len(gold)),
        unparsed=sum(1 for p in predicted if p is None),
        macro_precision=_ratio(sum(s.precision for s in scores), len(scores)),
        macro_recall=_ratio(sum(s.recall for s in scores), len(scores)),
        macro_f1=_ratio(sum(s.f1 for s in scores), len(scores)),
        per_label=per_label,
    )


def differences(base: ModelMetrics, lora: ModelMetrics) -> dict:
    """LoRA minus base for every headline score and each label's F1."""
    out = {key: getattr(lora, key) - getattr(base, key)
           for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1")}
    out["f1_per_label"] = {label: lora.per_label[label].f1 - base.per_label[label].f1
                           for label in base.per_label if label in lora.per_label}
    return out


def disagreements(ids: Sequence[str], gold: Sequence[str], base: Sequence[str | None], lora: Sequence[str | None],
                  max_ids: int = 20) -> Disagreements:
    improvements, regressions = [], []
    both_wrong = both_right = changed = 0
    for sample_id, g, b, lo in zip(ids, gold, base, lora, strict=True):
        changed += b != lo
        if b != g and lo == g:
            improvements.append(sample_id)
        elif b == g and lo != g:
            regressions.append(sample_id)
        elif b == g:
            both_right += 1
        else:
            both_wrong += 1
    return Disagreements(len(improvements), len(regressions), both_wrong, both_right, changed,
                         improvements[:max_ids], regressions[:max_ids])
