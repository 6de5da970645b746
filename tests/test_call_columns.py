"""The store's column path (`MetricsStore.add_columns`) against calls one by one (`add_many`).

Both stores must end up the same in every part a view can read: each
bucket of each tier with its series in the same order, every figure of
every aggregate to the last bit (costs are float sums, so their order
counts), the series, the error groups, the failed ring, the headroom.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call, RateLimit
from apimon_tui.store import MetricsStore


def columns_of(source: str, calls: list[Call]) -> CallColumns:
    """The columns of calls of one source; failed calls go whole too."""
    def index(values, names):
        place = {}
        for value in values:
            place.setdefault(value, len(place))
        names.extend(place)
        return np.array([place[v] for v in values], dtype=np.int64)

    def floats(name):
        return np.array([getattr(c, name) for c in calls], dtype=np.float64)

    models: list = []
    codes: list = []
    providers: list = []
    return CallColumns(
        source, floats("ts"), index([c.model for c in calls], models), models,
        np.array([c.status or 0 for c in calls], dtype=np.int64), floats("latency_ms"), floats("ttft_ms"),
        floats("input_tokens"), floats("output_tokens"), floats("cached_tokens"), floats("cache_write_tokens"),
        floats("cost_usd"), np.array([c.failed for c in calls]), index([c.error_code or "" for c in calls], codes),
        codes, index([c.provider for c in calls], providers), providers,
        [c.ratelimit for c in calls], None,
        [(i, c) for i, c in enumerate(calls) if c.failed or (c.status or 0) >= 400],
    )


def state(store: MetricsStore) -> dict:
    """Everything a view can read of a store, in order, floats by their bits."""
    def agg_state(agg):
        return (agg.calls, agg.errors, list(agg.status.items()), agg.input_tokens, agg.output_tokens,
                agg.cached_tokens, agg.cache_write_tokens, agg.cost_usd.hex(), agg.costed_calls, agg.uncosted_calls,
                sorted(agg.latency.bins.items()), agg.latency.count, repr(agg.latency.min), repr(agg.latency.max),
                sorted(agg.ttft.bins.items()), agg.ttft.count, repr(agg.ttft.min), repr(agg.ttft.max),
                repr(agg.first_ts), repr(agg.last_ts))

    def tier(buckets):
        return [(t, [(key, agg_state(agg)) for key, agg in slot.items()]) for t, slot in buckets.items()]

    return {
        "seconds": tier(store._seconds), "minutes": tier(store._minutes), "days": tier(store._days),
        "archive": [(key, agg_state(agg)) for key, agg in store._archive.items()],
        "series": sorted(store._series), "newest": repr(store.newest), "oldest": repr(store.oldest),
        "pruned_at": repr(store._pruned_at), "calls_added": store.calls_added,
        "groups": [(k, g.count, g.first_ts, g.last_ts, g.last_message) for k, g in store.groups.items()],
        "ratelimits": [(m, r.ts, r.source, r.ratelimit) for m, r in store.ratelimits.items()],
        "headroom_history": [(m, sorted((t, r.ts, r.ratelimit) for t, r in per_minute.items()))
                             for m, per_minute in store.headroom._minutes.items()],
        "failed": [(c.ts, c.model, c.status, c.error_message) for c in store.failed],
        "total": agg_state(store.snapshot(points=0).total),
    }


def random_calls(rng: random.Random, n: int, start: float, spread: float) -> list[Call]:
    calls = []
    t = start
    for _ in range(n):
        t += rng.expovariate(1.0 / spread)
        ts = t - rng.random() * 90 if rng.random() < 0.1 else t  # some out of order, by up to 90 s
        status = rng.choice([200, 200, 200, 201, None, 429, 500])
        failed = rng.random() < 0.05
        calls.append(Call(
            ts, "", rng.choice(["openai", None]), None, None, rng.choice(["gpt-4o", "gpt-4o-mini", None, "", "m3"]),
            status, rng.choice([None, round(rng.lognormvariate(5, 1), 3), 0.0, 1e-300]),
            rng.choice([None, round(rng.lognormvariate(4, 1), 3)]),
            rng.choice([None, 0, rng.randrange(10_000)]), rng.choice([None, 0, rng.randrange(2_000)]),
            rng.choice([None, 0, rng.randrange(100)]), rng.choice([None, 0, 0.1, rng.random() / 7, rng.random() * 3]),
            None, None, rng.choice([None, "rate_limit_exceeded", "server_error"]) if status != 200 else None,
            rng.choice([None, "Rate limit reached for sk-abcdefghijklmnopqrstuvwx"]), failed, None, None, 0,
            rng.choice([None, None, RateLimit(100, rng.randrange(100)), RateLimit()]), None, None,
            rng.choice([None, 0, rng.randrange(50)]),
        ))
    return calls


def build(calls: list[Call], *, columns: bool, hint: float | None = None, **store_args) -> MetricsStore:
    store = MetricsStore(**store_args)
    if hint is not None:
        store.advance(hint)
    for start in range(0, len(calls), 700):
        part = calls[start:start + 700]
        if columns:
            store.add_columns(columns_of(part[0].source, part))
        else:
            store.add_many([_copy(c) for c in part])
    return store


def _copy(call: Call) -> Call:
    return Call(*[getattr(call, f) for f in call.__slots__])


@pytest.mark.parametrize("spread, store_args", [
    (0.01, {}),                                         # 100 calls a second: the per-second tier
    (3.0, {"fine_s": 600, "horizon_s": 3600}),          # prunes as the newest time moves on
    (900.0, {"fine_s": 60, "horizon_s": 600, "keep_days": 2}),  # days and the archive
    (0.5, {"failed_capacity": 0, "max_series": 6, "max_groups": 3}),  # a summary's store, series folded
])
@pytest.mark.parametrize("seed", [1, 2])
def test_columns_fold_as_calls_one_by_one(seed, spread, store_args):
    calls = random_calls(random.Random(seed), 3000, 1_764_000_000.0, spread)
    for c in calls:
        c.source = "app.log"
    one_by_one = build(calls, columns=False, **store_args)
    folded = build(calls, columns=True, **store_args)
    assert state(folded) == state(one_by_one)


def test_columns_after_a_hint_go_straight_to_their_minute():
    calls = random_calls(random.Random(5), 4000, 1_764_000_000.0, 2.0)
    for c in calls:
        c.source = "app.log"
    hint = max(c.ts for c in calls)
    assert state(build(calls, columns=True, hint=hint)) == state(build(calls, columns=False, hint=hint))


def test_a_summary_store_folds_a_whole_batch_at_once_as_one_by_one():
    """A summary's store takes a batch of columns in one fold, pruning within it where the newest time moves on."""
    from apimon_tui.ingest.parallel import summary_store

    calls = random_calls(random.Random(3), 6000, 1_764_000_000.0, 1.5)
    for c in calls:
        c.source = "app.log"
    folded, one_by_one = summary_store(), MetricsStore(failed_capacity=0)
    folded.fine_s = one_by_one.fine_s = 600
    folded.add_columns(columns_of("app.log", calls))
    one_by_one.add_many([_copy(c) for c in calls])
    assert folded.fold_rows > len(calls)
    assert state(folded) == state(one_by_one)


