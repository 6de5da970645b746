"""The metrics store: windows, filters, percentiles, memory bounds, merging."""

import math
import random

import pytest

from apimon_tui.core.model import Call, RateLimit
from apimon_tui.store import CallFilter, Histogram, MetricsStore


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_within_one_percent_of_nearest_rank(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(5, 1.5) for _ in range(20_000)] + [0.0, 0.3, 120_000.0]
    hist = Histogram()
    for v in values:
        hist.add(v)
    for q in (50, 90, 95, 99, 99.9, 100):
        exact = nearest_rank(values, q)
        assert hist.percentile(q) == pytest.approx(exact, rel=0.01)
    assert hist.max == max(values)


def test_merged_histograms_answer_like_one():
    rng = random.Random(7)
    a, b, whole = Histogram(), Histogram(), Histogram()
    for i in range(5000):
        v = rng.uniform(1, 3000)
        (a if i % 2 else b).add(v)
        whole.add(v)
    a.merge(b)
    assert a.percentiles((50, 95, 99)) == whole.percentiles((50, 95, 99))
    assert a.count == whole.count


def call(ts, status=200, model="gpt-4o", latency=100.0, source="a.log", **kw):
    return Call(ts=ts, status=status, model=model, latency_ms=latency, source=source, **kw)


def test_windows_count_only_their_calls():
    store = MetricsStore()
    for i in range(600):  # one call a second for ten minutes, an error every tenth
        store.add(call(1_000_000 + i, status=500 if i % 10 == 0 else 200))
    now = 1_000_000 + 599
    assert store.snapshot(60, now).total.calls == 60
    assert store.snapshot(300, now).total.calls == 300
    snap = store.snapshot(300, now)
    assert snap.total.errors == 30
    assert snap.rate_per_s == pytest.approx(1.0)
    assert sum(p.calls for p in snap.points) == 300
    assert store.snapshot(None).total.calls == 600


def test_the_rate_is_over_the_part_of_the_window_the_logs_cover():
    store = MetricsStore()
    for i in range(120):  # two minutes of one call a second, seen in a five-minute window
        store.add(call(1_000_000 + i))
    snap = store.snapshot(300, 1_000_000 + 119)
    assert snap.covered_s == 120 and snap.rate_per_s == pytest.approx(1.0)
    assert store.snapshot(60, 1_000_000 + 119).rate_per_s == pytest.approx(1.0)


def test_long_windows_use_minute_buckets_and_lifetime_stays_exact():
    store = MetricsStore(fine_s=600, horizon_s=3600)
    start = 2_000_000
    for i in range(0, 3 * 3600, 10):  # three hours, a call every ten seconds
        store.add(call(start + i, latency=float(i % 1000 + 1)))
    now = start + 3 * 3600 - 10
    assert store.snapshot(3600, now).total.calls == pytest.approx(360, abs=6)
    lifetime = store.snapshot(None).total
    assert lifetime.calls == 3 * 360
    assert lifetime.latency.count == 3 * 360
    # memory: seconds older than fine_s and minutes older than the horizon are gone
    assert min(store._seconds) > now - 600 - 61
    assert min(store._minutes) >= now - 3600 - 180


def test_filters_apply_to_every_figure():
    store = MetricsStore()
    t = 3_000_000
    store.add(call(t, model="gpt-4o", latency=100))
    store.add(call(t + 1, model="gpt-4o", status=429, latency=900, error_code="rate_limit_exceeded"))
    store.add(call(t + 2, model="gpt-4.1", status=500, latency=2000, source="b.log", request_id="req_abc"))
    assert store.snapshot(60, t + 3, CallFilter(model="gpt-4o")).total.calls == 2
    five = store.snapshot(60, t + 3, CallFilter(status="5xx"))
    assert five.total.calls == 1 and five.total.latency.max == 2000
    assert store.snapshot(60, t + 3, CallFilter(error_code="rate_limit_exceeded")).total.calls == 1
    assert store.snapshot(60, t + 3, CallFilter(source="b.log")).total.calls == 1
    store.add(call(t + 2, model="gpt-4.1", source="/var/log/api-1/b.log"))
    assert store.snapshot(60, t + 3, CallFilter(source="api-1")).total.calls == 1  # any part of the source
    assert store.snapshot(60, t + 3, CallFilter(source="b.log")).total.calls == 2
    text = store.snapshot(60, t + 3, CallFilter(text="req_abc"))
    assert [c.request_id for c in text.failed] == ["req_abc"]


