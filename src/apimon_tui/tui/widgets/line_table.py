"""A table drawn line by line (Textual's Line API), for tables whose rows all change each refresh.

A `DataTable` sends every changed visible cell back through Rich, and under a
flood of failures every row of the error feed changes each second: 25-40 ms of
CPU a refresh at 10,000 lines/s, 50-130 ms while ingestion holds the GIL, and a
key pressed meanwhile waits. Its caches also keep every stale cell, which the
garbage collector then scans. Here a refresh only stores the rows; a visible
line is drawn when Textual asks for it, one plain segment per cell. Cells are
`rich.text.Text` of one style (their style and justify are used; the text is
never read as markup).
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = tuple[str, tuple[Text, ...]]  # key, cells


def _drawn(rows: list[Row]) -> list:
    """What `render_line` draws of each row (a cell's text, style and justify), with its key."""
    return [(key, [(cell.plain, cell.style, cell.justify) for cell in cells]) for key, cells in rows]


class LineTable(ScrollView, can_focus=True):
    """Keyed rows under a fixed header, with a row cursor; the rows are replaced whole by `set_rows`."""

    COMPONENT_CLASSES = {"line-table--header", "line-table--even-row", "line-table--odd-row", "line-table--cursor"}

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .line-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .line-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .line-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .line-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .line-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home,home", "scroll_top", "Top", show=False),
        Binding("ctrl+end,end", "scroll_bottom", "Bottom", show=False),
    ]

    class RowSelected(Message):
        """Enter or a click on a row."""

        def __init__(self, table: LineTable, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.row_key = row_key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, columns: list[str], *, zebra_stripes: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = columns
        self.zebra_stripes = zebra_stripes
        self.cursor_row = 0
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._widths = [cell_len(label) for label in columns]
        self._drawing_style: Style | None = None  # the widget's style while `render_lines` draws

    # -- rows ------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def get_row_at(self, index: int) -> tuple[Text, ...]:
        return self._rows[index][1]

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if there are rows."""
        return self._rows[self.cursor_row][0] if self._rows else None

    def set_rows(self, rows: list[Row], *, keep_cursor: bool) -> None:
        """Show `rows` in their order; with `keep_cursor` the cursor stays on its row's key if it is still there.

        Columns widen to their widest cell and never narrow, so a busy table does not jitter.
        Rows drawn as the table shows them already, under the same cursor, are not drawn again.
        """
        kept = self.cursor_key if keep_cursor else None
        shown, cursor = _drawn(self._rows), self.cursor_row
        self._rows = rows
        self._index = {key: i for i, (key, _) in enumerate(rows)}
        for _, cells in rows:
            for column, cell in enumerate(cells):
                if cell_len(cell.plain) > self._widths[column]:
                    self._widths[column] = cell_len(cell.plain)
        self.virtual_size = Size(sum(self._widths) + 2 * len(self._widths), len(rows) + 1)
        if kept in self._index:
            self.cursor_row = self._index[kept]
        self.cursor_row = max(0, min(self.cursor_row, len(rows) - 1))
        if self.cursor_row != cursor or _drawn(rows) != shown:
            self.refresh()

    # -- drawing ---------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines in `crop`, with the widget's style worked out once for them all (`rich_style`
        walks the widget's ancestors: a third of what a line cost)."""
        self._drawing_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._drawing_style = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style if self._drawing_style is None else self._drawing_style
        if y == 0:
            style = base + self.get_component_rich_style("line-table--header")
            line = self._line(self.columns, [None] * len(self.columns), style)
        else:
            index = scroll_y + y - 1
            if index >= len(self._rows):
                return Strip.blank(self.size.width, base)
            cells = self._rows[index][1]
            line = self._line([cell.plain for cell in cells], cells, self._row_style(index, base))
        return line.crop_extend(scroll_x, scroll_x + self.scrollable_content_region.width, base)

    def _row_style(self, index: int, base: Style) -> Style:
        if index == self.cursor_row:
            return base + self.get_component_rich_style("line-table--cursor")
        if self.zebra_stripes:
            return base + self.get_component_rich_style("line-table--odd-row" if index % 2 else "line-table--even-row")
        return base

    def _line(self, texts: list[str], cells: list[Text | None] | tuple[Text, ...], style: Style) -> Strip:
        """One line: each cell padded by a space either side, cut or filled to its column's width."""
        segments = []
        for text, cell, width in zip(texts, cells, self._widths):
            fill = width - cell_len(text)
            if fill < 0:
                text, fill = set_cell_size(text, width), 0
            right = cell is not None and cell.justify == "right"
            shown = " " * fill + text if right else text + " " * fill
            cell_style = style + _style(cell.style) if cell is not None and cell.style else style
            segments.append(Segment(f" {shown} ", cell_style))
        return Strip(segments, sum(self._widths) + 2 * len(self._widths))

    # -- cursor ----------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on `row` (kept within the rows) and scroll it into view."""
        self.cursor_row = max(0, min(row, len(self._rows) - 1))
        visible = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)
        self.refresh()

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + self._page())

    def action_scroll_top(self) -> None:
        self.move_cursor(0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self, self._rows[self.cursor_row][0]))

    def on_click(self, event: events.Click) -> None:
        """A click on a row moves the cursor there and selects it (as in a `DataTable`)."""
        index = round(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._rows):
            self.move_cursor(index)
            self.action_select_cursor()


def _style(style: str | Style) -> Style:
    return Style.parse(style) if isinstance(style, str) else style
