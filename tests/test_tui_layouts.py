"""The screen at the size you have: at 80x24 every panel's headline on the first screen, `z` zooms
one panel and back, at 200x60 the charts and feeds grow, and the footer always fits (Pilot)."""

from __future__ import annotations

import pytest
from tui_support import footer_drawn, make_app, pause_until, screen_text

from apimon_tui.tui.widgets.errors import ErrorFeed
from apimon_tui.tui.widgets.footer import FittedFooter
from apimon_tui.tui.widgets.requests import RequestsPanel

TITLES = ("Requests", "Latency", "Errors", "Budget", "Rate limits", "Models")


async def test_at_80x24_every_panel_shows_its_headline_on_the_first_screen(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for title in TITLES:
            assert f"─ {title}" in text, title
        assert "calls ·" in text and "p95" in text                            # requests and latency figures
        assert "$0.38 of $1.00" in text                                      # the budget's headline
        assert any("claude-sonnet-4" in line and " 3.6k/5k " in line for line in text.splitlines())  # tightest limit
        assert any(line.startswith("│  gpt-4o ") and "$0.25" in line for line in text.splitlines())  # models
        assert app.query_one("#main").max_scroll_y <= 1                      # nothing below the fold


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (200, 60)])
async def test_the_footer_always_fits_with_whole_labels(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pause_until(pilot, lambda: footer_drawn(app))
        footer = app.query_one(FittedFooter)
        keys = [k for k in footer.children if not k.has_class("-command-palette")]
        last = screen_text(app).splitlines()[-1]
        for key in keys:
            assert f"{key.key_display} {key.description}" in last
        assert last.rstrip().endswith("^p Commands")
        width = sum(len(k.key_display) + len(k.description) + 3 for k in footer.children)
        assert width <= size[0]
        assert [k.description for k in keys[:4]] == ["Open", "Quit", "Help", "Zoom"]   # the first kept


async def test_a_wider_screen_shows_more_keys(tmp_path):
    shown = []
    for size in ((80, 24), (200, 60)):
        app = make_app(tmp_path)
        async with app.run_test(size=size) as pilot:
            await pause_until(pilot, lambda: footer_drawn(app))
            shown.append(len(app.query_one(FittedFooter).children))
    assert shown[0] < shown[1]


async def test_z_zooms_the_focused_panel_and_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("z")                                  # the error feed has the focus
        await pilot.pause()
        assert isinstance(app.screen.maximized, ErrorFeed)
        rows = [line for line in screen_text(app).splitlines() if line.startswith("│  23:")]
        assert len(rows) > 8                                    # 4 rows in the compact layout
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None
        app.query_one(RequestsPanel).focus()
        await pilot.press("z")
        await pilot.pause()
        assert isinstance(app.screen.maximized, RequestsPanel)
        assert app.query_one(RequestsPanel).content_size.height > 15
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.maximized is None
        assert "─ Models" in screen_text(app)


async def test_at_200x60_the_charts_and_the_feed_grow(tmp_path):
    heights = {}
    for size in ((120, 40), (200, 60)):
        app = make_app(tmp_path)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            heights[size] = (app.query_one("#requests").size.height, app.query_one("#errors").size.height)
    (chart_120, feed_120), (chart_200, feed_200) = heights[(120, 40)], heights[(200, 60)]
    assert chart_200 >= chart_120 + 4 and feed_200 >= feed_120 + 4


async def test_at_80x24_the_alert_strip_takes_two_lines_and_the_models_stay_in_view(tmp_path):
    from alerts_helpers import T0 as SIM_T0, Sim, ok, shipped

    from apimon_tui.tui.widgets.alerts import AlertArea

    sim = Sim([shipped("server_errors"), shipped("unpriced_model")], step=1)
    sim.store.add_many([ok(SIM_T0 + 0.5, status=500) for _ in range(6)])
    sim.run(1, unpriced={"mystery-1", "mystery-2", "mystery-3"})
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.alerts = sim.manager                                   # four alerts, as in an incident
        app.query_one(AlertArea).show(sim.manager.active())
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert lines[2].startswith(" ▲ WARNING server_errors gpt-4o 6 5xx/timeouts >= 5")  # under the overview
        assert lines[3].strip() == "+3 more · a: the alert list · d: hide"
        assert lines[4].startswith("╭─ Requests")
        assert any(line.startswith("│  gpt-4o ") for line in lines)     # the models' first row, still on screen
