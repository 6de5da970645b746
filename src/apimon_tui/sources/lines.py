"""Bytes in, complete text lines out.

Every source reads raw byte chunks that end anywhere: mid-line, mid-character,
between `\\r` and `\\n`. `LineAssembler` turns them into whole lines with all
the work done by C-level bytes/str methods on the whole chunk (no per-byte
Python loop), so it stays near the speed of a bare `bytes.split` loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from apimon_tui.formats.base import BLOCK_PADDING

MAX_LINE_BYTES = 1 << 20  # 1 MiB: longer lines are cut here and counted
LONG_LINE_BYTES = 256  # a line this long is found sooner by `find` than by `split`


def decode_lines(data: bytes, start: int, end: int) -> list[str]:
    """The lines of `data[start:end]` (which ends with a newline, and holds no carriage return), decoded.

    What decoding it whole and splitting at each newline gives (a newline byte is
    never part of a UTF-8 character), with less copying: `str.split` compares
    every character in turn (some 0.5 ns each: 9 µs for a 17 KB LiteLLM
    payload) where `bytes.find` runs memchr over them, and a long line is decoded
    alone, straight into its own string. From the first short line on (where a
    call costs more than the characters it skips), the rest is decoded and split at once.
    """
    view, find = memoryview(data), data.find
    lines: list[str] = []
    stop = find(b"\n", start, end)
    while stop - start >= LONG_LINE_BYTES:
        lines.append(str(view[start:stop], "utf-8", "replace"))
        start = stop + 1
        stop = find(b"\n", start, end)
    if start < end:
        lines += str(view[start:end], "utf-8", "replace").split("\n")
        lines.pop()  # the empty string after the final newline
    return lines


class LineAssembler:
    """Split a byte stream into `str` lines, holding the partial last line.

    A line longer than `max_line` bytes is cut at `max_line` (the cut part is
    returned as a line as soon as it is known to be too long, so memory stays
    bounded) and the rest up to the next newline is dropped; `truncated`
    counts such lines. Invalid UTF-8 becomes U+FFFD.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.truncated = 0
        self._pending = bytearray()
        self._dropping = False

    @property
    def pending_bytes(self) -> int:
        """Bytes of the partial line held back, waiting for its newline."""
        return len(self._pending)

    def feed(self, chunk: bytes) -> list[str]:
        """Add a chunk; return the lines it completes (without newlines)."""
        start = 0  # the chunk is sliced through a memoryview: no copies
        if self._dropping:
            start = chunk.find(b"\n") + 1
            if start == 0:
                return []
            self._dropping = False
        view = memoryview(chunk)
        lines: list[str] = []
        if self._pending:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._pending += view[start:]
                self._cut_if_too_long(lines)
                return lines
            self._pending += view[start:end + 1]
            first = bytes(self._pending)
            self._pending.clear()
            lines += self._decode_lines(first, 0, len(first))
            start = end + 1
        last = chunk.rfind(b"\n", start)
        if last >= 0:
            lines += self._decode_lines(chunk, start, last + 1)
            start = last + 1
        self._pending += view[start:]
        self._cut_if_too_long(lines)
        return lines

    def feed_block(self, chunk: bytes) -> Sequence[str]:
        """`feed`, with the lines kept as one `LineBlock` of bytes where they need no rework.

        A chunk with a carriage return, or one holding a line over the limit, goes through `feed`.
        """
        first, end = chunk.find(b"\n"), chunk.rfind(b"\n") + 1
        if (self._dropping or first < 0 or b"\r" in chunk or b"\r" in self._pending
                or len(self._pending) + first > self.max_line):
            return self.feed(chunk)
        data = b"".join((self._pending, memoryview(chunk)[:end], BLOCK_PADDING))
        block = LineBlock(data)
        if end - first - 1 > self.max_line and block.longest_over(self.max_line):  # (only so long a span can hold one)
            return self.feed(chunk)
        self._pending.clear()
        self._pending += memoryview(chunk)[end:]
        cut: list[str] = []
        self._cut_if_too_long(cut)
        return [*block, *cut] if cut else block

    def flush(self) -> list[str]:
        """End of input: return the held partial line, if any."""
        self._dropping = False
        if not self._pending:
            return []
        tail = bytes(self._pending) + b"\n"
        self._pending.clear()
        return self._decode_lines(tail, 0, len(tail))

    def reset(self) -> None:
        """Forget the partial line (the file it came from was truncated)."""
        self._pending.clear()
        self._dropping = False

    def skip_to_next_line(self) -> None:
        """Drop input up to the next newline (reading started mid-line)."""
        self._pending.clear()
        self._dropping = True

    def _cut_if_too_long(self, lines: list[str]) -> None:
        if len(self._pending) > self.max_line:
            lines.append(_decode(bytes(self._pending[:self.max_line])))
            self.truncated += 1
            self._pending.clear()
            self._dropping = True

    def _decode_lines(self, data: bytes, start: int, end: int) -> list[str]:
        """Decode `data[start:end]`, which ends with a newline, into lines."""
        crlf = data.find(b"\r", start, end) >= 0
        if end - start <= self.max_line + 2 and not crlf:
            return decode_lines(data, start, end)
        if end - start > self.max_line + 2:
            text = self._cut_long_lines(data[start:end]).decode("utf-8", "replace")
        else:
            text = str(memoryview(data)[start:end], "utf-8", "replace")
        if crlf:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final newline
        return lines

    def _cut_long_lines(self, block: bytes) -> bytes:
        limit = self.max_line
        parts = block.split(b"\n")
        for i, part in enumerate(parts):
            if len(part) > limit and not (len(part) == limit + 1 and part.endswith(b"\r")):
                parts[i] = part[:limit]
                self.truncated += 1
        return b"\n".join(parts)


