"""The ingestion engine: sources -> format detection -> parsers -> store.

One `SourceReader` per source detects the format from the first lines (unless
one is forced), keeps one parser per file (a glob's files each have their own
multi-line state), prices calls that carry no cost, and hands calls to the
store in batches (the store takes its lock once per batch and redacts the
failed calls it keeps); a one-line parser may hand successful calls in bulk
instead (`Sink.bulk`), and failed calls too where the store keeps none whole
(a store for a summary: `report`, `check`). `Engine` pumps all
readers, either to the end of input (`report`, `check`) or in a background
thread (the monitor, `report --follow`), so the UI never parses.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from apimon_tui import formats
from apimon_tui.formats.base import Parser
from apimon_tui.model import Call, RateLimit, SourceCounts
from apimon_tui.pricing import Pricer
from apimon_tui.redact import redact
from apimon_tui.sources import Source, offset_since, open_source
from apimon_tui.sources.lines import LineAssembler
from apimon_tui.sources.base import Batches
from apimon_tui.store import MetricsStore

BATCH_LINES = 20_000
SNIFF_BYTES = 256 * 1024
IDLE_SLEEP_S = 0.1


def sniff_format(path: str) -> str | None:
    """The format of a file, from its first lines."""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return None
    return formats.detect(LineAssembler().feed(head))


def since_offset(path: str, since: float, fmt: str, options: dict[str, Any]) -> int:
    """Where to start reading `path` to see calls from `since` on, without reading it all.

    One-line formats are binary-searched by their timestamps; for the others
    the whole file is read (and older calls dropped by the sink).
    """
    name = sniff_format(path) if fmt == "auto" else fmt
    if name not in formats.ONE_LINE_FORMATS:
        return 0
    return offset_since(path, since, formats.line_time(name, options.get(name)))


@dataclass(slots=True)
class SourceStatus:
    """What the status line shows for one source."""

    label: str
    format: str | None
    state: str
    error: str | None
    counts: SourceCounts
    lines_per_s: float


# What `MetricsStore.add_bulk` takes: source, model, status, stamps, latencies (lists, or
# numpy arrays from the column reader), latest headroom.
BulkGroup = tuple[str, str | None, int | None, Sequence[float], Sequence[float | None], tuple[float, RateLimit] | None]


def _earliest(stamps) -> float:
    """The earliest of a list of times or of a numpy array of them."""
    return min(stamps) if isinstance(stamps, list) else float(stamps.min())


def _latest(stamps) -> float:
    """The latest of a list of times or of a numpy array of them."""
    return max(stamps) if isinstance(stamps, list) else float(stamps.max())


class Sink:
    """Counts one source's lines and collects its calls for the next batch."""

    __slots__ = ("counts", "batch", "bulk_batch", "pricer", "since", "until", "bulk_failures")

    def __init__(
        self,
        counts: SourceCounts,
        pricer: Pricer,
        since: float | None,
        until: float | None = None,
        *,
        bulk_failures: bool = False,
    ) -> None:
        self.counts = counts
        self.batch: list[Call] = []
        self.bulk_batch: list[tuple[int, BulkGroup]] = []  # (calls collected before, group)
        self.pricer = pricer
        self.since = -math.inf if since is None else since  # calls in [since, until) are kept
        self.until = math.inf if until is None else until
        self.bulk_failures = bulk_failures  # whether `bulk` takes failed calls (for a store that keeps none whole)

    def call(self, call: Call) -> None:
        """Runs once per call: only what cannot wait for the batch."""
        if not self.since <= call.ts < self.until:
            self.counts.skipped += 1
            return
        if call.cost_usd is None:
            call.cost_usd = self.pricer.estimate(call)
        self.batch.append(call)

    def bulk(
        self,
        source: str,
        model: str | None,
        status: int | None,
        stamps: list[float],
        latencies_ms: list[float | None],
        ratelimit: tuple[float, RateLimit] | None = None,
    ) -> None:
        """Calls without tokens, in bulk (see `MetricsStore.add_bulk`): successful ones,
        and failed ones with `bulk_failures`.

        A one-line parser hands these instead of a `Call` each: such a call is
        never priced (no tokens: its cost is unknown, or 0 for a failed one)
        nor kept whole.
        """
        since, until = self.since, self.until
        if len(stamps) and (_earliest(stamps) < since or _latest(stamps) >= until):
            before = len(stamps)
            if isinstance(stamps, list):
                keep = [i for i, ts in enumerate(stamps) if since <= ts < until]
                stamps, latencies_ms = [stamps[i] for i in keep], [latencies_ms[i] for i in keep]
            else:  # numpy columns
                kept = (stamps >= since) & (stamps < until)
                stamps, latencies_ms = stamps[kept], latencies_ms[kept]
            self.counts.skipped += before - len(stamps)
            if ratelimit is not None and not since <= ratelimit[0] < until:
                ratelimit = None
        if len(stamps):
            self.bulk_batch.append((len(self.batch), (source, model, status, stamps, latencies_ms, ratelimit)))

    def commit(self, store: MetricsStore) -> None:
        """Hand what was collected since the last commit to the store, counted for the status line.

        In the order the parser handed it over: the calls collected before a
        group in bulk go in before it (the parser itself hands the latest
        rate-limit headroom with a group only when none of its calls carries
        newer).
        """
        calls, self.batch = self.batch, []
        groups, self.bulk_batch = self.bulk_batch, []
        done = 0
        for at, group in groups:
            if at > done:
                store.add_many(calls[done:at])
                done = at
            store.add_bulk(*group)
        if done < len(calls):
            store.add_many(calls[done:])
        self.counts.calls += len(calls) + sum(len(group[3]) for _, group in groups)

    def skip(self) -> None:
        self.counts.skipped += 1

    def unparsed(self, reason: str, text: str) -> None:
        self.counts.note_unparsed(reason, redact(text))

    def bad_value(self, field: str, value: Any) -> None:
        """A field the parser could not use: the call stands, this field is unknown."""
        self.counts.note_bad_value(field, redact(repr(value)[:200]))


