"""Old logs on screen: the window anchors at the newest call and says how old it is."""

from __future__ import annotations

from tui_support import T0, make_app, sample_calls, screen_text

from apimon_tui.core.model import Call

SIZE = (120, 40)
DAY = 86400.0


def shifted(calls: list[Call], by: float) -> list[Call]:
    for call in calls:
        call.ts += by
    return calls


async def test_a_three_day_old_log_is_shown_as_it_was_with_its_age(tmp_path):
    calls = shifted(sample_calls(), -3 * DAY)
    failed = sum(1 for c in calls if c.status >= 400)
    app = make_app(tmp_path, calls)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "newest call 3d ago" in text
        assert f"{len(calls)} calls" in text  # the 5m window holds the log's last 290 s
        await pilot.press("e", "ctrl+end")  # the feed holds every row once browsed
        assert app.screen_stack[0].query_one("#error-rows").row_count == failed


async def test_a_live_log_is_not_anchored(tmp_path):
    app = make_app(tmp_path)  # the sample's newest call is seconds before T0
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "newest call" not in screen_text(app)


async def test_requests_per_second_are_over_the_span_the_logs_cover(tmp_path):
    calls = [Call(ts=T0 - 119 + i, model="gpt-4o", status=200, latency_ms=100.0) for i in range(120)]
    app = make_app(tmp_path, calls)  # two minutes of one call a second, in the 5m window
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "1.00 req/s · 120 calls" in screen_text(app)


async def test_several_sources_are_counted_in_the_header_and_listed_by_s(tmp_path):
    from apimon_tui.ingest.engine import Engine
    from apimon_tui.tui.app import MonitorApp
    from tui_support import write_config, write_log

    from apimon_tui.core import config as config_mod

    a = write_log(tmp_path / "api-1.jsonl", sample_calls(200))
    b = write_log(tmp_path / "api-2.jsonl", sample_calls(100))
    (tmp_path / "notes.txt").write_text("not a log\n{\"apimon\": 1, \"ts\": \"soon\"}\n", encoding="utf-8")
    config = config_mod.load(write_config(tmp_path))
    engine = Engine([str(a), str(b), str(tmp_path / "notes.txt")], from_start=True, follow=False,
                    config=config, clock=lambda: T0)
    engine.read_to_end()
    app = MonitorApp(engine, config, clock=lambda: T0, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "3 sources" in screen_text(app)
        await pilot.press("s")
        await pilot.pause()
        table = app.screen.query_one("#sources-table")
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows[str(a)][3:5] == ["200", "200"] and rows[str(b)][3:5] == ["100", "100"]
        assert rows[str(tmp_path / "notes.txt")][3] == "2"
        await pilot.press("escape")
        await pilot.pause()
        assert "3 sources" in screen_text(app)


async def test_a_three_hour_log_opens_on_its_last_five_minutes_then_fills_in_the_day(tmp_path):
    from test_lookback import newest_first, write_hours
    from tui_support import write_config

    from apimon_tui.core import config as config_mod
    from apimon_tui.tui.app import MonitorApp

    records = write_hours(tmp_path / "calls.jsonl", 3)  # a call every 2 s, every 10th a 429
    engine = newest_first(tmp_path / "calls.jsonl")
    engine.read_recent()  # what the first paint has; the older part is held back (not pumped)
    recent = [r for r in records if r["ts"] >= T0 - 300]
    read = [r for r in records if r["ts"] >= records[-1]["ts"] - 300]  # 5 minutes back from the newest call
    newest_failed = max((r for r in records if r["status"] == 429), key=lambda r: r["ts"])
    config_path = write_config(tmp_path)
    now = [T0]
    app = MonitorApp(engine, config_mod.load(config_path), clock=lambda: now[0], start_engine=False,
                     config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "loading history 0%" in text and "Budget · month to date · partial ─" in text
        assert f"{len(recent) / 300:.2f} req/s · {len(recent)} calls" in text
        assert "partial, history loading" not in text  # the 5m window is all read
        assert newest_failed["request_id"] in text  # the error feed: the newest failures and their ids
        await pilot.press("6")
        await pilot.pause()
        text = screen_text(app)
        assert "Requests · 24h · partial, history loading" in text
        assert f"{len(read) / 301:.2f} req/s · {len(read)} calls" in text  # the rate of the part read
        while engine.history_progress is not None:
            engine.pump()
        now[0] += 5  # the budget is redrawn every 5 s
        app.tick()
        await pilot.pause()
        text = screen_text(app)
        assert f"{len(records):,} calls" in text
        assert "loading history" not in text and "partial" not in text
    for reader in engine.readers + engine.history:
        reader.source.close()


async def test_drill_down_into_an_older_failed_call_reads_its_line_again_or_says_it_is_gone(tmp_path):
    from test_lookback import newest_first, write_hours
    from tui_support import write_config

    from apimon_tui.core import config as config_mod
    from apimon_tui.store.failed import FailedEntry
    from apimon_tui.tui.app import MonitorApp
    from apimon_tui.tui.screens.detail import DetailScreen

    log = tmp_path / "calls.jsonl"
    write_hours(log, 1)
    engine = newest_first(log)
    engine.store.failed.whole = 2
    engine.read_recent()
    while engine.history_progress is not None:
        engine.pump()
    old = [c for c in engine.store.failed if isinstance(c, FailedEntry)][:2]
    config_path = write_config(tmp_path)
    app = MonitorApp(engine, config_mod.load(config_path), clock=lambda: T0, start_engine=False,
                     config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(old, 0, engine.recall))
        await pilot.pause()
        text = screen_text(app)
        assert f"read again from {log}" in text and '"input_tokens": 10' in text and old[0].request_id in text
        log.write_text("", encoding="utf-8")  # rotated away: the path holds other lines now
        await pilot.press("n")
        await pilot.pause()
        text = screen_text(app)
        assert f"the line is no longer in {log}" in text and old[1].request_id in text
    for reader in engine.readers + engine.history:
        reader.source.close()
