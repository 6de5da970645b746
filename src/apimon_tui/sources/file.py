"""Following one file like `tail -F`, by polling (no inotify dependency).

Each `read_lines()` call is one poll: read what the file gained (at most
`read_budget` bytes, so one huge file cannot starve the others), and at the
end of the data look at the path to notice what happened to it:

- truncated in place (`copytruncate`): the size fell below our offset, or the
  first block changed; start over from 0;
- rotated by rename (or replaced): the path now names another inode; read the
  rest of the old file through the open descriptor, and keep reading it until
  its writer has moved on to the new file (an app writes to the renamed file
  until it reopens its log, e.g. on logrotate's postrotate signal); read the
  files rotated since it that were never seen (several rotations between two
  polls: the path's siblings such as `app.log.1` or `app.log-20261203`,
  written since the old file was) from their start, oldest first; then open
  the new file from its start;
- gone: keep reading the old descriptor while the renamed file still exists,
  and wait for the path to return (then it is read from its start).

`offset_since` finds where to start for `--since` by a binary search on byte
offsets, reading a few lines per probe instead of the whole file.
"""

from __future__ import annotations

import io
import os
import re
import stat
import time
from collections import OrderedDict
from typing import Callable

from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.sources.lines import MAX_LINE_BYTES, LineAssembler

CHUNK_BYTES = 256 * 1024
READ_BUDGET_BYTES = 8 * 1024 * 1024   # per file per read_lines() call
FIRST_BLOCK_BYTES = 4096              # compared to notice a rewritten file
EVENT_SECONDS = 5.0                   # how long `rotated`/`truncated` stay shown
SINCE_PROBE_BYTES = 64 * 1024         # how far one probe looks for a dated line
SINCE_LINEAR_BYTES = 8 * 1024         # below this the search reads linearly

SEEN_KEEP = 64                        # files remembered as read, so a rotated one is not read twice
# What logrotate adds to a rotated file's name: `.1`, `-20261203`, `-2026-12-03-1764720000`
# (not `.1.gz`: compressed, not text; not `_errors` or `.bak`: another file).
_ROTATED_SUFFIX = re.compile(r"[.\-_]\d[\d\-_.T:]*")
_GENERATION = re.compile(r"\.(\d{1,4})$")  # `app.log.2`: the higher, the older (a date is not one)

Ident = tuple[int, int]               # (st_dev, st_ino)
StartAt = Callable[[str], int]        # path -> byte offset to start reading at


class Handoff:
    """Who holds which inode, and where a follower that let one go stopped.

    Shared by the files of one glob: when `app.log` is renamed to `app.log.1`
    and both match, the follower of `app.log.1` resumes where the follower of
    `app.log` stopped instead of reading it again from the start.
    """

    KEEP = 1024

    def __init__(self) -> None:
        self._holders: dict[Ident, str] = {}
        self._released: OrderedDict[Ident, tuple[int, bytes]] = OrderedDict()

    def holder(self, ident: Ident) -> str | None:
        return self._holders.get(ident)

    def hold(self, ident: Ident, owner: str) -> None:
        self._holders[ident] = owner

    def release(self, ident: Ident, owner: str, offset: int, first_block: bytes) -> None:
        if self._holders.get(ident) == owner:
            del self._holders[ident]
        self._released[ident] = (offset, first_block)
        while len(self._released) > self.KEEP:
            self._released.popitem(last=False)

    def claim(self, ident: Ident, fd: int) -> int | None:
        """The offset to resume `ident` at, if it is the file that was let go."""
        entry = self._released.pop(ident, None)
        if entry is None:
            return None
        offset, first_block = entry
        if os.pread(fd, len(first_block), 0) != first_block:
            return None  # the inode number was reused by another file
        return offset


