"""A command's standard output as a source (`cmd:ssh api-1 tail -F /var/log/app.jsonl`).

The command runs under `sh -c` in its own process group, read by a daemon
thread. When it exits it is started again after a pause that doubles from
`backoff_start` up to `backoff_max`, and drops back once a run lasted
`steady_seconds` (a command that ran for a while and then lost its connection
should come back quickly). The last lines of its stderr are kept, secrets
redacted, for the status line.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
import time
from collections import deque
from typing import Callable

from apimon_tui.core.redact import redact
from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.sources.lines import LineAssembler
from apimon_tui.sources.pipe import LineQueue, pump

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STEADY_SECONDS = 10.0
STDERR_LINES = 20
STDERR_LINE_CHARS = 300
STOP_GRACE_SECONDS = 2.0


def backoff_delay(previous: float | None, ran_for: float, start: float, cap: float, steady: float) -> float:
    """The pause before the next start: doubling, capped, reset after a steady run."""
    if previous is None or ran_for >= steady:
        return start
    return min(cap, previous * 2)


def exit_words(returncode: int) -> str:
    return f"killed by signal {-returncode}" if returncode < 0 else f"exited {returncode}"


class CommandSource(Source):
    """Runs `command` and reads its stdout; restarts it when following."""

    def __init__(
        self,
        command: str,
        *,
        follow: bool = True,
        label: str | None = None,
        clock: Callable[[], float] = time.time,
        backoff_start: float = BACKOFF_START,
        backoff_max: float = BACKOFF_MAX,
        steady_seconds: float = STEADY_SECONDS,
    ) -> None:
        super().__init__(label or redact(f"cmd:{command}"), follow)
        self.command = command
        self.clock = clock
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.steady_seconds = steady_seconds
        self.runs = 0
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self._queue = LineQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._outcome: str | None = None  # how the last run ended, e.g. `exited 1`
        self._restart_at: float | None = None
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"apimon-{self.label}", daemon=True)
        self._thread.start()

    # -- the Source interface -------------------------------------------

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        return batch(self.label, self._queue.take(max_lines))

    @property
    def state(self) -> str:
        if self._stop.is_set():
            return "stopped"
        if self._proc is not None:
            return "running"
        if self._outcome is None:
            return "starting"
        if self._restart_at is None:
            return self._outcome
        wait = max(0, math.ceil(self._restart_at - self.clock()))
        return f"{self._outcome}, restarting in {wait}s"

    @property
    def at_eof(self) -> bool:
        return self._finished.is_set() and not len(self._queue)

    def close(self) -> None:
        """Stop restarting and end the command's whole process group."""
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            _end_group(proc)
        self._thread.join(2 * STOP_GRACE_SECONDS + 1)

    # -- the supervisor thread ------------------------------------------

    def _supervise(self) -> None:
        delay: float | None = None
        try:
            while not self._stop.is_set():
                started = self.clock()
                self._run_once()
                if not self.follow or self._stop.is_set():
                    return
                delay = backoff_delay(delay, self.clock() - started,
                                      self.backoff_start, self.backoff_max, self.steady_seconds)
                self._restart_at = self.clock() + delay
                self._stop.wait(delay)
                self._restart_at = None
        finally:
            self._finished.set()

    def _run_once(self) -> None:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._error = redact(f"cannot start {self.command}: {exc.strerror or exc}")
            self._outcome = "failed to start"
            return
        self._error = None
        with self._lock:
            self._proc = proc
        self.runs += 1
        errors = threading.Thread(target=self._keep_stderr, args=(proc,), daemon=True)
        errors.start()
        out = proc.stdout.fileno()
        pump(lambda n: os.read(out, n), self._assembler, self._queue, self._stop)
        if self._stop.is_set():
            _end_group(proc)
        returncode = proc.wait()
        errors.join(STOP_GRACE_SECONDS)
        proc.stdout.close()
        proc.stderr.close()
        with self._lock:
            self._proc = None
            self._outcome = exit_words(returncode)

    def _keep_stderr(self, proc: subprocess.Popen) -> None:
        assembler = LineAssembler(max_line=64 * 1024)
        err = proc.stderr.fileno()
        try:
            while data := os.read(err, 64 * 1024):
                self._note_stderr(assembler.feed(data))
        except OSError:
            pass
        self._note_stderr(assembler.flush())

    def _note_stderr(self, lines: list[str]) -> None:
        for line in lines:
            line = line.strip()
            if line:
                line = redact(line[:STDERR_LINE_CHARS])
                self.stderr_tail.append(line)
                self._error = line


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL if it is still there after a grace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
