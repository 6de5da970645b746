"""Old logs on screen: the window anchors at the newest call and says how old it is."""

from __future__ import annotations

from tui_support import T0, make_app, sample_calls, screen_text

from apimon_tui.model import Call

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
