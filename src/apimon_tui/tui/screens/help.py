"""The help screen: every key binding with its current key, id and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


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
            table.add_row(*(Text(cell) for cell in row))
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys · Esc to close"
            yield Static(table)
