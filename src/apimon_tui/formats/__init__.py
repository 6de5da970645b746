"""The log formats apimon-tui reads, and detection of a source's format.

Each format is one module exposing `NAME`, `sniff(line) -> bool` (does this
line clearly belong to the format) and `PARSER` (a `formats.base.Parser`
subclass). Modules are imported on first use, so start-up only pays for the
formats a session actually reads.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Detection order matters: the most specific formats first, `jsonl` (any JSON
# object with a configured mapping) last.
FORMAT_MODULES: dict[str, str] = {
    "native": "apimon_tui.formats.native",
    "otlp": "apimon_tui.formats.otlp",
    "litellm": "apimon_tui.formats.litellm",
    "nginx": "apimon_tui.formats.nginx",
    "openai-sdk": "apimon_tui.formats.openai_sdk",
    "jsonl": "apimon_tui.formats.jsonl",
}

# How many lines detection looks at before giving up: a LiteLLM proxy prints a hundred or more
# lines of its own (start-up, config, routes) before its first payload.
DETECT_LINES = 1000

# Formats whose every call is one line: a file of these can be cut anywhere
# between lines (parallel reading, `--since` seeking).
ONE_LINE_FORMATS = frozenset({"native", "nginx", "jsonl", "otlp"})

# Formats whose calls may span lines, so a file is read in one pass, but whose parser takes a
# block of lines as one text (`LineBlock.text()`): a big file is read in blocks of bytes as one
# share, skipping the split into lines and the join back (`ingest.parallel.plan_jobs`).
TEXT_BLOCK_FORMATS = frozenset({"openai-sdk"})

# Formats a look-back can binary-search by time (`offset_since`): the one-line formats, and the
# formats whose calls may span lines, which say where a call starts (their `call_starts(lines)`:
# the search steps back to one). Their lines are dated one by one: an openai-sdk log's each, a
# LiteLLM log's one-line payloads and a pretty-printed payload's `endTime` line (`line_time`).
DATED_LINE_FORMATS = ONE_LINE_FORMATS | {"litellm", "openai-sdk"}


class UnknownFormat(ValueError):
    pass


def format_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(FORMAT_MODULES[name])
    except KeyError:
        known = ", ".join(FORMAT_MODULES)
        raise UnknownFormat(f"unknown format {name!r}: choose one of {known}") from None


def available_formats() -> list[str]:
    """The formats whose module is present in this build."""
    out = []
    for name in FORMAT_MODULES:
        try:
            format_module(name)
        except ImportError:
            continue
        out.append(name)
    return out


def detect(lines: list[str]) -> str | None:
    """The first format whose sniffer recognises any of the first lines.

    Lines are tried in order and each line against every format, so a few
    ordinary application lines before the first call do not mislead it.
    """
    sniffers = [(name, format_module(name).sniff) for name in available_formats()]
    for line in lines[:DETECT_LINES]:
        stripped = line.strip()
        if not stripped:
            continue
        for name, sniff in sniffers:
            if sniff(stripped):
                return name
    return None


class _FirstCall:
    """A sink that keeps the first call's time and ignores the rest."""

    def __init__(self) -> None:
        self.ts: float | None = None

    def call(self, call) -> None:
        if self.ts is None:
            self.ts = call.ts

    def skip(self) -> None:
        pass

    def unparsed(self, reason: str, text: str) -> None:
        pass

    def bad_value(self, field: str, value) -> None:
        pass


def line_time(name: str, options: dict | None = None):
    """A function giving the time of one line (None if undated): the format's own `time_of_line`
    where it has one, else the time of the call its parser makes of the line alone."""
    module = format_module(name)
    own = getattr(module, "time_of_line", None)

    def ts_of_line(line: str) -> float | None:
        ts = own(line) if own is not None else None
        if ts is None:
            sink = _FirstCall()
            module.PARSER(sink, "", options or {}, clock=lambda: None).feed(line)
            ts = sink.ts
        return ts

    return ts_of_line


def call_time(name: str, options: dict | None = None):
    """A function giving the time of the call a line surely makes wherever it is in a log (None if
    not sure), or None when no line of the format is sure: a one-line format's `line_time`; for a
    format whose calls span lines, its module's `call_time_of_line` where it has one."""
    if name in ONE_LINE_FORMATS:
        return line_time(name, options)
    return getattr(format_module(name), "call_time_of_line", None)


def call_starts(name: str):
    """The format's `call_starts(lines)` (where a parser may start reading), or None when any line is one."""
    return getattr(format_module(name), "call_starts", None)
