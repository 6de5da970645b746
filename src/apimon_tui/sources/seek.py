"""Where to start reading a file: at the start of a call, and how new its newest line is.

A look-back finds a time in a file by a binary search on its dated lines
(`file.offset_since`). In a format whose calls span lines (openai-sdk's
debug lines, LiteLLM's pretty-printed payloads) the line found may be in the
middle of a call, whose first lines a reader starting there would miss: it
steps back to the start of that call instead, where the format's
`call_starts(lines)` says a fresh parser can start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from apimon_tui.sources.file import _lines_from

STEP_BACK_BYTES = 64 * 1024        # the stretch before a line first looked at for a call's start,
MAX_STEP_BACK_BYTES = 16 << 20     # four times longer at each miss up to this; then the file's start
TAIL_BYTES = 64 * 1024             # where the newest dated line is looked for

CallStarts = Callable[[list[str]], Iterator[int]]  # a format's `call_starts`


def call_start_before(path: str, pos: int, starts: CallStarts | None) -> int:
    """The start of the last call that starts at or before `pos` (a line start).

    `pos` itself when any line is a call's start (`starts` None) or when it is
    the end of the file; 0 when no call starts within `MAX_STEP_BACK_BYTES`
    before it (reading from the file's start misses nothing).
    """
    if starts is None or pos <= 0:
        return pos
    try:
        f = open(path, "rb")
    except OSError:
        return 0
    with f:
        if pos >= os.fstat(f.fileno()).st_size:
            return pos
        span = STEP_BACK_BYTES
        while True:
            begin = max(0, pos - span)
            offsets, texts = [], []
            for start, _end, text in _lines_from(f, begin):
                if start > pos:
                    break
                offsets.append(start)
                texts.append(text)
            found = list(starts(texts))
            if found:
                return offsets[found[-1]]
            if begin == 0 or span >= MAX_STEP_BACK_BYTES:
                return 0
            span *= 4


def first_call_start(data: bytes, lines: list[str], starts: CallStarts) -> tuple[int, int] | None:
    """(index, byte offset in `data`) of the first call start among `lines`, `data`'s lines; None if none."""
    index = next(iter(starts(lines)), None)
    if index is None:
        return None
    offset = 0
    for _ in range(index):
        offset = data.index(b"\n", offset) + 1
    return index, offset


def last_line_time(path: str, ts_of_line, tail_bytes: int = TAIL_BYTES) -> float | None:
    """The time of the file's last dated line (in its last `tail_bytes`), None if none is dated.

    Lines are cut at newlines only, a carriage return before one dropped, as
    the reader cuts them: `str.splitlines` also cuts at `\\x85`, `\\u2028` and
    others, and a piece of a line may read as a line it is not.
    """
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - tail_bytes))
        tail = f.read().decode("utf-8", "replace").split("\n")
    for line in reversed(tail[1:] if len(tail) > 1 else tail):
        ts = ts_of_line(line[:-1] if line.endswith("\r") else line)
        if ts is not None:
            return ts
    return None
