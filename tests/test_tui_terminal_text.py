"""The monitor, driven with Pilot, on a log whose calls carry escape sequences and markup: the panels and
toasts show the text cleaned and as typed, and the drill-down writes every control out as `\\x1b`."""

from __future__ import annotations

import re

from tui_support import T0, make_app, sample_calls, screen_text, write_log

from apimon_tui.core.model import Call
from apimon_tui.core.terminal_text import identifier
from apimon_tui.tui.screens.detail import DetailScreen

SIZE = (140, 44)
E = "\x1b"
HOSTILE = f"{E}]52;c;cm0gLXJmIH4=\x07{E}]2;owned\x07{E}[2J\x9b2J"
SHOWN = "\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b]2;owned\\x07\\x1b[2J\\x9b2J"  # HOSTILE written out
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile_calls() -> list[Call]:
    calls = sample_calls()
    for i in range(40):
        calls.append(Call(
            ts=T0 - 0.6 + i / 100, provider="openai", model=f"gpt-4o{HOSTILE}[red]", status=500,
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
        feed = app.query_one("#error-rows")
        newest = [cell.plain for cell in feed.get_row_at(0)]
        assert newest[2:5] == [f"gpt-4o{SHOWN}[red]", "boom\\x1b[31m", "req_evil_39\\x1b]2;t\\x07"]
        assert newest[5].startswith("upstream said [@click=app.quit]")
        assert app.query_one("#errors").calls  # still running: the [@click] was not an action


async def test_a_hostile_model_name_neither_passes_for_nor_hides_the_real_one(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one("#models-table")
        models = {table.get_row_at(i)[0].plain: table.get_row_at(i)[1].plain for i in range(table.row_count)}
        real = sum(1 for c in sample_calls() if c.model == "gpt-4o")
        assert models["gpt-4o"] == f"{real:,}"
        assert models[identifier(f"gpt-4o{HOSTILE}[red]")] == "40"


async def test_alerts_show_hostile_text_as_typed_in_the_strip(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._tick_alerts(T0)
        await pilot.pause()
        evil = [a for a in app.alerts.active() if "gpt-4o\\x1b" in a.message]
        assert evil[0].message == f"CRITICAL server_errors gpt-4o{SHOWN}[red] 40 5xx/timeouts >= 10 in 1m"
        shown = screen_text(app)
        assert f"‼ CRITICAL server_errors gpt-4o{SHOWN}[red] 40" in shown   # "[red]" is text, not a style
        assert not CONTROL.search(shown)


async def test_copying_a_hostile_request_id_copies_and_shows_it_cleaned(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "y")
        await pilot.pause()
        assert app.clipboard == "req_evil_39\\x1b]2;t\\x07"
        assert any(n.message == "copied request id req_evil_39\\x1b]2;t\\x07" for n in app._notifications)


async def test_drill_down_writes_controls_out_visibly(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert not CONTROL.search(text)
        assert f"upstream said{SHOWN} [@click=app.quit]" in text  # the error message field
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


async def test_alert_list_shows_a_hostile_scope_written_out(tmp_path):
    app = make_app(tmp_path, hostile_calls())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._tick_alerts(T0)
        await pilot.press("a")
        await pilot.pause()
        table = app.screen.query_one("#alerts-active")
        scopes = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        assert f"gpt-4o{SHOWN}[red]" in scopes and "gpt-4o" in scopes
        assert not CONTROL.search(screen_text(app))


async def test_status_line_writes_a_hostile_file_name_out(tmp_path):
    hostile = write_log(tmp_path / f"app{E}]2;owned\x07.jsonl", sample_calls())
    app = make_app(tmp_path, [], spec=str(hostile))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = app.query_one("#status").render().plain
        assert "app\\x1b]2;owned\\x07.jsonl" in status
        assert not CONTROL.search(screen_text(app))