def test_costs_sum_in_log_order_onto_what_a_bucket_held():
    """Float sums depend on their order: (0.1 + 0.2) + 0.3 is not 0.1 + (0.2 + 0.3)."""
    calls = [Call(1_764_000_000.5, "a", model="m", status=200, cost_usd=c) for c in (0.1, 0.2, 0.3)]
    one_by_one = build(calls[:1], columns=False)
    folded = build(calls[:1], columns=True)
    one_by_one.add_many([_copy(c) for c in calls[1:]])
    folded.add_columns(columns_of("a", calls[1:]))
    assert folded.snapshot().total.cost_usd == one_by_one.snapshot().total.cost_usd == (0.1 + 0.2) + 0.3
    assert (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3)


PRICES = {"m3": {"input_per_mtok": 1.1, "output_per_mtok": 2.3, "cached_per_mtok": 0.7,
                 "tiers": [{"above_input_tokens": 200_000, "input_per_mtok": 2.9}]}}


def test_sink_keeps_and_prices_columns_as_calls_one_by_one():
    """Times outside [since, until) skipped, costs unknown in the log priced per model, long prompts by their tier."""
    from apimon_tui.core.model import SourceCounts
    from apimon_tui.costs.pricing import Pricer
    from apimon_tui.ingest.engine import Sink

    rng = random.Random(9)
    calls = random_calls(rng, 2000, 1_764_000_000.0, 0.05)
    for c in calls:
        c.source = "app.log"
        if rng.random() < 0.7:
            c.cost_usd = None
        if rng.random() < 0.05:
            c.input_tokens = rng.randrange(150_000, 400_000)  # past m3's long-context edge
        c.model = rng.choice(["gpt-4o", "gpt-4o-mini", "m3", "no-such-model", None, ""])
        c.cache_write_tokens = None  # a call with cache writes and no cost comes whole (`CallColumns`)
    since, until = calls[100].ts, calls[1900].ts
    stores, sinks = [], []
    for columns in (False, True):
        store = MetricsStore(failed_capacity=0)
        sink = Sink(SourceCounts(label="app.log"), Pricer(PRICES), since, until)
        for start in range(0, len(calls), 500):
            part = [_copy(c) for c in calls[start:start + 500]]
            if columns:
                sink.columns(columns_of("app.log", part))
            else:
                for call in part:
                    sink.call(call)
            sink.commit(store)
        stores.append(store)
        sinks.append(sink)
    assert state(stores[1]) == state(stores[0])
    assert (sinks[1].counts.calls, sinks[1].counts.skipped) == (sinks[0].counts.calls, sinks[0].counts.skipped)
    assert sinks[1].pricer.unpriced == sinks[0].pricer.unpriced == {"no-such-model"}
    assert 0 < stores[0].snapshot().total.costed_calls < stores[0].snapshot().total.calls


