"""Appending JSON lines from any thread, in batches, off the caller's path.

`submit()` only appends to a queue: rendering items into records, encoding
and writing happen on a background thread every `flush_interval` seconds (or
sooner when many are waiting), on `flush()`, and at interpreter exit. Before
each batch the file is checked: when it was rotated away (its inode changed)
or removed, it is reopened, so logrotate-style rotation loses nothing. The
file is created 0600 (and so is each new one after a rotation).

An item submitted while the interpreter is finalizing (after the exit flush,
when no thread can start and daemon threads are frozen) is written at once
by the submitting thread if the interpreter still can, else dropped: it
never hangs or fails the exit.

Nothing here ever raises into the caller. A record that cannot be rendered
or written, or that is dropped because `max_pending` records are already
waiting, is counted in `failed`; the first failure is reported once through
`logging`, and the writer keeps trying on later batches.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, Any, Callable

from apimon_tui.core.files import private_opener

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[JsonlWriter] = weakref.WeakSet()


class JsonlWriter:
    """A buffered, thread-safe, rotation-proof JSON-lines appender."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        render: Callable[[Any], dict[str, Any] | None] = lambda item: item,
        *,
        flush_interval: float = 0.5,
        batch: int = 512,
        max_pending: int = 100_000,
    ) -> None:
        self.path = Path(path).expanduser()
        self.render = render
        self.flush_interval = flush_interval
        self.batch = batch
        self.max_pending = max_pending
        self.written = 0
        self.failed = 0
        self._pending: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._identity: tuple[int, int] | None = None
        self._reported = False
        _LIVE.add(self)

    def submit(self, item: Any) -> None:
        """Queue one item; cheap and non-blocking, safe from any thread or event loop."""
        pending = self._pending
        pending.append(item)
        if sys.is_finalizing():
            self._flush_at_shutdown()
            return
        if self._thread is None:
            self._start()
        if len(pending) >= self.batch:
            if len(pending) > self.max_pending:
                pending.popleft()
                self._fail(1, f"more than {self.max_pending} records waiting for {self.path}")
            self._wake.set()

    def flush(self) -> None:
        """Render and write everything queued so far; never raises."""
        with self._flush_lock:
            lines = self._render_pending()
            if lines:
                self._write("".join(lines), len(lines))

    def _flush_at_shutdown(self) -> None:
        """Flush while finalizing, best effort: only this thread still runs, but a frozen daemon
        thread may hold the lock (waiting for it would hang the exit) and builtins may be gone."""
        try:
            if self._flush_lock.acquire(timeout=1.0):
                self._flush_lock.release()
                self.flush()
        except Exception:  # the interpreter is half torn down: the record is lost, the exit goes on
            pass

    def close(self) -> None:
        self.flush()
        with self._flush_lock:
            self._close_file()

    # -- internals -------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"apimon-writer:{self.path.name}", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def _render_pending(self) -> list[str]:
        lines = []
        pending = self._pending
        while pending:
            item = pending.popleft()
            try:
                record = self.render(item)
                if record is not None:
                    lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
            except Exception as exc:  # a bug in rendering must not stop the writer
                self._fail(1, f"could not build a record ({type(exc).__name__}: {exc})")
        return lines

    def _write(self, text: str, count: int) -> None:
        try:
            handle = self._open()
            handle.write(text)
            handle.flush()
        except (OSError, ValueError) as exc:
            self._close_file()
            self._fail(count, f"cannot write to {self.path} ({getattr(exc, 'strerror', None) or exc})")
            return
        self.written += count

    def _open(self) -> IO[str]:
        """The open file, reopened when the path now names another file or none."""
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if self._file is not None and current == self._identity:
            return self._file
        self._close_file()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = open(self.path, "a", encoding="utf-8", opener=private_opener)
        st = os.fstat(handle.fileno())
        self._file, self._identity = handle, (st.st_dev, st.st_ino)
        return handle

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file, self._identity = None, None

    def _fail(self, count: int, reason: str) -> None:
        self.failed += count
        if not self._reported:
            self._reported = True
            log.warning("apimon-tui: %s; call records are being dropped (counted, reported once)", reason)


@atexit.register
def _flush_all() -> None:
    for writer in list(_LIVE):
        writer.flush()