class _Draining:
    """A file renamed away by a rotation, still read: its writer may write to it until it reopens the path."""

    def __init__(self, file: io.FileIO, ident: Ident, offset: int, first_block: bytes,
                 assembler: LineAssembler) -> None:
        self.file, self.ident, self.offset = file, ident, offset
        self.first_block, self.assembler = first_block, assembler

    def read(self, budget: int, chunk_bytes: int) -> tuple[list[str], int]:
        """The lines it gained (at most `budget` bytes) and the bytes read; -1 when it cannot be read."""
        lines: list[str] = []
        got = 0
        while got < budget:
            try:
                data = self.file.read(min(chunk_bytes, budget - got))
            except OSError:
                return lines, -1
            if not data:
                break
            got += len(data)
            lines += self.assembler.feed(data)
        self.offset += got
        return lines, got


class FileSource(Source):
    """One path, followed through growth, rotation, truncation and absence.

    `follow=False` reads the file once to its end (for `report`), from the
    start or from `start_at(path)`. `follow=True` starts at the end of a file
    that exists now (or at `start_at(path)`, or at 0 with `from_start`); a
    file that appears later is always read from its start.
    """

    def __init__(
        self,
        path: str,
        *,
        follow: bool = True,
        from_start: bool = False,
        label: str | None = None,
        start_at: StartAt | None = None,
        clock: Callable[[], float] = time.time,
        handoff: Handoff | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        read_budget: int = READ_BUDGET_BYTES,
    ) -> None:
        super().__init__(label or path, follow)
        self.path = path
        self.clock = clock
        self.chunk_bytes = chunk_bytes
        self.read_budget = read_budget
        self._from_start = from_start or not follow
        self._start_at = start_at
        self._handoff = handoff
        self._ready: list[str] = []
        self._file: io.FileIO | None = None
        self._ident: Ident | None = None
        self._offset = 0
        self._first_block = b""
        self._mtime_ns = 0
        self._base_state = "waiting for file"
        self._event: str | None = None
        self._event_at = 0.0
        self._done = False
        self._rotated: list[tuple[io.FileIO, os.stat_result]] = []  # rotated files to read before the path
        self._reading_rotated = False  # the open file is one of them, not the path's
        self._seen: OrderedDict[Ident, bytes] = OrderedDict()  # files read (first block: inodes are reused)
        self._draining: _Draining | None = None  # the file the last rotation renamed away
        self._rotated_ns = 0  # when the file a rotation was noticed on was last written
        self._unread = 0  # bytes of the open file left when the last poll stopped at its budget
        self._open(initial=True)

    # -- the Source interface -------------------------------------------

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        if len(self._ready) < max_lines and not self._done:
            self._poll(max_lines)
        if len(self._ready) <= max_lines:
            lines, self._ready = self._ready, []
        else:
            lines = self._ready[:max_lines]
            del self._ready[:max_lines]
        return batch(self.label, lines)

    @property
    def state(self) -> str:
        if self._event and self.clock() - self._event_at < EVENT_SECONDS:
            return self._event
        return self._base_state

    @property
    def at_eof(self) -> bool:
        return self._done and not self._ready

    @property
    def idle(self) -> bool:
        """No file open and no lines waiting to be handed out."""
        return self._file is None and self._draining is None and not self._ready

    @property
    def truncated(self) -> int:
        return self._assembler.truncated + (self._draining.assembler.truncated if self._draining else 0)

    @property
    def backlog_bytes(self) -> int:
        return self._unread

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        for f, _st in self._rotated:
            f.close()
        self._rotated = []
        if self._draining is not None:
            self._draining.file.close()
            self._draining = None
        self._done = True
        self._base_state = "closed"

    def let_go(self, max_lines: int = DEFAULT_MAX_LINES) -> bool:
        """Finish the open file and hand it over; False if not read to its end yet."""
        if self._file is None:
            return True
        if not self._read(max_lines, self.read_budget):
            return False
        self._release()
        self._base_state = "waiting for file"
        return True

    # -- opening --------------------------------------------------------

    def _open(self, initial: bool) -> bool:
        try:
            f = open(self.path, "rb", buffering=0)
        except FileNotFoundError:
            self._base_state = "waiting for file"
            if not self.follow:
                self._fail(f"no such file: {self.path}")
            return False
        except OSError as exc:
            self._fail(f"cannot open {self.path}: {exc.strerror or exc}")
            return False
        fd = f.fileno()
        st = os.fstat(fd)
        ident = (st.st_dev, st.st_ino)
        holder = self._handoff.holder(ident) if self._handoff else None
        if holder is not None and holder != self.path:
            f.close()  # still being read under its old name: wait for it
            return False
        offset = self._handoff.claim(ident, fd) if self._handoff else None
        if offset is None:
            offset = self._initial_offset(st.st_size) if initial else 0
        self._take(f, st, offset)
        self._reading_rotated = False
        return True

    def _take(self, f: io.FileIO, st: os.stat_result, offset: int) -> None:
        """Make `f` the open file, read on from `offset`."""
        fd = f.fileno()
        ident = (st.st_dev, st.st_ino)
        offset = max(0, min(offset, st.st_size))
        f.seek(offset)
        if offset > 0 and os.pread(fd, 1, offset - 1) != b"\n":
            self._assembler.skip_to_next_line()  # started mid-line
        self._file, self._ident, self._offset = f, ident, offset
        self._first_block = os.pread(fd, min(FIRST_BLOCK_BYTES, st.st_size), 0)
        self._mtime_ns = st.st_mtime_ns
        self._error = None
        self._base_state = "following" if self.follow else "reading"
        if self._handoff:
            self._handoff.hold(ident, self.path)

    def _initial_offset(self, size: int) -> int:
        if self._start_at is not None:
            return self._start_at(self.path)
        return 0 if self._from_start else size

    def _fail(self, message: str) -> None:
        self._error = message
        self._base_state = "unreadable" if os.path.exists(self.path) else "waiting for file"
        if not self.follow:
            self._done = True

    # -- one poll ---------------------------------------------------------

    def _poll(self, max_lines: int) -> None:
        if self._draining is not None:
            self._read_draining()
        if self._file is None and not self._next_file():
            return
        if self.follow:
            self._check_rewritten()
        if not self._read(max_lines, self.read_budget):
            return
        if not self.follow:
            self._ready += self._assembler.flush()
            self._file.close()
            self._file = None
            self._done = True
            self._base_state = "read to end"
            return
        self._check_path(max_lines)

    def _read(self, max_lines: int, budget: int) -> bool:
        """Read up to `budget` bytes; True when the end of the file was reached.

        Stopped short, it notes how much is left (`backlog_bytes`).
        """
        f, feed, ready = self._file, self._assembler.feed, self._ready
        self._unread = 0
        while len(ready) < max_lines and budget > 0:
            try:
                data = f.read(min(self.chunk_bytes, budget))
            except OSError as exc:
                self._error = f"cannot read {self.path}: {exc.strerror or exc}"
                return True
            if not data:
                return True
            self._offset += len(data)
            budget -= len(data)
            ready += feed(data)
        self._unread = max(0, os.fstat(f.fileno()).st_size - self._offset)
        return False

    def _check_rewritten(self) -> None:
        """Start over from 0 if the file was truncated or rewritten in place."""
        fd = self._file.fileno()
        st = os.fstat(fd)
        if st.st_size >= self._offset and st.st_mtime_ns == self._mtime_ns:
            return
        self._mtime_ns = st.st_mtime_ns
        block = self._first_block
        if st.st_size >= self._offset and os.pread(fd, len(block), 0) == block:
            if len(block) < FIRST_BLOCK_BYTES and st.st_size > len(block):
                self._first_block = os.pread(fd, min(FIRST_BLOCK_BYTES, st.st_size), 0)
            return
        self._file.seek(0)
        self._offset = 0
        self._assembler.reset()
        self._first_block = os.pread(fd, min(FIRST_BLOCK_BYTES, st.st_size), 0)
        self._mark("truncated")

    def _check_path(self, max_lines: int) -> None:
        """At the end of the open file: has the path moved on to another file?"""
        if self._reading_rotated:
            self._on_from_rotated()
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._base_state = "waiting for file"
            if os.fstat(self._file.fileno()).st_nlink == 0:
                self._release()  # deleted, not renamed: nobody can write to it
            return
        except OSError as exc:
            self._error = f"cannot stat {self.path}: {exc.strerror or exc}"
            return
        ident = (st.st_dev, st.st_ino)
        if ident == self._ident:
            self._base_state = "following"
            return
        holder = self._handoff.holder(ident) if self._handoff else None
        if holder is not None and holder != self.path:
            return  # another follower still reads the new file under its old name
        if not self._read(max_lines, self.read_budget):
            return  # lines written to the old file since: finish them first
        self._rotated_ns = os.fstat(self._file.fileno()).st_mtime_ns
        self._on_from_rotated()

    def _on_from_rotated(self) -> None:
        """The open file, read to its end, was rotated away: on to the next rotated file
        not read yet, else the path's.

        The siblings are looked at again each time (the path's file may have been
        rotated meanwhile). The last one before the path's is kept and read on: its
        writer may still write to it until it reopens the path.
        """
        if not self._rotated:
            self._rotated = self._rotated_since(self._rotated_ns)
        if self._rotated:
            self._release()  # a newer one exists: the writer has left this one
        else:
            self._start_draining()
        if self._next_file():
            self._mark("rotated")

    def _next_file(self) -> bool:
        """The next file to read: a rotated file not read yet, else the one the path names."""
        while self._rotated:
            f, st = self._rotated.pop(0)
            ident = (st.st_dev, st.st_ino)
            if self._handoff and self._handoff.holder(ident) not in (None, self.path):
                f.close()  # a glob's follower of its new name has taken it meanwhile
                continue
            offset = self._handoff.claim(ident, f.fileno()) if self._handoff else None
            self._take(f, st, offset or 0)
            self._reading_rotated = True
            return True
        return self._open(initial=False)

    def _rotated_since(self, written_ns: int) -> list[tuple[io.FileIO, os.stat_result]]:
        """The path's rotated siblings written since `written_ns`, never read: opened
        (so further renames do not matter), oldest first.

        logrotate's names (`_ROTATED_SUFFIX`): `app.log.1` (the higher the number, the older),
        `app.log-20261203` (in the order of their names).
        """
        folder, base = os.path.split(self.path)
        found = []
        try:
            names = os.listdir(folder or ".")
        except OSError:
            return []
        skip = {self._ident, self._draining and self._draining.ident, self._path_ident()}
        for name in names:
            if not (name.startswith(base) and _ROTATED_SUFFIX.fullmatch(name, len(base))):
                continue
            try:
                f = open(os.path.join(folder, name), "rb", buffering=0)
            except OSError:
                continue
            st = os.fstat(f.fileno())
            ident = (st.st_dev, st.st_ino)
            if (not stat.S_ISREG(st.st_mode) or st.st_mtime_ns < written_ns or ident in skip
                    or self._was_read(ident, f.fileno()) or (self._handoff and self._handoff.holder(ident))):
                f.close()
                continue
            generation = _GENERATION.search(name)
            found.append(((st.st_mtime_ns, -int(generation.group(1)) if generation else 0, name), f, st))
        found.sort(key=lambda item: item[0])
        return [(f, st) for _key, f, st in found]

    def _path_ident(self) -> Ident | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _was_read(self, ident: Ident, fd: int) -> bool:
        block = self._seen.get(ident)
        return block is not None and os.pread(fd, len(block), 0) == block

    def _release(self) -> None:
        self._ready += self._assembler.flush()
        if self._ident is not None:
            self._done_with(self._ident, self._offset, self._first_block)
        self._file.close()
        self._file = None
        self._ident = None

    def _done_with(self, ident: Ident, offset: int, first_block: bytes) -> None:
        """Remember a file as read, and hand it over to the glob's other followers."""
        self._seen[ident] = first_block
        while len(self._seen) > SEEN_KEEP:
            self._seen.popitem(last=False)
        if self._handoff:
            self._handoff.release(ident, self.path, offset, first_block)

    def _start_draining(self) -> None:
        """Keep the open file (read to its end) as the one rotated away; the next file gets a new assembler."""
        if self._draining is not None:
            self._read_draining(finish=True)
        self._draining = _Draining(self._file, self._ident, self._offset, self._first_block, self._assembler)
        self._assembler = LineAssembler(self._assembler.max_line)
        self._file = None
        self._ident = None

    def _read_draining(self, finish: bool = False) -> None:
        """Read what the rotated file gained; let it go once its writer has moved on.

        The writer has moved on when the new file has data and, read after
        that was seen, the old one had nothing more (one writer writes the
        old file, then the new one: nothing comes after). A deleted one is let
        go once it has nothing more, so that its space is not held.
        """
        draining = self._draining
        moved_on = finish or self._new_file_has_data() or os.fstat(draining.file.fileno()).st_nlink == 0
        lines, got = draining.read(self.read_budget, self.chunk_bytes)
        self._ready += lines
        while finish and got > 0:
            lines, got = draining.read(self.read_budget, self.chunk_bytes)
            self._ready += lines
        if got > 0:
            return
        if got < 0 or moved_on:  # -1: cannot be read any more
            self._ready += draining.assembler.flush()
            self._assembler.truncated += draining.assembler.truncated
            self._done_with(draining.ident, draining.offset, draining.first_block)
            draining.file.close()
            self._draining = None

    def _new_file_has_data(self) -> bool:
        if self._file is None or self._reading_rotated:
            return False
        return os.fstat(self._file.fileno()).st_size > 0

    def _mark(self, event: str) -> None:
        self._event = event
        self._event_at = self.clock()


