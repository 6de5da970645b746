"""The terminal the monitor draws on, and leaving it in order whatever ends the run.

Textual draws on stderr. When stderr is no terminal (`2>/dev/null`, `2>&-`, a
closed pipe) the screen goes to stdout or `/dev/tty` instead. Every write goes
through `TerminalStream`, which never raises: Textual's writer thread dies on
its first failed write, and the app then blocks for ever on the writer's full
queue, deaf to signals. A failed write means the terminal is gone, so the app
is asked to exit.

SIGTERM, SIGHUP and SIGINT end the app through its own exit, which restores
the terminal (normal screen, mouse tracking off, cursor shown). If that has not
finished after `GRACE_S` (a terminal that takes no more output, a stuck
thread), `Shutdown` restores what it can without blocking, stops the sources
and leaves. A second signal does that at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable
from typing import TextIO

from textual.drivers.linux_driver import LinuxDriver

GRACE_S = 3.0
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
EXIT_TERMINAL_LOST = 1
FORCE_LIMIT_S = 10.0  # how long the end of a run waits for a forced exit under way
RESTORE_TRIES = 200  # 5 ms apart: each discard lets a stuck write of the app move on by a buffer's worth
# What Textual's driver turns on, turned off: kitty keyboard, mouse tracking, bracketed paste,
# focus events, in-band resize; then line wrap on, the normal screen back and the cursor shown.
RESTORE = ("\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?2048l"
           "\x1b[?7h\x1b[?1049l\x1b[?25h")


def open_terminal() -> TextIO | None:
    """Where to draw: stderr (as Textual does) or stdout when it is a terminal open for writing, else /dev/tty."""
    for stream in (sys.__stderr__, sys.__stdout__):
        if stream is not None and _writable_tty(stream):
            return stream
    try:
        return open("/dev/tty", "w", encoding="utf-8", errors="replace")
    except OSError:
        return None


def _writable_tty(stream: TextIO) -> bool:
    try:
        fd = stream.fileno()
        return os.isatty(fd) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    except (OSError, ValueError):
        return False


class TerminalStream:
    """The driver's output: writes that fail are dropped and reported once, never raised."""

    def __init__(self, stream: TextIO, on_lost: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_lost = on_lost
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as exc:
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def fileno(self) -> int:
        return self._stream.fileno()

    def discard(self) -> None:
        """Drop all further output (the terminal is being restored around the app)."""
        self.lost = True

    def _lose(self, exc: Exception) -> None:
        self.lost = True
        self._on_lost(getattr(exc, "strerror", None) or str(exc))


class MonitorDriver(LinuxDriver):
    """Textual's Linux driver, drawing on `app.terminal` through a `TerminalStream`, with `app.shutdown` armed."""

    def __init__(self, app, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self.restored = False
        self._file = TerminalStream(app.terminal, app.shutdown.terminal_lost)
        app.shutdown.install(asyncio.get_running_loop(), self)

    def close(self) -> None:
        """Textual's restoring writes are queued in `stop_application_mode`; here they have reached the terminal."""
        super().close()
        self.restored = True

    def restore_now(self) -> None:
        """Put the terminal back without waiting on it for long.

        The app's own output stops here. What the terminal has not taken yet
        is discarded (a screen being left) and output restarted, which wakes a
        write of the app's stuck on a full terminal and lets it end (it holds
        the terminal until then); then the restoring sequences go in, CAN first
        to end any sequence the discarding cut in two. A terminal that still
        takes nothing after `RESTORE_TRIES` tries is left as it is.
        """
        if self.restored:
            return
        self._file.discard()
        if self.attrs_before is not None:
            try:
                termios.tcsetattr(self.fileno, termios.TCSANOW, self.attrs_before)
            except (termios.error, OSError):
                pass
        try:
            fd = os.open(os.ttyname(self._file.fileno()), os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except (OSError, ValueError):
            return
        try:
            for _ in range(RESTORE_TRIES):
                try:
                    termios.tcflush(fd, termios.TCOFLUSH)
                    termios.tcflow(fd, termios.TCOOFF)  # off and on again: wakes the stuck write
                    termios.tcflow(fd, termios.TCOON)
                    os.write(fd, ("\x18" + RESTORE).encode())
                    return
                except BlockingIOError:  # the app's stuck write still holds the terminal
                    time.sleep(0.005)
                except (termios.error, OSError):
                    return
        finally:
            os.close(fd)


class Shutdown:
    """Ends the app on a signal or a lost terminal: through its own exit, or by force after `grace_s`."""

    def __init__(self, app, stop_sources: Callable[[], None], grace_s: float = GRACE_S) -> None:
        self._app = app
        self._stop_sources = stop_sources
        self._grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driver: MonitorDriver | None = None
        self._code: int | None = None
        self._forcing = threading.Event()
        self.lost: str | None = None  # why the terminal stopped taking output

    def install(self, loop: asyncio.AbstractEventLoop, driver: MonitorDriver) -> None:
        """Handle the signals (called on the main thread, from the driver, before the first frame)."""
        self._loop, self._driver = loop, driver
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        self.request(128 + signum)

    def terminal_lost(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
            self.request(EXIT_TERMINAL_LOST)

    def request(self, code: int) -> None:
        """Ask the app to exit with `code`; a second request, or an app that cannot be asked, forces it."""
        if self._code is not None:
            self.force()
            return
        self._code = code
        threading.Thread(target=self._force_after_grace, name="apimon-shutdown", daemon=True).start()
        try:
            self._loop.call_soon_threadsafe(self._app.exit, None, code)
        except (AttributeError, RuntimeError):  # no loop, or it is closed
            self.force()

    def settle(self) -> None:
        """Called once the app has ended: a forced exit already under way finishes first (it may be
        restoring the terminal around output the app's own exit then had dropped)."""
        if self._forcing.is_set():
            threading.Event().wait(FORCE_LIMIT_S)

    def _force_after_grace(self) -> None:
        time.sleep(self._grace_s)
        self.force()

    def force(self) -> None:
        """Restore the terminal without blocking, stop the sources and leave now."""
        self._forcing.set()
        if self._driver is not None:
            self._driver.restore_now()
        try:
            self._stop_sources()
        finally:
            os._exit(self._code or 0)
