"""report.html and summary.csv: written into every run folder, self-contained, one CSV row per method."""

from __future__ import annotations

import csv
import json
import re

import pytest
from plotly.offline import get_plotlyjs

from inference_lab.config import InferenceConfig
from inference_lab.html_report import CSV_COLUMNS, csv_rows, write_reports
from inference_lab.results import load_records, load_run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, tiny_kit):
    """A real tiny comparator run (two methods, one skipped variant); its folder as the comparator left it."""
    from inference_lab.comparator import InferenceMethodsComparator

    config = InferenceConfig(main_model="demo", assistant_model=None, prompts=["Once upon a time", "The dog"],
                             num_completions=2, max_new_tokens=6, methods_to_test=["standard", "batched"],
                             use_speculative_decoding=True, warmup_runs=0, num_runs=2, temperature=0)
    comparator = InferenceMethodsComparator(config, output_dir=tmp_path_factory.mktemp("runs"), label="report")
    comparator.run()
    return comparator.folder


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_every_run_folder_gets_a_self_contained_report(run_folder):
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    assert get_plotlyjs()[:2000] in page  # plotly.js embedded, so the page works offline
    assert not re.search(r"<script[^>]*\bsrc=", page) and not re.search(r"<link[^>]*\bhref=", page)
    summary = load_run(run_folder)
    for method in summary["methods"]:
        assert method["method"] in page
    assert "batched_speculative" in page and "skipped" in page
    for title in ("Throughput per method", "Batch latency distribution", "Peak memory per method"):
        assert title in page
    assert summary["run_id"] in page and "tok/s" in page and "MiB" in page


def test_csv_has_one_row_per_method_with_the_summary_figures(run_folder):
    summary = load_run(run_folder)
    columns, rows = read_csv(run_folder / "summary.csv")
    assert tuple(columns) == CSV_COLUMNS
    assert [r["method"] for r in rows] == [m["method"] for m in summary["methods"]]
    batched = next(r for r in rows if r["method"] == "batched")
    source = next(m for m in summary["methods"] if m["method"] == "batched")
    assert float(batched["tokens_per_s_median"]) == pytest.approx(source["run_tokens_per_s"]["median"], rel=1e-4)
    assert float(batched["latency_median_ms"]) == pytest.approx(source["latency_s"]["median"] * 1000, rel=1e-4)
    assert float(batched["peak_rss_mib"]) == pytest.approx(source["peak_rss_bytes"] / 2**20, abs=0.1)
    assert (batched["status"], batched["effective_batch_size"], batched["runs"]) == ("ok", "4", "2")
    skipped = next(r for r in rows if r["method"] == "batched_speculative")
    assert skipped["status"] == "skipped" and skipped["tokens_per_s_median"] == "" and "assistant" in skipped["reason"]


def test_latency_chart_holds_every_timed_batch(run_folder):
    records = load_records(run_folder)
    summary = load_run(run_folder)
    from inference_lab.html_report import figures

    [_throughput, latency, _memory] = figures(summary, records)
    plotted = {trace.name: len(trace.y) for trace in latency.data}
    assert plotted == {"standard": 8, "batched": 2}  # 4 rows one at a time / in one batch, x 2 timed runs


def test_reports_without_batch_records_still_render(tmp_path, run_folder):
    summary = json.loads((run_folder / "summary.json").read_text())
    for method in summary["methods"]:
        method["peak_rss_bytes"] = None
    html_path, csv_path = write_reports(tmp_path, summary, records=[])
    page = html_path.read_text(encoding="utf-8")
    assert "Throughput per method" in page
    assert "Batch latency distribution" not in page and "Peak memory per method" not in page
    assert len(read_csv(csv_path)[1]) == len(summary["methods"])


def test_csv_rows_are_pure_and_keep_missing_figures_empty():
    summary = {"methods": [{"method": "standard", "status": "failed", "reason": "out of memory", "notes": ["a", "b"]}]}
    [row] = csv_rows(summary)
    assert set(row) == set(CSV_COLUMNS)
    assert row["tokens_per_s_median"] is None and row["reason"] == "out of memory" and row["notes"] == "a; b"
