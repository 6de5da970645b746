"""Folding `CallColumns` into the store with numpy: one Python step per bucket and series, not per call.

Each call's bucket is found for all calls at once: its tier and time follow
from its own time and the newest time as it is added (a running maximum),
with the same tests `MetricsStore._add_chunk` makes. Calls are grouped by
(bucket, series); the groups are taken in the order their first call was
logged, so buckets and series are created in the order the calls would
create them one by one, and each group's counts, tokens, times and latency
bins are summed with numpy. Costs are added with `np.add.at`, one call at a
time in log order, onto what each bucket already held: the same floating
point sums, to the last bit, as one call at a time. Where a call moves the
newest time far enough to prune the tiers, the columns are cut there and
the store pruned between the parts, as it would be between those calls.
"""

from __future__ import annotations

from itertools import repeat
from operator import is_not

import numpy as np

from apimon_tui.core.columns import CallColumns
from apimon_tui.core.redact import redact
from apimon_tui.store.histogram import bin_key
from apimon_tui.store.ratelimit_history import RateLimitSeen
from apimon_tui.store.second_runs import latency_bins
from apimon_tui.store.series import DAY, NO_MODEL, _status_label

ARCHIVE = 3  # the tiers by number: seconds, minutes, days, the archive
_OK, _ERR = 0, 1  # the status codes of calls without an HTTP status (`Call.status_label`)


def fold(store, calls: CallColumns) -> None:
    """Fold `calls` into `store` (its lock held), pruning between calls where one at a time would."""
    while len(calls):
        ts = calls.ts
        running = np.maximum.accumulate(ts)
        newest, pruned_at = store.newest, store._pruned_at
        top = running[-1]
        if not (top > newest and top - pruned_at >= 60):
            _fold(store, calls, running)
            return
        before = np.maximum(np.concatenate(([newest], running[:-1])), newest)
        at = int(np.flatnonzero((ts > before) & (ts - pruned_at >= 60))[0])
        if at:
            _fold(store, calls.part(0, at), running[:at])
        store.newest = float(ts[at])
        store._prune()
        calls = calls.part(at, len(calls))


def _fold(store, calls: CallColumns, running: np.ndarray) -> None:
    """Fold calls none of which prunes the tiers; `running` is the running maximum of their times."""

    ts = calls.ts
    rows = len(ts)
    tier, when = _buckets(store, ts, np.maximum(running, store.newest))
    error = calls.status >= 400
    status = calls.status
    if calls.failed is not None:
        error |= calls.failed
        status = np.where((status == 0) & calls.failed, _ERR, status)
    series, keys = _series(store, calls, status)
    order, starts, group = _runs((when * 4 + tier) * len(keys) + series)
    first = order[starts]  # each group's first call (groups by code)
    in_turn = np.argsort(first)  # the groups in the order their first call was logged
    first = first[in_turn]
    aggs = _aggregates(store, tier[first].tolist(), when[first].tolist(), series[first].tolist(), keys)

    costed = ~np.isnan(calls.cost_usd)
    cost = np.empty(len(starts), dtype=np.float64)
    cost[in_turn] = [agg.cost_usd for agg in aggs]
    np.add.at(cost, group[costed], calls.cost_usd[costed])  # one call at a time, in log order, onto what each held
    summed = np.empty((rows, 6), dtype=np.float64)  # token counts are whole floats: their sums are exact
    for i, column in enumerate((calls.input_tokens, calls.output_tokens, calls.cached_tokens,
                                calls.cache_write_tokens, error, costed)):
        summed[:, i] = column
    np.nan_to_num(summed, copy=False)
    sorted_ts = ts[order]
    figures = np.column_stack((
        np.add.reduceat(summed[order], starts), cost, np.diff(np.append(starts, rows)),
        np.minimum.reduceat(sorted_ts, starts), np.maximum.reduceat(sorted_ts, starts),
    ))[in_turn].tolist()
    turn = in_turn.tolist()
    latency = _binned(calls.latency_ms[order], starts, turn)
    ttft = _binned(calls.ttft_ms[order], starts, turn)
    for agg, label, (inp, out, cached, written, errors, known, usd, n, low, high), lat, first_bin in zip(
        aggs, [keys[s][2] for s in series[first].tolist()], figures, latency, ttft,
    ):
        agg.add_folded(label, int(n), int(errors), int(inp), int(out), int(cached), int(written), int(known), usd,
                       low, high)
        if lat is not None:
            agg.latency.add_binned(*lat)
        if first_bin is not None:
            agg.ttft.add_binned(*first_bin)

    if calls.message is None:
        for _, call in calls.calls:
            if call.failed or (call.status is not None and call.status >= 400):
                store._add_failed(call)
    else:
        _count_failed_rows(store, calls, error, status)
    if calls.ratelimits is not None:
        _note_headroom(store, calls)
    top = float(running[-1])
    if top > store.newest:
        store.newest = top
    low = float(ts.min())
    if low < store.oldest:
        store.oldest = low
    store.calls_added += rows
    store.version += 1


