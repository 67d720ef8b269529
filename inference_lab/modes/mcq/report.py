"""The MCQ report parts: accuracy per subject and variant, the confusion of gold and predicted letters per variant,
and the headline `compare` shows. Pure: no torch."""

from __future__ import annotations

from ...ui.html import ReportParts, Section, Table
from . import display

CSV_COLUMNS = ["variant", "n_questions", "accuracy", "accuracy_sum", "accuracy_per_token", "accuracy_per_char",
               "seconds", "questions_per_second", "forward_passes", "batch_size_used", "oom_retries"]


def csv_rows(summary: dict) -> list[dict]:
    rows = []
    for v in summary.get("variants") or []:
        by_norm = v["accuracy_by_normalisation"]
        rows.append({"variant": v["variant"], "n_questions": v["n_questions"], "accuracy": v["accuracy"],
                     "accuracy_sum": by_norm["sum"], "accuracy_per_token": by_norm["per_token"],
                     "accuracy_per_char": by_norm["per_char"], "seconds": round(v["seconds"], 4),
                     "questions_per_second": v.get("questions_per_second"), "forward_passes": v["forward_passes"],
                     "batch_size_used": v["batch_size_used"], "oom_retries": v["oom_retries"]})
    return rows


def confusion_table(variant: dict) -> Table:
    matrix = (variant.get("extra") or {}).get("confusion") or {}
    letters = sorted({letter for row in matrix.values() for letter in row} | set(matrix))
    rows = [[f"gold {gold}", *[matrix.get(gold, {}).get(p, 0) for p in letters]] for gold in sorted(matrix)]
    return Table(["", *[f"picked {p}" for p in letters]], rows, numeric={f"picked {p}" for p in letters})


def report_parts(summary: dict, records: list[dict]) -> ReportParts:
    columns, rows = display.table_rows(summary)
    sections = [Section(display.title(summary), Table(columns, rows, numeric=set(columns) - {"subject"}))]
    for variant in summary.get("variants") or []:
        sections.append(Section(f"Confusion: {variant['variant']}", confusion_table(variant),
                                ["rows: the right answer's letter; columns: the letter picked"]))
    return ReportParts(CSV_COLUMNS, csv_rows(summary), sections, display.markdown(summary))


def headline(summary: dict) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for v in summary.get("variants") or []:
        out[v["variant"]] = {
            "accuracy": {"label": "accuracy", "higher_is_better": True, "unit": "ratio", "samples": [v["accuracy"]],
                         "status": "ok"},
            "questions_per_second": {"label": "questions/s", "higher_is_better": True, "unit": "q/s",
                                     "samples": [v["questions_per_second"]] if v.get("questions_per_second") else [],
                                     "status": "ok"},
        }
    return out
