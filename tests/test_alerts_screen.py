"""The alert list screen driven with Pilot: rows, acknowledge, silence, jump to the cause."""

from __future__ import annotations

from alerts_helpers import T0, Sim, ok, shipped
from textual.app import App
from textual.widgets import DataTable

from apimon_tui.tui.fmt import clock_time
from apimon_tui.tui.screens.alerts import AlertsScreen, SilenceScreen

SIZE = (120, 30)


class Host(App):
    """Just enough app to push the screen and catch what it returns."""

    def __init__(self, manager) -> None:
        super().__init__()
        self.manager = manager
        self.result = "open"

    def on_mount(self) -> None:
        self.push_screen(AlertsScreen(self.manager), self.closed)

    def closed(self, alert) -> None:
        self.result = alert


def firing() -> Sim:
    """A warning from server_errors (6 x 500 on gpt-4o) and an info from unpriced_model."""
    sim = Sim([shipped("server_errors"), shipped("unpriced_model")], step=1)
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)])
    sim.run(1, unpriced={"mystery-1"})
    return sim


def cells(app, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_lists_active_alerts_and_the_run_history():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        fired = clock_time(T0 + 1)
        assert cells(app, "alerts-active") == [
            ["warning", "server_errors", "gpt-4o", "6", "5", "1m", fired, "firing"],
            ["info", "unpriced_model", "mystery-1", "1", "1", "-", fired, "firing"],
        ]
        assert [row[7] for row in cells(app, "alerts-history")] == ["fired", "fired"]


async def test_x_acknowledges_the_selected_alert():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await pilot.pause()
        (alert, info) = sim.manager.active()
        assert alert.acknowledged and not info.acknowledged
        assert cells(app, "alerts-active")[0][7] == "firing, acknowledged"
        assert [row[7] for row in cells(app, "alerts-history")][0] == "acknowledged"


async def test_x_again_takes_the_acknowledgement_back():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x", "x")
        await pilot.pause()
        assert not sim.manager.active()[0].acknowledged
        assert cells(app, "alerts-active")[0][7] == "firing"
        assert [row[7] for row in cells(app, "alerts-history")][:2] == ["unacknowledged", "acknowledged"]
        # no longer acknowledged, its escalation is announced again
        sim.store.add_many([ok(T0 + 1.5, status=500) for _ in range(5)])
        (event,) = sim.run(1, unpriced={"mystery-1"})
        assert (event.kind, event.alert.severity) == ("fire", "critical")


async def test_s_silences_the_rule_for_the_chosen_time():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "s")        # the unpriced_model alert
        await pilot.pause()
        assert isinstance(app.screen, SilenceScreen)
        await pilot.press("down", "enter")    # 1 hour
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        assert sim.manager.silenced_until("unpriced_model") == T0 + 1 + 3600
        assert sim.manager.silenced_until("server_errors") is None
        assert cells(app, "alerts-active")[1][7].startswith("firing, rule silenced to ")
        await pilot.press("s")                # on a silenced rule: ends the silence, no choice asked
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        assert sim.manager.silenced_until("unpriced_model") is None
        assert cells(app, "alerts-active")[1][7] == "firing"


async def test_escape_in_the_silence_choice_silences_nothing():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "escape")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        assert sim.manager.silenced_until("server_errors") is None


async def test_enter_jumps_to_the_cause():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        cause = app.result.cause
        assert (cause.target, cause.model, cause.status, cause.window_s) == ("failed", "gpt-4o", "5xx", 60.0)
        assert cause.filter().status == "5xx"


async def test_enter_on_a_history_row_and_escape_closes_without_a_cause():
    sim = firing()
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "enter")     # newest event first: the unpriced_model fire
        await pilot.pause()
        assert app.result.cause.model == "mystery-1"
    app = Host(sim.manager)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert app.result is None


# -- in the monitor app ---------------------------------------------------------------


async def test_monitor_shows_an_alert_in_the_strip_not_a_toast_and_a_opens_the_list(tmp_path):
    from tui_support import make_app, screen_text

    from apimon_tui.tui.fmt import WINDOWS

    app = make_app(tmp_path)                  # 429s on every 17th call: rate_limited fires
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not [n for n in app._notifications if "rate_limited" in n.message + n.title]
        strip = screen_text(app).split("Requests")[0]
        assert "▲ WARNING rate_limited gpt-4o 3 429s >= 3 in 1m · since " in strip
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        assert [r[1:3] for r in cells(app, "alerts-active")] == [["rate_limited", "gpt-4o"]]
        await pilot.press("x")
        await pilot.pause()
        assert app.alerts.active()[0].acknowledged
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, AlertsScreen)
        assert (app.filter.model, app.filter.status) == ("gpt-4o", "429")
        assert WINDOWS[app.window_index][1] == 60.0
        assert "acknowledged" in screen_text(app).split("Requests")[0]


async def test_monitor_bad_alert_rule_is_one_line_before_the_screen_opens(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text('[alerts.latency]\nwarning = "slow"\n')
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    out = subprocess.run([sys.executable, "-m", "apimon_tui", "--config", str(config), str(log)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("apimon-tui: config: alerts.latency.warning must be")


async def test_d_hides_the_strip_until_an_alert_changes(tmp_path):
    from tui_support import T0 as NOW, footer_drawn, make_app, pause_until, screen_text

    from apimon_tui.tui.widgets.alerts import AlertArea

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pause_until(pilot, lambda: footer_drawn(app))
        assert "WARNING rate_limited" in screen_text(app)
        assert "d Hide alerts" in screen_text(app).splitlines()[-1]        # the footer offers it
        await pilot.press("d")
        await pause_until(pilot, lambda: "Hide alerts" not in screen_text(app).splitlines()[-1])
        assert "WARNING rate_limited" not in screen_text(app)
        assert "Hide alerts" not in screen_text(app).splitlines()[-1]      # nothing left to hide
        app._tick_alerts(NOW)                 # the same alert, unchanged: stays hidden
        await pilot.pause()
        assert "WARNING rate_limited" not in screen_text(app)
        app.alerts.get(app.alerts.active()[0].key).state = "holding"   # as the manager does when it drops
        app._panel(AlertArea).show(app.alerts.active())
        await pilot.pause()
        assert "rate_limited gpt-4o" in screen_text(app)


async def test_the_strip_shows_two_alerts_and_how_many_more():
    from textual.app import App as Bare

    from apimon_tui.tui.widgets.alerts import AlertArea

    sim = Sim([shipped("server_errors"), shipped("unpriced_model")], step=1)
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)])
    sim.run(1, unpriced={"mystery-1", "mystery-2", "mystery-3"})

    class Strip(Bare):
        def compose(self):
            yield AlertArea()

    app = Strip()
    async with app.run_test(size=(100, 6)) as pilot:
        app.query_one(AlertArea).show(sim.manager.active())
        await pilot.pause()
        from tui_support import screen_text
        shown = [line.rstrip() for line in screen_text(app).splitlines()[:3]]
        assert shown[0].startswith("▲ WARNING server_errors gpt-4o 6 5xx/timeouts >= 5 in 1m · since ")
        assert shown[1].startswith("• INFO unpriced_model mystery-1 has no known price")
        assert shown[2] == "+2 more · a: the alert list · d: hide"
