"""The LoRA-vs-base report parts: per-case improvements, regressions and disagreements with both responses side
by side, the score table, the stages, and the headline `compare` shows. Pure: no torch."""

from __future__ import annotations

from ...ui.html import ReportParts, Section, Table
from . import display

CSV_COLUMNS = ["model", "samples", "accuracy", "macro_precision", "macro_recall", "macro_f1", "unparsed",
               "tokens_per_s", "generate_seconds"]
MAX_CASES = 300


def csv_rows(summary: dict) -> list[dict]:
    if "metrics" not in summary:
        return []
    rows = []
    for model in ("base", "lora"):
        m, timing = summary["metrics"][model], (summary.get("timing") or {}).get(model) or {}
        rows.append({"model": model, "samples": m["n"], "accuracy": m["accuracy"],
                     "macro_precision": m["macro_precision"], "macro_recall": m["macro_recall"],
                     "macro_f1": m["macro_f1"], "unparsed": m["unparsed"], "tokens_per_s": timing.get("tokens_per_s"),
                     "generate_seconds": timing.get("generate_seconds")})
    return rows


def cases(records: list[dict]) -> list[dict]:
    """Every sample whose base and LoRA predictions differ, improvements and regressions first."""
    pairs: dict[str, dict[str, dict]] = {}
    for row in records:
        if row.get("kind") == "prediction":
            pairs.setdefault(row["id"], {})[row["model"]] = row
    out = []
    for sample_id, pair in pairs.items():
        base, lora = pair.get("base"), pair.get("lora")
        if not base or not lora or base["prediction"] == lora["prediction"]:
            continue
        verdict = ("improvement" if lora["correct"] and not base["correct"] else
                   "regression" if base["correct"] and not lora["correct"] else "disagreement (both wrong)")
        out.append({"id": sample_id, "verdict": verdict, "label": base["label"], "base": base, "lora": lora})
    order = {"improvement": 0, "regression": 1}
    return sorted(out, key=lambda c: order.get(c["verdict"], 2))


def report_parts(summary: dict, records: list[dict]) -> ReportParts:
    if "metrics" not in summary:
        empty = [Section("No results", None, ["no chunk finished"])]
        return ReportParts(CSV_COLUMNS, [], empty, display.markdown(summary))
    found = cases(records)
    columns = ["id", "verdict", "label", "base answer", "LoRA answer", "base response", "LoRA response"]
    rows = [[c["id"], c["verdict"], c["label"], c["base"]["prediction"], c["lora"]["prediction"],
             c["base"]["response"], c["lora"]["response"]] for c in found[:MAX_CASES]]
    shown = f"{min(len(found), MAX_CASES)} of {len(found)} shown" if len(found) > MAX_CASES else f"{len(found)} cases"
    sections = [
        Section("Scores", Table(["score", "base", "LoRA", "LoRA - base"], display.score_rows(summary),
                                numeric={"base", "LoRA", "LoRA - base"}), [display.caption(summary)]),
        Section("Where base and LoRA disagree", Table(columns, rows, preformatted={"base response", "LoRA response"},
                                                      bad_rows={i for i, c in enumerate(found[:MAX_CASES])
                                                                if c["verdict"] == "regression"}),
                [shown + "; regressions in red"]),
        Section("Stages of this process", Table(list(display.STAGE_COLUMNS), display.stage_rows(summary),
                                                numeric=set(display.STAGE_COLUMNS) - {"stage"})),
    ]
    return ReportParts(CSV_COLUMNS, csv_rows(summary), sections, display.markdown(summary))


def headline(summary: dict) -> dict[str, dict[str, dict]]:
    """model -> metric -> samples: accuracy (one value) and the batch latencies behind tokens/s."""
    out: dict[str, dict[str, dict]] = {}
    for model in ("base", "lora"):
        metrics = (summary.get("metrics") or {}).get(model)
        if not metrics:
            continue
        out[model] = {"accuracy": {"label": "accuracy", "higher_is_better": True, "unit": "ratio",
                                   "samples": [metrics["accuracy"]], "status": "ok"}}
        rate = ((summary.get("timing") or {}).get(model) or {}).get("tokens_per_s")
        if rate:
            out[model]["tokens_per_s"] = {"label": "tok/s", "higher_is_better": True, "unit": "tok/s",
                                          "samples": [rate], "status": "ok"}
    return out
