"""Every key of the monitor, driven with Textual's Pilot on a real native log and a fixed clock."""

from __future__ import annotations

import stat

from tui_support import SECRET, T0, make_app, sample_calls, screen_text, write_config

from apimon_tui.core.model import Call
from apimon_tui.ingest.summary import summarize
from apimon_tui.tui.screens.detail import DetailScreen
from apimon_tui.tui.screens.filter import FilterScreen
from apimon_tui.tui.screens.help import HelpScreen
from apimon_tui.tui.widgets.requests import RequestsPanel

SIZE = (120, 40)


def rows(app, selector: str) -> list[list[str]]:
    table = app.screen_stack[0].query_one(selector)  # a DataTable, or the feed's LineTable
    return [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_main_screen_figures_agree_with_report(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        report = summarize(app.store.snapshot(), app.engine.statuses(), set())
        text = screen_text(app)
        assert f"{report['calls']} calls" in text
        assert f"{report['error_rate']:.1%} errors" in text
        p95 = report["latency_ms"]["p95"]
        assert f"p95 {p95:.0f} ms" in text
        models = {r[0]: r for r in rows(app, "#models-table")}
        assert models["gpt-4o"][1] == f"{report['models']['gpt-4o']['calls']:,}"
        await pilot.press("e", "ctrl+end")  # the feed holds every row once browsed
        failed = rows(app, "#error-rows")
        assert len(failed) == report["errors"]
        assert failed[0][4] > failed[-1][4]  # newest first (request ids grow with time)


async def test_the_feed_stays_newest_first_and_keeps_the_cursor_through_small_and_large_turnovers(tmp_path):
    def failed(i: int) -> Call:
        return Call(ts=T0 - 200 + i, model="gpt-4o", status=500, latency_ms=10.0, request_id=f"req_{i:03d}")

    app = make_app(tmp_path, [failed(i) for i in range(10)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "down", "down")
        table = app.screen_stack[0].query_one("#error-rows")
        chosen = rows(app, "#error-rows")[table.cursor_row][4]
        for first, new in ((10, 30), (40, 2)):  # most rows new (rebuilt), then a few (slots reused)
            app.store.add_many([failed(i) for i in range(first, first + new)])
            app.tick()
            await pilot.pause()
            shown = [r[4] for r in rows(app, "#error-rows")]
            assert shown == sorted(shown, reverse=True) and len(shown) == first + new
            assert shown[table.cursor_row] == chosen


async def test_a_feed_nobody_browses_holds_the_rows_it_shows_and_every_row_once_browsed(tmp_path):
    from apimon_tui.tui.widgets.errors import ROWS_BEYOND_VIEW

    calls = [Call(ts=T0 - 200 + i, model="gpt-4o", status=429, latency_ms=5.0, request_id=f"req_{i:03d}") for i in range(150)]
    app = make_app(tmp_path, calls)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen_stack[0].query_one("#error-rows")
        shown = [r[4] for r in rows(app, "#error-rows")]
        assert table.size.height < len(shown) <= table.size.height + ROWS_BEYOND_VIEW
        assert shown == [f"req_{i:03d}" for i in range(149, 149 - len(shown), -1)]  # the newest
        await pilot.press("e")  # focused, but still on the newest row
        await pilot.pause()
        assert len(rows(app, "#error-rows")) == len(shown)
        await pilot.press("ctrl+end")
        assert [r[4] for r in rows(app, "#error-rows")] == [f"req_{i:03d}" for i in range(149, -1, -1)]
        assert rows(app, "#error-rows")[table.cursor_row][4] == "req_000"
        await pilot.press("ctrl+home")
        await pilot.pause()
        app.store.add_many([Call(ts=T0 - 10, model="gpt-4o", status=500, latency_ms=5.0, request_id="req_new")])
        app.tick()
        await pilot.pause()
        assert table.row_count < 150 and rows(app, "#error-rows")[0][4] == "req_new"  # back on the newest rows
        await pilot.press("pagedown")
        assert table.cursor_row > table.size.height - 3 and table.row_count == 151


async def test_alert_area_shows_the_active_alerts(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        active = app.alerts.active()
        assert active
        above_panels = screen_text(app).split("Requests")[0]
        for alert in active:
            assert alert.message in above_panels


async def test_q_quits(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_help_lists_every_binding_id_and_esc_closes(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        await pilot.press("end")                                # the rest of the list, scrolled to
        await pilot.pause()
        text += screen_text(app)
        for binding_id in ("quit", "window_1h", "pause", "filter", "next_theme", "copy_request_id", "cursor_back",
                           "live", "open_detail", "back", "next_in_group", "previous_in_group"):
            assert binding_id in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")  # opened again: the same list, built once
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "next_in_group" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_status_line_says_whether_lines_flow_in_coarse_steps(tmp_path):
    """The last line's age changes at most every 10 s, so an idle screen is not redrawn every second."""
    app = make_app(tmp_path, spec="log")
    async with app.run_test(size=SIZE) as pilot:
        reader = app.engine.readers[0]
        now = app.clock()
        for age, shown in ((3, "last line just now"), (27, "last line 20s ago"), (200, "last line 3m ago")):
            reader.counts.last_line_at = now - age
            app.tick()
            await pilot.pause()
            assert shown in screen_text(app)


async def test_with_no_new_calls_the_panels_move_on_every_15_seconds_and_at_once_with_new_ones(tmp_path):
    from apimon_tui.tui.app import IDLE_REDRAW_S

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        now = [T0]
        app.clock = lambda: now[0]
        panel = app.query_one(RequestsPanel)
        drawn_at, show = [], panel.show
        panel.show = lambda *args: (drawn_at.append(now[0] - T0), show(*args))
        for second in range(1, 31):  # the 5m window's chart steps are 5 s
            now[0] = T0 + second
            app.tick()
            await pilot.pause()
        assert IDLE_REDRAW_S == 15 and drawn_at == [15, 30]
        app.store.add_many([Call(ts=T0 + 31, model="gpt-4o", status=200, latency_ms=12.0)])
        now[0] = T0 + 31
        app.tick()
        assert drawn_at == [15, 30, 31]


async def test_figures_and_request_ids_that_grow_wider_are_shown_whole(tmp_path):
    app = make_app(tmp_path, [Call(ts=T0 - 100, model="gpt-4o", status=200, latency_ms=5.0),
                              Call(ts=T0 - 99, model="gpt-4o", status=500, latency_ms=5.0)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        long_id = "req_" + "7f3a9c" * 5
        app.store.add_many([Call(ts=T0 - 90 + i / 1000, model="gpt-4o", status=200, latency_ms=5.0) for i in range(12_345)])
        app.store.add_many([Call(ts=T0 - 10, model="gpt-4o", status=500, latency_ms=5.0, request_id=long_id)])
        app.tick()
        await pilot.pause()
        assert "12,348" in [r[1] for r in rows(app, "#models-table")]  # in the table's data...
        lines = screen_text(app).splitlines()
        assert any("gpt-4o" in line and "12,348" in line for line in lines)  # ...and on screen, not cut
        assert any(long_id in line for line in lines)  # to the column's first width


async def test_models_keep_their_rows_while_the_same_models_stay_and_rerank_when_one_comes(tmp_path):
    def ok(model: str, n: int, at: float) -> list[Call]:
        return [Call(ts=at + i / 1000, model=model, status=200, latency_ms=5.0) for i in range(n)]

    app = make_app(tmp_path, ok("gpt-4o", 3, T0 - 100) + ok("claude-sonnet-4", 2, T0 - 99))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [r[0] for r in rows(app, "#models-table")] == ["gpt-4o", "claude-sonnet-4"]
        app.store.add_many(ok("claude-sonnet-4", 5, T0 - 50))
        app.tick()
        await pilot.pause()
        assert [r[:2] for r in rows(app, "#models-table")] == [["gpt-4o", "3"], ["claude-sonnet-4", "7"]]
        app.store.add_many(ok("gpt-4o-mini", 1, T0 - 40))
        app.tick()
        await pilot.pause()
        assert [r[0] for r in rows(app, "#models-table")] == ["claude-sonnet-4", "gpt-4o", "gpt-4o-mini"]


async def test_number_keys_change_the_window(tmp_path):
    # Calls spread over 20 minutes: 1m, 5m and 15m windows hold different counts.
    app = make_app(tmp_path, calls=sample_calls(n=1200, span_s=1200))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.query_one(RequestsPanel)
        seen = {}
        for key, label, window_s in (("1", "1m", 60), ("2", "5m", 300), ("3", "15m", 900),
                                     ("4", "1h", 3600), ("5", "6h", 21600), ("6", "24h", 86400)):
            await pilot.press(key)
            await pilot.pause()
            assert panel.border_title == f"Requests · {label}"
            assert f"window {label}" in screen_text(app)
            seen[label] = app.store.snapshot(window_s, T0).total.calls
            assert f"{seen[label]:,} calls" in str(panel.border_subtitle)
        assert seen["1m"] < seen["5m"] < seen["15m"] < seen["1h"] == seen["24h"] == 1200


async def test_p_pauses_the_display_while_ingestion_goes_on(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = app.store.snapshot(300, T0).total.calls
        await pilot.press("p")
        app.store.add_many([Call(ts=T0 - 1, model="gpt-4o", status=200, latency_ms=100.0)])
        app.tick()
        await pilot.pause()
        text = screen_text(app)
        assert "PAUSED" in text
        assert f"{before:,} calls" in text
        await pilot.press("p")
        await pilot.pause()
        text = screen_text(app)
        assert "PAUSED" not in text
        assert f"{before + 1:,} calls" in text


async def test_a_spread_refresh_reaches_every_panel(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        total = app.store.snapshot(300, T0).total.calls
        model_calls = int(rows(app, "#models-table")[0][1].replace(",", ""))
        app.store.add_many([Call(ts=T0 - 1, model="gpt-4o", status=200, latency_ms=100.0)])
        app.tick(spread=True)
        for _ in range(100):  # a step per screen update: wait for them (up to 5 s), not for a set number of turns
            await pilot.pause(0.05)
            if rows(app, "#models-table")[0][1] == f"{model_calls + 1:,}":
                break
        assert f"{total + 1:,} calls" in screen_text(app)
        assert rows(app, "#models-table")[0][1] == f"{model_calls + 1:,}"


async def test_a_refresh_that_replaces_an_unfinished_one_still_draws_its_data(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model_calls = int(rows(app, "#models-table")[0][1].replace(",", ""))
        app.store.add_many([Call(ts=T0 - 1, model="gpt-4o", status=200, latency_ms=100.0)])
        app.tick(spread=True)
        app.tick(spread=True)  # the refresh timer again, before the first one's panels were drawn
        for _ in range(100):
            await pilot.pause(0.05)
            if rows(app, "#models-table")[0][1] == f"{model_calls + 1:,}":
                break
        assert rows(app, "#models-table")[0][1] == f"{model_calls + 1:,}"


async def test_a_refresh_of_quick_steps_draws_every_panel_in_one_screen_update(tmp_path):
    app = make_app(tmp_path, step_budget_s=60.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model_calls = int(rows(app, "#models-table")[0][1].replace(",", ""))
        app.store.add_many([Call(ts=T0 - 1, model="gpt-4o", status=200, latency_ms=100.0)])
        app.tick(spread=True)
        assert rows(app, "#models-table")[0][1] == f"{model_calls + 1:,}"  # no screen update in between


async def test_p_holds_the_panels_a_spread_refresh_had_not_reached_yet(tmp_path):
    app = make_app(tmp_path, step_budget_s=0.0)  # each step over its budget: one step per screen update
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = rows(app, "#models-table")
        app.store.add_many([Call(ts=T0 - 1, model="gpt-4o", status=200, latency_ms=100.0)])
        app.tick(spread=True)  # the first step at once, the others one per screen update
        await pilot.press("p")
        await pilot.pause()
        assert "PAUSED" in screen_text(app)
        assert rows(app, "#models-table") == before


async def test_e_focuses_the_error_feed_and_g_groups_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("e")
        assert app.focused.id == "error-rows"
        await pilot.press("g")
        await pilot.pause()
        assert app.focused.id == "error-groups"
        groups = rows(app, "#error-groups")
        by_key = {(g[0], g[1], g[2]): int(g[3].replace(",", "")) for g in groups}
        assert by_key[("429", "rate_limit_exceeded", "gpt-4o")] + by_key[
            ("429", "rate_limit_exceeded", "claude-sonnet-4")] == sum(
            1 for c in sample_calls() if c.status == 429)
        await pilot.press("g")
        await pilot.pause()
        assert app.focused.id == "error-rows"


async def test_a_click_on_a_feed_row_opens_that_call(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        second = rows(app, "#error-rows")[1][4]
        await pilot.click("#error-rows", offset=(2, 2))  # line 0 is the header
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert second in screen_text(app)


async def test_right_scrolls_the_feed_sideways_to_its_last_column(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        message = next(r[5] for r in rows(app, "#error-rows") if len(r[5]) > 20)
        assert message not in screen_text(app)  # the panel is narrower than the table
        await pilot.press("e", *["right"] * 40)
        await pilot.pause()
        assert message in screen_text(app)


async def test_enter_opens_a_failed_call_n_steps_in_its_group_and_esc_goes_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        newest = app.store.failed[-1]
        text = screen_text(app)
        assert newest.request_id in text
        assert "[b]not markup[/b]" in text          # log text shown as typed, not as markup
        assert SECRET not in text and "3456" in text  # the key is cut to its last 4
        assert "retry attempt" not in text or "0" in text
        same_group = [c for c in reversed(app.store.failed) if c.group_key() == newest.group_key()]
        await pilot.press("n")
        await pilot.pause()
        assert same_group[1].request_id in screen_text(app)
        await pilot.press("N")
        await pilot.pause()
        assert newest.request_id in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
        assert app.focused.id == "error-rows"


async def test_slash_filters_every_panel(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"model:gpt-4o", "enter")
        await pilot.pause()
        assert [r[0] for r in rows(app, "#models-table")] == ["gpt-4o"]
        assert {r[2] for r in rows(app, "#error-rows")} == {"gpt-4o"}
        expected = sum(1 for c in sample_calls() if c.model == "gpt-4o")
        assert f"{expected:,} calls" in screen_text(app)
        assert "filter: model:gpt-4o" in screen_text(app)
        # Enter on the filter as it stands keeps it; Esc clears it.
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert "filter: model:gpt-4o" in screen_text(app)
        await pilot.press("slash", "x", "escape")
        await pilot.pause()
        assert "filter:" not in screen_text(app)
        assert len(rows(app, "#models-table")) == 2


async def test_filter_by_status_and_free_text(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"status:5xx", "enter")
        await pilot.pause()
        assert {r[1] for r in rows(app, "#error-rows")} == {"500"}
        await pilot.press("slash", *["backspace"] * 20, *"server had", "enter")
        await pilot.pause()
        assert {r[1] for r in rows(app, "#error-rows")} == {"500"}


async def test_t_switches_theme_and_keeps_it_in_the_state_file_not_the_config(tmp_path):
    config_path = write_config(tmp_path, '# my settings\n[budget]\nmonthly_usd = 1.0  # team limit\n')
    config_path.chmod(0o600)
    before = config_path.read_bytes()
    app = make_app(tmp_path, config_text=before.decode())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "apimon-dark"
        await pilot.press("t")
        await pilot.pause()
        assert app.theme != "apimon-dark"
        assert app.theme in app.theme_names
        chosen = app.theme
        for _ in app.theme_names[1:]:
            await pilot.press("t")
        assert app.theme == "apimon-dark"
        await pilot.press("t")
    assert config_path.read_bytes() == before  # comments and all
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert any(f"theme {chosen} (kept in " in n.message for n in app._notifications)
    assert make_app(tmp_path, config_text=before.decode()).theme == chosen  # the next start


async def test_shipped_themes_include_light_high_contrast_and_16_colours(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE):
        assert {"apimon-dark", "apimon-light", "apimon-high-contrast", "apimon-16"} <= set(app.theme_names)
        assert app.get_theme("apimon-16").ansi


async def test_a_broken_theme_file_is_reported_and_skipped(tmp_path):
    user_themes = tmp_path / "themes"
    user_themes.mkdir()
    (user_themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (user_themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff00ff"\n')
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "mine" in app.theme_names and "broken" not in app.theme_names
        assert any("broken.toml skipped" in n.message for n in app._notifications)


async def test_the_configured_theme_is_used_from_the_first_frame_and_an_unknown_one_is_reported(tmp_path):
    app = make_app(tmp_path, config_text='[ui]\ntheme = "apimon-light"\n')
    assert app.theme == "apimon-light"  # chosen before the app starts: the stylesheet is parsed once
    other = tmp_path / "other"
    other.mkdir()
    app = make_app(other, config_text='[ui]\ntheme = "no-such-theme"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "apimon-dark"
        assert any("'no-such-theme' not found" in n.message for n in app._notifications)


async def test_y_copies_the_request_id_of_the_selected_call(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", "down", "y")
        second = app.store.failed[-2]
        assert app.clipboard == second.request_id
        await pilot.press("enter", "y")
        assert app.clipboard == second.request_id


async def test_keys_can_be_remapped_in_config(tmp_path):
    app = make_app(tmp_path, config_text='[keys]\nquit = "x"\nnext_theme = "T"\nnope = "z"\nhelp = "F1"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("nope: no such binding id" in n.message for n in app._notifications)
        assert any(n.message == "[keys] help: 'F1' is not a key name: Textual's names are lower case ('f1'); "
                                "the default key stays" for n in app._notifications)
        assert "?" in [r[0] for r in app.help_rows() if r[3] == "help"]
        await pilot.press("q")
        assert app.is_running
        await pilot.press("question_mark")
        await pilot.pause()
        assert "x" in [r[0] for r in app.help_rows() if r[3] == "quit"]
        await pilot.press("escape", "x")
        await pilot.pause()
        assert not app.is_running


async def test_no_color_draws_the_chart_without_colours(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.no_color
        chart = app.query_one(RequestsPanel).visual
        assert "⠀" in str(chart) or "┤" in str(chart)


async def test_r_polls_the_providers_at_once(tmp_path, monkeypatch):
    from apimon_tui.core import config as config_mod
    from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer
    from apimon_tui.costs.usage.poller import Poller

    with FakeProviderServer() as srv:
        monkeypatch.setenv("APIMON_TEST_OPENAI_KEY", DEFAULT_KEYS["openai"])
        text = (f'[budget]\nmonthly_usd = 100.0\n\n[providers.openai]\nenabled = true\nbase_url = "{srv.url_for("openai")}"\n'
                'admin_key_env = "APIMON_TEST_OPENAI_KEY"\ninterval = "1h"\n')
        poller = Poller.from_config(config_mod.load(write_config(tmp_path, text)))
        app = make_app(tmp_path, config_text=text, poller=poller)
        costs = "/v1/organization/costs"
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                if srv.hits(costs) and not poller.states["openai"].polling:
                    break
                await pilot.pause(0.05)
            before = srv.hits(costs)
            assert before >= 1  # the poll at start; the next is an hour away
            await pilot.press("r")
            for _ in range(200):
                if srv.hits(costs) > before:
                    break
                await pilot.pause(0.05)
            assert srv.hits(costs) > before
