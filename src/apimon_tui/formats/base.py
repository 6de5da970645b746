"""What every format parser is: lines in, `Call`s out through a sink.

A parser is fed one line at a time (without its newline) and reports each
line's fate to its sink: a call, a skip (not a call: an ordinary application
log line) or an unparsed line (looked like the format but was broken).
Formats whose calls span lines keep that state in the parser object and emit
the call when it is complete; `flush()` at the end of input emits what is left.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Protocol

import orjson

from apimon_tui.core.model import Call

# After a `LineBlock`'s last line (sources/lines.py): fixed-width reads past it stay in its bytes.
BLOCK_PADDING = bytes(64)


class Sink(Protocol):
    def call(self, call: Call) -> None: ...
    def skip(self) -> None: ...
    def unparsed(self, reason: str, text: str) -> None: ...
    def bad_value(self, field: str, value: Any) -> None: ...


class Parser:
    """Base class: subclasses set `name` and implement `feed`."""

    name = ""

    def __init__(
        self,
        sink: Sink,
        source: str = "",
        options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.source = source
        self.options = options or {}
        self.clock = clock

    def feed(self, line: str) -> None:
        raise NotImplementedError

    def feed_many(self, lines: list[str]) -> None:
        feed = self.feed
        for line in lines:
            feed(line)

    def flush(self) -> None:
        """End of input: emit any call still waiting for more lines."""


def json_object(line: str, sink: Sink) -> dict[str, Any] | None:
    """The JSON object on `line`, or None once the sink is told why not.

    A line that is not a JSON object is skipped (an ordinary log line);
    one that starts like an object but does not parse is unparsed.
    """
    if not line.startswith("{"):
        sink.skip()
        return None
    try:
        obj = json.loads(line)
    except ValueError as exc:
        sink.unparsed(f"invalid JSON: {getattr(exc, 'msg', exc)}", line)
        return None
    except RecursionError:
        sink.unparsed("invalid JSON: nested too deep", line)
        return None
    if not isinstance(obj, dict):
        sink.skip()
        return None
    return obj


def decode_json(text: str, sink: Sink) -> Any:
    """`text` decoded, or None once the sink is told why not (nesting too deep to decode included)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        sink.unparsed(f"invalid JSON: {getattr(exc, 'msg', exc)}", text)
    except RecursionError:
        sink.unparsed("invalid JSON: nested too deep", text)
    return None


QUICK_BRACKETS = 500  # json nests this deep whatever the stack: the recursion limit is 1,000 frames
FIND_CHARS_PER_BRACKET = 128  # a text with fewer brackets than its length over this is counted by `str.find`


def brackets_over(text: str, limit: int) -> bool:
    """Whether `text` holds more than `limit` brackets (`[` and `{` together).

    `str.count` compares every character (some 0.5 ns each: 8 µs for the two
    counts over a LiteLLM payload's 9 KB), where `str.find` skips to the next
    bracket by memchr: a JSON record holds few, found one by one for about
    half of that. Past one per `FIND_CHARS_PER_BRACKET` characters, the text is
    counted whole, so a text full of brackets costs at most twice the count.
    """
    found, most, find = 0, len(text) // FIND_CHARS_PER_BRACKET, text.find
    for bracket in "[{":
        at = find(bracket)
        while at >= 0:
            found += 1
            if found > most:
                return text.count("[") + text.count("{") > limit
            at = find(bracket, at + 1)
    return found > limit


class Doubt(Exception):
    """A value the quick path does not vouch for: the line is read again the careful way."""


class _Doubting:
    """The sink of the quick path's field checks: a value the checks would report sends the
    whole line to the careful path (`json`), which reports it as always.

    orjson reads an integer past 64 bits as a float, where `json` keeps the integer: every
    field check bounds its numbers far below 2**63 and takes no float where it wants text,
    so such a value always fails a check and comes here.
    """

    @staticmethod
    def bad_value(field: str, value: Any) -> None:
        raise Doubt(field)


DOUBTING = _Doubting()


def quick_loads(text: str, brackets_cut: int = 0) -> Any:
    """`text` decoded by orjson, or None where orjson refuses it (NaN, 1e400, a lone
    surrogate, deep nesting...): the careful path then decides, as `json` reads it.

    Where both accept a text they give equal values (tests/test_quick_json.py), but for
    integers past 64 bits, which orjson makes floats: see `_Doubting`. A text with more
    brackets than `QUICK_BRACKETS` is left to `json` too, which refuses nesting deeper than
    the interpreter's recursion limit allows, where orjson may not; `brackets_cut` counts
    those of a part cut out of `text` and decoded apart (LiteLLM's model map). A text no longer
    than the limit cannot hold too many and is not counted.
    """
    if len(text) + brackets_cut > QUICK_BRACKETS and brackets_over(text, QUICK_BRACKETS - brackets_cut):
        return None
    try:
        return orjson.loads(text)
    except ValueError:
        return None
