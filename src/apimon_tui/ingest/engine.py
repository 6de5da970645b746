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

With `recent_s`, a followed file's look-back is read newest first: its
reader starts at its newest `recent_s` seconds (counted back from its last
line, so the first paint shows them however old they are), and a
`BackfillSource` reads the span before that backwards by blocks, only while
the followed sources have caught up; the store's `loaded_from` says how far
back it holds every call meanwhile. In a format whose calls span lines, every
such cut is at a call's start.

Each reader is supervised: an exception from its source or parser marks it
`failed: <reason>` while the other sources go on, and it is restarted after
a backoff from where it had read to, the lines it had not finished replayed
one at a time so that only a line that raises again is lost (counted as
unparsed).
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from apimon_tui import formats
from apimon_tui.formats.base import Parser
from apimon_tui.formats.values import shown
from apimon_tui.core import heap
from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call, RateLimit, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.core.redact import redact
from apimon_tui.ingest.recall import recall
from apimon_tui.sources import Source, offset_since, open_source
from apimon_tui.sources.backfill import BackfillSource
from apimon_tui.sources.seek import call_start_before, last_line_time
from apimon_tui.sources.lines import LineAssembler
from apimon_tui.sources.base import Batches
from apimon_tui.store import MetricsStore
from apimon_tui.store.failed import FailedEntry

BATCH_LINES = 20_000
SNIFF_BYTES = 256 * 1024
IDLE_SLEEP_S = 0.1
RESTART_FIRST_S = 1.0   # a failed reader of a followed source waits this long before its restart,
RESTART_MAX_S = 30.0    # doubled after each failure that followed no progress, up to this
REASON_CHARS = 160

log = logging.getLogger(__name__)
_NOT_SHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def failure_reason(exc: BaseException) -> str:
    """An exception as one short line for the status line and stderr: no control
    characters (its message may quote a log line), keys redacted."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = _NOT_SHOWN.sub(" ", redact(text)).strip()
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


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

    Formats with dated lines are binary-searched by their timestamps, then stepped back
    to the start of the call there (a call may span lines); for the others the whole
    file is read (and older calls dropped by the sink).
    """
    name = sniff_format(path) if fmt == "auto" else fmt
    if name not in formats.DATED_LINE_FORMATS:
        return 0
    return _call_start_since(path, since, name, formats.line_time(name, options.get(name)))


def _call_start_since(path: str, since: float, name: str, ts_of_line) -> int:
    """The start of the call that holds the first line dated from `since` on."""
    return call_start_before(path, offset_since(path, since, ts_of_line), formats.call_starts(name))


@dataclass(slots=True)
class LookbackSplit:
    """A file's look-back cut in two: `[start, split)` read backwards later, the rest followed now."""

    path: str
    format: str
    start: int
    split: int
    split_ts: float


def split_lookback(path: str, since: float, now: float, recent_s: float, fmt: str, options: dict[str, Any],
                   splits: list[LookbackSplit]) -> int:
    """Where to start following `path`: at its newest `recent_s` seconds (before its newest line,
    or now if that is later) for a format with dated lines, the older part from `since` noted in
    `splits`; else as `since_offset`.

    Counted back from the newest line, a log that went quiet hours ago shows its last
    minutes at the first paint, not an empty window until its history is read.
    """
    name = sniff_format(path) if fmt == "auto" else fmt
    if name not in formats.DATED_LINE_FORMATS:
        return 0
    ts_of_line = formats.line_time(name, options.get(name))
    newest = last_line_time(path, ts_of_line)
    recent_from = max(since, min(now, now if newest is None else newest) - recent_s)
    start = _call_start_since(path, since, name, ts_of_line)
    split = _call_start_since(path, recent_from, name, ts_of_line) if recent_from > since else start
    if split > start:
        splits.append(LookbackSplit(path, name, start, split, recent_from))
    return split