def headroom_state(store: MetricsStore) -> dict:
    """The headroom a view can read, with the order models and minutes were admitted in."""
    return {
        "latest": [(m, r.ts, r.source, r.ratelimit) for m, r in store.ratelimits.items()],
        "history": [(m, [(t, r.model, r.ts, r.ratelimit) for t, r in per_minute.items()])
                    for m, per_minute in store.headroom._minutes.items()],
    }


def headroom_both_ways(batches: list[list[tuple]], max_models: int = 50, **store_args) -> tuple[dict, dict]:
    """The headroom after batches of (model, ts, remaining) readings, by columns and one by one."""
    from apimon_tui.store.ratelimit_history import HeadroomHistory

    out = []
    for columns in (True, False):
        store = MetricsStore(**store_args)
        store.headroom = HeadroomHistory(max_models=max_models)
        for batch in batches:
            calls = [Call(ts, "a", model=model, status=200, ratelimit=RateLimit(100, left))
                     for model, ts, left in batch]
            if columns:
                store.add_columns(columns_of("a", calls))
            else:
                store.add_many(calls)
        out.append(headroom_state(store))
    return out[0], out[1]


T0 = 1_764_000_000.0  # a minute's start


def test_headroom_out_of_order_and_tied_readings_end_as_one_by_one():
    """Readings out of order within a minute and across minutes, equal times with other readings, and a
    second batch older than the first's latest: the same latest and the same last of each minute."""
    first = [("m", T0 + 10, 1), ("m", T0 + 5, 2), ("m", T0 + 70, 3), ("m", T0 + 10, 4), ("m", T0 + 70, 5),
             ("n", T0 + 130, 6), ("m", T0 + 65, 7), ("m", T0 + 130, 8), ("m", T0 + 130, 9), ("m", T0 + 59.5, 10)]
    second = [("m", T0 + 100, 11), ("m", T0 + 130, 12), ("n", T0 + 20, 13), ("m", T0 + 10, 14), ("n", T0 + 131, 15)]
    folded, one_by_one = headroom_both_ways([first, second])
    assert folded == one_by_one
    assert folded["latest"] == [("m", T0 + 130, "a", RateLimit(100, 12)), ("n", T0 + 131, "a", RateLimit(100, 15))]
    m_history = {minute: (ts, ratelimit) for minute, _, ts, ratelimit in dict(folded["history"])["m"]}
    assert m_history[T0] == (T0 + 59.5, RateLimit(100, 10))
    assert m_history[T0 + 60] == (T0 + 100, RateLimit(100, 11))  # older than the first batch's latest


def test_headroom_past_the_floor_is_dropped_as_one_by_one():
    """The store prunes between batches (and within one, as the newest time moves): readings older
    than the kept span never reach the history, whichever way they come."""
    batches = [[("m", T0 + s, s % 97) for s in range(0, 900, 37)],
               [("m", T0 + 3000, 1), ("m", T0 + 30, 2), ("n", T0 + 40, 3), ("m", T0 + 2990, 4), ("m", T0 + 2000, 5)],
               [("n", T0 + 5000, 6), ("m", T0 + 100, 7), ("m", T0 + 4990, 8)]]
    folded, one_by_one = headroom_both_ways(batches, fine_s=60, horizon_s=600)
    assert folded == one_by_one
    assert [m for m, _ in folded["history"]] == ["m"]  # n's only old reading was past the floor


def test_headroom_admits_models_in_the_order_one_by_one_would_at_the_cap():
    """Past `max_models` a model gets no history: which models get one depends on the order of their
    first note, not of their first reading (a model's first readings may all become its latest)."""
    batch = [("a", T0 + 10, 1), ("b", T0 + 20, 2), ("c", T0 + 5, 3), ("c", T0 + 1, 4), ("b", T0 + 90, 5),
             ("a", T0 + 200, 6), ("d", T0 + 3, 7), ("d", T0 + 2, 8)]
    folded, one_by_one = headroom_both_ways([batch], max_models=2)
    assert folded == one_by_one
    assert [m for m, _ in folded["history"]] == ["c", "b"]