def offset_since(
    path: str,
    since_ts: float,
    ts_of_line: Callable[[str], float | None],
    *,
    window: int = SINCE_PROBE_BYTES,
) -> int:
    """Byte offset of the first line whose timestamp is >= `since_ts`.

    Lines the callback cannot date (it returns None) are stepped over; undated
    lines right before the first match are included. Returns 0 when the start
    of the file cannot be dated (so nothing is lost), and the file size when
    every line is older.
    """
    try:
        f = open(path, "rb")
    except OSError:
        return 0
    with f:
        size = os.fstat(f.fileno()).st_size
        first = _first_dated_line(f, 0, ts_of_line, window)
        if first is None or first[2] >= since_ts:
            return 0
        lo, hi = first[1], size  # lo: the start of a line after an older one
        while hi - lo > SINCE_LINEAR_BYTES:
            mid = (lo + hi) // 2
            probe = _first_dated_line(f, mid, ts_of_line, window)
            if probe is None or probe[0] >= hi or probe[2] >= since_ts:
                hi = mid
            else:
                lo = probe[1]
        return _scan_since(f, lo, since_ts, ts_of_line)


def _lines_from(f: io.BufferedReader, pos: int):
    """Yield (start, end, text) for each whole line starting at or after `pos`."""
    f.seek(max(0, pos - 1))
    if pos > 0:
        if f.read(1) != b"\n":
            skipped = f.readline(MAX_LINE_BYTES)
            while skipped and not skipped.endswith(b"\n"):
                skipped = f.readline(MAX_LINE_BYTES)
    start = f.tell()
    while True:
        raw = f.readline(MAX_LINE_BYTES)
        if not raw:
            return
        end = start + len(raw)
        yield start, end, raw.rstrip(b"\r\n").decode("utf-8", "replace")
        start = end


def _first_dated_line(f, pos, ts_of_line, window):
    """(start, end, ts) of the first datable line after `pos`, within `window` bytes."""
    for start, end, text in _lines_from(f, pos):
        ts = ts_of_line(text)
        if ts is not None:
            return start, end, ts
        if end - pos > window:
            return None
    return None


def _scan_since(f, pos, since_ts, ts_of_line) -> int:
    """Read on from `pos` to the first line dated >= `since_ts`."""
    candidate = pos
    for _start, end, text in _lines_from(f, pos):
        ts = ts_of_line(text)
        if ts is None:
            continue
        if ts >= since_ts:
            return candidate
        candidate = end
    return candidate
