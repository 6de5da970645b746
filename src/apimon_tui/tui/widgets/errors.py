"""Errors panel: the newest failed calls, or the same grouped by status, code and model.

Both views are `LineTable`s, whose rows are replaced whole each tick and drawn
only where seen (a busy feed changes every row each refresh). Until the feed is browsed it
holds only the rows that fit, newest first: under a flood of failures every
row changes each refresh, and rows nobody sees are not worth updating. Cells
are `rich.text.Text`, so log text is never read as markup.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from apimon_tui.core.model import Call
from apimon_tui.store import Snapshot
from apimon_tui.store.metrics import ErrorGroup
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.line_table import LineTable

MAX_ROWS = 200           # rows while the feed is browsed
ROWS_BEYOND_VIEW = 4     # rows kept below the visible ones otherwise
MESSAGE_CHARS = 36


class FeedTable(LineTable):
    """The feed's table: it tells the feed before the cursor or the view leaves the newest rows."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="open_detail",
                        tooltip="open the failed call (or the group's newest) in detail")]

    def __init__(self, columns: list[str], *, before_browsing: Callable[[], None] | None = None, **kwargs) -> None:
        super().__init__(columns, **kwargs)
        self._before_browsing = before_browsing

    @property
    def browsed(self) -> bool:
        """Whether the user has moved off the newest rows (by cursor or by scrolling)."""
        return self.cursor_row > 0 or self.scroll_y > 0

    def _browse(self) -> None:
        if not self.browsed and self._before_browsing is not None:
            self._before_browsing()

    def action_cursor_down(self) -> None:
        self._browse()
        super().action_cursor_down()

    def action_page_down(self) -> None:
        self._browse()
        super().action_page_down()

    def action_scroll_bottom(self) -> None:
        self._browse()
        super().action_scroll_bottom()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._browse()
        super()._on_mouse_scroll_down(event)


