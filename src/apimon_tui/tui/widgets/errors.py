"""Errors panel: the newest failed calls, or the same grouped by status, code and model.

Both views are `DataTable`s updated by row key: a tick adds the rows of new
failed calls, removes the ones that left the window or the bound, and updates
changed group cells; nothing is rebuilt whole. Until the feed is browsed it
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
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from apimon_tui.model import Call
from apimon_tui.store import Snapshot
from apimon_tui.store.metrics import ErrorGroup
from apimon_tui.tui import fmt

MAX_ROWS = 200           # rows while the feed is browsed
ROWS_BEYOND_VIEW = 4     # rows kept below the visible ones otherwise
MESSAGE_CHARS = 36


class Stamp(Text):
    """A time cell that sorts by the epoch time it shows."""

    def __init__(self, ts: float) -> None:
        super().__init__(fmt.clock_time(ts), no_wrap=True)
        self.ts = ts


class FeedTable(DataTable):
    """The feed's table: it tells the feed before the cursor or the view leaves the newest rows."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="open_detail",
                        tooltip="open the failed call (or the group's newest) in detail")]

    def __init__(self, *args, before_browsing: Callable[[], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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
    """The failed-call feed and its grouped view (`g` switches)."""

    DEFAULT_CSS = """
    ErrorFeed > DataTable { height: 1fr; }
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
        self.calls: dict[str, Call] = {}  # row (slot) key -> the call it shows
        self._slot_key: dict[str, str] = {}  # slot -> call key
        self._slot_of: dict[str, str] = {}  # call key -> slot
        self.groups: dict[str, ErrorGroup] = {}
        self.newest_of_group: dict[str, Call] = {}
        self._group_cells: dict[str, tuple] = {}
        self._shown: tuple[Snapshot, str] | None = None

    @property
    def grouped(self) -> bool:
        return self.has_class("-grouped")

    def compose(self) -> ComposeResult:
        rows = FeedTable(id="error-rows", cursor_type="row", zebra_stripes=True, before_browsing=self._before_browsing)
        rows.add_column("time", key="time")
        for name in ("status", "model", "code", "request id", "message"):
            rows.add_column(name, key=name)
        yield rows
        groups = FeedTable(id="error-groups", cursor_type="row", zebra_stripes=True)
        for name in ("status", "code", "model", "count", "first", "last", "last message"):
            groups.add_column(name, key=name)
        yield groups

    @property
    def table(self) -> DataTable:
        return self.query_one("#error-groups" if self.grouped else "#error-rows", DataTable)

    def toggle_grouped(self) -> None:
        had_focus = self.table.has_focus
        self.toggle_class("-grouped")
        if had_focus:
            self.table.focus()

    def focus_feed(self) -> None:
        self.table.focus()

    def show(self, snap: Snapshot, window_label: str) -> None:
        self._shown = (snap, window_label)
        self.border_title = f"Errors · {window_label}"
        self.border_subtitle = f"{snap.total.errors:,} failed · {len(snap.groups)} groups · g: {'calls' if self.grouped else 'grouped'}"
        with self.app.batch_update():
            self._show_rows(snap.failed[:self._row_limit()])
            self._show_groups(snap)

    def _row_limit(self) -> int:
        """All MAX_ROWS rows once the feed is browsed; until then about as many as are seen.

        Under a flood every row changes each refresh, and each costs cell
        updates: a feed that shows only its newest rows keeps only those.
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
        """Rows are slots: a slot whose call left the window takes a new call's cells.

        Reusing slots keeps the row count, so a busy feed costs cell updates and
        a sort, not a relayout of the screen (which adding and removing rows is).
        """
        table = self.query_one("#error-rows", FeedTable)
        wanted = {_call_key(c): c for c in failed}
        free = [slot for slot, key in self._slot_key.items() if key not in wanted]
        added = [(k, c) for k, c in wanted.items() if k not in self._slot_of]
        if not free and not added:
            return
        # A cursor on the newest row stays there, following the feed like `tail -f`;
        # one moved down stays on its call.
        kept = self.calls.get(_highlighted(table) or "") if table.browsed else None
        for slot in free:
            del self._slot_of[self._slot_key.pop(slot)], self.calls[slot]
        for key, call in added:
            cells = _call_cells(call)
            if free:
                slot = free.pop()
                # A busy feed replaces every row each refresh, mostly with the same status,
                # model, code and message: only cells that differ are updated (each update
                # refreshes the table). The time cell always is: it carries the exact time it sorts by.
                for column, cell, was in zip(table.columns, cells, table.get_row(slot)):
                    if column == "time" or cell != was:
                        table.update_cell(slot, column, cell, update_width=True)
            else:
                slot = f"slot-{len(self._slot_key)}"
                while slot in table.rows:
                    slot += "+"
                table.add_row(*cells, key=slot)
            self._slot_key[slot], self._slot_of[key], self.calls[slot] = key, slot, call
        for slot in free:
            table.remove_row(slot)
        table.sort("time", key=lambda stamp: stamp.ts, reverse=True)
        if kept is not None and _call_key(kept) in self._slot_of:
            _restore(table, self._slot_of[_call_key(kept)])

    def _show_groups(self, snap: Snapshot) -> None:
        table = self.query_one("#error-groups", DataTable)
        newest: dict[tuple, Call] = {}
        for call in snap.failed:
            newest.setdefault(call.group_key(), call)
        wanted = {"\x1f".join(g.key): g for g in snap.groups[:MAX_ROWS]}
        self.newest_of_group = {k: newest[g.key] for k, g in wanted.items() if g.key in newest}
        changed = False
        for key in [k for k in self.groups if k not in wanted]:
            table.remove_row(key)
            del self.groups[key], self._group_cells[key]
            changed = True
        for key, group in wanted.items():
            cells = _group_cells(group)
            old = self._group_cells.get(key)
            if old is None:
                table.add_row(*cells, key=key)
                changed = True
            elif old != cells:
                for column, (was, now) in zip(table.columns, zip(old, cells)):
                    if was != now:
                        table.update_cell(key, column, now, update_width=True)
                changed = True
            self.groups[key] = group
            self._group_cells[key] = cells
        if changed:
            kept = _highlighted(table)
            table.sort("last", key=lambda stamp: stamp.ts, reverse=True)
            _restore(table, kept)

    def selected_call(self) -> Call | None:
        """The call under the cursor (the newest of the group in the grouped view)."""
        key = _highlighted(self.table)
        if key is None:
            return None
        return (self.newest_of_group if self.grouped else self.calls).get(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        call = self.selected_call()
        if call is not None:
            self.post_message(self.OpenCall(call))


def _call_key(call: Call) -> str:
    return f"{id(call)}@{call.ts!r}"


def _highlighted(table: DataTable) -> str | None:
    if not table.row_count or table.cursor_row < 0:
        return None
    try:
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
    except CellDoesNotExist:  # the cursor was past the rows after a removal
        return None


def _restore(table: DataTable, key: str | None) -> None:
    if key is not None and key in table.rows:
        table.move_cursor(row=table.get_row_index(key), animate=False, scroll=False)


def _call_cells(call: Call) -> tuple:
    message = (call.error_message or call.error_type or "").replace("\n", " ")
    return (
        Stamp(call.ts),
        Text(call.status_label, style="bold"),
        Text(call.model or "-"),
        Text(call.error_code or "-"),
        Text(call.request_id or "-"),
        Text(message[:MESSAGE_CHARS] + ("…" if len(message) > MESSAGE_CHARS else "")),
    )


def _group_cells(group: ErrorGroup) -> tuple:
    message = group.last_message.replace("\n", " ")
    return (
        Text(group.status, style="bold"),
        Text(group.code or "-"),
        Text(group.model or "-"),
        Text(f"{group.count:,}", justify="right"),
        Stamp(group.first_ts),
        Stamp(group.last_ts),
        Text(message[:MESSAGE_CHARS]),
    )
