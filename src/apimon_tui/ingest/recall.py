"""Reading an older failed call's line again, for the detail screen.

The store keeps whole only its newest failed calls; older ones are
`FailedEntry`s with no log text. Their line is found again in the file they
came from (their source) by the same binary search on time that starts the
look-back, then the lines around that time are parsed until one gives the
same call (time, status, model, error code, request id); in a format whose
calls span lines, from the start of the call there (`seek.call_start_before`).
A file rotated, cut or rewritten since no longer holds it, and a file of a
format without dated lines is not searched: either is said, not guessed.
"""

from __future__ import annotations

import os
from typing import Any

from apimon_tui import formats
from apimon_tui.core.model import Call
from apimon_tui.core.terminal_text import identifier
from apimon_tui.sources.file import _lines_from, offset_since
from apimon_tui.sources.seek import call_start_before
from apimon_tui.store.failed import FailedEntry

SLACK_S = 2.0                 # how far before and after its time the line is looked for (logs are nearly sorted)
SCAN_BYTES = 8 * 1024 * 1024  # at most this much is parsed around it


class _Collected:
    """A parser's sink that keeps the calls it is handed and ignores the rest."""

    bulk_failures = False

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def call(self, call: Call) -> None:
        self.calls.append(call)

    def bulk(self, *args: Any) -> None:
        pass  # successful calls without tokens: never the failed call looked for

    def skip(self) -> None:
        pass

    def unparsed(self, reason: str, text: str) -> None:
        pass

    def bad_value(self, field: str, value: Any) -> None:
        pass


def recall(entry: FailedEntry, fmt: str | None, options: dict[str, Any] | None = None) -> Call | str:
    """The call `entry` was made from, read again from its file; else why it cannot be shown whole.

    `fmt` is the file's format: only formats with dated lines can be searched by time.
    """
    path = entry.source
    if not os.path.isfile(path):
        return f"older calls from {identifier(path)} keep no log text: it is not a file to read again"
    if fmt not in formats.DATED_LINE_FORMATS:
        return f"{identifier(fmt or 'multi-line')} logs are not searched again for older calls, which keep no log text"
    options = options or {}
    module = formats.format_module(fmt)
    parser_options = options.get(fmt, {}) if fmt == "jsonl" else {}
    start = offset_since(path, entry.ts - SLACK_S, formats.line_time(fmt, options.get(fmt)))
    start = call_start_before(path, start, formats.call_starts(fmt))
    try:
        with open(path, "rb") as f:
            found = _find(f, start, entry, module.PARSER, parser_options)
    except OSError:
        found = None
    return found if found is not None else f"the line is no longer in {identifier(path)}"


def _find(f, start: int, entry: FailedEntry, parser_type, options: dict[str, Any]) -> Call | None:
    sink = _Collected()
    parser = parser_type(sink, entry.source, options, clock=lambda: entry.ts)
    for line_start, _end, text in _lines_from(f, start):
        if line_start - start > SCAN_BYTES:
            return None
        sink.calls.clear()
        parser.feed(text)
        found = _match(sink.calls, entry)
        if found is not None:
            return found or None
    sink.calls.clear()
    parser.flush()  # the end of the file: a call still waiting for its next line
    return _match(sink.calls, entry) or None


def _match(calls: list[Call], entry: FailedEntry) -> Call | bool | None:
    """The call of `calls` that `entry` was made from; False once past its time; None to read on."""
    for call in calls:
        if entry.matches(call):
            return call
        if call.ts > entry.ts + SLACK_S:
            return False
    return None
