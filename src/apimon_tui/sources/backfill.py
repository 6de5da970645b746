"""The older part of a file's look-back, read backwards by blocks: newest block first.

At start the monitor follows a file from the start of its newest minutes
(the first paint shows them), and a `BackfillSource` reads the span before
that, `[start, end)`, in blocks of whole lines from `end` back to `start`.
Each block read moves `loaded_from` back, so what the store holds is always
everything from `loaded_from` on: a window inside it is exact, and one that
reaches before it is known to be partial.

In a format whose calls span lines (`call_starts`), each block begins at a
call's start: the lines before the first start read go to the next, older,
block, so no call is cut at a block's edge, and each block is parsed by a
fresh parser (`block_ended` tells the reader where one ends). A block with
no call's start grows up to `MAX_BLOCK_BYTES`, then is read as it is: memory
stays bounded, at the cost of the call cut at its edge, if any.

The file is held open, so a rotation meanwhile does not change what is read;
a file cut shorter than `end` ends the reading there.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.sources.file import SINCE_PROBE_BYTES, _first_dated_line
from apimon_tui.sources.lines import LineAssembler
from apimon_tui.sources.seek import CallStarts, first_call_start

BLOCK_BYTES = 4 * 1024 * 1024  # one block of older lines (some 20,000 lines of a JSON log)
FEED_BYTES = 256 * 1024  # a block is split into lines this much at a time, as a file is read forwards
MAX_BLOCK_BYTES = 64 * 1024 * 1024  # a block holding no call's start grows up to this, then is read as it is

TimeOfLine = Callable[[str], float | None]


class BackfillSource(Source):
    """Lines of `path` in `[start, end)` (line starts), one block at a time from the end back."""

    def __init__(self, path: str, start: int, end: int, loaded_from: float, ts_of_line: TimeOfLine,
                 *, block_bytes: int = BLOCK_BYTES, call_starts: CallStarts | None = None) -> None:
        """`start` and `end` are line starts (calls' starts, with `call_starts`)."""
        super().__init__(path, follow=False)
        self.start, self.end = start, end
        self.loaded_from = loaded_from  # every line from this time on has been handed out
        self.block_bytes = block_bytes
        self.block_ended = False  # the last lines handed out ended a block
        self._ts_of_line = ts_of_line
        self._call_starts = call_starts
        self._file: io.BufferedReader | None = open(path, "rb")
        self._next_end = end  # the blocks before this offset are still to read
        self._ready: list[str] = []
        self._block_from: float | None = None  # the time the block being handed out starts at
        self._error: str | None = None
        if start >= end:
            self._stop(None)

    @property
    def total_bytes(self) -> int:
        return self.end - self.start

    @property
    def done_bytes(self) -> int:
        """Bytes read so far (for the progress shown while loading)."""
        return self.end - self._next_end

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        if not self._ready and self._file is not None:
            self._read_block()
        lines, self._ready = self._ready[:max_lines], self._ready[max_lines:]
        self.block_ended = bool(lines) and not self._ready  # the block is out whole
        if self.block_ended and self._block_from is not None:
            self.loaded_from = min(self.loaded_from, self._block_from)
            self._block_from = None
        return batch(self.label, lines)

    def _read_block(self) -> None:
        f, end = self._file, self._next_end
        size = self.block_bytes
        while True:
            begin = self._line_start(max(self.start, end - size))
            if begin >= end:  # one line longer than a block
                size *= 2
                continue
            try:
                data = os.pread(f.fileno(), end - begin, begin)
            except OSError as exc:
                self._stop(f"cannot read {self.label}: {exc.strerror or exc}")
                return
            lines = _lines_of(data)
            if self._call_starts is None or begin <= self.start or len(data) < end - begin:
                break
            first = first_call_start(data, lines, self._call_starts)
            if first is not None:
                index, offset = first
                lines, begin = lines[index:], begin + offset  # the lines before it go with the older block
                break
            if size >= MAX_BLOCK_BYTES:
                break
            size *= 2  # no call starts in it: a longer block
        self._ready = lines
        self._next_end = begin
        dated = _first_dated_line(f, begin, self._ts_of_line, SINCE_PROBE_BYTES) if begin > self.start else None
        self._block_from = dated[2] if dated is not None else (-float("inf") if begin <= self.start else None)
        if len(data) < end - begin:
            self._stop(f"{self.label} was cut shorter while its look-back was read")
        elif begin <= self.start:
            self._stop(None)

    def _line_start(self, pos: int) -> int:
        """The first line start at or after `pos` (a block never begins mid-line)."""
        if pos <= self.start:
            return self.start
        f = self._file
        f.seek(pos - 1)
        while True:
            piece = f.read(64 * 1024)
            if not piece:
                return self._next_end
            newline = piece.find(b"\n")
            if newline >= 0:
                return min(f.tell() - len(piece) + newline + 1, self._next_end)

    def _stop(self, error: str | None) -> None:
        self._error = error
        self._file.close()
        self._file = None

    @property
    def state(self) -> str:
        return "look-back read" if self.at_eof else "reading look-back"

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def at_eof(self) -> bool:
        return self._file is None and not self._ready

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._ready = []


def _lines_of(data: bytes) -> list[str]:
    """The lines of `data` (whole lines), as a `LineAssembler` fed it in `FEED_BYTES` pieces.

    In one piece longer than a line may be, the assembler would look at every
    line for one too long, at a cost (a quarter of the reading of a block of
    short lines) that pieces shorter than that limit never pay.
    """
    assembler = LineAssembler()
    lines: list[str] = []
    for at in range(0, len(data), FEED_BYTES):
        lines += assembler.feed(data[at:at + FEED_BYTES])
    return lines + assembler.flush()
