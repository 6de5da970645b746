"""Standard input as a source (`apimon-tui -`, e.g. `kubectl logs -f ... | apimon-tui -`)."""

from __future__ import annotations

import os
import sys
import threading
from typing import BinaryIO

from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.sources.pipe import LineQueue, pump


class StdinSource(Source):
    """Reads a binary stream (stdin by default) in a daemon thread until EOF."""

    def __init__(self, *, label: str | None = None, stream: BinaryIO | None = None) -> None:
        super().__init__(label or "stdin", follow=True)
        stream = stream if stream is not None else sys.stdin.buffer
        try:
            fd = stream.fileno()
            read = lambda n: os.read(fd, n)  # noqa: E731 - returns what is there, not n bytes
        except (AttributeError, OSError, ValueError):
            read = stream.read1 if hasattr(stream, "read1") else stream.read
        self._queue = LineQueue()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(read,), name="apimon-stdin", daemon=True)
        self._thread.start()

    def _run(self, read) -> None:
        self._error = pump(read, self._assembler, self._queue, self._stop)
        self._closed.set()

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        return batch(self.label, self._queue.take(max_lines))

    @property
    def state(self) -> str:
        return "closed" if self._closed.is_set() else "reading"

    @property
    def at_eof(self) -> bool:
        return self._closed.is_set() and not len(self._queue)

    def close(self) -> None:
        """Stop handing out lines; a read blocked on the terminal ends with the process."""
        self._stop.set()
