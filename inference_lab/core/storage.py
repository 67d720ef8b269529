"""Result files that survive Ctrl-C, SIGTERM and kill -9, in strict JSON, with the user's umask.

- `append_jsonl` writes whole lines, then fsync: a finished row is on disk before the next starts; a write the
  disk cannot take is cut back off, so the file still ends with a whole line.
- `read_jsonl` returns the rows and whether the last line was torn (a kill mid-write); a torn last line is
  never parsed as a result, and `repair_torn_tail` cuts it off before new rows are appended after it.
  A malformed line that is *not* the last is an error naming the file and line number.
- `write_json_atomic` writes to a temporary file and renames it over the target, so a summary is either the
  old one or the new one, never half of each.
- Every JSON the tool writes is strict (`allow_nan=False`): a NaN or infinity is a bug to catch, not a file
  other tools cannot read.
- Writes run inside `signals.deferred()`: a SIGINT/SIGTERM that arrives mid-write is acted on right after it.
- A write that fails (disk full, read-only file system, I/O error) is a `WriteFailed`: one line naming the file.
- `loads` is the one JSON parser of every reader: any bad text (not JSON, nested too deeply, a lone surrogate that
  no UTF-8 file can hold, NaN/Infinity) is a ValueError the reader turns into `file:line: reason`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import signals
from .errors import UserError, WriteFailed

MAX_NESTING = 100  # deeper data is no config or record of ours (and would hit Python's recursion limit later)
MAX_ITEMS = 200_000  # values in one config or one JSONL line, aliases expanded


def dumps(payload: Any, indent: int | None = None) -> str:
    text = json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a file name that is not UTF-8): escaped, the file stays UTF-8
        text = json.dumps(payload, indent=indent, ensure_ascii=True, allow_nan=False, default=str)
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _lone_surrogate(text: str, allow_escaped_bytes: bool) -> str | None:
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    for char in text:
        if "\ud800" <= char <= "\udfff" and not (allow_escaped_bytes and "\udc80" <= char <= "\udcff"):
            return char
    return None


def check_value(value: Any, max_depth: int = MAX_NESTING, max_items: int = MAX_ITEMS,
                allow_escaped_bytes: bool = False) -> None:
    """ValueError if parsed data nests deeper than `max_depth`, holds more than `max_items` values once expanded (a
    YAML alias bomb: a few lines that expand to billions), or a string no UTF-8 file can hold (a lone surrogate).
    `allow_escaped_bytes`: text from the command line or a file name, where Python carries bytes that are not
    UTF-8 as U+DC80-U+DCFF (a legal Linux file name); a UTF-8 document cannot hold them, so its readers refuse."""
    stack = [(value, 0)]
    items = 0
    while stack:
        item, depth = stack.pop()
        items += 1
        if items > max_items:
            raise ValueError(f"more than {max_items:,} values once expanded (aliases?)")
        if depth > max_depth:
            raise ValueError(f"nested more than {max_depth} levels deep")
        if isinstance(item, str):
            char = _lone_surrogate(item, allow_escaped_bytes)
            if char is not None:
                raise ValueError(f"text holds a lone surrogate ({ascii(char)}), which is not valid Unicode")
        elif isinstance(item, dict):
            stack.extend((child, depth + 1) for pair in item.items() for child in pair)
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)


def loads(text: str, *, strict: bool = True) -> Any:
    """json.loads for untrusted text: every problem is a ValueError with a one-line reason. `strict` (inputs a user
    wrote) also refuses NaN/Infinity and what `check_value` refuses; our own result files skip that walk."""
    try:
        value = json.loads(text, parse_constant=_no_constant if strict else None)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if strict:
        check_value(value)
    return value


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; set straight back
    os.umask(mask)
    return mask


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    lines = "".join(dumps(row) + "\n" for row in rows)
    if not lines:
        return 0
    data = lines.encode("utf-8")
    with signals.deferred():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as err:
            raise WriteFailed(path, err) from None
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError as err:
                # A full disk can take half a line: cut it off again (truncating needs no space), so the file
                # ends with whole records, as if this write had never started.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise WriteFailed(path, err) from None
        finally:
            os.close(fd)
    return lines.count("\n")


def read_text(path: str | Path, what: str = "file") -> str:
    """A file's text, every problem (missing, a folder, a device, unreadable, not UTF-8) one line naming it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} is a folder, not a file: {path}")
    if path.exists() and not path.is_file():  # /dev/zero or a pipe: reading would never end
        raise UserError(f"{what} is not a regular file (a device, pipe or socket): {path}")
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
            row = loads(line, strict=False)
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
    try:
        with signals.deferred(), path.open("r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise WriteFailed(path, err) from None
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
    try:
        _write_atomic(path, text, durable)
    except WriteFailed:
        raise
    except OSError as err:
        raise WriteFailed(path, err) from None
    return path


def _write_atomic(path: Path, text: str, durable: bool) -> None:
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
