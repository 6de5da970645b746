"""`MetricsStore`: the one place every view reads figures from.

Calls are folded into buckets keyed by time and by series, a series being
(source, model, status, error code), so a filter on any of those is exact on
every figure. Tiers keep memory bounded whatever the run time:

- per-second buckets for the last `fine_s` seconds (default 1 h) answer the
  short windows and the sparklines;
- per-minute buckets for the last `horizon_s` seconds (default 24 h) answer
  the long windows;
- per-day (UTC) buckets for the last `keep_days` days (default 400) answer
  month-to-date spend;
- older days fold into one archive aggregate per series, so lifetime totals
  (`report`) stay exact.

Time is the calls' own: the tiers are pruned relative to the newest call seen,
so a report over last month's log keeps its windows.

The only whole calls kept are the most recent failed ones (`FailedRing`:
bounded, by call time, older ones kept compact; empty in a store for a
summary) and the rate-limit headroom per model: the latest, and the last of
each minute over the per-minute span (`HeadroomHistory`), so that a window
in the past shows the headroom as it was then, or unknown. Error groups
count a window's failed calls from its buckets (the lifetime totals are
kept for `report`).

While the monitor is still reading the older part of its look-back,
`loaded_from` is the time from which the store holds every call; a window
that reaches before it gets a snapshot marked `partial`, its rate over the
part loaded.
"""

from __future__ import annotations

import gc
import math
import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call, RateLimit
from apimon_tui.core.redact import redact
from apimon_tui.store.aggregate import Aggregate
from apimon_tui.store.failed import FailedRing, Kept
from apimon_tui.store.ratelimit_history import HeadroomHistory, RateLimitSeen
from apimon_tui.store.series import DAY, NO_MODEL, _status_label

SeriesKey = tuple[str, str, str, str]  # source, model, status, error code
LOCK_CHUNK = 2000
OTHER = "(other)"


@dataclass(slots=True)
class ErrorGroup:
    """Failed calls with the same status, error code and model."""

    status: str
    code: str
    model: str
    count: int = 0
    first_ts: float = math.inf
    last_ts: float = -math.inf
    last_message: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.status, self.code, self.model)


@dataclass(slots=True)
class CallFilter:
    """What `/` narrows every panel to. Empty fields match everything; `source` matches
    any part of a source (`api-1` for `cmd:ssh api-1 tail -F ...`), the others whole values."""

    model: str = ""
    status: str = ""
    error_code: str = ""
    source: str = ""
    text: str = ""

    def is_empty(self) -> bool:
        return not (self.model or self.status or self.error_code or self.source or self.text)

    def matches_key(self, key: SeriesKey) -> bool:
        """Does a series (source, model, status, code) pass the filter?"""
        if not self._matches_fields(key):
            return False
        return not self.text or _contains(self.text, key)

    def matches_call(self, call: Call) -> bool:
        """Like `matches_key`, with free text also searched in the call's details."""
        key = _key_fields(call)
        if not self._matches_fields(key):
            return False
        details = (call.request_id, call.error_message, call.error_type, call.endpoint)
        return not self.text or _contains(self.text, key + details)

    def matches_scope(self, model: str, source: str = "") -> bool:
        """For figures kept per model (rate limits, error groups): model, source and text only."""
        if (self.model and self.model != model) or (source and self.source and self.source not in source):
            return False
        return not self.text or _contains(self.text, (model, source))

    def _matches_fields(self, key: SeriesKey) -> bool:
        source, model, status, code = key
        return (
            (not self.model or self.model == model)
            and (not self.source or self.source in source)
            and (not self.error_code or self.error_code == code)
            and (not self.status or _status_matches(self.status, status))
        )


def _contains(text: str, values) -> bool:
    needle = text.lower()
    return any(needle in (v or "").lower() for v in values)


def _status_matches(wanted: str, status: str) -> bool:
    """`429` matches exactly; `5xx` / `5` match a class; `err` matches no answer."""
    wanted = wanted.lower()
    if wanted.endswith("xx"):
        wanted = wanted[:-2]
    return status.lower().startswith(wanted)


def _key_fields(call: Call) -> SeriesKey:
    return (call.source, call.model or NO_MODEL, call.status_label, call.error_code or "")


