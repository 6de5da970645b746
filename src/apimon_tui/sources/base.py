"""What every source is: a non-blocking supplier of tagged text lines.

The engine polls each source with `read_lines()`, which never blocks: it
returns the `(label, line)` pairs available now (the label names the file a
line came from, so a glob's lines can be told apart) and an empty list when
there is nothing new. `read_batches()` returns the same lines grouped as
`(label, [line, ...])`, which skips building a tuple per line on hot paths
(about a quarter of the reading time of a large file). `state` and `error` are short strings for the status
line; `at_eof` tells a run that does not follow (`report`) when to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

from apimon_tui.sources.lines import LineAssembler

DEFAULT_MAX_LINES = 50_000

Tagged = list[tuple[str, str]]
Batches = list[tuple[str, Sequence[str]]]  # lists, or `LineBlock`s of bytes


class Source:
    """Base class for files, globs, stdin and commands."""

    def __init__(self, label: str, follow: bool) -> None:
        self.label = label
        self.follow = follow
        self._error: str | None = None
        self._assembler = LineAssembler()

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        """The lines available now, at most `max_lines`, as (label, lines) batches."""
        raise NotImplementedError

    def read_lines(self, max_lines: int = DEFAULT_MAX_LINES) -> Tagged:
        """The lines available now, at most `max_lines`, as (label, line)."""
        tagged: Tagged = []
        for label, lines in self.read_batches(max_lines):
            tagged += zip(repeat(label, len(lines)), lines)
        return tagged

    @property
    def state(self) -> str:
        """A short human word for the status line, e.g. `following`."""
        raise NotImplementedError

    @property
    def error(self) -> str | None:
        """The last problem worth showing, or None."""
        return self._error

    @property
    def truncated(self) -> int:
        """How many lines were cut at the 1 MiB line limit."""
        return self._assembler.truncated

    @property
    def at_eof(self) -> bool:
        """True once the source has delivered everything it ever will."""
        return False

    @property
    def backlog_bytes(self) -> int | None:
        """Bytes left when the last read stopped short of the end (0: it read to the end); None for a
        source that cannot tell (a pipe, a command, a receiver)."""
        return None

    def events(self) -> dict[str, int]:
        """Counts of what the source itself did, beyond lines (a receiver's answers), for `serve`."""
        return {}

    def close(self) -> None:
        """Release files, threads and processes."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} {self.state}>"


def tag(label: str, lines: list[str]) -> Tagged:
    """Pair every line with `label` (at C speed: no Python-level loop)."""
    return list(zip(repeat(label, len(lines)), lines))


def batch(label: str, lines: Sequence[str]) -> Batches:
    """`lines` as a one-batch result, or no batch at all when empty."""
    return [(label, lines)] if lines else []
