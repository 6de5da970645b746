"""Snapshots of the monitor: main screen at 80x24, 120x40 and 200x60, a panel zoomed at 80x24,
and a failed call's detail.

Deterministic: a fixed clock, a fixed log, the source named by a relative path,
and no blinking cursor on these screens.
"""

from __future__ import annotations

import pytest
from tui_support import make_app

pytest.importorskip("pytest_textual_snapshot")


async def chart_drawn(pilot) -> None:
    """The requests chart appears once plotext has loaded in its thread: wait for it."""
    from apimon_tui.tui.widgets.requests import RequestsPanel

    panel = pilot.app.query_one(RequestsPanel)
    for _ in range(200):
        if panel.chart_ready:
            break
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_app(tmp_path, spec="calls.jsonl")


def test_main_screen_120x40(app, snap_compare):
    assert snap_compare(app, terminal_size=(120, 40), run_before=chart_drawn)


def test_main_screen_80x24(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24), run_before=chart_drawn)


def test_main_screen_200x60(app, snap_compare):
    assert snap_compare(app, terminal_size=(200, 60), run_before=chart_drawn)


def test_requests_zoomed_80x24(app, snap_compare):
    async def zoom_requests(pilot) -> None:
        from apimon_tui.tui.widgets.requests import RequestsPanel

        await chart_drawn(pilot)
        pilot.app.query_one(RequestsPanel).focus()
        await pilot.press("z")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=zoom_requests)


def test_detail_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=(100, 34), press=["e", "enter"])
