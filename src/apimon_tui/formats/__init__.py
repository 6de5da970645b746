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

DETECT_LINES = 50


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
