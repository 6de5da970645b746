"""The sources view (`s`): every source with its format, state and counts, one row each.

The status line has room for one source; a monitor following a glob or a
fleet of `cmd:ssh` sources needs the whole list to tell which one stopped,
which one is failing, which one is full of lines it cannot read, and which
one the reader has not caught up with ("behind": what its last pass left). Rows
are updated by key, so the cursor stays on its source while the list
refreshes.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from apimon_tui.ingest.engine import SourceStatus
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.tui import fmt

COLUMNS = ("source", "format", "state", "lines", "calls", "skipped", "unparsed", "bad values", "lines/s",
           "behind", "last line")


def source_cells(status: SourceStatus, now: float) -> tuple[Text, ...]:
    """One source's row; a failed state or unread lines stand out in bold."""
    counts = status.counts
    state = status.state if not status.error else f"{status.state}: {one_line(status.error)}"
    last = "-" if counts.last_line_at is None else fmt.line_age(now - counts.last_line_at)
    return (
        Text(identifier(status.label)), Text(status.format or "detecting"),
        Text(state, style="bold" if status.error else ""),
        *(Text(f"{value:,}", justify="right", style="bold" if bold and value else "")
          for value, bold in ((counts.lines, False), (counts.calls, False), (counts.skipped, False),
                              (counts.unparsed, True), (counts.bad_values, True))),
        Text(f"{status.lines_per_s:,.0f}", justify="right"), _behind(status.behind_bytes), Text(last),
    )


def _behind(behind_bytes: int | None) -> Text:
    """What the reader's last pass left of its file: `-` for a source that cannot tell."""
    if behind_bytes is None:
        return Text("-", justify="right")
    return Text(fmt.size(behind_bytes), justify="right", style="bold" if behind_bytes else "")


class SourcesScreen(Screen[None]):
    DEFAULT_CSS = """
    SourcesScreen #sources-title { height: 1; padding: 0 1; text-style: bold; }
    SourcesScreen #sources-table { height: 1fr; }
    """
    BINDINGS = [Binding("escape,s", "close", "Back", id="close_sources", tooltip="back to the main view")]

    def __init__(self, statuses: Callable[[], list[SourceStatus]], clock: Callable[[], float]) -> None:
        super().__init__()
        self.statuses = statuses
        self.clock = clock
        self._rows: dict[str, tuple[Text, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="sources-title")
        yield DataTable(id="sources-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.refresh_rows()
        table.focus()
        self.set_interval(1.0, self.refresh_rows, name="sources-refresh")

    def refresh_rows(self) -> None:
        now = self.clock()
        statuses = self.statuses()
        rows = {f"{i}:{s.label}": source_cells(s, now) for i, s in enumerate(statuses)}
        failing = sum(1 for s in statuses if s.error)
        title = f"Sources · {len(statuses)}" + (f" · {failing} with errors" if failing else "") + " · Esc: back"
        self.query_one("#sources-title", Static).update(Text(title))
        table = self.query_one(DataTable)
        if list(rows) != list(self._rows):
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
        else:
            for key, cells in rows.items():
                for column, was, new in zip(COLUMNS, self._rows[key], cells):
                    if was != new:
                        table.update_cell(key, column, new, update_width=True)
        self._rows = rows

    def action_close(self) -> None:
        self.dismiss(None)
