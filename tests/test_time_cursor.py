"""The time cursor's headless parts: the store's intervals over the retained span, error bursts
in them, past windows read from the minute tier, the cursor's moves and the overview's cells."""

from __future__ import annotations

import math
import tui_support  # noqa: F401  (local time is UTC in the tests)

import pytest

from apimon_tui.core.model import Call
from apimon_tui.store import CallFilter, MetricsStore
from apimon_tui.store.bursts import error_bursts
from apimon_tui.store.metrics import Interval, failed_kept_from, store_intervals
from apimon_tui.tui import time_cursor
from apimon_tui.tui.time_cursor import Move
from apimon_tui.tui.widgets.overview import slice_for, strip_layout

T0 = 1_700_000_040.0  # 2023-11-14 22:14:00 UTC, a multiple of 120
HOUR = 3600.0


def call(ts: float, status: int = 200, model: str = "gpt-4o") -> Call:
    return Call(ts=ts, model=model, status=status, latency_ms=100.0)


def store_of(calls: list[Call], **kw) -> MetricsStore:
    store = MetricsStore(**kw)
    store.add_many(sorted(calls, key=lambda c: c.ts))
    return store


# -- the store's intervals -----------------------------------------------------------------


def test_intervals_cover_both_tiers_per_minute_with_the_quiet_minutes_in_between():
    calls = [call(T0 - 2 * HOUR + 5), call(T0 - 2 * HOUR + 6, 500), call(T0 - 30), call(T0 - 29, 429)]
    store = store_of(calls)
    pieces = store_intervals(store)
    assert pieces[0] == Interval(T0 - 2 * HOUR, 2, 1)                 # from the minute tier
    assert pieces[-1] == Interval(T0 - 60, 2, 1)                      # from the second tier
    assert len(pieces) == 120 and sum(p.calls for p in pieces[1:-1]) == 0
    assert [p.start for p in pieces] == [T0 - 2 * HOUR + 60 * i for i in range(120)]


def test_intervals_under_a_minute_split_the_second_tier_and_follow_the_filter():
    calls = [call(T0 - 20), call(T0 - 19, 500, "claude"), call(T0 - 1, 500)]
    store = store_of(calls)
    assert store_intervals(store, 10) == [Interval(T0 - 20, 2, 1), Interval(T0 - 10, 1, 1)]
    assert store_intervals(store, 10, CallFilter(model="claude")) == [Interval(T0 - 20, 1, 1)]
    with pytest.raises(ValueError):
        store_intervals(store, 7)
    assert store_intervals(MetricsStore()) == []


def test_a_short_window_in_the_past_reads_the_minute_tier():
    calls = [call(T0 - 2 * HOUR + 5 + 10 * i, 500 if i % 3 == 0 else 200) for i in range(30)] + [call(T0)]
    store = store_of(calls)
    snap = store.snapshot(300, T0 - 2 * HOUR + 300)
    assert (snap.total.calls, snap.total.errors) == (30, 10)
    assert len(store.snapshot(300, T0 - 2 * HOUR + 300, CallFilter(status="5xx")).failed) == 10
    assert sum(p.calls for p in snap.points) == 30 and snap.step_s == 60
    live = store.snapshot(300, T0)
    assert live.total.calls == 1 and live.step_s < 60                 # the live window as before


def test_the_ring_says_from_when_it_holds_every_failed_call():
    store = store_of([call(T0 + i, 500) for i in range(3)], failed_capacity=5)
    assert failed_kept_from(store) == -math.inf
    store.add_many([call(T0 + 10 + i, 500) for i in range(4)])
    assert failed_kept_from(store) == T0 + 2                           # two dropped, the oldest kept is 2 s in
    assert failed_kept_from(store_of([call(T0, 500)], failed_capacity=0)) == math.inf


# -- error bursts --------------------------------------------------------------------------


def pieces(*counts: tuple[int, int]) -> list[Interval]:
    return [Interval(T0 + 60 * i, c, e) for i, (c, e) in enumerate(counts)]


