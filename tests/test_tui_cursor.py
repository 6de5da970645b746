"""The time cursor over a real log with two incidents hours apart (Pilot): it opens live, the
burst keys land on each incident with its calls and time range, the step keys move by a
window, L returns to live, a past window shows its own error groups and rate-limit headroom, and the
alerts replayed over the look-back are listed resolved, Enter on one showing the calls that caused it."""

from __future__ import annotations

import pytest
from tui_support import T0, make_app, screen_text

from apimon_tui.core.model import Call, RateLimit
from apimon_tui.tui.widgets.overview import OverviewStrip

SIZE = (120, 40)
HOUR = 3600.0
FIRST = T0 - 5 * HOUR         # 19:00 the day before (UTC): ten minutes of 500s
SECOND = T0 - 2 * HOUR        # 22:00: six minutes of 429s
QUIET_CONFIG = """
[budget]
monthly_usd = 1000.0
[ui]
theme = "apimon-dark"
[alerts.error_rate]
enabled = false
[alerts.rate_limited]
enabled = false
[alerts.latency]
enabled = false
"""


def two_incidents() -> list[Call]:
    """One call every 10 s for six hours, plus two failing calls every 10 s in each incident."""
    calls = []
    for i in range(int(6 * HOUR / 10)):
        ts = T0 - 6 * HOUR + i * 10
        calls.append(Call(ts=ts, model="gpt-4o", status=200, latency_ms=300.0, request_id=f"ok_{i}"))
        for start, length, status in ((FIRST, 600, 500), (SECOND, 360, 429)):
            if start <= ts < start + length:
                calls += [Call(ts=ts + 1 + k, model="gpt-4o", status=status, latency_ms=90.0,
                               error_code="boom" if status == 500 else "rate_limit_exceeded",
                               request_id=f"req_{status}_{int(ts)}_{k}") for k in range(2)]
    return calls


def failed_ids(calls: list[Call], start: float, end: float, status: int | None = None) -> set[str]:
    return {c.request_id for c in calls
            if c.status >= 400 and start < c.ts <= end and (status is None or c.status == status)}


def feed_ids(app) -> set[str]:
    return {c.request_id for c in app.screen_stack[0].query_one("ErrorFeed").calls.values()}


def feed_groups(app) -> set[tuple[str, str, int]]:
    """The error feed's groups of the viewed window: status, code and count."""
    return {(g.status, g.code, g.count) for g in app.screen_stack[0].query_one("ErrorFeed").groups.values()}


def status_line(app) -> str:
    return screen_text(app).splitlines()[0]


async def browse_feed(pilot) -> None:
    """Every row of the feed, not only those that fit."""
    await pilot.press("e", "ctrl+end")
    await pilot.pause()


