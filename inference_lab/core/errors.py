"""Errors that end a command with a one-line message instead of a traceback.

`UserError` is bad input (config, file, name): exit code 2. `RunFailed` is a run that broke after it
started (out of memory, a model that raised): exit code 1. Everything the CLI catches derives from
`LabError`, so entry points need one `except`.
"""

from __future__ import annotations

import unicodedata

LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def single_line(text: str) -> str:
    """`text` with every line break and control character escaped: a message quoting a key, a value or a file
    name that holds one (`"a\\nb"`) still reads as one line on a terminal and in a log."""
    if text.isprintable():
        return text
    return "".join(ascii(ch)[1:-1] if ch in LINE_BREAKS or unicodedata.category(ch) == "Cc" else ch for ch in text)


class LabError(Exception):
    """Its message is always one line (see `single_line`)."""

    exit_code = 1

    def __str__(self) -> str:
        return single_line(super().__str__())


class UserError(LabError):
    """Bad input: the message names the field or file and the value."""

    exit_code = 2


class RunFailed(LabError):
    """A run that started but could not finish; results written so far stay on disk."""

    exit_code = 1


class WriteFailed(RunFailed, OSError):
    """A result file could not be written (disk full, read-only, I/O error): one line naming the file and why.

    Also an `OSError`, so code that already treats a failed write as an OSError (a cache it can rebuild) still does;
    everything else reports it as a broken run (exit 1) instead of a traceback."""

    def __init__(self, path, err: OSError, hint: str = ""):
        super().__init__(err.errno, err.strerror or str(err), str(path))
        self.path, self.hint = str(path), hint

    def __str__(self) -> str:
        return single_line(f"cannot write {self.path} ({self.strerror}){self.hint}")


def first_line(exc: BaseException, with_type: bool = True) -> str:
    """A library exception as one line: its class and the first line of its message."""
    lines = str(exc).strip().splitlines()
    if not with_type:
        return lines[0] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