@dataclass(slots=True)
class SourceStatus:
    """What the status line shows for one source."""

    label: str
    format: str | None
    state: str
    error: str | None
    counts: SourceCounts
    lines_per_s: float
    failed: str | None = None  # why the reader is down now, until its restart
    behind_bytes: int | None = None  # what its last read left unread (None: the source cannot tell)


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
        self.bulk_batch: list[tuple[int, BulkGroup | CallColumns]] = []  # (calls collected before, group)
        self.pricer = pricer
        # Calls in [since, until) are kept. The open ends are the largest finite floats, so the
        # one range test per call also keeps out the times that are not finite.
        self.since = -sys.float_info.max if since is None else since
        self.until = sys.float_info.max if until is None else until
        self.bulk_failures = bulk_failures  # whether `bulk` takes failed calls (for a store that keeps none whole)

    def call(self, call: Call) -> None:
        """Runs once per call: only what cannot wait for the batch (a time the store cannot take
        would make the whole batch fail there)."""
        ts = call.ts
        if not self.since <= ts < self.until:
            if math.isfinite(ts):
                self.counts.skipped += 1
            else:
                self.counts.note_unparsed("time is not a finite number", redact(f"ts {ts!r}, model {call.model!r}"))
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

    def columns(self, calls: CallColumns) -> None:
        """Calls as columns, in bulk (see `MetricsStore.add_columns`): those in [since, until)
        are kept and priced where they carry no cost, as `call` does one by one."""
        ts = calls.ts
        if len(ts) and (ts.min() < self.since or ts.max() >= self.until):
            kept = (ts >= self.since) & (ts < self.until)
            self.counts.skipped += len(ts) - int(kept.sum())
            calls = calls.take(kept)
        if not len(calls):
            return
        unknown = calls.cost_usd != calls.cost_usd  # NaN: no cost in the log
        if unknown.any():
            for row, call in calls.calls:
                unknown[row] = False
                if call.cost_usd is None:
                    call.cost_usd = self.pricer.estimate(call)
                    calls.cost_usd[row] = math.nan if call.cost_usd is None else call.cost_usd
            self.pricer.estimate_columns(calls, unknown.nonzero()[0])
        self.bulk_batch.append((len(self.batch), calls))

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
            if type(group) is tuple:
                store.add_bulk(*group)
            else:
                store.add_columns(group)
        if done < len(calls):
            store.add_many(calls[done:])
        self.counts.calls += len(calls) + sum(len(g[3]) if type(g) is tuple else len(g) for _, g in groups)

    def mark(self) -> tuple[int, ...]:
        """Where the sink stands, to undo what a parser handed over before it raised."""
        c = self.counts
        return (len(self.batch), len(self.bulk_batch), c.skipped, c.unparsed, c.bad_values,
                len(c.first_unparsed), len(c.first_bad_values))

    def rollback(self, mark: tuple[int, ...]) -> None:
        calls, groups, skipped, unparsed, bad_values, unparsed_kept, bad_kept = mark
        c = self.counts
        del self.batch[calls:], self.bulk_batch[groups:]
        del c.first_unparsed[unparsed_kept:], c.first_bad_values[bad_kept:]
        c.skipped, c.unparsed, c.bad_values = skipped, unparsed, bad_values

    def skip(self) -> None:
        self.counts.skipped += 1

    def unparsed(self, reason: str, text: str) -> None:
        self.counts.note_unparsed(reason, redact(text))

    def bad_value(self, field: str, value: Any) -> None:
        """A field the parser could not use: the call stands, this field is unknown."""
        self.counts.note_bad_value(field, redact(shown(value, 200)))


