"""comparison_report.json (written atomically) and the rich summary of a LoRA-vs-base run.

Scores are computed from the prediction files, not from memory, so a resumed run reports every sample once
whichever invocation produced it; timing and memory describe this invocation.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..environment import collect_environment
from ..report import fmt_bytes, fmt_rate, fmt_seconds
from ..storage import write_json_atomic
from .config import LoraVsBaseConfig
from .metrics import differences, disagreements, score
from .phases import PhaseLog
from .records import BASE_FILE, LORA_FILE, REPORT_FILE, iter_rows
from .resume import ResumeState


def _predictions(path: Path, wanted: set[str]) -> dict[str, tuple[str, str | None]]:
    """id -> (label, prediction), streamed from a prediction file: no prompts or responses stay in memory."""
    return {row["id"]: (row["label"], row["prediction"]) for row in iter_rows(path) if row["id"] in wanted}


def build_report(*, config: LoraVsBaseConfig, ids: list[str], out_dir: Path, phases: PhaseLog,
                 resume: ResumeState, processed: int, model_report: dict, adapter_dir: Path, test_file: Path,
                 device: str) -> dict:
    wanted = set(ids)
    base_rows = _predictions(out_dir / BASE_FILE, wanted)
    lora_rows = _predictions(out_dir / LORA_FILE, wanted)
    complete = [i for i in ids if i in base_rows and i in lora_rows]
    gold = [base_rows[i][0] for i in complete]
    base_pred = [base_rows[i][1] for i in complete]
    lora_pred = [lora_rows[i][1] for i in complete]
    base_scores = score(gold, base_pred, config.answer.labels)
    lora_scores = score(gold, lora_pred, config.answer.labels)
    return {
        "kind": "lora_vs_base",
        "samples": len(ids),
        "scored_samples": len(complete),
        "missing_samples": len(ids) - len(complete),
        "processed_this_run": processed,
        "resume": resume.to_dict(),
        "metrics": {"base": base_scores.to_dict(), "lora": lora_scores.to_dict(),
                    "difference": differences(base_scores, lora_scores)},
        "disagreements": disagreements(complete, gold, base_pred, lora_pred).to_dict(),
        "phases": phases.to_dict(),
        "peak_rss_bytes": phases.peak_rss_bytes,
        "peak_gpu_bytes": phases.peak_gpu_bytes,
        "memory_method": phases.memory_method,
        "model": model_report,
        "adapter_dir": str(adapter_dir),
        "test_file": str(test_file),
        "files": {"base": BASE_FILE, "lora": LORA_FILE},
        "config": config.model_dump(mode="json"),
        "environment": collect_environment(device),
    }


def write_report(out_dir: Path, report: dict) -> Path:
    return write_json_atomic(out_dir / REPORT_FILE, report)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _signed(value: float) -> str:
    return f"{value:+.1%}"


def scores_table(report: dict) -> Table:
    m = report["metrics"]
    table = Table(title=f"LoRA vs base on {report['scored_samples']} samples")
    for column in ("score", "base", "LoRA", "LoRA - base"):
        table.add_column(column, justify="left" if column == "score" else "right")
    for key, name in (("accuracy", "accuracy"), ("macro_precision", "precision (macro)"),
                      ("macro_recall", "recall (macro)"), ("macro_f1", "F1 (macro)")):
        table.add_row(name, _pct(m["base"][key]), _pct(m["lora"][key]), _signed(m["difference"][key]))
    for label, delta in m["difference"]["f1_per_label"].items():
        table.add_row(f"F1 '{label}'", _pct(m["base"]["per_label"][label]["f1"]),
                      _pct(m["lora"]["per_label"][label]["f1"]), _signed(delta))
    table.add_row("unparsed answers", str(m["base"]["unparsed"]), str(m["lora"]["unparsed"]), "")
    d = report["disagreements"]
    table.caption = (f"LoRA improvements {d['lora_improvements']}, regressions {d['regressions']}, "
                     f"both wrong {d['both_wrong']}, both right {d['both_right']}")
    return table


def phases_table(report: dict) -> Table:
    table = Table(title=f"Phases of this run ({report['processed_this_run']} samples processed, "
                        f"{report['resume']['done_before']} resumed)")
    for column in ("phase", "calls", "time", "samples/s", "new tok/s", "peak RSS", "peak GPU"):
        table.add_column(column, justify="left" if column == "phase" else "right", no_wrap=column == "phase")
    for name, p in report["phases"].items():
        table.add_row(name, str(p["calls"]), fmt_seconds(p["seconds"]),
                      fmt_rate(p["samples_per_s"], "") if p["samples_per_s"] else "",
                      fmt_rate(p["tokens_per_s"], "") if p["tokens_per_s"] else "",
                      fmt_bytes(p["peak_rss_bytes"]), fmt_bytes(p["peak_gpu_bytes"]))
    return table
