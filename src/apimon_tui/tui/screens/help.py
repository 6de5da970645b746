"""The help screen: every key binding with its current key, id and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget

from apimon_tui.core.terminal_text import one_line


class DrawnOnce(Widget):
    """A Rich renderable drawn once per width and kept as lines.

    Rich measures and draws a table for every layout of a `Static` holding it:
    the help table's 40 rows cost some 30 ms each time `?` opened the screen
    (and more while the log grew fast). The bindings do not change while the
    app runs, so its lines are kept until the width changes.
    """

    DEFAULT_CSS = "DrawnOnce { height: auto; }"

    def __init__(self, renderable: Table, **kwargs) -> None:
        super().__init__(**kwargs)
        self._renderable = renderable
        self._drawn: tuple[int, list[Strip]] = (-1, [])

    def _lines(self, width: int) -> list[Strip]:
        if self._drawn[0] != width:
            console = self.app.console
            lines = console.render_lines(self._renderable, console.options.update_width(width), pad=False)
            self._drawn = (width, [Strip(line) for line in lines])
        return self._drawn[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._lines(width)
        line = lines[y] if y < len(lines) else Strip.blank(width)
        return line.apply_style(self.rich_style).extend_cell_length(width, self.rich_style)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close", id="close_help", tooltip="close this list")]

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        """`rows` are (keys, where, what it does, binding id)."""
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), expand=True)
        table.add_column(Text("key"), style="bold", no_wrap=True)
        table.add_column(Text("where"), style="dim", no_wrap=True)
        table.add_column(Text("does"), ratio=1)
        table.add_column(Text("id (remap in [keys])"), style="dim", no_wrap=True)
        for row in self.rows:
            table.add_row(*(Text(one_line(cell)) for cell in row))
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys · Esc to close"
            yield DrawnOnce(table)
