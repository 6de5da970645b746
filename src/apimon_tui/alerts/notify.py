"""Notifications beyond the screen: a shell command per severity, fed the alert as JSON.

`[alerts.notify] critical = "notify-send apimon \"$(jq -r .message)\""` runs
that command (through `sh -c`, so pipes work) with the alert's JSON on its
standard input. Commands run one at a time on a background thread, so a slow
one never holds up the monitor; each gets `notify_timeout` before its process
group is killed. A command runs at most once per alert and severity per rule
cooldown. Failures become one-line messages for the screen, never exceptions,
and the payload and messages have secrets redacted. Commands run with umask
077, so a file one writes the alert to (`cat >> alerts.log`) is created 0600
like every file apimon-tui writes.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from apimon_tui.core.config import ConfigError
from apimon_tui.core.redact import redact
from apimon_tui.core.timeutil import parse_duration


class Notifier:
    def __init__(self, commands: dict[str, str], timeout_s: float = 10.0, clock: Callable[[], float] = time.time):
        self.commands = {sev: cmd for sev, cmd in commands.items() if cmd.strip()}
        self.timeout_s = timeout_s
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._failures: deque[str] = deque(maxlen=100)
        self._queue: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self._worker: threading.Thread | None = None

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> Notifier | None:
        """The notifier for `[alerts]`, or None when no severity has a command."""
        commands = section.get("notify") or {}
        if not any(str(c).strip() for c in commands.values()):
            return None
        try:
            timeout = parse_duration(str(section.get("notify_timeout", "10s")))
        except ValueError:
            raise ConfigError("config: alerts.notify_timeout must be a duration like \"10s\"") from None
        return cls({k: str(v) for k, v in commands.items()}, timeout)

    def send(self, alert, cooldown_s: float) -> bool:
        """Queue the command for the alert's severity; False when there is none or it ran too recently."""
        command = self.commands.get(alert.severity)
        if command is None:
            return False
        now = self.clock()
        mark = (alert.key, alert.severity)
        last = self._last.get(mark)
        if last is not None and now - last < cooldown_s:
            return False
        self._last[mark] = now
        payload = redact(json.dumps(alert.to_dict()))
        self._queue.put((alert.severity, command, payload))
        if self._worker is None:
            self._worker = threading.Thread(target=self._drain_queue, name="apimon-notify", daemon=True)
            self._worker.start()
        return True

    def join(self) -> None:
        """Wait until every queued command has run (tests, shutdown)."""
        self._queue.join()

    def drain_failures(self) -> list[str]:
        out = list(self._failures)
        self._failures.clear()
        return out

    def _drain_queue(self) -> None:
        while True:
            severity, command, payload = self._queue.get()
            try:
                problem = self._run(command, payload)
                if problem:
                    self._failures.append(redact(f"notify {severity}: {problem}"))
            finally:
                self._queue.task_done()

    def _run(self, command: str, payload: str) -> str | None:
        try:
            proc = subprocess.Popen(
                command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, start_new_session=True, text=True, umask=0o077,
            )
        except OSError as exc:
            return f"cannot run {command!r}: {exc.strerror}"
        try:
            _, err = proc.communicate(payload, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return f"{command!r} ran longer than {self.timeout_s:g}s and was stopped"
        if proc.returncode:
            last = (err or "").strip().splitlines()[-1:] or [""]
            said = f": {last[0][:200]}" if last[0] else ""
            return f"{command!r} exited with status {proc.returncode}{said}"
        return None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()