def test_failed_ring_is_bounded_and_groups_count_everything():
    store = MetricsStore(failed_capacity=100)
    for i in range(1000):
        store.add(call(4_000_000 + i, status=429, error_code="rate_limit_exceeded", error_message=f"m{i}"))
    assert len(store.failed) == 100
    snap = store.snapshot(None, failed_limit=10)
    assert [c.error_message for c in snap.failed[:2]] == ["m999", "m998"]
    (group,) = snap.groups
    assert (group.count, group.first_ts, group.last_ts) == (1000, 4_000_000, 4_000_999)


def test_latest_rate_limit_per_model():
    store = MetricsStore()
    store.add(call(10, ratelimit=RateLimit(limit_requests=100, remaining_requests=50)))
    store.add(call(12, ratelimit=RateLimit(limit_requests=100, remaining_requests=5)))
    store.add(call(11, ratelimit=RateLimit(limit_requests=100, remaining_requests=70)))  # late, older
    (seen,) = store.snapshot(60, 12).ratelimits
    assert seen.ratelimit.requests_fraction() == 0.05


def test_merged_stores_equal_one_store():
    rng = random.Random(3)
    calls = [call(5_000_000 + rng.uniform(0, 7200), status=rng.choice([200, 200, 429, 500]),
                  model=rng.choice(["a", "b"]), latency=rng.uniform(1, 5000)) for _ in range(4000)]
    one, left, right = MetricsStore(), MetricsStore(), MetricsStore()
    for c in sorted(calls, key=lambda c: c.ts):
        one.add(c)
    for i, c in enumerate(calls):
        (left if i % 2 else right).add(c)
    left.merge(right)
    a, b = one.snapshot(None), left.snapshot(None)
    assert (a.total.calls, a.total.errors, a.total.status) == (b.total.calls, b.total.errors, b.total.status)
    assert a.total.latency.percentiles((50, 99)) == b.total.latency.percentiles((50, 99))
    assert {k: v.calls for k, v in a.by_model.items()} == {k: v.calls for k, v in b.by_model.items()}


def test_halves_of_a_log_merged_after_advance_equal_one_store_in_every_window():
    """What `report --jobs 2` does: the older half folds its seconds before the newer half is merged in."""
    rng = random.Random(5)
    stamps = sorted(7_000_000 + rng.uniform(0, 3 * 3600) for _ in range(6000))
    calls = [call(ts, status=rng.choice([200, 200, 200, 429, 500]), model=rng.choice(["a", "b"]),
                  latency=rng.uniform(1, 5000)) for ts in stamps]
    one, older, newer = MetricsStore(), MetricsStore(), MetricsStore()
    one.add_many(calls)
    older.add_many(calls[:3500])
    newer.add_many(calls[3500:])
    older.advance(newer.newest)
    older.merge(newer)
    for window in (60, 300, 3600, 2 * 3600, None):
        a, b = one.snapshot(window, points=0), older.snapshot(window, points=0)
        assert (a.total.calls, a.total.errors, a.total.status) == (b.total.calls, b.total.errors, b.total.status)
        assert a.total.latency.percentiles((50, 90, 99)) == b.total.latency.percentiles((50, 90, 99))
        assert {k: v.calls for k, v in a.by_model.items()} == {k: v.calls for k, v in b.by_model.items()}


