"""Start an OpenAI-compatible server for the length of a `with` block, and never leave one running.

`launched_server(argv, ...)` picks a free port on 127.0.0.1, starts the command in its own process group
(`start_new_session=True`: vLLM forks an engine process, and the whole group must go, not only the leader),
writes its output to a log file in the run folder, waits until `GET /v1/models` answers 200, and yields the
base URL. On leaving the block for any reason (normal end, exception, Ctrl-C, SIGTERM turned into an
exception by `sigterm_raises`) it sends SIGTERM to the group, waits, then SIGKILL. An atexit hook stops any
server still registered when the interpreter exits normally.

When no code of ours can run (kill -9 of this process, a crash of the interpreter), a watchdog stops the group:
a small process in its own session that blocks reading a pipe whose only writer is this process. The kernel
closes that pipe whenever this process ends, however it ends; the watchdog then stops the whole group as
`stop_group` does. (PR_SET_PDEATHSIG would cover the leader only, not vLLM's engine and worker processes, and
needs an unsafe preexec_fn.)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from ..core.errors import UserError

READY_PATH = "/v1/models"
STOP_GRACE_S = 10.0
_POLL_S = 0.25

# Every server started here and not yet stopped: the atexit safety net walks it.
_LIVE: dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the OS picks it; a race with another binder is
    possible but shows as the server exiting with 'address already in use', quoted from its log)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_log_line(log_path: Path, limit: int = 200) -> str:
    """The last meaningful line of a server log: the gist of why it died (tracebacks end with the error)."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        text = line.strip()
        if text and not set(text) <= set("^~ "):  # skip traceback caret markers
            return text if len(text) <= limit else text[: limit - 3] + "..."
    return ""


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (a zombie leader not yet reaped counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a recycled group id owned by someone else: not ours any more
        return False
    return True


def stop_group(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, wait up to `grace_s` for all of it to exit, then SIGKILL what is left."""
    pgid = proc.pid  # start_new_session makes the leader's pid the group id
    with _LIVE_LOCK:
        _LIVE.pop(pgid, None)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader, or a zombie leader keeps the group "alive"
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


# Runs as `python -c WATCHDOG READ_FD PGID GRACE_S`; stdlib only, so it starts in ~20 ms.
WATCHDOG = """
import os, signal, sys, time
fd, pgid, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
while True:
    try:
        if not os.read(fd, 1):
            break
    except InterruptedError:
        continue
    except OSError:
        break
def alive():
    try:
        os.killpg(pgid, 0)
        return True
    except OSError:
        return False
if alive():
    try:
        os.killpg(pgid, signal.SIGTERM)
    except OSError:
        pass
    end = time.monotonic() + grace
    while alive() and time.monotonic() < end:
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


def start_watchdog(pgid: int, grace_s: float = STOP_GRACE_S) -> int:
    """Start a watchdog that stops process group `pgid` once this process ends; returns the pipe's write end,
    to close (`os.close`) once the group was stopped normally (the watchdog then finds nothing and exits).
    The write end is non-inheritable (PEP 446), so no server or other child keeps the pipe open."""
    read_fd, write_fd = os.pipe()
    try:
        subprocess.Popen([sys.executable, "-c", WATCHDOG, str(read_fd), str(pgid), str(grace_s)],
                         pass_fds=(read_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(read_fd)
    return write_fd


def _stop_all_live() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        stop_group(proc, grace_s=3.0)


atexit.register(_stop_all_live)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block, SIGTERM raises SystemExit(143) so `finally` clauses (stopping servers) run.

    Only installed on the main thread and only when nobody else handles SIGTERM (the CLI's own signal
    handling, where present, wins). The previous handler comes back on exit.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        yield
        return

    def _raise(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _format_argv(argv: Sequence[str], port: int) -> list[str]:
    return [part.replace("{port}", str(port)).replace("{host}", "127.0.0.1") for part in argv]


def _wait_ready(proc: subprocess.Popen, base_url: str, *, log_path: Path, ready_timeout_s: float,
                headers: Mapping[str, str], command: str) -> float:
    """Poll GET /v1/models until 200; one-line UserError when the process exits or time runs out."""
    started = time.perf_counter()
    deadline = time.monotonic() + ready_timeout_s
    with httpx.Client(timeout=2.0, headers=dict(headers)) as client:
        while True:
            code = proc.poll()
            if code is not None:
                gist = last_log_line(log_path)
                raise UserError(f"server.launch: '{command}' exited with code {code} before it was ready"
                                f" (log {log_path}{': ' + gist if gist else ''})")
            try:
                if client.get(base_url + READY_PATH).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                gist = last_log_line(log_path)
                raise UserError(f"server.ready_timeout_s: '{command}' not ready after {ready_timeout_s:g} s"
                                f" (log {log_path}{': ' + gist if gist else ''})")
            time.sleep(_POLL_S)


class LaunchedServer:
    """What the `with` block gets: where the server listens and how it was started."""

    def __init__(self, proc: subprocess.Popen, base_url: str, argv: list[str], log_path: Path):
        self.proc = proc
        self.base_url = base_url
        self.argv = argv
        self.log_path = log_path
        self.pgid = proc.pid
        self.ready_s: float | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None


@contextlib.contextmanager
def launched_server(argv: Sequence[str], *, log_path: str | Path, ready_timeout_s: float = 180.0,
                    env: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                    cwd: str | Path | None = None) -> Iterator[LaunchedServer]:
    """Run `argv` (with `{port}` filled in) on 127.0.0.1 for the block; stop its whole process group after."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_loopback_port()
    command = _format_argv(argv, port)
    base_url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, **(env or {})}
    with sigterm_raises(), log_path.open("ab") as log:
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=full_env, cwd=cwd, start_new_session=True)
        except OSError as err:  # no such program, not executable
            raise UserError(f"server.launch: cannot start '{command[0]}' ({err.strerror or err})") from None
        with _LIVE_LOCK:
            _LIVE[proc.pid] = proc
        watchdog = None
        server = LaunchedServer(proc, base_url, command, log_path)
        try:
            watchdog = start_watchdog(proc.pid)
            server.ready_s = _wait_ready(proc, base_url, log_path=log_path, ready_timeout_s=ready_timeout_s,
                                         headers=headers or {}, command=_short(command))
            yield server
        finally:
            stop_group(proc)
            if watchdog is not None:
                os.close(watchdog)


def _short(command: Sequence[str], limit: int = 120) -> str:
    text = " ".join(command)
    return text if len(text) <= limit else text[: limit - 3] + "..."
