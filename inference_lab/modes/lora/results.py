"""LoRA-vs-base records and summary: one prediction row per sample and model, the same field names in memory,
in results.jsonl and in tables. Pure: no torch.

A chunk's base and LoRA rows are appended in one write, so a kill leaves at most a torn last line (cut off and
redone, never parsed) or rows of a sample that lacks its other model's row (dropped and redone): a sample counts
as done only when both rows are on disk, so a resumed run completes every sample exactly once. Scores are
computed by streaming results.jsonl back, so a resumed run reports every sample once whichever process produced
it, and only ids, labels and predictions are held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core import stats
from .metrics import differences, disagreements, score

MODELS = ("base", "lora")
# Fields that say *what* a model answered; the rest (timing, chunk) says how the run went.
OUTPUT_FIELDS = ("id", "model", "label", "prediction", "correct", "prompt", "response", "new_tokens")


@dataclass
class PredictionRow:
    id: str
    model: str  # base | lora
    label: str
    prediction: str | None
    correct: bool
    prompt: str
    response: str
    new_tokens: int
    chunk: int
    batch_seconds: float  # E2EL of the generate call this row was part of
    batch_rows: int
    kind: str = "prediction"

    def to_dict(self) -> dict:
        return asdict(self)


def iter_rows(path: Path) -> Iterator[dict]:
    """Stream results.jsonl (already repaired by the run folder: whole lines only)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def done_ids(rows: list[dict]) -> set[str]:
    """Samples with both a base and a LoRA row."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(row["id"], set()).add(row["model"])
    return {sample_id for sample_id, models in seen.items() if models >= set(MODELS)}


def build_summary(ids: list[str], records: Path, labels: list[str] | None) -> dict:
    """Scores and disagreements of base vs LoRA over every sample that has both rows, plus timing per model."""
    wanted = set(ids)
    predictions: dict[str, dict[str, tuple[str, str | None]]] = {m: {} for m in MODELS}
    batch_seconds: dict[str, dict[tuple[int, float], int]] = {m: {} for m in MODELS}
    call_tokens: dict[str, dict[tuple[int, float], int]] = {m: {} for m in MODELS}
    tokens: dict[str, int] = dict.fromkeys(MODELS, 0)
    for row in iter_rows(records):
        if row.get("kind") == "prediction" and row["id"] in wanted and row["model"] in predictions:
            predictions[row["model"]][row["id"]] = (row["label"], row["prediction"])
            tokens[row["model"]] += row["new_tokens"]
            call = (row["chunk"], row["batch_seconds"])
            batch_seconds[row["model"]][call] = row["batch_rows"]
            call_tokens[row["model"]][call] = call_tokens[row["model"]].get(call, 0) + row["new_tokens"]
    complete = [i for i in ids if i in predictions["base"] and i in predictions["lora"]]
    gold = [predictions["base"][i][0] for i in complete]
    base_pred = [predictions["base"][i][1] for i in complete]
    lora_pred = [predictions["lora"][i][1] for i in complete]
    base_scores, lora_scores = score(gold, base_pred, labels), score(gold, lora_pred, labels)
    timing: dict = {}
    per_call: dict[str, list[float]] = {}
    for model in MODELS:
        # One entry per generate call: (chunk, its latency) identifies a batch, its rows give its size.
        calls = batch_seconds[model]
        seconds = sum(s for _chunk, s in calls)
        per_call[model] = [call_tokens[model][c] / c[1] for c in calls if c[1] > 0]
        timing[model] = {"batch_latency_s": stats.summary_dict([s for _chunk, s in calls]),
                         "generate_seconds": seconds, "new_tokens": tokens[model],
                         "tokens_per_s": tokens[model] / seconds if seconds else None,
                         "tokens_per_s_per_call": stats.summary_dict(per_call[model])}
    # The adapter's speed against the base's, new tokens/s per generate call, with its interval (unpaired: the
    # adapter stops at other lengths, so its calls are not the base's calls again).
    timing["lora_vs_base_tokens_per_s"] = stats.percent_change(stats.ratio(per_call["lora"], per_call["base"]))
    return {
        "samples": len(ids), "scored_samples": len(complete), "missing_samples": len(ids) - len(complete),
        "metrics": {"base": base_scores.to_dict(), "lora": lora_scores.to_dict(),
                    "difference": differences(base_scores, lora_scores)},
        "disagreements": disagreements(complete, gold, base_pred, lora_pred).to_dict(),
        "timing": timing,
    }
