"""Where lines come from: files, globs, standard input, commands, an OTLP/HTTP receiver and Prometheus.

`open_source(spec)` picks the kind from the spec the user typed and returns a
`Source`; every kind has the same small non-blocking interface (see `base`):

    src = open_source("/var/log/nginx/openai.jsonl")
    for label, line in src.read_lines():   # label: the file the line came from
        ...
    for label, lines in src.read_batches():  # the same, grouped: faster
        ...
    src.state, src.error, src.truncated, src.at_eof
    src.close()
"""

from __future__ import annotations

import os
import re
import time
from typing import Callable

from apimon_tui.sources.base import Batches, Source, Tagged
from apimon_tui.sources.command import CommandSource
from apimon_tui.sources.file import FileSource, StartAt, offset_since
from apimon_tui.sources.glob import GlobSource
from apimon_tui.sources.lines import MAX_LINE_BYTES, LineAssembler, LineBlock
from apimon_tui.sources.stdin import StdinSource

__all__ = [
    "Batches", "CommandSource", "FileSource", "GlobSource", "LineAssembler", "LineBlock", "MAX_LINE_BYTES",
    "Source", "StdinSource", "Tagged", "offset_since", "open_source",
]

CMD_PREFIX = "cmd:"
OTLP_PREFIX = "otlp://"
PROM_PREFIXES = ("prom://", "proms://")
_GLOB_CHARS = re.compile(r"[*?[]")


def open_source(
    spec: str,
    *,
    follow: bool = True,
    from_start: bool = False,
    label: str | None = None,
    clock: Callable[[], float] = time.time,
    start_at: StartAt | None = None,
    since: float | None = None,
    until: float | None = None,
) -> Source:
    """The source for `spec`: `-` stdin, `cmd:...` a command, `otlp://HOST:PORT` a receiver, a glob, or a path.

    `follow=False` reads everything once and ends (`at_eof`); a command is then
    run once, and a receiver needs `?for=DURATION`. `from_start` reads files
    that exist now from their start instead of their end; `start_at(path)`
    (e.g. from `offset_since`) overrides both for them. `prom://HOST:PORT`
    reads a Prometheus server's aggregates; read to the end, over [since,
    until or now) (its look-back when `since` is None). Raises ValueError,
    worded for the user, for an empty spec or a receiver it cannot open.
    """
    if spec == "-":
        return StdinSource(label=label)
    if spec.startswith(CMD_PREFIX):
        command = spec[len(CMD_PREFIX):].strip()
        if not command:
            raise ValueError("cmd: needs a command after it, e.g. cmd:ssh api-1 tail -F /var/log/app.log")
        return CommandSource(command, follow=follow, label=label, clock=clock)
    if spec.startswith(OTLP_PREFIX):
        return _otlp_receiver(spec, follow, label, clock)
    if spec.startswith(PROM_PREFIXES):
        from apimon_tui.sources.prom import PromSource
        return PromSource(spec, follow=follow, label=label, since=since, until=until, clock=clock)
    if not spec.strip():
        raise ValueError("an empty source was given: name a file, a glob, '-' or cmd:...")
    path = os.path.expanduser(spec)
    if _GLOB_CHARS.search(path) and not os.path.exists(path):
        return GlobSource(path, follow=follow, from_start=from_start, label=label,
                          start_at=start_at, clock=clock)
    return FileSource(path, follow=follow, from_start=from_start, label=label,
                      start_at=start_at, clock=clock)


def _otlp_receiver(spec: str, follow: bool, label: str | None, clock: Callable[[], float]) -> Source:
    """An OTLP/HTTP receiver (imported here: protobuf is loaded only when one is used)."""
    from apimon_tui.sources.otlp_receiver import OtlpReceiverSource
    return OtlpReceiverSource(spec, follow=follow, label=label, clock=clock)
