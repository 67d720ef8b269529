"""One signal policy for every mode: SIGINT, SIGTERM and SIGHUP all stop a run the way Ctrl-C does.

Two phases, because what a stop must save changes:
- **start-up** (`install(startup=True)`, what the entry point does first): until this process writes a run folder's
  header there is nothing to save, so a signal ends the process at once: one line, exit 128 + the signal. Raising
  an exception instead went wrong in the middle of the imports of torch and transformers (measured, 40 Ctrl-Cs
  0.35-0.6 s into a run: 7 were turned into "cannot load model" errors with exit 2, 2 were swallowed and the run
  went on to exit 0, and one aborted the interpreter inside torch's C++ start-up).
- **run** (`arm()`, called when a run folder is created or its header written): a signal raises `Interrupted`, a
  `KeyboardInterrupt` carrying the signal number, in the main thread, so the run's summary says `interrupted`, its
  report is written, and the process exits 128 + the signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). An exception
  raised from a handler can still be swallowed (a weakref callback, a library's bare `except`): `check()` raises it
  again at the next unit of work.

`deferred()` shields a critical write: a signal that arrives inside it is remembered and acted on when the block
ends, so a result line or a summary is never cut in half by our own handler. (kill -9 cannot be shielded; the
readers repair what it leaves.)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum


# received: the last signal handled; pending: one that arrived inside deferred(); raised: one raised from the
# handler that no unit of work has seen handled yet; exit_at_once: the start-up phase.
_state = {"received": None, "pending": None, "raised": None, "depth": 0, "exit_at_once": False}


def _act(signum: int) -> None:
    if _state["exit_at_once"]:
        # os.write and os._exit: nothing buffered or half-imported is touched on the way out.
        os.write(2, f"interrupted during start-up ({NAMES.get(signum, f'signal {signum}')}): nothing was "
                    "written\n".encode())
        os._exit(exit_code(signum))
    _state["raised"] = signum
    raise Interrupted(signum)


def _handler(signum, _frame) -> None:
    _state["received"] = signum
    if _state["depth"] > 0:
        _state["pending"] = signum
        return
    _act(signum)


def install(startup: bool = False) -> None:
    """Route SIGINT/SIGTERM/SIGHUP through this policy (main thread only; a no-op elsewhere). `startup` starts in
    the exit-at-once phase; installing again keeps the phase."""
    if threading.current_thread() is not threading.main_thread():
        return
    if startup:
        _state["exit_at_once"] = True
    for signum in HANDLED:
        signal.signal(signum, _handler)
    if getattr(sys.unraisablehook, "__wrapped__", None) is None:
        sys.unraisablehook = _quiet_unraisable(sys.unraisablehook)


def _quiet_unraisable(previous):
    """Python prints "Exception ignored in ... Traceback" when our handler raises inside a `__del__` or a weakref
    callback (seen in CI: regex's `__del__` during a kit build). That stop is not lost (`check()` raises it again),
    so it is not printed; every other unraisable exception still goes to the hook that was there before."""
    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            return
        previous(unraisable)

    hook.__wrapped__ = previous
    return hook


def arm() -> None:
    """From here on there is something to save: a signal raises `Interrupted` instead of ending the process."""
    _state["exit_at_once"] = False


@contextmanager
def armed() -> Iterator[None]:
    """Raise `Interrupted` (not end the process) inside this block, then return to the phase before: for start-up
    work that has something to clean up when stopped (a demo kit's half-built staging folder)."""
    before = _state["exit_at_once"]
    _state["exit_at_once"] = False
    try:
        yield
    finally:
        _state["exit_at_once"] = before
    check()  # a stop swallowed inside the block (training loops, weakref callbacks) still stops the command


def received() -> int | None:
    """The last handled signal this process received, if any."""
    return _state["received"]


def check() -> None:
    """Raise `Interrupted` again if a signal's exception was swallowed before it could stop the run."""
    signum = _state["raised"]
    if signum is not None:
        _state["raised"] = None
        raise Interrupted(signum)


def reset() -> None:
    """Forget received signals (the menu goes on after an interrupted run)."""
    _state["received"] = _state["pending"] = _state["raised"] = None


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
        _act(pending)
