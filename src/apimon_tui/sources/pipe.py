"""Reading a pipe in a background thread, with back-pressure.

Pipes (stdin, a command's stdout) can only be read by blocking, so a thread
reads them into a `LineQueue` that the polling side drains without blocking.
When the queue is full the thread waits, the pipe fills, and the writer is
slowed down instead of memory growing.
"""

from __future__ import annotations

import threading
from typing import Callable

from apimon_tui.sources.lines import LineAssembler

CHUNK_BYTES = 256 * 1024
QUEUE_LINES = 200_000


class LineQueue:
    """Lines passed from one reader thread to the polling thread, bounded."""

    def __init__(self, limit: int = QUEUE_LINES) -> None:
        self.limit = limit
        self._lines: list[str] = []
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._lines)

    def put(self, lines: list[str], stop: threading.Event) -> None:
        """Add lines, waiting while the queue is full (until `stop` is set)."""
        with self._cond:
            while len(self._lines) >= self.limit and not stop.is_set():
                self._cond.wait(0.1)
            self._lines += lines

    def take(self, max_lines: int) -> list[str]:
        with self._cond:
            if len(self._lines) <= max_lines:
                lines, self._lines = self._lines, []
            else:
                lines = self._lines[:max_lines]
                del self._lines[:max_lines]
            self._cond.notify_all()
        return lines


def pump(
    read: Callable[[int], bytes],
    assembler: LineAssembler,
    queue: LineQueue,
    stop: threading.Event,
) -> str | None:
    """Read until end of input (or `stop`); return an error message or None."""
    try:
        while not stop.is_set():
            data = read(CHUNK_BYTES)
            if not data:
                return None
            lines = assembler.feed(data)
            if lines:
                queue.put(lines, stop)
        return None
    except (OSError, ValueError) as exc:  # ValueError: the pipe was closed under us
        return str(exc)
    finally:
        queue.put(assembler.flush(), stop)
