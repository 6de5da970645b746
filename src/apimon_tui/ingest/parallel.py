"""Reading big files on every core: split at line boundaries, merge the stores.

`report` and `check` read files to the end. For a format whose calls are one
line each, a file can be cut into byte ranges at newlines, each range parsed
into its own `MetricsStore` in a worker process, and the stores merged: the
store is mergeable by design, so the figures are the same as one pass. On one
core such a file is one range, read the same way. A range is read in blocks
of bytes (`LineBlock`), which the nginx column reader takes without decoding
every line. Formats whose calls span lines (openai-sdk, pretty-printed
litellm) are read in one pass, as are stdin, commands and small files; an
openai-sdk file as one range, whose blocks its parser reads as one text each.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any

from apimon_tui import formats
from apimon_tui.ingest.engine import Engine, Sink, SourceReader, SourceStatus, since_offset, sniff_format
from apimon_tui.core.model import SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.sources.seek import last_line_time
from apimon_tui.store import MetricsStore

MIN_BYTES_PER_JOB = 8 * 1024 * 1024
CHUNK_BYTES = 2 * 1024 * 1024  # per block: 1 MB took 10-15% longer, 4 MB 20% (`bench/report_phases.py`)


class ByteRangeSource(Source):
    """The whole lines of `path` that start in [start, end): one share, in blocks of bytes."""

    def __init__(self, path: str, start: int, end: int, label: str) -> None:
        super().__init__(label, follow=False)
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = end - start
        self._done = False

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        if self._done:
            return []
        chunk = self._file.read(min(CHUNK_BYTES, self._left)) if self._left > 0 else b""
        self._left -= len(chunk)
        lines = self._assembler.feed_block(chunk) if chunk else self._assembler.flush()
        if not chunk:
            self._done = True
            self.close()
        return batch(self.label, lines)

    @property
    def state(self) -> str:
        return "done" if self._done else "reading"

    @property
    def at_eof(self) -> bool:
        return self._done

    def close(self) -> None:
        self._file.close()


def split_points(path: str, parts: int, start: int = 0) -> list[tuple[int, int]]:
    """Byte ranges covering the file from `start` (a line start) on, each starting at the start of a line."""
    size = os.path.getsize(path)
    cuts = [start]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(max(start + (size - start) * i // parts, cuts[-1]))
            f.readline()  # move to the start of the next line
            cuts.append(min(f.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


@dataclass
class _Job:
    path: str
    label: str
    start: int
    end: int
    fmt: str
    config: dict[str, Any]
    since: float | None
    until: float | None
    newest_hint: float | None = None  # a time the merged store reaches for sure (see `newest_hint`)


def _run_job(job: _Job) -> tuple[float, bytes, SourceCounts, set[str]]:
    """Read one share in a worker; the store comes back pickled, with its newest time beside it."""
    store, counts, unpriced = _read_share(job)
    return store.newest, _pickled(store), counts, unpriced


def _read_share(job: _Job) -> tuple[MetricsStore, SourceCounts, set[str]]:
    """The store, counts and unpriced models of one share (a summary store: see `read_files`)."""
    store = summary_store()
    if job.newest_hint is not None:
        store.advance(job.newest_hint)  # calls older than the last hour go straight to their minute
    pricer = Pricer(job.config.get("pricing"))
    sink = Sink(SourceCounts(label=job.label), pricer, job.since, job.until, bulk_failures=True)
    reader = SourceReader(ByteRangeSource(job.path, job.start, job.end, job.label), sink,
                          fmt=job.fmt, options={"jsonl": job.config.get("jsonl", {})})
    while not reader.done:
        reader.pump()
        sink.commit(store)
    reader.finish()
    sink.commit(store)
    reader.counts.truncated = reader.source.truncated
    return store, reader.counts, pricer.unpriced


def summary_store() -> MetricsStore:
    """A store for a summary: it keeps no failed call whole, and nothing reads it before it is
    filled, so it folds each batch of columns at once (`MetricsStore.fold_rows`)."""
    store = MetricsStore(failed_capacity=0)
    store.fold_rows = sys.maxsize
    return store


def _pickled(store: MetricsStore) -> bytes:
    """The store as bytes, without the memo of every object pickled (`fast`).

    The store holds no cycles nor shared objects that matter (its buckets
    name their series by number: `MetricsStore.__getstate__`), and the memo
    was the biggest part of a worker's peak memory (23 MB for a 7 MB pickle).
    """
    out = io.BytesIO()
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(store)
    return out.getvalue()


def plan_jobs(
    path: str, fmt: str, jobs: int, config: dict[str, Any], since: float | None, until: float | None = None,
) -> list[_Job] | None:
    """The shares `path` is read in, or None when the engine should read it in one pass.

    A big file of a one-line format is cut into one share per core (one
    share on one core), each read in blocks of bytes (`ByteRangeSource`);
    one of a format read as text blocks (`formats.TEXT_BLOCK_FORMATS`) is
    one share, read so. With `since`, the shares start where the calls
    from `since` on do.
    """
    if jobs < 1 or not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    if size < MIN_BYTES_PER_JOB:
        return None
    name = sniff_format(path) if fmt == "auto" else fmt
    if name not in formats.ONE_LINE_FORMATS and name not in formats.TEXT_BLOCK_FORMATS:
        return None
    hint = newest_hint(path, name, config, since, until)
    start = 0 if since is None else since_offset(path, since, name, {"jsonl": config.get("jsonl", {})})
    parts = max(1, min(jobs, (size - start) // MIN_BYTES_PER_JOB)) if name in formats.ONE_LINE_FORMATS else 1
    return [_Job(path, path, a, b, name, config, since, until, hint) for a, b in split_points(path, parts, start)]


def newest_hint(
    path: str, fmt: str, config: dict[str, Any], since: float | None, until: float | None = None,
) -> float | None:
    """A time that a store reading all of `path` reaches for sure, known before reading it.

    A store moved on to it first (`MetricsStore.advance`) puts each call
    older than its last hour straight into its minute, instead of into a
    second that is folded into that minute later: the same figures, for
    less work. It is the time of the last line that surely makes a call
    (`formats.call_time`); None where no line of the format is sure, or
    when that time is outside [since, until) (dropped, so never reached).
    """
    name = sniff_format(path) if fmt == "auto" else fmt
    if name is None or (ts_of_call := formats.call_time(name, config.get(name) if name == "jsonl" else None)) is None:
        return None
    hint = last_line_time(path, ts_of_call)
    if hint is not None and ((since is not None and hint < since) or (until is not None and hint >= until)):
        return None
    return hint


def read_parallel(jobs: list[_Job], workers: int) -> tuple[MetricsStore, list[SourceStatus], set[str]]:
    """Read the jobs on `workers` cores and merge what they found.

    This process reads the last share itself while worker processes read
    the others: the last share holds the newest lines, whose last hour fills
    per-second buckets, the biggest store, which then needs no pickling.
    The workers' stores arrive pickled (a few MB each) and are unpickled one
    at a time, in file order, each first moved to the newest time of all:
    its seconds older than the last hour fold into minutes before the next
    one is unpickled, so that only one store at a time is held at full size.
    """
    *theirs, own = jobs
    results: list[tuple[float, bytes | MetricsStore, SourceCounts, set[str]]] = []
    if theirs:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(max(1, min(workers, len(jobs)) - 1)) as pool:
            pending = pool.map_async(_run_job, theirs)
            own_store, own_counts, own_unpriced = _read_share(own)
            results += pending.get()
    else:
        own_store, own_counts, own_unpriced = _read_share(own)
    results.append((own_store.newest, own_store, own_counts, own_unpriced))
    del own_store
    newest = max(result[0] for result in results)
    store: MetricsStore | None = None
    counts: dict[str, SourceCounts] = {}
    unpriced: set[str] = set()
    while results:
        _, blob, part_counts, part_unpriced = results.pop(0)
        part = pickle.loads(blob) if isinstance(blob, bytes) else blob
        del blob
        part.advance(newest)
        if store is None:
            store = part
        else:
            store.merge(part)
        del part
        unpriced |= part_unpriced
        _add_counts(counts.setdefault(part_counts.label, SourceCounts(label=part_counts.label)), part_counts)
    formats_by_label = {job.label: job.fmt for job in jobs}
    statuses = [SourceStatus(label, formats_by_label[label], "done", None, c, 0.0) for label, c in counts.items()]
    return store, statuses, unpriced


def read_files(
    paths: list[str], fmt: str, since: float | None, until: float | None, config: dict[str, Any], jobs: int,
) -> tuple[MetricsStore, list[SourceStatus], set[str]]:
    """Read `paths` to the end into one store: big files of one-line formats in shares on
    `jobs` cores, the rest (small files, other formats, stdin, commands) by the engine.

    The store is for a summary (`report`, `check`), which shows no single
    call: it keeps no failed call whole, so failed calls too can be read in
    bulk (`Sink.bulk_failures`), and their error groups are still counted.
    Only calls in [since, until) are kept (either bound open when None).
    """
    planned = {path: plan_jobs(path, fmt, jobs, config, since, until) for path in paths}
    shares = [job for path_jobs in planned.values() if path_jobs for job in path_jobs]
    store, statuses, unpriced = read_parallel(shares, jobs) if shares else (summary_store(), [], set())
    whole = [path for path, path_jobs in planned.items() if not path_jobs]
    engine = Engine(whole, store=store, fmt=fmt, from_start=True, follow=False, since=since, until=until, config=config)
    for path in whole:
        if os.path.isfile(path) and (hint := newest_hint(path, fmt, config, since, until)) is not None:
            engine.store.advance(hint)
    engine.read_to_end()
    return engine.store, statuses + engine.statuses(), unpriced | engine.pricer.unpriced


def _add_counts(total: SourceCounts, part: SourceCounts) -> None:
    for field in ("lines", "calls", "skipped", "unparsed", "truncated", "bad_values", "failures"):
        setattr(total, field, getattr(total, field) + getattr(part, field))
    total.failure = part.failure or total.failure
    total.first_unparsed.extend(part.first_unparsed[: SourceCounts.KEEP_UNPARSED - len(total.first_unparsed)])
    total.first_bad_values.extend(part.first_bad_values[: SourceCounts.KEEP_UNPARSED - len(total.first_bad_values)])