class SourceReader:
    """One source through format detection and its parsers (one per file it yields), supervised.

    An exception from the source or a parser does not escape `pump`: the
    reader is down (`failed`) until its restart, which a followed source
    gets after a backoff on the clock and a source read once gets at once.
    The parser that raised is dropped (its state is unknown) and the sink
    put back as it was before that batch; at the restart the batch and the
    rest of what had been read are replayed line by line, so a line that
    raises again is skipped and counted as unparsed and cannot loop. A
    source read once that raises itself is given up (nothing to retry).
    """

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
        self.forced = None if fmt == "auto" else fmt
        if self.forced:
            formats.format_module(self.forced)  # fail early on an unknown name
        self.options = options or {}
        self.clock = clock
        self._parsers: dict[str, Parser] = {}
        self._formats: dict[str, str] = {}  # per file: a glob's files are detected one by one
        self._undetected: dict[str, list[str]] = {}  # per file, the lines held until its format is known
        self._rate_mark = (clock(), 0)
        self.lines_per_s = 0.0
        self.failed: str | None = None  # why the reader is down, until its restart
        self._held: Batches = []  # lines read but not parsed when it failed
        self._restart_at = 0.0
        self._backoff = RESTART_FIRST_S
        self._given_up = False

    @property
    def counts(self) -> SourceCounts:
        return self.sink.counts

    @property
    def done(self) -> bool:
        """Nothing more will come: the source is at its end (or given up) and nothing is held."""
        return (self._given_up or self.source.at_eof) and not self._held and self.failed is None

    def pump(self, max_lines: int = BATCH_LINES) -> int:
        """Read and parse what the source has now; returns the lines read (or replayed). Never raises."""
        if self.failed is not None:
            if self.clock() < self._restart_at:
                return 0
            replayed = self._restart()
            if replayed:
                return replayed
        if self._given_up:
            return 0
        try:
            return self._read_and_parse(max_lines)
        except Exception as exc:  # from the source (a source read once is not read again)
            self.fail(exc)
            self._given_up = not self.source.follow
            return 0

    def _read_and_parse(self, max_lines: int) -> int:
        batches = self.source.read_batches(max_lines)
        read = sum(len(lines) for _, lines in batches)
        if not read:
            return 0
        self.counts.lines += read
        self.counts.last_line_at = self.clock()
        if self.forced is None:
            batches = self._detect(batches)
        for i, (label, lines) in enumerate(batches):
            mark = self.sink.mark()
            try:
                self._parser(label).feed_many(lines)
            except Exception as exc:
                self.sink.rollback(mark)
                self._parsers.pop(label, None)
                self.fail(exc, held=batches[i:])
                return read
        self._backoff = RESTART_FIRST_S
        return read

    def fail(self, exc: Exception, held: Batches = ()) -> None:
        """Take the reader down until its restart, holding the lines it has not finished."""
        reason = failure_reason(exc)
        log.debug("reader of %s failed: %s", self.source.label, reason, exc_info=exc)
        self.failed = reason
        self.counts.failures += 1
        self.counts.failure = reason
        self._held += held
        delay = self._backoff if self.source.follow else 0.0
        self._backoff = min(self._backoff * 2, RESTART_MAX_S)
        self._restart_at = self.clock() + delay

    def _restart(self) -> int:
        """Replay the held lines one at a time; a line that raises again is counted as unparsed."""
        held, self._held = self._held, []
        self.failed = None
        for label, lines in held:
            for line in lines:
                mark = self.sink.mark()
                try:
                    self._parser(label).feed(line)
                except Exception as exc:
                    self.sink.rollback(mark)
                    self._parsers.pop(label, None)
                    self.sink.unparsed(f"made the reader fail ({failure_reason(exc)})", line)
        return sum(len(lines) for _, lines in held)

    @property
    def format(self) -> str | None:
        """The source's format: the forced one, else the files' (`native+nginx` for a mixed glob)."""
        if self.forced is not None:
            return self.forced
        return "+".join(sorted(set(self._formats.values()))) or None

    def _detect(self, batches: Batches) -> Batches:
        """The batches of files whose format is known; each other file's lines are held until
        its format is, and skipped once `DETECT_LINES` of them told nothing."""
        ready: Batches = []
        for label, lines in batches:
            if label in self._formats:
                ready.append((label, lines))
                continue
            held = self._undetected.setdefault(label, [])
            held.extend(lines)
            name = _detect(held[: formats.DETECT_LINES])
            if name is not None:
                self._formats[label] = name
                ready.append((label, self._undetected.pop(label)))
            elif len(held) >= formats.DETECT_LINES or self.source.at_eof:
                self.counts.skipped += len(self._undetected.pop(label))
        return ready

    def _parser(self, label: str) -> Parser:
        parser = self._parsers.get(label)
        if parser is None:
            name = self.forced or self._formats[label]
            options = self.options.get(name, {}) if name == "jsonl" else {}
            parser = self._parsers[label] = formats.format_module(name).PARSER(self.sink, label, options, self.clock)
        return parser

    def end_piece(self) -> None:
        """The lines read so far are a piece the next ones do not continue (a look-back block, read
        before the older one): what the parsers hold is handed over, the next lines get fresh ones."""
        self.finish()
        self._parsers.clear()

    def finish(self) -> None:
        """End of input: replay what a failure held, flush parsers holding a partial multi-line call."""
        if self.failed is not None:
            self._restart()
        if self._undetected:
            self.counts.skipped += sum(len(lines) for lines in self._undetected.values())
            self._undetected = {}
        for label, parser in list(self._parsers.items()):
            try:
                parser.flush()
            except Exception as exc:
                self._parsers.pop(label, None)
                self.counts.failures += 1
                self.counts.failure = failure_reason(exc)

    def update_rate(self) -> None:
        now = self.clock()
        then, lines = self._rate_mark
        if now - then >= 1.0:
            self.lines_per_s = (self.counts.lines - lines) / (now - then)
            self._rate_mark = (now, self.counts.lines)

    def status(self) -> SourceStatus:
        self.counts.truncated = self.source.truncated
        failed = self.failed
        state = f"failed: {failed}" if failed is not None else self.source.state
        return SourceStatus(self.source.label, self.format, state, self.source.error,
                            self.counts, self.lines_per_s, failed, self.source.backlog_bytes)


