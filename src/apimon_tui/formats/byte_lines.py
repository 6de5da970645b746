"""A batch of lines as one byte buffer, read at many places at once with numpy.

The column readers (nginx, JSON layouts) find the few bytes that mark
where fields are in one pass over a batch, then read every field at its
place for all lines at once: a read here is one numpy gather per line,
whatever its width.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from apimon_tui.formats.base import BLOCK_PADDING

_PADDING = "\0" * len(BLOCK_PADDING)


class ByteLines:
    """The lines of a batch as one byte buffer, with where each line starts and ends."""

    __slots__ = ("bytes", "starts", "ends", "_data", "_wide")

    def __init__(self, lines: Sequence[str]) -> None:
        """The lines of a list, or of a `LineBlock`, whose bytes and line ends are taken as they are."""
        # Padding after the last newline, so that fixed-width reads past the last line stay in the buffer.
        padded = getattr(lines, "data", None)  # a `LineBlock`'s bytes end with padding
        if padded is not None:
            self.ends = lines.ends
        else:
            text = "\n".join([*lines, _PADDING])
            padded = text.encode("utf-8", "surrogatepass")
            if text.isascii():  # the usual case: a line's length in bytes is its length
                lengths = map(len, lines)
            else:
                lengths = (len(line.encode("utf-8", "surrogatepass")) for line in lines)
            self.ends = np.cumsum(np.fromiter(lengths, dtype=np.int64, count=len(lines)) + 1) - 1
        self._data = padded
        self.bytes = np.frombuffer(padded, dtype=np.uint8)
        self._wide: dict[int, np.ndarray] = {}
        self.starts = np.empty_like(self.ends)
        self.starts[0] = 0
        self.starts[1:] = self.ends[:-1] + 1

    def following(self, before: int, flags: np.ndarray) -> np.ndarray:
        """Where a byte flagged in `flags` (one flag per byte) comes right after `before`, in order."""
        return np.flatnonzero(flags[1:] & (self.bytes[:-1] == before)) + 1

    def positions(self, byte: int) -> np.ndarray:
        """Where `byte` occurs, in order."""
        if self._data.find(byte) < 0:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self.bytes == byte)

    def gather(self, at: np.ndarray, count: int) -> np.ndarray:
        """The `count` little-endian 8-byte words from each offset in `at` (of any shape): shape `at.shape + (count,)`.

        One index per offset, whatever `count`: the buffer is viewed as
        overlapping `8 * count`-byte items, one from each byte (no copy), and
        numpy's cost is per index far more than per byte.
        """
        wide = self._wide.get(count)
        if wide is None:
            width = 8 * count
            wide = self._wide[count] = np.ndarray((len(self._data) - width + 1,), dtype=f"V{width}",
                                                  buffer=self._data, strides=(1,))
        return wide[at].view(np.uint64).reshape(*at.shape, count)

    def window(self, at: np.ndarray, width: int) -> np.ndarray:
        """`width` bytes from each offset in `at`, one row each (a copy)."""
        return self.gather(at, (width + 7) // 8).view(np.uint8).reshape(len(at), -1)[:, :width]

    def words(self, at: np.ndarray, width: int) -> np.ndarray:
        """The `width` bytes from each offset in `at` as 8-byte words, zeroed past `width`.

        One row per word and one column per offset: numpy combines rows
        element by element, far faster than it reduces short rows.
        """
        words = np.ascontiguousarray(self.gather(at, (width + 7) // 8).T)
        if width % 8:
            words[-1] &= np.uint64((1 << (8 * (width % 8))) - 1)
        return words

    def start_with(self, starts: np.ndarray, texts: tuple[bytes, ...]) -> np.ndarray:
        """Whether, in each row, the bytes from starts[:, i] begin with texts[i], for every i.

        Every text is read as many words as the longest one, masked past its end.
        """
        count, mask, expected = _texts_as_words(texts)
        words = self.gather(starts, count).reshape(len(starts), len(texts) * count)
        words &= mask
        return rows_all(words == expected)


@functools.cache
def _texts_as_words(texts: tuple[bytes, ...]) -> tuple[int, np.ndarray, np.ndarray]:
    """The words per text (that of the longest), and each text's mask and words, one after the other."""
    count = -(-max(map(len, texts)) // 8)
    expected, mask = np.zeros((2, len(texts), 8 * count), dtype=np.uint8)
    for i, text in enumerate(texts):
        expected[i, :len(text)] = list(text)
        mask[i, :len(text)] = 0xFF
    return count, mask.view(np.uint64).ravel(), expected.view(np.uint64).ravel()


def rows_all(flags: np.ndarray) -> np.ndarray:
    """Which rows of `flags` are all set.

    numpy reduces a whole array far faster than its short rows, and the rows nearly always are.
    """
    return np.ones(len(flags), dtype=bool) if flags.all() else flags.all(axis=1)
