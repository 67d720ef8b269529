"""The first code every entry point runs (`python -m inference_lab`, the `inference-lab` script,
`inference_comparison.py`, `run_experiments.py`, `test_setup.py`).

The signal policy is installed before anything heavy is imported, in its start-up phase: until a run folder is
written, a signal ends the process at once with one line and exit 128 + the signal (there is nothing to save, and
an exception raised inside torch's or transformers' imports was swallowed, misreported or aborted the interpreter;
see core/signals.py). Measured before: 1 in 25 Ctrl-Cs during start-up printed a traceback, 5 in 25 died by SIGINT.
What remains is the ~20 ms before this module runs (interpreter start), where Python's own default applies.
"""

from __future__ import annotations

import sys


def entry(argv: list[str] | None = None) -> int:
    signum = 2
    try:
        from .core import signals

        signals.install(startup=True)
        from .cli import main

        return main(argv)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", None) or signum
        print("interrupted during start-up: nothing was run", file=sys.stderr)
        return 128 + signum


def run(argv: list[str] | None = None) -> None:
    """The command line's end: exit without Python's teardown of torch.

    Tearing down an interpreter that imported torch took 0.75 s after the last line was printed (measured on
    the demo kit, the same for a bare script): a fifth of a short run. Every file the tool writes is closed
    (and fsync'd where it matters) before `entry` returns, so the process flushes its streams, runs the atexit
    handlers (servers stopped, logging flushed) and leaves with os._exit."""
    import atexit
    import os

    code = entry(argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
    finally:
        os._exit(code)
