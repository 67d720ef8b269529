"""The result document of one experiment, in the reference suite's three sections, and where it is saved.

- `run_info`: experiment, timestamp, duration, status (success / failed / cancelled), error, hardware, the PEFT
  config and the merged benchmark config, and which base results were used (cache key, hit or measured).
- `generation_info`: memory (peak RSS, peak accelerator memory, a log per stage), `by_category` (metrics and
  samples per prompt category, overhead vs base), `overall`, and in paired mode `base_by_category`.
- `meta_info`: model, parameters (base, adapter/trainable, total, ratio), sizes in MB, packages, system.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..storage import write_json_atomic

STATUSES = ("running", "success", "failed", "cancelled")


@dataclass
class RunInfo:
    experiment: str
    path: str
    timestamp: str
    status: str = "running"
    duration_s: float | None = None
    error: str | None = None
    traceback: str | None = None
    hardware: dict = field(default_factory=dict)
    peft_config: dict | None = None
    benchmark_config: dict | None = None
    base_results: dict | None = None


@dataclass
class GenerationInfo:
    memory: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    overall: dict = field(default_factory=dict)
    base_by_category: dict | None = None  # paired mode: the base timed in this run, interleaved


@dataclass
class MetaInfo:
    model: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    model_size: dict = field(default_factory=dict)
    packages: dict = field(default_factory=dict)
    system: dict = field(default_factory=dict)


@dataclass
class BenchmarkResult:
    run_info: RunInfo
    generation_info: GenerationInfo = field(default_factory=GenerationInfo)
    meta_info: MetaInfo = field(default_factory=MetaInfo)

    def to_dict(self) -> dict:
        return asdict(self)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def result_path(output_dir: Path, experiment_id: str, timestamp: str) -> Path:
    """`<output_dir>/<method>/<name>/<UTC timestamp>.json`: one file per run, history kept."""
    stamp = timestamp.replace(":", "").replace("-", "").replace("+0000", "Z").replace("+00:00", "Z")
    return output_dir / experiment_id / f"{stamp}.json"


def save_result(result: BenchmarkResult, output_dir: Path) -> Path:
    path = result_path(output_dir, result.run_info.experiment, result.run_info.timestamp)
    n = 1
    while path.exists():  # two runs in the same second keep both files
        path = path.with_name(f"{path.stem.split('~')[0]}~{n}.json")
        n += 1
    return write_json_atomic(path, result.to_dict())
