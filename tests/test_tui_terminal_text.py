"""The monitor, driven with Pilot, on a log whose calls carry escape sequences and markup: the panels and
toasts show the text cleaned and as typed, and the drill-down writes every control out as `\\x1b`."""

from __future__ import annotations

import re

from tui_support import T0, make_app, sample_calls, screen_text

from apimon_tui.model import Call
from apimon_tui.tui.screens.detail import DetailScreen

SIZE = (140, 44)
E = "\x1b"
HOSTILE = f"{E}]52;c;cm0gLXJmIH4=\x07{E}]2;owned\x07{E}[2J\x9b2J"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile_calls() -> list[Call]:
    calls = sample_calls()
    for i in range(40):
        calls.append(Call(
            ts=T0 - 0.6 + i / 100, provider="openai", model=f"evil{HOSTILE}-model[red]", status=500,
            latency_ms=300.0, error_code=f"boom{E}[31m", request_id=f"req_evil_{i}{E}]2;t\x07",
            error_message=f"upstream said{HOSTILE} [@click=app.quit]stop[/]", raw=None,
        ))
    return sorted(calls, key=lambda c: c.ts)


async def test_panels_show_hostile_text_cleaned_and_never_as_markup(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        text = screen_text(app)
        assert not CONTROL.search(text)
        assert "evil-model[red]" in text                        # models panel, error feed: as typed
        feed = app.query_one("#error-rows")
        newest = [cell.plain for cell in feed.get_row_at(0)]
        assert newest[2:5] == ["evil-model[red]", "boom", "req_evil_39"]
        assert newest[5].startswith("upstream said [@click=app.quit]")
        assert app.query_one("#errors").calls  # still running: the [@click] was not an action


async def test_alert_toasts_show_hostile_text_as_typed(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._tick_alerts(T0)
        await pilot.pause()
        toasts = [n for n in app._notifications]
        evil = [n for n in toasts if "evil" in n.message]
        assert evil, [n.message for n in toasts]
        assert all(not CONTROL.search(n.message + n.title) for n in toasts)
        assert "evil-model[red]" in screen_text(app)


async def test_copying_a_hostile_request_id_copies_and_shows_it_cleaned(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "y")
        await pilot.pause()
        assert app.clipboard == "req_evil_39"
        assert any(n.message == "copied request id req_evil_39" for n in app._notifications)


async def test_drill_down_writes_controls_out_visibly(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert not CONTROL.search(text)
        assert "\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]2;owned\\x07\\x1b[2J\\x9b2J" in text  # the error message field
        assert "boom\\x1b[31m" in text                                                  # the error code field


async def test_drill_down_raw_line_shows_escape_as_backslash_x1b(tmp_path):
    call = Call(ts=T0 - 5, provider="openai", model="gpt-4o", status=500, error_message="boom",
                raw=f'127.0.0.1 "POST /v1/chat" 500 "{E}]52;c;cm0gLXJmIH4=\x07{E}]2;owned{E}\\{E}[2J"\tend')
    app = make_app(tmp_path, sample_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(DetailScreen([call], 0))
        await pilot.pause()
        text = screen_text(app)
        assert not CONTROL.search(text)
        assert '"\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]2;owned\\x1b\\\\x1b[2J"\\tend' in text