class ErrorFeed(Vertical, can_focus=False):
    ALLOW_MAXIMIZE = True  # `z` zooms it
    """The failed-call feed and its grouped view (`g` switches)."""

    DEFAULT_CSS = """
    ErrorFeed > FeedTable { height: 1fr; }
    ErrorFeed.-grouped #error-rows { display: none; }
    ErrorFeed #error-groups { display: none; }
    ErrorFeed.-grouped #error-groups { display: block; }
    """

    class OpenCall(Message):
        """A failed call was chosen: open its detail with its group's other calls."""

        def __init__(self, call: Call) -> None:
            super().__init__()
            self.call = call

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Errors"
        self.calls: dict[str, Call] = {}  # row key -> the call it shows
        self.groups: dict[str, ErrorGroup] = {}
        self.newest_of_group: dict[str, Call] = {}
        self._shown: tuple[Snapshot, str, str] | None = None

    @property
    def grouped(self) -> bool:
        return self.has_class("-grouped")

    def compose(self) -> ComposeResult:
        yield FeedTable(["time", "status", "model", "code", "request id", "message"], id="error-rows",
                        zebra_stripes=True, before_browsing=self._before_browsing)
        yield FeedTable(["status", "code", "model", "count", "first", "last", "last message"], id="error-groups",
                        zebra_stripes=True)

    @property
    def table(self) -> FeedTable:
        return self.query_one("#error-groups" if self.grouped else "#error-rows", FeedTable)

    def toggle_grouped(self) -> None:
        had_focus = self.table.has_focus
        self.toggle_class("-grouped")
        self.show_again()  # only the table shown is kept drawn
        if had_focus:
            self.table.focus()

    def focus_feed(self) -> None:
        self.table.focus()

    def show(self, snap: Snapshot, window_label: str, note: str = "") -> None:
        """`note` says what the feed lacks (older failed calls not kept), first in the subtitle."""
        self._shown = (snap, window_label, note)
        self.border_title = f"Errors · {window_label}{fmt.partial(snap)}"
        self.border_subtitle = (f"{note + ' · ' if note else ''}{snap.total.errors:,} failed · "
                                f"{len(snap.groups)} groups · g: {'calls' if self.grouped else 'grouped'}")
        self._show_rows(snap.failed[:self._row_limit()])
        self._show_groups(snap)

    def _row_limit(self) -> int:
        """All MAX_ROWS rows once the feed is browsed; until then about as many as are seen.

        Under a flood every row changes each refresh: a feed that shows only
        its newest rows keeps (and sorts, and measures) only those.
        """
        table = self.query_one("#error-rows", FeedTable)
        if table.browsed:
            return MAX_ROWS
        if not table.size.height:  # not laid out yet: again once it is
            self.call_after_refresh(self.show_again)
            return MAX_ROWS
        return min(MAX_ROWS, table.size.height + ROWS_BEYOND_VIEW)

    def show_again(self) -> None:
        """The last snapshot again, when what fits has changed."""
        if self._shown is not None:
            self.show(*self._shown)

    on_resize = show_again  # as many rows as now fit

    def _before_browsing(self) -> None:
        """Every row, before the cursor or the view leaves the newest ones."""
        if self._shown is not None:
            self._show_rows(self._shown[0].failed[:MAX_ROWS])

    def _show_rows(self, failed: list[Call]) -> None:
        """Newest first. A cursor on the newest row stays there, following the feed like
        `tail -f`; one moved down stays on its call."""
        table = self.query_one("#error-rows", FeedTable)
        newest_first = sorted(failed, key=lambda call: call.ts, reverse=True)
        self.calls = {_call_key(call): call for call in newest_first}
        if not self.grouped:  # a hidden table's cells are made when `g` shows it
            table.set_rows([(key, _call_cells(call)) for key, call in self.calls.items()], keep_cursor=table.browsed)

    def _show_groups(self, snap: Snapshot) -> None:
        """Latest first, re-ordered only when groups come or go (a group's place stays put as it grows)."""
        table = self.query_one("#error-groups", FeedTable)
        newest: dict[tuple, Call] = {}
        for call in snap.failed:
            newest.setdefault(call.group_key(), call)
        wanted = {"\x1f".join(g.key): g for g in snap.groups[:MAX_ROWS]}
        self.newest_of_group = {k: newest[g.key] for k, g in wanted.items() if g.key in newest}
        if wanted.keys() == self.groups.keys():
            order = list(self.groups)
        else:
            order = sorted(wanted, key=lambda key: wanted[key].last_ts, reverse=True)
        self.groups = {key: wanted[key] for key in order}
        if self.grouped:
            table.set_rows([(key, _group_cells(group)) for key, group in self.groups.items()], keep_cursor=True)

    def selected_call(self) -> Call | None:
        """The call under the cursor (the newest of the group in the grouped view)."""
        key = self.table.cursor_key
        if key is None:
            return None
        return (self.newest_of_group if self.grouped else self.calls).get(key)

    def on_line_table_row_selected(self, event: LineTable.RowSelected) -> None:
        event.stop()
        call = self.selected_call()
        if call is not None:
            self.post_message(self.OpenCall(call))


def _call_key(call: Call) -> str:
    return f"{id(call)}@{call.ts!r}"


def _call_cells(call: Call) -> tuple:
    message = one_line(call.error_message or call.error_type or "")
    return (
        Text(fmt.clock_time(call.ts)),
        Text(identifier(call.status_label), style="bold"),
        Text(identifier(call.model or "-")),
        Text(identifier(call.error_code or "-")),
        Text(identifier(call.request_id or "-")),
        Text(message[:MESSAGE_CHARS] + ("…" if len(message) > MESSAGE_CHARS else "")),
    )


def _group_cells(group: ErrorGroup) -> tuple:
    message = one_line(group.last_message)
    return (
        Text(identifier(group.status), style="bold"),
        Text(identifier(group.code or "-")),
        Text(identifier(group.model or "-")),
        Text(f"{group.count:,}", justify="right"),
        Text(fmt.clock_time(group.first_ts)),
        Text(fmt.clock_time(group.last_ts)),
        Text(message[:MESSAGE_CHARS]),
    )