@dataclass(slots=True)
class Point:
    """One step of a time series: counts and the latency histogram's p95."""

    start: float
    calls: int
    errors: int
    p95_ms: float | None


@dataclass
class Snapshot:
    """The figures of one window under one filter: what panels draw."""

    window_s: float | None
    now: float
    total: Aggregate
    by_model: dict[str, Aggregate]
    by_source: dict[str, Aggregate]
    points: list[Point] = field(default_factory=list)
    step_s: float = 1.0
    ratelimits: list[RateLimitSeen] = field(default_factory=list)  # each model's last reading in the window
    ratelimits_unknown: dict[str, float | None] = field(default_factory=dict)  # models with none in it: when
    # each was last read before the window's end (None: only after it)
    failed: list[Kept] = field(default_factory=list)
    groups: list[ErrorGroup] = field(default_factory=list)
    covered_s: float | None = None  # how much of the window the logs cover (they may start inside it)
    partial: bool = False  # the window reaches into look-back not read yet: its counts are not all in

    @property
    def rate_per_s(self) -> float:
        """Calls per second over the part of the window the logs cover (not over all of it)."""
        if self.window_s:
            return self.total.calls / max(1.0, self.covered_s if self.covered_s is not None else self.window_s)
        span = self.total.last_ts - self.total.first_ts
        return self.total.calls / span if span > 0 else 0.0


_TIERS = ("_seconds", "_minutes", "_days")  # attribute names of the time-bucketed tiers