class LineBlock(Sequence[str]):
    """Whole lines kept as the bytes they were read as, decoded only when asked for.

    A reader that works on bytes (the nginx column reader) takes `data` and
    `ends` and decodes just the lines it leaves to a per-line path, skipping
    the decoding and splitting of the rest; one that works on text (the
    openai-sdk reader) takes `text()`, the lines decoded as one string.
    Anything else indexes or iterates, and gets the lines
    `LineAssembler.feed` would have given. Only big files are read this way
    (`report`), so numpy is imported here.
    """

    __slots__ = ("data", "ends", "_lines")

    def __init__(self, data: bytes) -> None:
        import numpy as np

        self.data = data  # whole lines, each ending with "\n" (no "\r", none over the limit), then BLOCK_PADDING
        # Found at once: the engine counts a block's lines before any reader takes it, and a count apart
        # from the ends was a second pass over the bytes (1.06x the instructions of an nginx JSON report).
        body = np.frombuffer(data, dtype=np.uint8, count=len(data) - len(BLOCK_PADDING))
        self.ends = np.flatnonzero(body == ord("\n"))
        self._lines: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index):
        if self._lines is not None or isinstance(index, slice):
            return self.lines()[index]
        ends = self.ends
        if index < 0:
            index += len(ends)
        start = int(ends[index - 1]) + 1 if index > 0 else 0
        return str(memoryview(self.data)[start:int(ends[index])], "utf-8", "replace")

    def __iter__(self):
        return iter(self.lines())

    def longest_over(self, limit: int) -> bool:
        """Whether a line is longer than `limit` bytes.

        Such a line holds a whole span of `limit // 2` bytes, as cut from the
        first byte on, without a newline: a `find` in each span rules it out
        without finding every line's end (`longest`).
        """
        half = max(1, limit // 2)
        data, end = self.data, len(self.data) - len(BLOCK_PADDING)
        if all(data.find(b"\n", at, at + half) >= 0 for at in range(0, end - half + 1, half)):
            return False
        return self.longest() > limit

    def longest(self) -> int:
        """The length in bytes of the longest line."""
        import numpy as np

        return int((np.diff(self.ends, prepend=-1) - 1).max(initial=0))

    def lines(self) -> list[str]:
        """Every line, decoded once."""
        if self._lines is None:
            self._lines = str(memoryview(self.data)[:-len(BLOCK_PADDING)], "utf-8", "replace").split("\n")
            self._lines.pop()  # the empty string after the final newline
        return self._lines

    def text(self) -> str:
        """The lines joined by line breaks (no final one), decoded at once: `"\\n".join(self)`, as
        decoding whole and splitting gives each line (a newline byte is never part of a character)."""
        return str(memoryview(self.data)[:len(self.data) - len(BLOCK_PADDING) - 1], "utf-8", "replace")


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\r") else text
