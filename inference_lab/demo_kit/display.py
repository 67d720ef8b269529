"""The demo kit's manifest as a table (what `./run.sh demo` prints)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..ui.console import compact_table, fmt_bytes, fmt_params


def manifest_table(manifest: dict, path: Path | None = None) -> Table:
    title = f"demo kit '{manifest['variant']}' (seed {manifest['seed']}, built in {manifest['build_seconds']} s)"
    table = compact_table(title=title, caption=str(path) if path else None)
    for column in ("part", "params", "size", "train loss", "held-out\n(untrained)", "train\ntime", "notes"):
        table.add_column(column, justify="left" if column in {"part", "notes"} else "right")
    for role in ("main", "assistant"):
        m = manifest["models"][role]
        table.add_row(role, fmt_params(m["params"]), fmt_bytes(m["bytes"]),
                      f"{m['initial_loss']:.2f} -> {m['final_loss']:.2f}",
                      f"{m['heldout_loss']:.2f} ({m['untrained_heldout_loss']:.2f})", f"{m['train_seconds']} s", "")
    lora = manifest["models"]["lora"]
    table.add_row("lora", fmt_params(lora["trainable_params"]), fmt_bytes(lora["bytes"]),
                  f"{lora['initial_loss']:.2f} -> {lora['final_loss']:.2f}", "", f"{lora['train_seconds']} s",
                  f"task acc. {lora['task_accuracy_base']:.0%} -> {lora['task_accuracy_lora']:.0%}")
    data = manifest["data"]
    table.add_row("data", "", "", "", "", "", f"{data['task_test']} task, {data['mcq']} MCQ rows")
    return table
