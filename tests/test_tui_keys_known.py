"""Keys people already know: Enter on a Models row filters to that model, Ctrl+P lists every
action with its key, and the drill-down shows a JSON raw line indented (Pilot, real log, fixed clock)."""

from __future__ import annotations

import json
import re

from textual.command import CommandPalette
from tui_support import SECRET, T0, make_app, sample_calls, screen_text

from apimon_tui.core.model import Call
from apimon_tui.tui.screens.detail import DetailScreen
from apimon_tui.tui.screens.sources import SourcesScreen
from apimon_tui.tui.widgets.models import ModelsPanel

SIZE = (120, 40)
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


async def test_enter_on_a_models_row_filters_every_panel_to_that_model(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#models-table").focus()
        await pilot.press("down", "enter")                   # the second row: claude-sonnet-4
        await pilot.pause()
        assert app.filter.model == "claude-sonnet-4"
        table = app.query_one("#models-table")
        assert [table.get_row_at(i)[0].plain for i in range(table.row_count)] == ["claude-sonnet-4"]
        text = screen_text(app)
        assert "filter: model:claude-sonnet-4" in text.splitlines()[0]
        claude = sum(1 for c in sample_calls() if c.model == "claude-sonnet-4")
        assert f"{claude} calls" in text                      # the requests panel too


async def test_a_hostile_model_row_filters_to_the_model_as_logged(tmp_path):
    evil = "gpt-4o\x1b]2;x\x07"
    calls = sample_calls(40) + [Call(ts=T0 - 2, model=evil, provider="openai", status=200, latency_ms=300.0)]
    app = make_app(tmp_path, calls)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.query_one(ModelsPanel)
        table = app.query_one("#models-table")
        shown = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        table.focus()
        await pilot.press(*["down"] * shown.index("gpt-4o\\x1b]2;x\\x07"), "enter")
        await pilot.pause()
        assert app.filter.model == evil and panel is app.query_one(ModelsPanel)
        assert [table.get_row_at(i)[0].plain for i in range(table.row_count)] == ["gpt-4o\\x1b]2;x\\x07"]


def palette_prompts(app) -> list[str]:
    from textual.widgets import OptionList

    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_ctrl_p_lists_every_action_with_its_key(tmp_path):
    app = make_app(tmp_path, config_text='[keys]\npause = "space"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        prompts = "\n".join(palette_prompts(app))
        for expected in ("Quit · q, Ctrl+C", "Help · ?", "Filter · /", "Sources · s", "Alerts · a",
                         "Hide alerts · d", "Window 1m · 1", "Window 24h · 6", "Pause · space"):
            assert expected in prompts, prompts
        assert "Theme · t" in prompts                     # ours, which saves the choice
        assert "Screenshot" not in prompts and "palette" not in prompts.lower()   # not Textual's own commands


async def test_a_command_chosen_in_the_palette_runs_its_action(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p", *"sources")
        await pilot.pause(0.3)
        assert palette_prompts(app)[0].startswith("Sources · s")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SourcesScreen)


async def test_drill_down_indents_a_json_raw_line_and_still_writes_controls_out(tmp_path):
    record = {"model": "gpt-4o", "status": 500, "error": {"message": "boom\x1b[2J", "key": SECRET},
              "usage": [1, 2]}
    call = Call(ts=T0 - 5, provider="openai", model="gpt-4o", status=500, error_message="boom",
                raw=json.dumps(record) + "\nnot json {")
    app = make_app(tmp_path, sample_calls(40))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(DetailScreen([call], 0))
        await pilot.pause()
        raw = app.screen.query_one("#detail-raw").render().plain
        assert raw.splitlines()[1:] == [
            "{", '  "model": "gpt-4o",', '  "status": 500,', '  "error": {',
            '    "message": "boom\\u001b[2J",', '    "key": "sk-proj-…3456"',   # redacted as ever
            "  },", '  "usage": [', "    1,", "    2", "  ]", "}",
            "not json {",                                                  # not JSON: as it was
        ]
        assert not CONTROL.search(screen_text(app))


async def test_the_palette_over_the_alert_list_offers_its_keys_too(tmp_path):
    from apimon_tui.tui.screens.alerts import AlertsScreen

    app = make_app(tmp_path)                                 # 429s: rate_limited fires
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a", "ctrl+p", *"acknowledge")
        await pilot.pause(0.3)
        assert palette_prompts(app)[0].startswith("(Un)acknowledge · x")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, AlertsScreen)
        assert app.alerts.active()[0].acknowledged
