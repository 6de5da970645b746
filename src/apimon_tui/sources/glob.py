"""Following every file that matches a pattern, picking up new matches.

Each match gets its own `FileSource`, and its lines are tagged with its path.
The followers share a `Handoff`, so a file renamed from one matching name to
another (`app.log` -> `app.log.1` under `app.log*`) is resumed where it was
left, never read twice. A follower whose path is gone and whose file is
closed is dropped; the path is picked up again if it returns.
"""

from __future__ import annotations

import glob as _glob
import os
import time
from typing import Callable

from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source
from apimon_tui.sources.file import FileSource, Handoff, StartAt


class GlobSource(Source):
    """All files matching `pattern`; files that exist now are initial, later ones new."""

    def __init__(
        self,
        pattern: str,
        *,
        follow: bool = True,
        from_start: bool = False,
        label: str | None = None,
        start_at: StartAt | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(label or pattern, follow)
        self.pattern = os.path.expanduser(pattern)
        self.clock = clock
        self._from_start = from_start
        self._start_at = start_at
        self._handoff = Handoff()
        self._files: dict[str, FileSource] = {}
        self._dropped_truncated = 0
        self._turn = 0
        self._scan(initial=True)

    @property
    def files(self) -> list[str]:
        """The paths followed now."""
        return list(self._files)

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        if self.follow:
            self._scan(initial=False)
        followers = list(self._files.values())
        if followers:
            # Start with a different file each call so none is starved.
            start = self._turn % len(followers)
            followers = followers[start:] + followers[:start]
            self._turn += 1
        out: Batches = []
        left = max_lines
        for follower in followers:
            if left <= 0:
                break
            for label, lines in follower.read_batches(left):
                out.append((label, lines))
                left -= len(lines)
        self._drop_gone()
        return out

    @property
    def state(self) -> str:
        if not self._files:
            return "waiting for files" if self.follow else "no matching files"
        if not self.follow:
            return "read to end" if self.at_eof else f"reading {len(self._files)} files"
        events = {f.state for f in self._files.values()} - {"following"}
        word = f"following {len(self._files)} file" + ("s" if len(self._files) != 1 else "")
        return f"{word} ({', '.join(sorted(events))})" if events else word

    @property
    def error(self) -> str | None:
        errors = [f.error for f in self._files.values() if f.error]
        return errors[-1] if errors else None

    @property
    def truncated(self) -> int:
        return self._dropped_truncated + sum(f.truncated for f in self._files.values())

    @property
    def at_eof(self) -> bool:
        return not self.follow and all(f.at_eof for f in self._files.values())

    @property
    def backlog_bytes(self) -> int:
        return sum(f.backlog_bytes for f in self._files.values())

    def close(self) -> None:
        for follower in self._files.values():
            follower.close()

    def _scan(self, initial: bool) -> None:
        for path in sorted(_glob.glob(self.pattern)):
            if path in self._files or not os.path.isfile(path):
                continue
            if not self._free(path):
                continue
            self._files[path] = FileSource(
                path,
                follow=self.follow,
                from_start=self._from_start if initial else True,
                start_at=self._start_at if initial else None,
                clock=self.clock,
                handoff=self._handoff,
            )

    def _free(self, path: str) -> bool:
        """False while another follower still reads this file under its old name."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        holder = self._handoff.holder((st.st_dev, st.st_ino))
        if holder is None:
            return True
        other = self._files.get(holder)
        if other is None:
            return True
        return not os.path.exists(holder) and other.let_go()

    def _drop_gone(self) -> None:
        for path, follower in list(self._files.items()):
            if follower.idle and not os.path.exists(path):
                self._dropped_truncated += follower.truncated
                follower.close()
                del self._files[path]