def test_bursts_are_runs_of_failing_minutes_merged_across_short_gaps():
    found = error_bursts(pieces((10, 0), (10, 5), (10, 0), (10, 3), (10, 0), (10, 0), (10, 0), (10, 9)), 60, gap_s=90)
    assert [(b.start - T0, b.end - T0, b.errors) for b in found] == [(60, 240, 8), (420, 480, 9)]


def test_a_failure_among_many_calls_is_no_burst():
    assert error_bursts(pieces((1000, 1), (1000, 0)), 60, gap_s=60) == []
    assert len(error_bursts(pieces((1000, 20)), 60, gap_s=60)) == 1
    assert len(error_bursts(pieces((0, 2)), 60, gap_s=60)) == 1       # failures with no successes count


# -- the cursor's moves --------------------------------------------------------------------


def test_a_step_stops_at_the_oldest_data_and_at_live():
    earliest = time_cursor.earliest_end(T0, 300, T0 + HOUR)
    assert earliest == T0 + 300
    assert time_cursor.step(T0 + 1000, -300, earliest, T0 + HOUR) == Move(T0 + 700)
    assert time_cursor.step(T0 + 500, -300, earliest, T0 + HOUR) == Move(T0 + 300, "the oldest data kept")
    assert time_cursor.step(T0 + HOUR - 100, 300, earliest, T0 + HOUR) == Move(None, "live: the newest data")
    assert time_cursor.earliest_end(T0, 86400, T0 + HOUR) == T0 + HOUR   # the span fits in the window
    assert time_cursor.step(T0 + HOUR, -86400, T0 + HOUR, T0 + HOUR) == Move(None, "the oldest data kept")


def test_jumps_go_to_the_end_of_the_previous_or_next_burst():
    bursts = error_bursts(pieces((10, 5), (10, 0), (10, 0), (10, 0), (10, 5)), 60, gap_s=60)
    live = T0 + 3600
    assert time_cursor.jump(bursts, live, False, live) == Move(T0 + 300)
    assert time_cursor.jump(bursts, T0 + 300, False, live) == Move(T0 + 60)
    assert time_cursor.jump(bursts, T0 + 60, False, live) == Move(T0 + 60, "no earlier error burst")
    assert time_cursor.jump(bursts, T0 + 60, True, live) == Move(T0 + 300)
    assert time_cursor.jump(bursts, T0 + 300, True, live) == Move(None, "no later error burst: live")
    ongoing = error_bursts(pieces((10, 5)), 60, gap_s=60)
    assert time_cursor.jump(ongoing, T0 + 30, False, T0 + 30) == Move(None, "no earlier error burst")


def test_the_view_is_described_in_local_time_with_its_age():
    assert time_cursor.describe_view(T0 - 300, T0, T0 + HOUR) == "22:09-22:14 · 1h ago"
    assert time_cursor.describe_view(T0 - 290, T0 + 10, T0 + 60) == "22:09:10-22:14:10 · 50s ago"
    assert time_cursor.describe_view(T0 - 300, T0, T0 + 86400) == "2023-11-14 22:09-22:14 · 1d ago"


# -- the overview's cells ------------------------------------------------------------------


def test_the_strip_steps_in_seconds_within_the_second_tier_and_in_minutes_beyond():
    assert slice_for(290, 112, 3600) == 5
    assert slice_for(3000, 72, 3600) == 60                             # 42 s a cell: a minute
    assert slice_for(6 * HOUR, 72, 3600) == 60


def test_the_marker_covers_the_cells_of_the_view():
    minutes = [Interval(T0 + 60 * i, 10, 1 if i == 3 else 0) for i in range(20)]
    layout = strip_layout(minutes, 60, 10, T0 + 600, T0 + 900)         # two minutes a cell
    assert layout.cell_s == 120 and layout.start == T0
    assert layout.errors == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0] and layout.calls == [20] * 10
    assert layout.marker == range(5, 8)                                # 600-900 s: cells 5, 6 and half of 7
    assert strip_layout([], 60, 10, T0, T0).marker == range(9, 10)    # never no marker