async def test_the_burst_keys_land_on_each_incident_and_l_returns_to_live(tmp_path):
    calls = two_incidents()
    app = make_app(tmp_path, calls, QUIET_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.cursor is None and " ago · L: live" not in status_line(app)
        await browse_feed(pilot)
        assert feed_ids(app) == set()                                   # the last 5 minutes had no failures

        await pilot.press("{")                                          # the newer incident: 22:00-22:06
        await pilot.pause()
        assert app.cursor == SECOND + 360
        assert "2025-11-26 22:01-22:06 · 1h54m ago · L: live" in status_line(app)
        await browse_feed(pilot)
        assert feed_ids(app) == failed_ids(calls, SECOND + 60, SECOND + 360) != set()
        assert feed_groups(app) == {("429", "rate_limit_exceeded", len(feed_ids(app)))}  # not the run's 500s

        await pilot.press("{")                                          # the older one: 19:00-19:10
        await pilot.pause()
        assert app.cursor == FIRST + 600
        assert "2025-11-26 19:05-19:10 · 4h50m ago · L: live" in status_line(app)
        assert "-5m" in screen_text(app) and "19:10:00" in screen_text(app)  # the chart ends there, not "now"
        await browse_feed(pilot)
        assert feed_ids(app) == failed_ids(calls, FIRST + 300, FIRST + 600, 500) != set()
        assert feed_groups(app) == {("500", "boom", len(feed_ids(app)))}

        await pilot.press("{", "{")                                     # none before: it stays, and says so once
        await pilot.pause()
        assert app.cursor == FIRST + 600
        assert [n.message for n in app._notifications].count("no earlier error burst") == 1

        await pilot.press("}")
        await pilot.pause()
        assert app.cursor == SECOND + 360

        await pilot.press("L")
        await pilot.pause()
        assert app.cursor is None and "L: live" not in status_line(app)
        assert feed_ids(app) == set()


async def test_the_step_keys_move_by_one_window_and_stop_at_live_and_at_the_oldest_data(tmp_path):
    calls = two_incidents()
    app = make_app(tmp_path, calls, QUIET_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("[")                                          # 5m earlier than live (T0)
        await pilot.pause()
        assert app.cursor == T0 - 300
        assert "23:50-23:55 · 5m ago" in status_line(app)
        await pilot.press("4", "[")                                     # the 1h window, one hour earlier
        await pilot.pause()
        assert app.cursor == T0 - 300 - HOUR
        assert "21:55-22:55 · 1h05m ago" in status_line(app)
        await browse_feed(pilot)
        assert feed_ids(app) == failed_ids(calls, SECOND, SECOND + 360)  # the whole second incident
        await pilot.press("]", "]")                                     # past the newest: live, not beyond
        await pilot.pause()
        assert app.cursor is None
        for _ in range(8):
            await pilot.press("[")
        await pilot.pause()
        assert app.cursor == T0 - 6 * HOUR + HOUR                       # the window holds the oldest call


async def test_alerts_found_in_the_look_back_are_listed_resolved_and_enter_shows_their_calls(tmp_path):
    calls = two_incidents()
    notified = tmp_path / "notified.json"
    notify = f'[alerts.notify]\ncritical = "cat >> {notified}"\nwarning = "cat >> {notified}"\n'
    app, engine, clock = backfilling_app(tmp_path, calls, FOUND_CONFIG + notify)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        while engine.history_progress is not None:                     # the look-back comes newest first
            engine.pump()
            await tick_alerts(app, clock)
        await tick_alerts(app, clock)
        await pilot.pause()
        assert not app.alerts.active() and not app.alerts.history()    # nothing fired live: no bell, no notify
        assert [n.message for n in app._notifications][-1] == \
            "2 alert(s) found in the look-back, before this run: a lists them"
        await pilot.press("a")
        await pilot.pause()
        assert "2 found in the look-back" in screen_text(app)
        rows = history_rows(app)                                        # newest first
        assert rows == [
            ["warning", "rate_limited", "gpt-4o", "22:01:00", "found in look-back, resolved 22:09:00"],
            ["critical", "server_errors", "gpt-4o", "19:01:00", "found in look-back, resolved 19:13:00"],
        ]
        await pilot.press("tab", "x")                                   # over: nothing to acknowledge
        await pilot.pause()
        assert app._notifications and [n.message for n in app._notifications][-1] == \
            "an alert found in the look-back is not live: nothing to acknowledge"
        await pilot.press("down", "enter")                              # the older one
        await pilot.pause()
        assert app.cursor == FIRST + 60 and app.window[0] == "1m"
        await browse_feed(pilot)
        assert feed_ids(app) == failed_ids(calls, FIRST, FIRST + 60, 500) != set()
        assert "filter: model:gpt-4o status:5xx" in status_line(app)
        await pilot.press("escape")                                     # back to live, the alert's filter gone
        await pilot.pause()
        assert app.cursor is None and app.filter.is_empty()
        assert "filter:" not in status_line(app)
    assert not notified.exists()


async def test_enter_on_a_live_alert_whose_incident_began_before_the_run_shows_where_it_began(tmp_path):
    calls = [Call(ts=T0 - HOUR + i * 10, model="gpt-4o", status=200, latency_ms=300.0) for i in range(360)]
    calls += [Call(ts=T0 - 600 + i * 10 + 1 + k, model="gpt-4o", status=500, error_code="boom", request_id=f"r{i}_{k}")
              for i in range(60) for k in range(2)]                    # 500s for the last ten minutes, on and on
    app = make_app(tmp_path, sorted(calls, key=lambda c: c.ts), QUIET_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        (alert,) = app.alerts.active()                                 # fired live as the run began, at T0
        assert (alert.rule, alert.since, alert.began) == ("server_errors", T0, T0 - 600 + 60)
        await pilot.press("a")
        await pilot.pause()
        assert history_rows(app) == [["critical", "server_errors", "gpt-4o", "00:00:00", "fired"]]  # not twice
        assert "began 23:51:00 in the look-back" in screen_text(app)
        await pilot.press("enter")                                      # the live alert: where it began
        await pilot.pause()
        assert app.cursor == T0 - 540
        await browse_feed(pilot)
        assert feed_ids(app) == failed_ids(calls, T0 - 600, T0 - 540, 500) != set()


FOUND_CONFIG = QUIET_CONFIG.replace("[alerts.rate_limited]\nenabled = false\n", "")


def backfilling_app(tmp_path, calls: list[Call], config_text: str):
    """The monitor as it starts on a log: the newest 5 minutes read, the rest of 24 h to come,
    newest block first (pumped by the test); the clock moves on a few seconds at each `tick_alerts`."""
    from tui_support import write_config, write_log

    from apimon_tui.core import config as config_mod
    from apimon_tui.ingest.engine import Engine
    from apimon_tui.tui.app import MonitorApp

    log = write_log(tmp_path / "calls.jsonl", calls)
    config_path = write_config(tmp_path, config_text)
    config = config_mod.load(config_path)
    clock = [T0]
    engine = Engine([str(log)], since=T0 - 24 * HOUR, recent_s=300.0, config=config, clock=lambda: clock[0])
    engine.history[0].source.block_bytes = 64 * 1024                   # several blocks
    engine.read_recent()
    app = MonitorApp(engine, config, clock=lambda: clock[0], start_engine=False, config_path=config_path)
    return app, engine, clock


async def tick_alerts(app, clock: list[float]) -> None:
    """A refresh that evaluates the alerts, and the look-back replay it may start, finished."""
    clock[0] += 5
    app.tick()
    await app.workers.wait_for_complete()


def history_rows(app) -> list[list[str]]:
    """The alert list's lower table: severity, rule, scope, time and state."""
    table = app.screen.query_one("#alerts-history")
    return [[cell.plain for i, cell in enumerate(table.get_row_at(r)) if i in (0, 1, 2, 6, 7)]
            for r in range(table.row_count)]


@pytest.mark.parametrize(("size", "span"), [((80, 24), "6h"), ((200, 60), "6h24m")])  # whole minutes a cell
async def test_the_overview_strip_marks_the_viewed_window(tmp_path, size, span):
    calls = two_incidents()
    app = make_app(tmp_path, calls, QUIET_CONFIG)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        strip = app.query_one(OverviewStrip)
        line = screen_text(app).splitlines()[1]
        cells = strip.cells()
        assert cells == size[0] - 8 and line.rstrip().endswith(f" {span}")
        layout = strip.layout_shown
        assert layout.marker[-1] == cells - 1                          # live: the marker at the right end
        await pilot.press("{", "{")                                     # the first incident
        await pilot.pause()
        layout = strip.layout_shown
        at = int((FIRST + 600 - 1 - layout.start) // layout.cell_s)
        assert layout.marker[-1] == at and layout.errors[at] > 0
        assert layout.errors[int((SECOND - layout.start) // layout.cell_s)] > 0
        assert sum(layout.errors) == sum(1 for c in calls if c.status >= 400)


async def test_a_past_window_whose_failed_calls_the_ring_dropped_says_so(tmp_path):
    calls = two_incidents()                          # 120 failures in the first incident, 72 in the second
    app = make_app(tmp_path, calls, QUIET_CONFIG + "[store]\nfailed_calls = 80\n")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("{")
        await pilot.pause()
        assert "older failed calls not kept" not in screen_text(app)  # all 72 kept, and 8 of the first
        await pilot.press("{")                                          # the first incident's last 5 minutes
        await pilot.pause()
        await browse_feed(pilot)
        kept = sorted(failed_ids(calls, FIRST + 300, FIRST + 600), key=lambda r: r.split("_")[2])[-8:]
        assert feed_ids(app) == set(kept)
        assert "older failed calls not kept · 60 failed" in screen_text(app)


async def test_a_past_window_shows_the_rate_limit_headroom_of_its_own_time_or_unknown(tmp_path):
    calls = two_incidents()
    for c in calls:  # 3 of 100 requests left during the 429s, 90 left in the last minutes
        if SECOND <= c.ts < SECOND + 360 or c.ts >= T0 - 240:
            c.ratelimit = RateLimit(limit_requests=100, remaining_requests=3 if c.ts < T0 - 3600 else 90)
    app = make_app(tmp_path, calls, QUIET_CONFIG)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        assert headroom_rows(app) == [["gpt-4o", "90/100", "-", "███▋  90%"]]
        await pilot.press("{")                                          # the 429s: 3% left then
        await pilot.pause()
        assert headroom_rows(app) == [["gpt-4o", "3/100", "-", "▏      3%"]]
        await pilot.press("{")                                          # no reading in the first incident
        await pilot.pause()
        assert headroom_rows(app) == [["gpt-4o", "-", "-", "unknown"]]
        await pilot.press("L")
        await pilot.pause()
        assert headroom_rows(app) == [["gpt-4o", "90/100", "-", "███▋  90%"]]


def headroom_rows(app) -> list[list[str]]:
    """The rate-limit panel's rows: model, requests, tokens and headroom."""
    table = app.query_one("#ratelimits-table")
    return [[c.plain for c in table.get_row_at(i)][:4] for i in range(table.row_count)]


async def test_a_burst_key_pressed_while_history_loads_says_so(tmp_path, monkeypatch):
    """`{` finding no earlier burst while the look-back is still read says it may not be read yet."""
    from apimon_tui.ingest.engine import Engine

    app = make_app(tmp_path, two_incidents(), QUIET_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("{", "{")
        await pilot.pause()
        monkeypatch.setattr(Engine, "history_progress", property(lambda self: 0.42))
        await pilot.press("{")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert "no earlier error burst yet: history is still loading (42%)" in messages
        assert app.cursor == FIRST + 600  # it stays where it was