def _buckets(store, ts: np.ndarray, newest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each call's tier and bucket time, given the store's newest time as it is added (`_add_chunk`'s tests)."""
    sec = ts.astype(np.int64)
    in_seconds = sec > newest - store.fine_s
    if in_seconds.all():  # the common cases: recent calls, and a log read from an hour before its end
        return np.zeros(len(sec), dtype=np.int64), sec
    minute = sec - sec % 60
    in_minutes = ~in_seconds & (minute > newest - store.horizon_s - 60)
    if in_minutes.all():
        return np.ones(len(sec), dtype=np.int64), minute
    day = sec - sec % DAY
    in_days = ~in_seconds & ~in_minutes & (day > newest - store.keep_days * DAY)
    tier = np.select([in_seconds, in_minutes, in_days], [0, 1, 2], ARCHIVE)
    when = np.select([in_seconds, in_minutes, in_days], [sec, minute, day], 0)
    return tier, when


def _runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calls grouped by equal code: the calls by group (groups by code, log order in each),
    where each group starts among them, and each call's group."""
    order = np.argsort(codes, kind="stable")
    by_code = codes[order]
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    np.not_equal(by_code[1:], by_code[:-1], out=new[1:])
    group = np.empty(len(codes), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    return order, np.flatnonzero(new), group


def _count_failed_rows(store, calls: CallColumns, error: np.ndarray, status: np.ndarray) -> None:
    """The failed calls of a summary's store (which keeps none whole), rows and whole calls in log
    order, counted in their error groups as `_add_failed` one by one leaves them: each group's count,
    first and last time, and the message of its last call (ties to the later), redacted once."""
    whole = dict(calls.calls)
    failed = []  # (group key, time, message) in log order
    for row in np.flatnonzero(error).tolist():
        call = whole.get(row)
        if call is not None:
            failed.append((call.group_key(), call.ts, call.error_message or ""))
            continue
        code = int(status[row])
        label = "OK" if code == _OK else "ERR" if code == _ERR else _status_label(code, False)
        error_code = calls.codes[int(calls.code[row])] if calls.code is not None else ""
        key = (label, error_code or "", calls.models[int(calls.model[row])] or "")
        failed.append((key, float(calls.ts[row]), calls.messages[int(calls.message[row])]))
    groups: dict[tuple, list] = {}
    for key, ts, message in failed:
        group = groups.get(key)
        if group is None:
            groups[key] = [1, ts, ts, message]
            continue
        group[0] += 1
        group[1] = min(group[1], ts)
        if ts >= group[2]:
            group[2], group[3] = ts, message
    new = sum(key not in store.groups for key in groups)
    if len(store.groups) + new > store.max_groups:  # groups are dropped as they come: one by one, then
        for key, ts, message in failed:
            store._count_failed(key, 1, ts, ts, redact(message) if message else "")
        return
    for key, (count, first, last, message) in groups.items():
        store._count_failed(key, count, first, last, redact(message) if message else "")


def _series(store, calls: CallColumns, status: np.ndarray) -> tuple[np.ndarray, list]:
    """Each call's series, as an index into the list of series keys (admitted in order of first call)."""

    codes = calls.code if calls.code is not None else np.zeros(len(status), dtype=np.int64)
    order, starts, inverse = _runs((calls.model * 1024 + status) * (len(calls.codes) + 1) + codes)
    first = order[starts]
    known = store._series
    keys: list = []
    place: dict = {}
    index = np.empty(len(first), dtype=np.int64)
    for i in np.argsort(first).tolist():
        row = int(first[i])
        label_code = int(status[row])
        label = "OK" if label_code == _OK else "ERR" if label_code == _ERR else _status_label(label_code, False)
        code = calls.codes[int(codes[row])] if calls.code is not None else ""
        key = (calls.source, calls.models[int(calls.model[row])] or NO_MODEL, label, code or "")
        if key not in known:
            key = store._admit(key)
        where = place.get(key)
        if where is None:
            where = place[key] = len(keys)
            keys.append(key)
        index[i] = where
    return index[inverse], keys


def _aggregates(store, tiers: list[int], times: list[int], series: list[int], keys: list) -> list:
    """The aggregate of each group, created in this order where missing (as calls one by one would)."""
    bucket, older = store._bucket, (store._seconds, store._minutes, store._days)
    return [
        bucket(older[tier], when, keys[s]) if tier != ARCHIVE else store._archived(keys[s])
        for tier, when, s in zip(tiers, times, series)
    ]


def _binned(values: np.ndarray, starts: np.ndarray, turn: list[int]) -> list:
    """Per group (`starts` into `values`, NaN: none), (bins, lowest, highest) of its values, or None;
    the groups taken in the order `turn`."""
    timed = ~np.isnan(values)
    if not timed.any():
        return [None] * len(starts)
    bins = _shared_bins(latency_bins(values[timed]))
    ends = np.cumsum(timed)[np.append(starts[1:], len(values)) - 1].tolist()
    with np.errstate(invalid="ignore"):
        lows = np.fmin.reduceat(values, starts).tolist()
        highs = np.fmax.reduceat(values, starts).tolist()
    out, begin = [], 0
    for end, low, high in zip(ends, lows, highs):
        out.append((bins[begin:end], low, high) if end > begin else None)
        begin = end
    return [out[i] for i in turn]


_KEYS_LOW = -1024  # the bins of latencies from 0.00004 ms to 10^17 ms have their shared int here by index
_KEYS = np.empty(5120, dtype=object)
_KNOWN = np.zeros(len(_KEYS), dtype=bool)


def _shared_bins(bins: np.ndarray) -> list[int]:
    """`bin_key` of each bin: one shared int per bin, as `Histogram.add` keeps them, taken from an
    array by index rather than looked up one by one (a fifth of the time)."""
    at = bins - _KEYS_LOW
    if at.min() < 0 or at.max() >= len(_KEYS):  # the zero bin, or a latency out of any usual range
        listed = bins.tolist()
        return list(map(bin_key, listed, listed))
    known = _KNOWN[at]
    if not known.all():
        for place in np.flatnonzero(np.bincount(at[~known])).tolist():  # (`np.unique` imports numpy.ma)
            b = place + _KEYS_LOW
            _KEYS[place] = bin_key(b, b)
        _KNOWN[at] = True
    return _KEYS[at].tolist()


def _note_headroom(store, calls: CallColumns) -> None:
    """Each model's headroom as its calls one by one would leave it, building readings only where they count.

    One by one, a reading becomes the model's latest when no earlier one (the store's latest first) is
    newer, ties to the later; the others go to the history at once, and a latest goes there when the
    next latest is of another minute. The history keeps per minute the newest, ties to the later note,
    and admits a model at its first note: so per (model, minute) only the last noted of the newest
    counts, noted where that minute's first note was, and the store ends exactly as one by one.
    """
    ratelimits = calls.ratelimits
    missing = ratelimits.count(None)  # a C loop: most batches have a reading on every call, or on none
    if missing == len(ratelimits):
        return
    if missing:
        rows = np.flatnonzero(np.fromiter(map(is_not, ratelimits, repeat(None)), dtype=bool, count=len(ratelimits)))
    else:
        rows = np.arange(len(ratelimits))
    place: dict[str, int] = {}
    names = [place.setdefault(name or NO_MODEL, len(place)) for name in calls.models]  # None and "" are one
    named = list(place)
    model = np.array(names, dtype=np.int64)[calls.model[rows]]
    first = {code: int(np.argmax(model == code)) for code in np.flatnonzero(np.bincount(model)).tolist()}
    in_order = sorted(first, key=first.__getitem__)  # the models in the order of their first reading
    stored = {code: store.ratelimits.get(named[code]) for code in in_order}
    stored = {code: seen for code, seen in stored.items() if seen is not None}
    # the readings by model, each model's in log order after the store's latest (place -1): `at` rises
    # already, so a stable sort by model alone keeps that order within each model
    m = np.concatenate((np.array(list(stored), dtype=np.int64), model))
    t = np.concatenate(([seen.ts for seen in stored.values()], calls.ts[rows]))
    at = np.concatenate((np.full(len(stored), -1, dtype=np.int64), rows))
    order = np.argsort(m, kind="stable")
    m, t, at = m[order], t[order], at[order]
    starts = np.flatnonzero(np.concatenate(([True], m[1:] != m[:-1])))
    before = np.empty_like(t)  # the newest reading of its model before each
    for start, end in zip(starts.tolist(), np.append(starts[1:], len(t)).tolist()):
        before[start] = -np.inf
        np.maximum.accumulate(t[start:end - 1], out=before[start + 1:end])
    becomes = t >= before
    chain = np.flatnonzero(becomes)  # the readings that become their model's latest, in turn
    chain_model = m[chain]
    chain_minute = t[chain] // 60
    replaced = (chain_model[1:] == chain_model[:-1]) & (chain_minute[1:] != chain_minute[:-1])
    last = chain[np.append(chain_model[1:] != chain_model[:-1], True)]
    final = dict(zip(m[last].tolist(), last.tolist()))
    for code in in_order:
        i = final[code]
        if at[i] >= 0:
            name = named[code]
            store.ratelimits[name] = RateLimitSeen(name, float(t[i]), calls.source, calls.ratelimit(int(at[i])))
    noted = np.concatenate((np.flatnonzero(~becomes), chain[:-1][replaced]))
    noted_at = np.concatenate((at[~becomes], at[chain[1:][replaced]]))  # where one by one notes it
    keep = t[noted] >= store.headroom.floor
    noted, noted_at = noted[keep], noted_at[keep]
    if not noted.size:
        return
    noted_model, noted_ts = m[noted], t[noted]
    by_minute = np.lexsort((noted_at, noted_ts, noted_ts // 60, noted_model))  # each minute's newest, noted last
    noted_model, minute = noted_model[by_minute], noted_ts[by_minute] // 60
    ends = np.flatnonzero(np.append((noted_model[1:] != noted_model[:-1]) | (minute[1:] != minute[:-1]), True))
    first_at = np.minimum.reduceat(noted_at[by_minute], np.concatenate(([0], ends[:-1] + 1)))
    picks = noted[by_minute][ends]
    for i in picks[np.argsort(first_at)].tolist():
        code = int(m[i])
        store.headroom.note(stored[code] if at[i] < 0 else RateLimitSeen(
            named[code], float(t[i]), calls.source, calls.ratelimit(int(at[i]))))
