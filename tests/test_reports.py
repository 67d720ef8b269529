"""report.html, summary.csv and summary.md: written into every run folder by the one writer, self-contained, one
CSV row per item starting with the run id and mode; the methods mode's parts."""

from __future__ import annotations

import csv
import json
import re

import pytest
from plotly.offline import get_plotlyjs

from inference_lab.core.rundir import load_summary
from inference_lab.core.storage import read_jsonl
from inference_lab.modes.methods.report import CSV_COLUMNS, csv_rows, figures, report_parts
from inference_lab.ui.html import write_report_files


@pytest.fixture(scope="module")
def run_folder(methods_run):
    return methods_run


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_every_run_folder_gets_a_self_contained_report(run_folder):
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    assert get_plotlyjs()[:2000] in page  # plotly.js embedded, so the page works offline
    assert not re.search(r"<script[^>]*\bsrc=", page) and not re.search(r"<link[^>]*\bhref=", page)
    summary = load_summary(run_folder)
    for method in summary["methods"]:
        assert method["method"] in page
    assert "batched_speculative" in page and "skipped" in page
    for title in ("Completion tokens", "Batch latency", "Inter-token latency", "Peak memory per method",
                  "Rankings", "Environment"):
        assert title in page
    assert summary["run_id"] in page and "tok/s" in page and "MiB" in page and "mode methods" in page


def test_csv_has_one_row_per_method_with_the_summary_figures(run_folder):
    summary = load_summary(run_folder)
    columns, rows = read_csv(run_folder / "summary.csv")
    assert columns == ["run_id", "mode", *CSV_COLUMNS]
    assert {r["run_id"] for r in rows} == {summary["run_id"]} and {r["mode"] for r in rows} == {"methods"}
    assert [r["method"] for r in rows] == [m["method"] for m in summary["methods"]]
    batched = next(r for r in rows if r["method"] == "batched")
    source = next(m for m in summary["methods"] if m["method"] == "batched")
    tok = source["completion_tokens_per_s"]
    assert float(batched["completion_tokens_per_s_median"]) == pytest.approx(tok["median"], rel=1e-4)
    assert float(batched["completion_tokens_per_s_ci_low"]) == pytest.approx(tok["ci_low"], rel=1e-4)
    assert float(batched["latency_median_ms"]) == pytest.approx(source["latency_s"]["median"] * 1000, rel=1e-4)
    assert float(batched["peak_rss_mib"]) == pytest.approx(source["peak_rss_bytes"] / 2**20, abs=0.1)
    assert (batched["status"], batched["effective_batch_size"], batched["runs"]) == ("ok", "4", "2")
    skipped = next(r for r in rows if r["method"] == "batched_speculative")
    assert skipped["status"] == "skipped" and skipped["completion_tokens_per_s_median"] == ""
    assert "assistant" in skipped["reason"]
    assert summary["run_id"] in (run_folder / "summary.md").read_text()


def test_latency_chart_holds_every_timed_batch(run_folder):
    records = read_jsonl(run_folder / "results.jsonl")[0]
    summary = load_summary(run_folder)
    [_throughput, latency, _ttft, _itl, _memory] = figures(summary, records)
    plotted = {trace.name: len(trace.y) for trace in latency.data}
    assert plotted == {"standard": 8, "batched": 2}  # 4 rows one at a time / in one batch, x 2 timed rounds


def test_reports_without_batch_records_still_render(tmp_path, run_folder):
    summary = json.loads((run_folder / "summary.json").read_text())
    for method in summary["methods"]:
        method["peak_rss_bytes"] = None
    html_path = write_report_files(tmp_path, summary, report_parts(summary, records=[]))
    page = html_path.read_text(encoding="utf-8")
    assert "Completion tokens" in page
    assert "Batch latency" not in page and "Peak memory per method" not in page
    assert len(read_csv(tmp_path / "summary.csv")[1]) == len(summary["methods"])


def test_csv_rows_are_pure_and_keep_missing_figures_empty():
    summary = {"methods": [{"method": "standard", "status": "failed", "reason": "out of memory", "notes": ["a", "b"]}]}
    [row] = csv_rows(summary)
    assert set(row) == set(CSV_COLUMNS)
    assert row["completion_tokens_per_s_median"] is None and row["reason"] == "out of memory" and row["notes"] == "a; b"
