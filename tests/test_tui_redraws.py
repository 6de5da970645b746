"""Widgets given what they show already are not drawn again (each redraw of a panel costs the UI
thread a few ms a second at 1,000 lines/s); given anything else, they are. The error feed keeps
only the view it shows up to date; the alert strip is laid out again only when its height changes."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import App
from textual.widgets import Static
from tui_support import T0, make_app, screen_text

from apimon_tui.alerts.manager import Alert
from apimon_tui.tui.widgets.alerts import AlertArea
from apimon_tui.tui.widgets.border import set_border
from apimon_tui.tui.widgets.line_table import LineTable


def rows(style: str = "bold", remaining: str = "3.9k/4k") -> list:
    return [("gpt-4o", (Text("gpt-4o"), Text(remaining, style=style))),
            ("o3", (Text("o3"), Text("120/500", style=style, justify="right")))]


class TableApp(App):
    def compose(self):
        yield LineTable(["model", "requests"])
        yield Static("panel", id="panel")


def spy_repaints(widget) -> list:
    repaints: list = []
    widget.refresh = lambda *regions, **how: repaints.append(how)
    return repaints


async def test_rows_drawn_as_shown_already_are_not_drawn_again():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(LineTable)
        table.set_rows(rows(), keep_cursor=True)
        await pilot.pause()
        repaints = spy_repaints(table)
        table.set_rows(rows(), keep_cursor=True)  # equal rows, new objects
        assert repaints == []
        for changed in (rows(remaining="3.8k/4k"), rows(style="dim"), rows()[::-1], rows()[:1]):
            table.set_rows(changed, keep_cursor=False)
            assert repaints, changed  # (a row fewer also asks for a layout)
            repaints.clear()
        table.set_rows(rows(), keep_cursor=False)
        table.cursor_row = 1
        table.set_rows(rows()[::-1], keep_cursor=True)  # the cursor follows "o3" to the first row
        assert table.cursor_row == 0 and repaints


async def test_a_table_drawn_in_one_pass_looks_as_drawn_line_by_line():
    """`render_lines` works the widget's style out once for its lines: the same cells and styles
    (header, cursor row, focus tint) as each line drawn on its own."""
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(LineTable)
        table.set_rows(rows(), keep_cursor=True)
        table.focus()
        await pilot.pause()
        region = table.size.region
        drawn = table.render_lines(region)
        alone = [table.render_line(y).crop(0, region.width) for y in range(region.height)]
        assert [list(line) for line in drawn] == [list(line) for line in alone]
        assert list(alone[1])[0].style != list(alone[2])[0].style  # the cursor row stands out


async def test_a_border_title_shown_already_is_not_set_again():
    async with TableApp().run_test() as pilot:
        panel = pilot.app.query_one("#panel")
        set_border(panel, title="Models · 5m", subtitle="")
        repaints = spy_repaints(panel)
        set_border(panel, title="Models · 5m", subtitle="")
        assert repaints == []
        set_border(panel, title="Models · 1h")
        set_border(panel, subtitle="none in these logs")
        assert len(repaints) == 2
        assert (panel.border_title, panel.border_subtitle) == ("Models · 1h", "none in these logs")


async def test_only_the_error_view_shown_is_kept_up_to_date(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows_view, groups_view = (app.screen_stack[0].query_one(f"#error-{name}", LineTable)
                                  for name in ("rows", "groups"))
        assert rows_view.row_count and not groups_view.row_count  # hidden: not built each refresh
        await pilot.press("e", "g")
        await pilot.pause()
        assert groups_view.row_count == len(app.store.snapshot(300, T0).groups)
        app.engine.store.add_many([replace(app.store.failed[-1], ts=T0 - 1, model="o3")])
        app.tick()
        await pilot.pause()
        assert groups_view.row_count == len(app.store.snapshot(300, T0).groups) and "o3" in screen_text(app)


def alert(key: str, message: str) -> Alert:
    return Alert(key=key, rule=key, kind="error_rate", severity="warning", scope="all", value=0.06,
                 threshold=0.05, unit="ratio", window=300.0, since=T0 - 60, message=message, cause=None)


class StripApp(App):
    def compose(self):
        yield AlertArea()


async def test_the_alert_strip_is_laid_out_again_only_when_its_lines_change():
    async with StripApp().run_test() as pilot:
        strip = pilot.app.query_one(AlertArea)
        strip.show([alert("a", "error rate 5.2% over 5m")])
        await pilot.pause()
        layouts, refresh = [], strip.refresh
        strip.refresh = lambda *regions, **how: (layouts.append(how.get("layout")), refresh(*regions, **how))
        strip.show([alert("a", "error rate 6.1% over 5m")])  # the same one line, other words
        await pilot.pause()
        assert True not in layouts and "6.1%" in str(strip.render()) and strip.size.height == 1
        strip.show([alert("a", "error rate 6.1% over 5m"), alert("b", "p95 latency 2.4 s over 5m")])
        await pilot.pause()
        assert True in layouts and strip.size.height == 2