class MetricsStore:
    # Calls folded per hold of the lock by `add_columns`, so that a reader (the screen) never waits for
    # a whole batch; a store nobody reads while it is filled (a summary's) takes each batch at once.
    fold_rows = LOCK_CHUNK

    def __init__(
        self,
        *,
        fine_s: int = 3600,
        horizon_s: int = 86400,
        keep_days: int = 400,
        failed_capacity: int = 5000,
        failed_whole: int = 500,
        max_series: int = 2000,
        max_groups: int = 1000,
    ) -> None:
        self.fine_s = fine_s
        self.horizon_s = max(horizon_s, fine_s)
        self.max_series = max_series
        self.max_groups = max_groups
        self._seconds: dict[int, dict[SeriesKey, Aggregate]] = {}
        self._minutes: dict[int, dict[SeriesKey, Aggregate]] = {}
        self.keep_days = keep_days
        self._days: dict[int, dict[SeriesKey, Aggregate]] = {}
        self._archive: dict[SeriesKey, Aggregate] = {}
        self._series: set[SeriesKey] = set()
        self.newest = -math.inf
        self.oldest = math.inf  # the oldest call ever added (lifetime, unlike the buckets)
        self._pruned_at = -math.inf
        self.failed = FailedRing(failed_capacity, failed_whole)
        self.loaded_from: float | None = None  # while look-back is read: every call from this time on is in
        self.groups: dict[tuple[str, str, str], ErrorGroup] = {}
        self.ratelimits: dict[str, RateLimitSeen] = {}  # the latest per model
        self.headroom = HeadroomHistory()  # ... and the last of each minute, for past windows
        self.calls_added = 0
        self.version = 0  # bumped on every change, so views can skip redraws
        self._between: tuple[tuple[float, float, int], Aggregate] | None = None  # see `_total_between`
        self._times: dict[str, tuple[tuple, list[int]]] = {}  # see `_bucket_times`
        # Held by the ingest thread while it adds a batch and by readers while
        # they take a snapshot: dicts must not change under an iteration.
        self.lock = threading.RLock()

    def __getstate__(self) -> dict:
        """Pickled to send a worker's store to the parent; the lock stays behind.

        The buckets name their series by its place in one list, so that a
        pickle made without a memo (`parallel._pickled`) holds each series
        key once, not once per bucket.
        """
        state = self.__dict__.copy()
        del state["lock"]
        state["_times"] = {}
        series = list(self._series)
        place = {key: i for i, key in enumerate(series)}
        state["_series"] = series
        for tier in _TIERS:
            state[tier] = {t: [(place[key], agg) for key, agg in slot.items()] for t, slot in state[tier].items()}
        state["_archive"] = [(place[key], agg) for key, agg in self._archive.items()]
        return state

    def __setstate__(self, state: dict) -> None:
        series = state["_series"]
        for tier in _TIERS:
            state[tier] = {t: {series[i]: agg for i, agg in slot} for t, slot in state[tier].items()}
        state["_archive"] = {series[i]: agg for i, agg in state["_archive"]}
        state["_series"] = set(series)
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # -- writing -----------------------------------------------------------

    def add(self, call: Call) -> None:
        self.add_many((call,))

    def add_many(self, calls: Sequence[Call]) -> None:
        """Fold calls in, taking the lock for at most `LOCK_CHUNK` calls at a time.

        A reader (the screen taking a snapshot) then never waits for a whole
        ingest batch, which keeps key presses answered while logs pour in.
        """
        for start in range(0, len(calls), LOCK_CHUNK):
            self._add_chunk(calls[start:start + LOCK_CHUNK])

    def _add_chunk(self, calls: Sequence[Call]) -> None:
        """The hot path: one aggregate update per call, locals only."""
        with self.lock:
            seconds, series, fine_s = self._seconds, self._series, self.fine_s
            newest, oldest = self.newest, self.oldest
            count = 0
            for call in calls:
                count += 1
                ts = call.ts
                status = call.status
                failed = call.failed
                error = failed or (status is not None and status >= 400)
                label = _status_label(status, failed)
                key = (call.source, call.model or NO_MODEL, label, call.error_code or "")
                if key not in series:
                    key = self._admit(key)
                if ts > newest:
                    self.newest = newest = ts
                    if ts - self._pruned_at >= 60:
                        self._prune()
                if ts < oldest:
                    self.oldest = oldest = ts
                sec = int(ts)
                if sec > newest - fine_s:  # `_bucket`, inlined: this runs once per call
                    slot = seconds.get(sec)
                    if slot is None:
                        slot = seconds[sec] = {}
                    agg = slot.get(key)
                    if agg is None:
                        agg = slot[key] = Aggregate()
                else:
                    agg = self._older_bucket(sec, key)
                agg.add_call(call, error, label)
                if error:
                    self._add_failed(call)
                if call.ratelimit is not None:
                    self._note_ratelimit(call)
            self.calls_added += count
            self.version += 1

    @property
    def keeps_failed(self) -> bool:
        """Whether failed calls are kept whole (the ring); a store for a summary keeps none."""
        return self.failed.capacity != 0

    def add_bulk(
        self,
        source: str,
        model: str | None,
        status: int | None,
        stamps: list[float],
        latencies_ms: list[float | None],
        ratelimit: tuple[float, RateLimit] | None = None,
    ) -> None:
        """Fold in calls of one series given as columns, without a `Call` each.

        The bulk path of one-line parsers (nginx): calls with no tokens and no
        error detail, so only their time, status and latency count. `stamps[i]`
        and `latencies_ms[i]` describe one call: lists (None: no latency), or
        numpy arrays from the column reader (NaN: no latency). `ratelimit` is
        the latest (time, headroom) among them. Failed calls come this way
        only into a store that keeps none whole (the ring needs each one); they
        cost 0, as `Pricer.estimate` prices a failed call without output
        tokens. The figures are exactly those `add_many` gives for the same calls.
        """
        failed = status is not None and status >= 400
        if failed and self.keeps_failed:
            raise ValueError(f"a store that keeps failed calls takes those of status {status} whole, not in bulk")
        label = _status_label(status, False)
        key = (source, model or NO_MODEL, label, "")
        add_chunk = self._add_bulk_chunk if isinstance(stamps, list) else self._add_bulk_columns
        for start in range(0, len(stamps), LOCK_CHUNK):
            end = start + LOCK_CHUNK
            add_chunk(key, stamps[start:end], latencies_ms[start:end], failed)
        if failed and len(stamps):
            with self.lock:
                first, last = (min(stamps), max(stamps)) if isinstance(stamps, list) else (stamps.min(), stamps.max())
                self._count_failed((label, "", model or ""), len(stamps), float(first), float(last), "")
        if ratelimit is not None:
            with self.lock:
                self._note_headroom(model or NO_MODEL, ratelimit[0], source, ratelimit[1])

    def add_columns(self, calls: CallColumns) -> None:
        """Fold in calls given as columns (`core.columns`), `fold_rows` calls at a time.

        The bulk path of parsers that read a batch at once: every call is
        counted in full (tokens, cost, both latencies), the failed ones come
        whole as well (`calls.calls`: the ring and the error groups take
        them), and only the newest headroom per model is built. The figures
        are exactly those `add_many` gives for the same calls in the same order.
        """
        from apimon_tui.store.call_columns import fold

        # The cyclic collector is held off meanwhile: a fold makes thousands of buckets, which hold no
        # cycles, and the collector, run every few hundred new objects, went over the whole store again
        # and again (a third of the fold's time on an openai-python log of 200,000 calls).
        collecting = gc.isenabled()
        gc.disable()
        try:
            step = self.fold_rows
            for start in range(0, len(calls), step):
                with self.lock:
                    fold(self, calls if len(calls) <= step else calls.part(start, start + step))
        finally:
            if collecting:
                gc.enable()

    def _add_bulk_chunk(self, key: SeriesKey, stamps: list[float], latencies_ms: list[float | None], failed: bool) -> None:
        """`_add_chunk` for calls in bulk, a run of calls in the same second at a time (see `_run_bucket`)."""
        with self.lock:
            if key not in self._series:
                key = self._admit(key)
            label = key[2]
            start = 0
            for sec, run in groupby(map(int, stamps)):
                end = start + len(list(run))
                times = stamps[start:end]
                agg = self._run_bucket(key, sec, min(times), max(times), times)
                agg.add_bulk(label, times, latencies_ms[start:end], failed)
                start = end
            self.calls_added += len(stamps)
            self.version += 1

    def _add_bulk_columns(self, key: SeriesKey, stamps, latencies_ms, failed: bool) -> None:
        """`_add_bulk_chunk` for numpy columns: the runs are cut and summed up with numpy."""
        from apimon_tui.store.second_runs import second_runs

        runs = second_runs(stamps, latencies_ms)
        with self.lock:
            if key not in self._series:
                key = self._admit(key)
            label = key[2]
            bins, bins_start = runs.bins, 0
            for i, sec in enumerate(runs.second):
                low, top = runs.first[i], runs.last[i]
                times = runs.ts[runs.start[i]:runs.end[i]].tolist() if top - self._pruned_at >= 60 else ()
                agg = self._run_bucket(key, sec, low, top, times)
                bins_end = runs.bins_end[i]
                agg.add_run(label, runs.end[i] - runs.start[i], low, top, bins[bins_start:bins_end],
                            runs.fastest[i], runs.slowest[i], failed)
                bins_start = bins_end
            self.calls_added += len(stamps)
            self.version += 1

    def _run_bucket(self, key: SeriesKey, sec: int, low: float, top: float, times) -> Aggregate:
        """The bucket of a run of calls in second `sec`, from `low` to `top`, the newest time moved on.

        The newest time and the pruning it triggers are replayed call by call
        (`times`) only in a run that moves it far enough to prune, so tiers
        end up as they would one call at a time.
        """
        if top > self.newest:
            if top - self._pruned_at >= 60:
                self._advance(times)
            else:
                self.newest = top
        if low < self.oldest:
            self.oldest = low
        if sec > self.newest - self.fine_s:
            return self._bucket(self._seconds, sec, key)
        return self._older_bucket(sec, key)

    def _advance(self, times: list[float]) -> None:
        """Move the newest time through `times` one by one, pruning where `_add_chunk` would."""
        for ts in times:
            if ts > self.newest:
                self.newest = ts
                if ts - self._pruned_at >= 60:
                    self._prune()

    def _older_bucket(self, sec: int, key: SeriesKey) -> Aggregate:
        """The bucket for a call older than the second tier: its minute, its day, or the archive."""
        minute = sec - sec % 60
        if minute > self.newest - self.horizon_s - 60:
            return self._bucket(self._minutes, minute, key)
        return self._day_or_archive(sec - sec % DAY, key)

    def _day_or_archive(self, day: int, key: SeriesKey) -> Aggregate:
        if day > self.newest - self.keep_days * DAY:
            return self._bucket(self._days, day, key)
        return self._archived(key)

    def _note_ratelimit(self, call: Call) -> None:
        """Latest headroom per model (a proxy log without models keeps one under `(none)`)."""
        self._note_headroom(call.model or NO_MODEL, call.ts, call.source, call.ratelimit)

    def _note_headroom(self, model: str, ts: float, source: str, ratelimit: RateLimit) -> None:
        """The latest reading per model; the history gets the last of each minute (the latest once a newer
        minute's reading replaces it, at once for an older reading): one comparison on the common path."""
        seen = RateLimitSeen(model, ts, source, ratelimit)
        latest = self.ratelimits.get(model)
        if latest is None or latest.ts <= ts:
            self.ratelimits[model] = seen
            if latest is not None and latest.ts // 60 != ts // 60:
                self.headroom.note(latest)
        else:
            self.headroom.note(seen)

    def _admit(self, key: SeriesKey) -> SeriesKey:
        """Register a new series, folding into `(other)` past the cap."""
        if len(self._series) >= self.max_series:
            key = (key[0], OTHER, key[2], "")
        self._series.add(key)
        return key

    @staticmethod
    def _bucket(tier: dict[int, dict[SeriesKey, Aggregate]], t: int, key: SeriesKey) -> Aggregate:
        slot = tier.get(t)
        if slot is None:
            slot = tier[t] = {}
        agg = slot.get(key)
        if agg is None:
            agg = slot[key] = Aggregate()
        return agg

    def _archived(self, key: SeriesKey) -> Aggregate:
        agg = self._archive.get(key)
        if agg is None:
            agg = self._archive[key] = Aggregate()
        return agg

    def _prune(self) -> None:
        """Roll seconds past the fine edge into minutes, minutes past the horizon into days, old days into the archive."""
        self._pruned_at = self.newest
        fine_edge = self.newest - self.fine_s
        for sec in [s for s in self._seconds if s <= fine_edge]:
            for key, agg in self._seconds.pop(sec).items():
                self._bucket(self._minutes, sec - sec % 60, key).merge(agg)
        horizon_edge = self.newest - self.horizon_s - 60
        self.headroom.prune(horizon_edge)
        for minute in [m for m in self._minutes if m <= horizon_edge]:
            for key, agg in self._minutes.pop(minute).items():
                self._day_or_archive(minute - minute % DAY, key).merge(agg)
        days_edge = self.newest - self.keep_days * DAY
        for day in [d for d in self._days if d <= days_edge]:
            for key, agg in self._days.pop(day).items():
                self._archived(key).merge(agg)

    def _add_failed(self, call: Call) -> None:
        # The ring is the only place whole calls (and their log text) are kept.
        if call.error_message:
            call.error_message = redact(call.error_message)
        if self.keeps_failed:
            if call.raw:
                call.raw = redact(call.raw)
            self.failed.add(call)
        self._count_failed(call.group_key(), 1, call.ts, call.ts, call.error_message or "")

    def _count_failed(self, gkey: tuple[str, str, str], count: int, first: float, last: float, message: str) -> None:
        """Count failed calls in their error group: `count` from `first` to `last`, the last one saying `message`."""
        group = self.groups.get(gkey)
        if group is None:
            if len(self.groups) >= self.max_groups:
                oldest = min(self.groups.values(), key=lambda g: g.last_ts)
                del self.groups[oldest.key]
            group = self.groups[gkey] = ErrorGroup(*gkey)
        group.count += count
        group.first_ts = min(group.first_ts, first)
        if last >= group.last_ts:
            group.last_ts = last
            group.last_message = message

    def advance(self, newest: float) -> None:
        """Move the newest time on to `newest`, folding the tiers as newer calls would."""
        with self.lock:
            if newest > self.newest:
                self.newest = newest
                self._prune()

    def merge(self, other: MetricsStore) -> None:
        """Fold in a store built in parallel, taking over its buckets: `other` is consumed.

        Buckets are moved, not copied, where this store has none for the same
        time and series, and this store's seconds are folded first when the
        other one is newer: merging two halves of a big file then needs little
        more memory than the two stores themselves.
        """
        with self.lock:
            self.advance(other.newest)
            for tier, theirs in ((self._seconds, other._seconds), (self._minutes, other._minutes), (self._days, other._days)):
                for t, slot in theirs.items():
                    mine = tier.get(t)
                    if mine is None:
                        tier[t] = slot
                    else:
                        _merge_slot(mine, slot)
            _merge_slot(self._archive, other._archive)
            self._series |= other._series
            self.oldest = min(self.oldest, other.oldest)
            for call in other.failed:
                self._add_failed(call)
            for model, seen in other.ratelimits.items():
                mine_seen = self.ratelimits.get(model)
                if mine_seen is None or mine_seen.ts <= seen.ts:
                    self.ratelimits[model] = seen
                if mine_seen is not None:
                    self.headroom.note(min(mine_seen, seen, key=lambda r: r.ts))  # the older one goes to history
            self.headroom.merge(other.headroom)
            self.calls_added += other.calls_added
            self._prune()
            self.version += 1

    # -- reading -----------------------------------------------------------

    def snapshot(
        self,
        window_s: float | None = None,
        now: float | None = None,
        flt: CallFilter | None = None,
        *,
        points: int = 60,
        failed_limit: int = 200,
    ) -> Snapshot:
        """Figures over the last `window_s` seconds up to `now` (None: everything).

        `now` defaults to the newest call's time. `points` sets how many steps
        the time series has (0: none, for callers that only want the figures);
        `failed_limit` bounds the failed calls returned.
        """
        with self.lock:
            return self._snapshot(window_s, now, flt, points, failed_limit)

    def _snapshot(self, window_s, now, flt, points, failed_limit) -> Snapshot:
        if now is None:
            now = self.newest if self.newest > -math.inf else 0.0
        flt = flt if flt is not None and not flt.is_empty() else None
        keep = self._key_test(flt)
        # Buckets fold into one aggregate per series first (one merge per
        # bucket); only the few series are then combined into the tables.
        per_series: dict[SeriesKey, Aggregate] = {}
        failing: dict[tuple[str, str, str], ErrorGroup] = {}  # the window's error groups (any source)
        for key, agg in self._window_aggregates(window_s, now):
            if keep(key):
                _into(per_series, key, agg)
            if agg.errors and window_s:
                _count_group(failing, key, agg)
        total, by_model, by_source = Aggregate(), {}, {}
        for key, agg in per_series.items():
            total.merge(agg)
            _into(by_model, key[1], agg)
            _into(by_source, key[0], agg)
        snap = Snapshot(window_s, now, total, by_model, by_source)
        if window_s and self.oldest < math.inf:
            snap.covered_s = max(0.0, min(window_s, now - math.floor(self.oldest) + 1))  # whole seconds
            loaded_from = self.loaded_from
            if loaded_from is not None and now - window_s < loaded_from:
                snap.partial = True
                snap.covered_s = max(0.0, min(snap.covered_s, now - math.floor(loaded_from) + 1))
        if window_s and points:
            snap.points, snap.step_s = self._series_points(window_s, now, points, keep)
        start = now - window_s if window_s else -math.inf
        snap.ratelimits, snap.ratelimits_unknown = self._headroom_in(start, now, flt)
        failed = []
        for call in self.failed.between(start, now) if failed_limit else ():
            if flt is None or flt.matches_call(call):
                failed.append(call)
                if len(failed) >= failed_limit:
                    break
        snap.failed = failed
        groups = self._with_messages(failing).values() if window_s else self.groups.values()
        snap.groups = sorted((g for g in groups if flt is None or _group_matches(flt, g)),
                             key=lambda g: (g.last_ts, g.key), reverse=True)  # the same order whatever came first
        return snap

    def _with_messages(self, failing: dict[tuple[str, str, str], ErrorGroup]) -> dict:
        """The window's groups, each with the message of its last call counted: the run's last one when
        that is it, else the newest kept failed call of the group up to then ("" when none is kept)."""
        missing = set()
        for gkey, group in failing.items():
            whole = self.groups.get(gkey)
            if whole is not None and whole.last_ts == group.last_ts:
                group.last_message = whole.last_message
            else:
                missing.add(gkey)
        if not missing:
            return failing
        low = math.nextafter(min(failing[k].first_ts for k in missing), -math.inf)
        for call in self.failed.between(low, max(failing[k].last_ts for k in missing)):  # newest first
            gkey = call.group_key()
            if gkey in missing and call.ts <= failing[gkey].last_ts:
                failing[gkey].last_message = call.error_message or ""
                missing.discard(gkey)
                if not missing:
                    break
        return failing

    def _headroom_in(self, start: float, now: float, flt: CallFilter | None) -> tuple[list, dict]:
        """Each model's last rate-limit reading in the window, and the models read at other times with
        when they were last read before it: a past window reads the per-minute history, not the latest."""
        latest = self.ratelimits.values() if now >= self.newest else self.headroom.at(now, self.ratelimits)
        before = {r.model: r for r in latest}
        inside, unknown = [], {}
        for model, seen in sorted(self.ratelimits.items()):
            if flt is not None and not flt.matches_scope(model, seen.source):
                continue
            last = before.get(model)
            if last is not None and last.ts > start:
                inside.append(last)
            else:
                unknown[model] = last.ts if last is not None else None
        return inside, unknown

    def cost_between(self, start: float, end: float) -> float:
        """The USD the logs estimate between two times (the budget's live part)."""
        return self._total_between(start, end).cost_usd

    def uncosted_between(self, start: float, end: float) -> int:
        """How many calls between two times have no known cost: `cost_between` is then a lower bound."""
        return self._total_between(start, end).uncosted_calls

    def _total_between(self, start: float, end: float) -> Aggregate:
        """A window's totals, kept until the store changes: the budget asks for its cost and
        its uncosted calls in turn, and a month's snapshot takes milliseconds."""
        key = (start, end, self.version)
        kept = self._between
        if kept is None or kept[0] != key:
            total = self.snapshot(end - start, end, points=0, failed_limit=0).total if end > start else Aggregate()
            kept = self._between = (key, total)
        return kept[1]

    def failed_between(self, start: float, end: float) -> list[Kept]:
        """The failed calls kept with `start < ts <= end`, newest first (whole, or `FailedEntry` when older)."""
        with self.lock:
            return self.failed.between(start, end)

    def logs_since(self) -> float | None:
        """The time from which the logs are all in (the oldest call's, once the look-back is read), or None before any.

        The budget's burn rates are taken over the span from there, not over a span half read.
        """
        if self.oldest == math.inf:
            return None
        return self.oldest if self.loaded_from is None else max(self.oldest, self.loaded_from)

    def _key_test(self, flt: CallFilter | None):
        if flt is None:
            return lambda key: True
        cache: dict[SeriesKey, bool] = {}

        def keep(key: SeriesKey) -> bool:
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = flt.matches_key(key)
            return hit

        return keep

    def _window_aggregates(self, window_s: float | None, now: float):
        """(series, aggregate) pairs covering the window.

        Recent seconds live in the second tier and older ones were rolled into
        minutes and then days, so a window reads every tier it reaches into.
        """
        start = -math.inf if window_s is None else now - window_s
        if window_s is None:
            yield from self._archive.items()
        if window_s is None or window_s > self.horizon_s:
            for day, slot in self._days.items():
                if start < day + DAY / 2 and day <= now:  # days mostly inside the window
                    yield from slot.items()
        if window_s is None or window_s > self.fine_s or self._before_seconds(start):
            minutes, times = self._minutes, self._bucket_times("_minutes")
            for minute in times[bisect_right(times, start - 30):bisect_right(times, now - 30)]:
                yield from minutes[minute].items()  # buckets mostly inside the window: start < minute + 30 <= now
        seconds, times = self._seconds, self._bucket_times("_seconds")
        for sec in times[bisect_right(times, start):bisect_right(times, now)]:
            yield from seconds[sec].items()

    def _bucket_times(self, tier: str) -> list[int]:
        """A tier's bucket times in order, kept while the store does not change: a window is then found
        by bisecting, not by reading every bucket (alerts replayed over the look-back take thousands)."""
        buckets = getattr(self, tier)
        key = (self.version, self._pruned_at, len(buckets))
        kept = self._times.get(tier)
        if kept is None or kept[0] != key:
            kept = self._times[tier] = (key, sorted(buckets))
        return kept[1]

    def _before_seconds(self, start: float) -> bool:
        """Does a window from `start` reach back past the per-second tier (by more than half a
        minute), into the minutes? A window in the past (the time cursor) does, however short."""
        return start < self.newest - self.fine_s - 30

    def _series_points(self, window_s: float, now: float, points: int, keep) -> tuple[list[Point], float]:
        unit = 1 if window_s <= self.fine_s and not self._before_seconds(now - window_s) else 60
        step = max(unit, math.ceil(window_s / max(points, 1) / unit) * unit)
        count = max(1, math.ceil(window_s / step))
        first = math.ceil(now / step) * step - count * step  # the last step ends at or just after now
        steps = [Aggregate() for _ in range(count)]
        tiers = (self._seconds,) if unit == 1 else (self._minutes, self._seconds)
        for tier in tiers:
            for t, slot in tier.items():
                i = (t - first) // step
                if 0 <= i < count:
                    for key, agg in slot.items():
                        if keep(key):
                            steps[i].merge(agg)
        out = [
            Point(first + i * step, a.calls, a.errors, a.latency.percentile(95))
            for i, a in enumerate(steps)
        ]
        return out, float(step)