def test_series_are_capped():
    store = MetricsStore(max_series=10)
    for i in range(100):
        store.add(call(6_000_000 + i, model=f"m{i}"))
    snap = store.snapshot(None)
    assert snap.total.calls == 100
    assert len(snap.by_model) <= 11 and snap.by_model["(other)"].calls >= 90


def test_oldest_and_newest_span_the_lifetime():
    store = MetricsStore(fine_s=60, horizon_s=120)
    for ts in (500.0, 100.0, 900.0, 50_000.0):
        store.add(call(ts))
    assert (store.oldest, store.newest) == (100.0, 50_000.0)
    assert store.snapshot(None).total.first_ts == 100.0


def test_headroom_of_a_log_without_models_is_kept():
    store = MetricsStore()
    store.add(call(10, model=None, ratelimit=RateLimit(limit_requests=100, remaining_requests=9)))
    (seen,) = store.snapshot(60, 10).ratelimits
    assert seen.model == "(none)" and seen.ratelimit.requests_fraction() == 0.09


def test_windows_longer_than_the_horizon_read_days_and_old_days_fold_into_the_archive():
    store = MetricsStore(fine_s=600, horizon_s=3600, keep_days=30)
    noon = 7_000_000 - 7_000_000 % 86400 + 43200
    for day in range(40):  # one call a day at noon for forty days, 1 USD each
        store.add(call(noon + day * 86400, cost_usd=1.0))
    now = noon + 39 * 86400
    assert store.snapshot(3 * 86400 + 1, now).total.cost_usd == 4.0  # month-to-date style windows
    assert store.snapshot(20 * 86400 + 1, now).total.cost_usd == 21.0
    assert store.snapshot(3600, now).total.calls == 1
    assert len(store._days) <= 30 and store.snapshot(None).total.cost_usd == 40.0


def test_latency_bins_of_numpy_columns_are_those_of_one_value_at_a_time():
    import math
    import random

    import numpy as np

    from apimon_tui.store.histogram import GROWTH, bin_of
    from apimon_tui.store.second_runs import latency_bins

    rng = random.Random(3)
    edges = [GROWTH**k for k in range(-200, 1400)]  # values on and next to every bin edge
    values = edges + [math.nextafter(v, 0) for v in edges] + [math.nextafter(v, math.inf) for v in edges]
    values += [round(rng.lognormvariate(5, 2), 3) for _ in range(20_000)] + [0.0, 1.0, 1e-6, 123456.789]
    got = latency_bins(np.array(values)).tolist()
    assert got == [bin_of(v) for v in values]


def test_successes_as_numpy_columns_give_the_figures_of_lists():
    import numpy as np

    rng = random.Random(9)
    start = 1_795_700_000.0
    stamps = sorted(start + rng.uniform(0, 7200) for _ in range(6000))
    latencies = [None if rng.random() < 0.1 else round(rng.lognormvariate(5, 1), 3) for _ in stamps]
    as_lists, as_columns = MetricsStore(), MetricsStore()
    as_lists.add_bulk("log", "gpt-4o", 200, stamps, latencies)
    as_columns.add_bulk("log", "gpt-4o", 200, np.array(stamps),
                          np.array([np.nan if v is None else v for v in latencies]))
    for window in (None, 1, 60, 900, 3600):
        a, b = as_lists.snapshot(window), as_columns.snapshot(window)
        assert (a.total.calls, a.total.status, a.total.first_ts, a.total.last_ts) == \
               (b.total.calls, b.total.status, b.total.first_ts, b.total.last_ts)
        assert (a.total.latency.bins, a.total.latency.min, a.total.latency.max) == \
               (b.total.latency.bins, b.total.latency.min, b.total.latency.max)
        assert a.points == b.points
    assert (as_lists.newest, as_lists.oldest, as_lists.calls_added) == (as_columns.newest, as_columns.oldest, 6000)