def _detect(lines: list[str]) -> str | None:
    """`formats.detect`, line by line if a sniffer raises (that line then tells nothing)."""
    try:
        return formats.detect(lines)
    except Exception:
        for line in lines:
            try:
                name = formats.detect([line])
            except Exception:
                continue
            if name is not None:
                return name
        return None


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
        recent_s: float | None = None,
    ) -> None:
        """Calls in [since, until) (epoch seconds, either open) are kept, the others skipped.

        `recent_s` (followed files only): read the newest `recent_s` seconds first, the rest
        of the look-back after them (`history`).
        """
        config = config or {}
        self.store = store or MetricsStore(failed_capacity=config.get("store", {}).get("failed_calls", 5000))
        self.pricer = Pricer(config.get("pricing"))
        self.clock = clock
        options = self.options = {"jsonl": config.get("jsonl", {})}
        self.readers = []
        self.history: list[SourceReader] = []  # the older look-back of followed files, read newest block first
        splits: list[LookbackSplit] = []
        start_at = None if since is None else partial(since_offset, since=since, fmt=fmt, options=options)
        if since is not None and recent_s is not None and follow:
            start_at = partial(split_lookback, since=since, now=clock(), recent_s=recent_s, fmt=fmt,
                               options=options, splits=splits)
        for spec in specs:
            source = open_source(spec, from_start=from_start or since is not None, follow=follow,
                                 clock=clock, start_at=start_at, since=since, until=until)
            sink = Sink(SourceCounts(label=spec), self.pricer, since, until, bulk_failures=not self.store.keeps_failed)
            self.readers.append(SourceReader(source, sink, fmt=fmt, options=options, clock=clock))
            self.history += [self._history_reader(split, sink, options) for split in splits]
            splits.clear()
        self.store.loaded_from = self.loaded_from
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _history_reader(self, split: LookbackSplit, sink: Sink, options: dict[str, Any]) -> SourceReader:
        """The reader of a file's older look-back, counted with the file's source."""
        source = BackfillSource(split.path, split.start, split.split, split.split_ts,
                                formats.line_time(split.format, options.get(split.format)),
                                call_starts=formats.call_starts(split.format))
        history_sink = Sink(sink.counts, self.pricer, sink.since, sink.until, bulk_failures=sink.bulk_failures)
        return SourceReader(source, history_sink, fmt=split.format, options=options, clock=self.clock)

    def pump(self) -> int:
        """One pass over every source, then a batch of look-back if they have caught up; returns the lines read."""
        total = self._pump_followed()
        if total < BATCH_LINES and self.history:
            total += self._pump_history()
        return total

    def _pump_followed(self) -> int:
        total = 0
        for reader in self.readers:
            total += reader.pump()
            self._commit(reader)
            reader.update_rate()
        return total

    def read_recent(self) -> None:
        """Read the followed sources until they have caught up, not the older look-back: what a first paint shows."""
        while self._pump_followed() >= BATCH_LINES:
            pass

    def _pump_history(self) -> int:
        """A batch of the look-back of the file loaded least far back (so the loaded span grows evenly)."""
        pending = [r for r in self.history if not r.done]
        if not pending:
            return 0
        reader = max(pending, key=lambda r: r.source.loaded_from)
        read = reader.pump()
        if reader.source.block_ended:
            reader.end_piece()  # the next block is older: no call goes on into it
        self._commit(reader)
        if reader.done:
            reader.source.close()
        self.store.loaded_from = self.loaded_from
        return read

    @property
    def loaded_from(self) -> float | None:
        """While look-back is read: the time from which the store holds every call; None once all is read."""
        pending = [r.source.loaded_from for r in self.history if not r.done]
        return max(pending) if pending else None

    @property
    def history_progress(self) -> float | None:
        """The part of the look-back read (0 to 1) while it is read; None when there is none left."""
        if all(r.done for r in self.history):
            return None
        total = sum(r.source.total_bytes for r in self.history)
        return sum(r.source.done_bytes for r in self.history) / total if total else None

    def _commit(self, reader: SourceReader) -> None:
        try:
            reader.sink.commit(self.store)
        except Exception as exc:  # this batch's calls are lost; the reader goes on after its backoff
            reader.fail(exc)

    def read_to_end(self) -> None:
        """Read every source until it has nothing more (for non-following runs)."""
        while True:
            if not self.pump() and all(r.done for r in self.readers):
                break
        self.finish()

    def finish(self) -> None:
        for reader in self.readers:
            reader.finish()
            self._commit(reader)

    # -- background following ---------------------------------------------

    def start(self) -> None:
        """Follow in a thread of its own.

        Each pass decodes its lines into fresh strings of some 17 KB (a LiteLLM
        payload) and frees them at its end: with glibc's default thresholds the
        freed top of the heap (1.8 MB a pass at 1,000 payloads a second) went
        back to the kernel after every pass and the next one faulted its pages
        in again, some 8 faults a payload (`core/heap.py`).
        """
        heap.keep_freed_blocks()
        self._thread = threading.Thread(target=self._run, name="apimon-ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Read in bursts: a pass that caught up (read to the end of every source) is followed by a pause.

        Under steady traffic the thread then takes the GIL for a short burst
        every `IDLE_SLEEP_S` instead of all the time, so the UI thread, which
        gives the GIL up at every select and write, is not kept waiting for it
        on each return (key presses at 10,000 lines/s); a backlog is read
        without pauses. Caught up is the end of the data, not a short batch:
        a pass also stops at a file's byte budget (8 MB, some 470 LiteLLM
        payloads of 17 KB), and a pause after each such pass capped the
        reading at 80 MB/s, below a proxy's 10,000 payloads a second.
        """
        while not self._stop.is_set():
            if self.pump() < BATCH_LINES and not self.behind:
                self._stop.wait(IDLE_SLEEP_S)

    @property
    def behind(self) -> bool:
        """Whether a working reader stopped short of its source's end at its last read."""
        return any(r.failed is None and r.source.backlog_bytes for r in self.readers)

    @property
    def running(self) -> bool:
        """Whether the background reader thread is alive (for a health check)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._thread is None or not self._thread.is_alive():
            # What the sources already took (a receiver has answered 200 for its queued spans); no more look-back.
            self._pump_followed()
        self.finish()
        for reader in self.readers + self.history:
            reader.source.close()

    def format_of(self, label: str) -> str | None:
        """The format the file `label` was read as (a glob's files each have their own), if read."""
        for reader in self.readers + self.history:
            if label in reader._parsers or label in reader._formats:
                return reader.forced or reader._formats.get(label)
        return None

    def recall(self, entry: FailedEntry) -> Call | str:
        """An older failed call read again from its file, priced as it was when read; else why not."""
        call = recall(entry, self.format_of(entry.source), self.options)
        if isinstance(call, Call) and call.cost_usd is None:
            call.cost_usd = self.pricer.estimate(call)
        return call

    def statuses(self) -> list[SourceStatus]:
        """Each source's status; a file whose look-back could not all be read says why."""
        out = [r.status() for r in self.readers]
        for reader in self.history:
            for status in out:
                if status.counts is reader.counts and status.error is None:
                    status.error = reader.source.error
        return out