def _count_group(failing: dict[tuple[str, str, str], ErrorGroup], key: SeriesKey, agg: Aggregate) -> None:
    """Count a bucket's failed calls in their error group (status, code, model), as `group_key` names it."""
    _, model, status, code = key
    gkey = (status, code, "" if model == NO_MODEL else model)
    group = failing.get(gkey)
    if group is None:
        group = failing[gkey] = ErrorGroup(*gkey)
    group.count += agg.errors
    group.first_ts = min(group.first_ts, agg.first_ts)
    group.last_ts = max(group.last_ts, agg.last_ts)


def _group_matches(flt: CallFilter, group: ErrorGroup) -> bool:
    """Groups span sources, so a source filter does not hide them."""
    return flt._matches_fields((flt.source, group.model, group.status, group.code)) and (
        not flt.text or _contains(flt.text, (group.model, group.status, group.code, group.last_message))
    )


def _into(table: dict, name, agg: Aggregate) -> None:
    mine = table.get(name)
    if mine is None:
        mine = table[name] = Aggregate()
    mine.merge(agg)


def _merge_slot(mine: dict[SeriesKey, Aggregate], theirs: dict[SeriesKey, Aggregate]) -> None:
    """Add the series of one bucket time into ours, taking over the aggregates we lack."""
    for key, agg in theirs.items():
        have = mine.get(key)
        if have is None:
            mine[key] = agg
        else:
            have.merge(agg)