def test_error_groups_count_the_calls_of_the_viewed_window_only():
    store = MetricsStore(fine_s=600)  # the first incident lies in the minute tier, the second in seconds
    t0 = 6_000_000.0
    for i in range(3600):
        store.add(call(t0 + i))
    for i in range(30):  # 01:00-01:05 after t0: 30 x 500 "boom"; 40:00-40:04: 20 x 429
        store.add(call(t0 + 600 + i * 10, status=500, error_code="boom", error_message=f"boom {i}"))
    for i in range(20):
        store.add(call(t0 + 2400 + i * 12, status=429, error_code="rate_limit_exceeded", error_message=f"slow {i}"))
    first = store.snapshot(300, t0 + 900).groups
    assert [(g.status, g.code, g.count, g.first_ts, g.last_ts, g.last_message) for g in first] == [
        ("500", "boom", 30, t0 + 600, t0 + 890, "boom 29")]
    second = store.snapshot(300, t0 + 2700).groups
    assert [(g.status, g.code, g.count, g.last_message) for g in second] == [
        ("429", "rate_limit_exceeded", 20, "slow 19")]
    assert store.snapshot(300, t0 + 1800).groups == []  # between the incidents: no group
    half = store.snapshot(60, t0 + 660).groups  # a window cutting the first incident: its own part of it
    assert [(g.count, g.last_message) for g in half] == [(6, "boom 5")]
    lifetime = {g.code: g.count for g in store.snapshot(None).groups}
    assert lifetime == {"boom": 30, "rate_limit_exceeded": 20}


def test_a_past_window_shows_the_headroom_as_it_was_then_or_unknown():
    store = MetricsStore(fine_s=600)
    t0 = 7_000_000.0
    left = {10: 50, 130: 20, 250: 5}  # model a: requests left of 100 at three times; b once, at 10

    def headroom(snap):
        return ({s.model: (s.ts - t0, s.ratelimit.requests_fraction()) for s in snap.ratelimits},
                {m: None if ts is None else ts - t0 for m, ts in snap.ratelimits_unknown.items()})

    for offset in (250, 130, 10):  # newest first, as the look-back comes
        store.add(call(t0 + offset, ratelimit=RateLimit(limit_requests=100, remaining_requests=left[offset])))
    store.add(call(t0 + 10, model="b", ratelimit=RateLimit(limit_requests=10, remaining_requests=9)))
    for i in range(300, 4000, 5):
        store.add(call(t0 + i))  # no headers from then on: the latest readings are an hour old
    assert headroom(store.snapshot(60, t0 + 60)) == ({"gpt-4o": (10, 0.5), "b": (10, 0.9)}, {})
    assert headroom(store.snapshot(60, t0 + 180)) == ({"gpt-4o": (130, 0.2)}, {"b": 10})
    assert headroom(store.snapshot(240, t0 + 300)) == ({"gpt-4o": (250, 0.05)}, {"b": 10})
    assert headroom(store.snapshot(300, t0 + 3000)) == ({}, {"gpt-4o": 250, "b": 10})  # none in it: unknown
    live = store.snapshot(300)
    assert headroom(live) == ({}, {"gpt-4o": 250, "b": 10})  # live too: not the hour-old figure
    assert headroom(store.snapshot(3 * 3600)) == ({"gpt-4o": (250, 0.05), "b": (10, 0.9)}, {})
    assert headroom(store.snapshot(60, t0 + 5)) == ({}, {"gpt-4o": None, "b": None})  # read only after it


def test_the_headroom_history_keeps_one_reading_a_minute_over_the_retained_span():
    store = MetricsStore(fine_s=600, horizon_s=3600)
    t0 = 8_000_040.0  # a whole minute
    for i in range(4 * 3600):  # a reading every second for four hours
        store.add(call(t0 + i, ratelimit=RateLimit(limit_requests=100, remaining_requests=i % 100)))
    assert len(store.headroom) <= 3600 / 60 + 3  # the span, the minute past its edge, and one pruned each minute
    (seen,) = store.snapshot(60, t0 + 3 * 3600 + 120).ratelimits
    assert seen.ts == t0 + 3 * 3600 + 119  # the last of its minute
