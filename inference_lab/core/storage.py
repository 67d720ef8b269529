"""Result files that survive Ctrl-C, SIGTERM and kill -9, in strict JSON, with the user's umask.

- `append_jsonl` writes whole lines, then flush + fsync: a finished row is on disk before the next starts.
- `read_jsonl` returns the rows and whether the last line was torn (a kill mid-write); a torn last line is
  never parsed as a result, and `repair_torn_tail` cuts it off before new rows are appended after it.
  A malformed line that is *not* the last is an error naming the file and line number.
- `write_json_atomic` writes to a temporary file and renames it over the target, so a summary is either the
  old one or the new one, never half of each.
- Every JSON the tool writes is strict (`allow_nan=False`): a NaN or infinity is a bug to catch, not a file
  other tools cannot read.
- Writes run inside `signals.deferred()`: a SIGINT/SIGTERM that arrives mid-write is acted on right after it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import signals
from .errors import UserError


def dumps(payload: Any, indent: int | None = None) -> str:
    return json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False, default=str)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; set straight back
    os.umask(mask)
    return mask


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    lines = "".join(dumps(row) + "\n" for row in rows)
    if not lines:
        return 0
    with signals.deferred(), path.open("a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())
    return lines.count("\n")


def read_text(path: str | Path, what: str = "file") -> str:
    """A file's text, every problem (missing, a folder, unreadable, not UTF-8) one line naming it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} is a folder, not a file: {path}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as err:
        raise UserError(f"{what} cannot be read: {path} ({err.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x})") from None


def read_jsonl(path: str | Path, *, allow_torn_tail: bool = True) -> tuple[list[dict[str, Any]], bool]:
    """(rows, torn). Blank lines are skipped."""
    path = Path(path)
    text = read_text(path, "results file")
    lines = text.split("\n")
    ends_clean = text.endswith("\n") or not text
    rows: list[dict[str, Any]] = []
    torn = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last = number == len(lines) or (number == len(lines) - 1 and ends_clean)
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            if is_last and allow_torn_tail and not ends_clean:
                torn = True
                break
            raise UserError(f"{path}:{number}: malformed JSON line ({str(err).splitlines()[0]})") from None
        if is_last and not ends_clean and allow_torn_tail:
            torn = True  # parsed, but the newline never made it: the write was cut; redo it
            break
        rows.append(row)
    return rows, torn


def repair_torn_tail(path: str | Path) -> bool:
    """Cut a partial last line (no trailing newline) off the file; True if something was cut."""
    path = Path(path)
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    keep = data.rfind(b"\n") + 1
    with signals.deferred(), path.open("r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return True


def write_json_atomic(path: str | Path, payload: Any, durable: bool = True) -> Path:
    return write_text_atomic(path, dumps(payload, indent=2) + "\n", durable)


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    return write_text_atomic(path, "".join(dumps(row) + "\n" for row in rows))


def write_text_atomic(path: str | Path, text: str, durable: bool = True) -> Path:
    """Write to a temporary file and rename it over `path`: readers see the old file or the new one, never half.

    `durable` adds an fsync (8 ms a file on this machine's disk, measured): for what cannot be rebuilt (records,
    headers, configs). Files rebuilt from those (report pages, checkpoint summaries) skip it: a killed process's
    writes are in the page cache either way; only a machine crash can lose them, and a rerun rewrites them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals.deferred():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            # mkstemp creates 0600; a result file is as readable as any file the user creates.
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path
