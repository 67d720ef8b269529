"""One signal policy for every mode: SIGINT, SIGTERM and SIGHUP all stop a run the way Ctrl-C does.

`install()` (called first thing by the entry point) makes each of them raise `Interrupted`, a
`KeyboardInterrupt` carrying the signal number, in the main thread. So `timeout`, Slurm, `docker stop` and a
closed terminal take the same path as Ctrl-C: the run's summary says `interrupted`, its report is written, and
the process exits 128 + the signal (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

`deferred()` shields a critical write: a signal that arrives inside it is remembered and raised when the block
ends, so a result line or a summary is never cut in half by our own handler. (kill -9 cannot be shielded; the
readers repair what it leaves.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum


_state = {"received": None, "pending": None, "depth": 0}


def _handler(signum, _frame) -> None:
    _state["received"] = signum
    if _state["depth"] > 0:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT/SIGTERM/SIGHUP to `Interrupted` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED:
        signal.signal(signum, _handler)


def received() -> int | None:
    """The last handled signal this process received, if any."""
    return _state["received"]


def reset() -> None:
    """Forget received signals (the menu goes on after an interrupted run)."""
    _state["received"] = _state["pending"] = None


def exit_code(signum: int | None) -> int:
    return 128 + (signum or signal.SIGINT)


def describe(exc: BaseException) -> str:
    signum = getattr(exc, "signum", None) or received() or signal.SIGINT
    return NAMES.get(signum, f"signal {signum}")


@contextmanager
def deferred() -> Iterator[None]:
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    pending = _state["pending"]
    if _state["depth"] == 0 and pending is not None:
        _state["pending"] = None
        raise Interrupted(pending)
