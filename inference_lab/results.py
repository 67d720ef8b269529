"""Result records and run folders: the same field names in memory, on disk and in tables.

A run folder holds `config.json` (effective config), `results.jsonl` (one `BatchRecord` per line, streamed
as batches finish), `summary.json` (a `RunSummary`: per-method aggregates + environment + load reports)
and `summary.md`. The summary is rewritten after every method, so an interrupted run still has a valid
summary of what finished.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .measure import summary_dict
from .storage import append_jsonl, read_jsonl, write_json_atomic, write_text_atomic


@dataclass
class BatchRecord:
    method: str
    run: int
    batch_index: int
    prompt_indices: list[int]
    completion_indices: list[int]
    rows: int
    latency_s: float
    ttft_s: float | None
    tpot_s: float | None
    new_tokens: list[int]
    total_new_tokens: int
    tokens_per_s: float
    forward_calls: int
    draft_forward_calls: int | None
    texts: list[str]


@dataclass
class MethodSummary:
    method: str
    base_method: str | None
    variant: str | None
    status: str  # ok | skipped | unsupported | failed | interrupted
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    effective_batch_size: int | None = None
    generate_settings: dict[str, Any] = field(default_factory=dict)
    completions: int = 0
    batches_per_run: int = 0
    runs: int = 0
    latency_s: dict | None = None
    tokens_per_s: dict | None = None
    ttft_s: dict | None = None
    tpot_s: dict | None = None
    run_seconds: dict | None = None
    run_tokens_per_s: dict | None = None
    new_tokens_per_run: int | None = None
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    tokens_per_forward: float | None = None
    acceptance_rate: float | None = None
    sample_output: str | None = None


def aggregate(summary: MethodSummary, records: list[BatchRecord]) -> MethodSummary:
    """Fill the timing fields of `summary` from its timed batch records (pure)."""
    if not records:
        return summary
    runs = sorted({r.run for r in records})
    per_run_seconds = [sum(r.latency_s for r in records if r.run == run) for run in runs]
    per_run_tokens = [sum(r.total_new_tokens for r in records if r.run == run) for run in runs]
    summary.runs = len(runs)
    summary.latency_s = summary_dict([r.latency_s for r in records])
    summary.tokens_per_s = summary_dict([r.tokens_per_s for r in records])
    summary.ttft_s = summary_dict([r.ttft_s for r in records])
    summary.tpot_s = summary_dict([r.tpot_s for r in records])
    summary.run_seconds = summary_dict(per_run_seconds)
    summary.run_tokens_per_s = summary_dict([t / s for t, s in zip(per_run_tokens, per_run_seconds) if s > 0])
    summary.new_tokens_per_run = int(sorted(per_run_tokens)[len(per_run_tokens) // 2])
    total_tokens = sum(r.total_new_tokens for r in records)
    forwards = sum(r.forward_calls for r in records)
    summary.tokens_per_forward = round(total_tokens / forwards, 4) if forwards else None
    drafted = [r.draft_forward_calls for r in records if r.draft_forward_calls is not None]
    if drafted and sum(drafted):
        # Each verification step yields the accepted draft tokens plus one token of the main model's own.
        accepted = total_tokens - forwards
        summary.acceptance_rate = round(max(accepted, 0) / sum(drafted), 4)
    summary.sample_output = records[-1].texts[0] if records[-1].texts else None
    return summary


def rankings(methods: list[MethodSummary]) -> dict[str, str | None]:
    done = [m for m in methods if m.status == "ok" and m.run_tokens_per_s]

    def best(key, reverse=False):
        ranked = sorted((m for m in done if key(m) is not None), key=key, reverse=reverse)
        return ranked[0].method if ranked else None

    return {
        "fastest_tokens_per_s": best(lambda m: m.run_tokens_per_s["median"], reverse=True),
        "lowest_latency": best(lambda m: m.latency_s["median"]),
        "lowest_ttft": best(lambda m: m.ttft_s["median"] if m.ttft_s else None),
        "least_memory": best(lambda m: m.peak_gpu_bytes if m.peak_gpu_bytes is not None else m.peak_rss_bytes),
    }


def new_run_dir(output_dir: str | Path, label: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "run"
    base = Path(output_dir) / f"{stamp}-{safe}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


class RunWriter:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.results_path = self.folder / "results.jsonl"

    def write_config(self, config: dict) -> None:
        write_json_atomic(self.folder / "config.json", config)

    def append(self, record: BatchRecord) -> None:
        append_jsonl(self.results_path, [asdict(record)])

    def write_summary(self, summary: dict) -> None:
        """summary.json + summary.md after every method; report.html + summary.csv once the run has ended
        (the HTML embeds plotly.js, ~5 MB and ~0.3 s, too much to redo per method)."""
        from .tables import summary_markdown

        write_json_atomic(self.folder / "summary.json", summary)
        write_text_atomic(self.folder / "summary.md", summary_markdown(summary))
        if summary.get("status") != "running":
            from .html_report import write_reports

            write_reports(self.folder, summary)


def load_run(folder: str | Path) -> dict:
    """A finished (or interrupted) run's summary, with its folder added."""
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise UserError(f"not a run folder (no summary.json): {folder}")
    import json

    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
    summary["folder"] = str(folder)
    return summary


def load_records(folder: str | Path) -> list[BatchRecord]:
    rows, _torn = read_jsonl(Path(folder) / "results.jsonl")
    return [BatchRecord(**row) for row in rows]


def find_runs(output_dir: str | Path) -> list[Path]:
    """Run folders under `output_dir`, newest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    return sorted((p.parent for p in root.glob("*/summary.json")), key=lambda p: p.name, reverse=True)
