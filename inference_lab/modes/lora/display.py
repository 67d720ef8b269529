"""The LoRA-vs-base mode on screen: one score table (base, LoRA, difference) and the stages of the run; a one-line
description for run lists; the preview shown before a run. Pure: no torch."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ...ui.console import compact_table, fmt_bytes, fmt_change, fmt_rate, fmt_seconds

SCORES = (("accuracy", "accuracy"), ("macro_precision", "precision (macro)"), ("macro_recall", "recall (macro)"),
          ("macro_f1", "F1 (macro)"))


def _pct(value: float) -> str:
    return f"{value:.1%}"


def score_rows(summary: dict) -> list[list[str]]:
    m = summary["metrics"]
    rows = [[name, _pct(m["base"][key]), _pct(m["lora"][key]), f"{m['difference'][key]:+.1%}"] for key, name in SCORES]
    for label, delta in m["difference"]["f1_per_label"].items():
        rows.append([f"F1 '{label}'", _pct(m["base"]["per_label"][label]["f1"]),
                     _pct(m["lora"]["per_label"][label]["f1"]), f"{delta:+.1%}"])
    rows.append(["unparsed answers", str(m["base"]["unparsed"]), str(m["lora"]["unparsed"]), ""])
    timing = summary.get("timing") or {}
    rates = [fmt_rate((timing.get(k) or {}).get("tokens_per_s"), "") for k in ("base", "lora")]
    rows.append(["new tokens/s (all batches)", *rates,
                 fmt_change(timing.get("lora_vs_base_tokens_per_s"), missing="")])
    return rows


def caption(summary: dict) -> str:
    d = summary["disagreements"]
    return (f"LoRA improvements {d['lora_improvements']}, regressions {d['regressions']}, both wrong "
            f"{d['both_wrong']}, both right {d['both_right']}; {summary.get('processed_this_run', 0)} samples run now, "
            f"{(summary.get('resume') or {}).get('done_before', 0)} resumed; tokens/s change: median over generate "
            "calls [95% CI], '=' no measurable difference")


def scores_table(summary: dict) -> Table:
    table = compact_table(title=f"{summary.get('run_id', '')}  ·  LoRA vs base on {summary['scored_samples']} samples"
                                f"  ·  {summary.get('status', '')}", caption=caption(summary))
    for column in ("score", "base", "LoRA", "LoRA - base"):
        table.add_column(column, justify="left" if column == "score" else "right")
    for row in score_rows(summary):
        table.add_row(*row)
    return table


STAGE_COLUMNS = ("stage", "calls", "time", "samples/s", "new tok/s", "peak RSS", "peak GPU")


def stage_rows(summary: dict) -> list[list[str]]:
    rows = []
    for name, s in (summary.get("stages") or {}).items():
        rows.append([name, str(s["calls"]), fmt_seconds(s["seconds"]),
                     fmt_rate(s["samples_per_s"], "") if s["samples_per_s"] else "",
                     fmt_rate(s["tokens_per_s"], "") if s["tokens_per_s"] else "",
                     fmt_bytes(s["peak_rss_bytes"]), fmt_bytes(s["peak_gpu_bytes"])])
    return rows


def stages_table(summary: dict) -> Table:
    table = compact_table(title="Stages of this process")
    for column in STAGE_COLUMNS:
        table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=column == "stage")
    for row in stage_rows(summary):
        table.add_row(*row)
    return table


def show(summary: dict, console: Console) -> None:
    if "metrics" not in summary:
        console.print(f"{summary.get('run_id')}: {summary.get('status')} before any chunk finished")
        return
    console.print(scores_table(summary))
    for flag in summary.get("flags") or []:
        console.print(f"  ! {flag}", style="yellow")


def describe(summary: dict) -> str:
    if "metrics" not in summary:
        return "no chunk finished"
    m = summary["metrics"]
    return (f"{summary['scored_samples']}/{summary['samples']} samples, accuracy base {m['base']['accuracy']:.0%} -> "
            f"LoRA {m['lora']['accuracy']:.0%}")


def preview(config) -> Table:
    from .data import SampleFile, resolve_test_file

    samples = SampleFile(resolve_test_file(config.inference.test_file), label_field=config.answer.label_field,
                         id_field=config.answer.id_field, labels=config.answer.labels,
                         max_samples=config.inference.max_samples)
    inf = config.inference
    chunk = inf.chunk_size or len(samples)
    table = compact_table(title=f"What will run: {config.main_model} vs {config.main_model} + {config.adapter}")
    table.add_column("setting")
    table.add_column("value")
    for key, value in (("test file", inf.test_file), ("samples", len(samples)),
                       ("chunks", f"{-(-len(samples) // chunk)} of {chunk}"), ("batch size", inf.batch_size),
                       ("strategy", inf.strategy), ("adapter", "merged into a copy" if not inf.use_peft_directly
                                                    else "unmerged PEFT wrapper"),
                       ("generate() calls", f"{2 * -(-len(samples) // inf.batch_size)} (base and LoRA)"),
                       ("max_new_tokens", config.generation.max_new_tokens)):
        table.add_row(key, str(value))
    return table


def markdown(summary: dict) -> str:
    from ...ui.html import markdown_table

    if "metrics" not in summary:
        return "No chunk finished."
    return "\n".join([*markdown_table(["score", "base", "LoRA", "LoRA - base"], score_rows(summary)), "",
                      caption(summary), "", *markdown_table(list(STAGE_COLUMNS), stage_rows(summary))])
