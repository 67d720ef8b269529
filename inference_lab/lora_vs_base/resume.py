"""What an earlier run left in the output folder, made consistent before new rows are appended.

A chunk's base and LoRA rows are appended one file after the other, so a kill can leave: a torn last line
(cut by `repair_torn_tail`, redone, never parsed), or a chunk whose base rows made it and whose LoRA rows did
not (those rows are dropped and the samples redone). A sample counts as done only when both files hold it,
so a rerun completes every sample exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..storage import read_jsonl, repair_torn_tail, write_json_atomic, write_text_atomic
from .config import LoraVsBaseConfig
from .records import PREDICTION_FILES, REPORT_FILE, RUN_CONFIG_FILE


@dataclass
class ResumeState:
    done_ids: set[str] = field(default_factory=set)
    torn_files: list[str] = field(default_factory=list)
    dropped_rows: int = 0
    duplicate_rows: int = 0

    def to_dict(self) -> dict:
        return {"done_before": len(self.done_ids), "torn_files": self.torn_files, "dropped_rows": self.dropped_rows,
                "duplicate_rows": self.duplicate_rows}


def _first_difference(ours: dict, theirs: dict, prefix: str = "") -> str | None:
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"'{prefix}{key}' is {json.dumps(a)} here but {json.dumps(b)} there"
    return None


def check_same_run(out_dir: Path, config: LoraVsBaseConfig) -> None:
    """Refuse to mix results of different settings in one folder (raises before anything is touched)."""
    saved = out_dir / RUN_CONFIG_FILE
    has_rows = any((out_dir / name).is_file() and (out_dir / name).stat().st_size for name in PREDICTION_FILES.values())
    if not (saved.is_file() and has_rows):
        return
    try:
        theirs = json.loads(saved.read_text(encoding="utf-8")).get("fingerprint", {})
    except (OSError, ValueError):
        return
    difference = _first_difference(config.results_fingerprint(), theirs)
    if difference:
        raise UserError(f"output_dir {out_dir} holds results of different settings ({difference}); "
                        "use another --output or --fresh")


def clear_outputs(out_dir: Path) -> None:
    for name in (*PREDICTION_FILES.values(), REPORT_FILE, RUN_CONFIG_FILE):
        (out_dir / name).unlink(missing_ok=True)


def _keep_rows(path: Path, rows: list[dict], keep: set[str]) -> tuple[int, int]:
    """Rewrite `path` (atomically) with the first row of each id in `keep`; (dropped, duplicates)."""
    seen: set[str] = set()
    kept: list[dict] = []
    duplicates = 0
    for row in rows:
        if row["id"] in seen:
            duplicates += 1
        elif row["id"] in keep:
            seen.add(row["id"])
            kept.append(row)
    dropped = len(rows) - len(kept) - duplicates
    if dropped or duplicates:
        write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept))
    return dropped, duplicates


def prepare_output(out_dir: Path, config: LoraVsBaseConfig) -> ResumeState:
    """Repair and reconcile the prediction files, then record this run's settings; returns what is done."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = ResumeState()
    rows_by_model: dict[str, list[dict]] = {}
    for model, name in PREDICTION_FILES.items():
        path = out_dir / name
        if not path.is_file():
            rows_by_model[model] = []
            continue
        rows, torn = read_jsonl(path)
        if torn:
            repair_torn_tail(path)
            state.torn_files.append(name)
        if any("id" not in row for row in rows):
            raise UserError(f"{path}: a row has no 'id'; this is not a prediction file of this tool")
        rows_by_model[model] = rows
    ids = [{row["id"] for row in rows} for rows in rows_by_model.values()]
    state.done_ids = set.intersection(*ids)
    for model, name in PREDICTION_FILES.items():
        dropped, duplicates = _keep_rows(out_dir / name, rows_by_model[model], state.done_ids)
        state.dropped_rows += dropped
        state.duplicate_rows += duplicates
    write_json_atomic(out_dir / RUN_CONFIG_FILE,
                      {"fingerprint": config.results_fingerprint(), "config": config.model_dump(mode="json")})
    return state