class SourceReader:
    """One source through format detection and its parsers (one per file it yields)."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        *,
        fmt: str = "auto",
        options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.sink = sink
        self.format = None if fmt == "auto" else fmt
        if self.format:
            formats.format_module(self.format)  # fail early on an unknown name
        self.options = options or {}
        self.clock = clock
        self._parsers: dict[str, Parser] = {}
        self._undetected: Batches = []
        self._rate_mark = (clock(), 0)
        self.lines_per_s = 0.0

    @property
    def counts(self) -> SourceCounts:
        return self.sink.counts

    def pump(self, max_lines: int = BATCH_LINES) -> int:
        """Read and parse what the source has now; returns the lines read."""
        batches = self.source.read_batches(max_lines)
        read = sum(len(lines) for _, lines in batches)
        if not read:
            return 0
        self.counts.lines += read
        self.counts.last_line_at = self.clock()
        if self.format is None:
            batches = self._detect(batches)
        for label, lines in batches:
            self._parser(label).feed_many(lines)
        return read

    def _detect(self, batches: Batches) -> Batches:
        """Hold lines until the format is known; give up on a batch of unknown lines."""
        self._undetected.extend(batches)
        name = formats.detect([line for _, lines in self._undetected for line in lines[: formats.DETECT_LINES]])
        if name is not None:
            self.format = name
            held, self._undetected = self._undetected, []
            return held
        held_lines = sum(len(lines) for _, lines in self._undetected)
        if held_lines >= formats.DETECT_LINES or self.source.at_eof:
            self.counts.skipped += held_lines
            self._undetected = []
        return []

    def _parser(self, label: str) -> Parser:
        parser = self._parsers.get(label)
        if parser is None:
            module = formats.format_module(self.format)
            options = self.options.get(self.format, {}) if self.format == "jsonl" else {}
            parser = self._parsers[label] = module.PARSER(self.sink, label, options, self.clock)
        return parser

    def finish(self) -> None:
        """End of input: flush parsers holding a partial multi-line call."""
        if self._undetected:
            self.counts.skipped += sum(len(lines) for _, lines in self._undetected)
            self._undetected = []
        for parser in self._parsers.values():
            parser.flush()

    def update_rate(self) -> None:
        now = self.clock()
        then, lines = self._rate_mark
        if now - then >= 1.0:
            self.lines_per_s = (self.counts.lines - lines) / (now - then)
            self._rate_mark = (now, self.counts.lines)

    def status(self) -> SourceStatus:
        self.counts.truncated = self.source.truncated
        return SourceStatus(self.source.label, self.format, self.source.state, self.source.error,
                            self.counts, self.lines_per_s)


class Engine:
    """Every source of a run feeding one store, pumped to the end or in a thread."""

    def __init__(
        self,
        specs: list[str],
        *,
        store: MetricsStore | None = None,
        fmt: str = "auto",
        from_start: bool = False,
        follow: bool = True,
        since: float | None = None,
        until: float | None = None,
        config: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Calls in [since, until) (epoch seconds, either open) are kept, the others skipped."""
        config = config or {}
        self.store = store or MetricsStore(failed_capacity=config.get("store", {}).get("failed_calls", 5000))
        self.pricer = Pricer(config.get("pricing"))
        self.clock = clock
        options = {"jsonl": config.get("jsonl", {})}
        self.readers = []
        start_at = None if since is None else partial(since_offset, since=since, fmt=fmt, options=options)
        for spec in specs:
            source = open_source(spec, from_start=from_start or since is not None, follow=follow,
                                 clock=clock, start_at=start_at, since=since, until=until)
            sink = Sink(SourceCounts(label=spec), self.pricer, since, until, bulk_failures=not self.store.keeps_failed)
            self.readers.append(SourceReader(source, sink, fmt=fmt, options=options, clock=clock))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def pump(self) -> int:
        """One pass over every source; returns the lines read."""
        total = 0
        for reader in self.readers:
            total += reader.pump()
            self._commit(reader)
            reader.update_rate()
        return total

    def _commit(self, reader: SourceReader) -> None:
        reader.sink.commit(self.store)

    def read_to_end(self) -> None:
        """Read every source until it has nothing more (for non-following runs)."""
        while True:
            if not self.pump() and all(r.source.at_eof for r in self.readers):
                break
        self.finish()

    def finish(self) -> None:
        for reader in self.readers:
            reader.finish()
            self._commit(reader)

    # -- background following ---------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="apimon-ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Read in bursts: a pass that caught up (less than a full batch) is followed by a pause.

        Under steady traffic the thread then takes the GIL for a short burst
        every `IDLE_SLEEP_S` instead of all the time, so the UI thread, which
        gives the GIL up at every select and write, is not kept waiting for it
        on each return (key presses at 10,000 lines/s); a backlog is read
        without pauses.
        """
        while not self._stop.is_set():
            if self.pump() < BATCH_LINES:
                self._stop.wait(IDLE_SLEEP_S)

    @property
    def running(self) -> bool:
        """Whether the background reader thread is alive (for a health check)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._thread is None or not self._thread.is_alive():
            self.pump()  # what sources already took: a receiver has answered 200 for its queued spans
        self.finish()
        for reader in self.readers:
            reader.source.close()

    def statuses(self) -> list[SourceStatus]:
        return [r.status() for r in self.readers]