@settings(max_examples=300, deadline=None)
@given(
    readings=st.lists(st.tuples(st.sampled_from(["m", "n", "o", None, ""]),
                                st.integers(0, 400).map(lambda s: T0 + s / 2), st.integers(0, 3)), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    max_models=st.sampled_from([1, 2, 50]),
    horizon_s=st.sampled_from([60, 3600]),
)
def test_headroom_of_any_readings_in_any_batches_ends_as_one_by_one(readings, cuts, max_models, horizon_s):
    edges = sorted({0, len(readings), *[min(c, len(readings)) for c in cuts]})
    batches = [readings[a:b] for a, b in zip(edges, edges[1:])]
    folded, one_by_one = headroom_both_ways(batches, max_models=max_models, fine_s=30, horizon_s=horizon_s)
    assert folded == one_by_one


SMALL_TIERS = {"fine_s": 30, "horizon_s": 120, "keep_days": 1}


@settings(max_examples=300, deadline=None)
@given(
    calls=st.lists(st.tuples(
        st.one_of(st.integers(-600, 400).map(lambda s: T0 + s / 2),  # on and between second and minute edges
                  st.integers(-3 * 86400, 0).map(lambda s: T0 + s)),  # days back: past the minutes, the days
        st.sampled_from(["m", "n", None]),
        st.sampled_from([200, 200, 404, 500, None]),
        st.sampled_from([None, 0.0, 1e-300, 12.5, 12.5000001, 812.0]),  # latency: none, the zero bin, one bin
        st.sampled_from([None, None, 3.0, 250.0]),  # TTFT on some calls only
        st.sampled_from([None, 0.1, 0.2, 0.3, 1e-17, 2.5]),  # costs whose sums depend on their order
    ), max_size=80),
    cuts=st.lists(st.integers(0, 80), max_size=4),
    tiers=st.sampled_from([{}, SMALL_TIERS]),
)
@example(calls=[(T0 + 200, "m", 200, 12.5, None, 0.1)] + [(T0 + s, "n", 200, 812.0, 3.0, 0.2) for s in (0, 90, 30)],
         cuts=[1], tiers=SMALL_TIERS)  # a batch wholly in the minutes
@example(calls=[(T0 + 200, "m", 200, 12.5, None, 0.1)] + [(T0 - s * 86400, "n", 500, None, None, 0.3)
                                                           for s in (1, 2, 2, 1)], cuts=[1], tiers=SMALL_TIERS)
def test_any_calls_in_any_batches_fold_as_one_by_one(calls, cuts, tiers):
    """Times in and out of order across every tier's edge (the newest time moving on within a batch
    and between batches), TTFT on some calls only, costs summed in log order: the same store."""
    made = [Call(ts, "a", model=model, status=status, latency_ms=latency, ttft_ms=ttft, cost_usd=cost,
                 input_tokens=7 if cost else None)
            for ts, model, status, latency, ttft, cost in calls]
    edges = sorted({0, len(made), *[min(c, len(made)) for c in cuts]})
    folded, one_by_one = MetricsStore(**tiers), MetricsStore(**tiers)
    for a, b in zip(edges, edges[1:]):
        folded.add_columns(columns_of("a", made[a:b]))
        one_by_one.add_many([_copy(c) for c in made[a:b]])
    assert state(folded) == state(one_by_one)


def test_folded_histograms_share_one_int_per_bin():
    """A day of per-minute buckets holds millions of bin keys: each is the one int `BIN_KEYS` keeps
    for its bin, not an int of its own, whatever the latency (the zero bin, a tiny one, usual ones)."""
    from apimon_tui.store.histogram import BIN_KEYS

    latencies = [0.0, 1e-300, 0.5, 12.5, 812.0, 3e5] * 50
    calls = [Call(T0 + i / 7, "a", model="m", status=200, latency_ms=v, ttft_ms=v / 2)
             for i, v in enumerate(latencies)]
    usual = [Call(c.ts + 1000, "a", model="m", status=200, latency_ms=c.latency_ms, ttft_ms=c.ttft_ms)
             for c in calls if 0.1 < c.latency_ms < 1e4]  # new buckets, every bin in the usual range
    store = MetricsStore()
    for part in (calls[:100], calls[100:], usual):
        store.add_columns(columns_of("a", part))
    keys = [b for slot in store._seconds.values() for agg in slot.values()
            for hist in (agg.latency, agg.ttft) for b in hist.bins]
    assert len(keys) > 300 and all(BIN_KEYS[b] is b for b in keys)