@dataclass(slots=True)
class Interval:
    """One slice of the retained span: how many calls, how many of them failed."""

    start: float
    calls: int = 0
    errors: int = 0


def store_intervals(store: MetricsStore, step_s: int = 60, flt: CallFilter | None = None) -> list[Interval]:
    """Calls and failures per `step_s` over the span the per-second and per-minute tiers
    retain, oldest first, empty slices included: what the overview strip draws and the
    error bursts are found in. Read-only.

    `step_s` is a multiple of 60, or under 60 a divisor of it, which splits only the
    per-second tier finely: use one only for a span within it (`fine_s`).
    """
    step_s = max(60, step_s - step_s % 60) if step_s >= 60 else max(1, step_s)
    if 60 % step_s:
        raise ValueError(f"a step under a minute must divide it, not {step_s}")
    keep = store._key_test(flt) if flt is not None and not flt.is_empty() else None
    counts: dict[int, list[int]] = {}
    with store.lock:
        for tier in (store._minutes, store._seconds):
            for t, slot in tier.items():
                aggs = slot.values() if keep is None else [agg for key, agg in slot.items() if keep(key)]
                if not aggs:
                    continue
                pair = counts.get(t - t % step_s)
                if pair is None:
                    pair = counts[t - t % step_s] = [0, 0]
                for agg in aggs:
                    pair[0] += agg.calls
                    pair[1] += agg.errors
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [Interval(float(t), *counts.get(t, (0, 0))) for t in range(first, last + step_s, step_s)]


def failed_kept_from(store: MetricsStore) -> float:
    """From when on the failed-call ring still holds every failed call (-inf: it has dropped
    none; inf: it keeps none), so a view of an older window can say its failed calls were not kept."""
    with store.lock:
        ring = store.failed
        if not store.keeps_failed:
            return math.inf
        if len(ring) < ring.capacity:
            return -math.inf
        return ring[0].ts  # the oldest kept: the ring is in call-time order
