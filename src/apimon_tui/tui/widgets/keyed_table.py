"""A `DataTable` updated by row key: only rows and cells that changed are touched.

A row's key is its first cell's text (a model name, for instance), so the
same row keeps its place and only its changed cells are redrawn.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable


class KeyedTable(DataTable):
    def __init__(self, columns: list[str], **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self._columns = columns
        self._cells: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        for name in self._columns:
            self.add_column(name, key=name)

    def show(self, rows: list[tuple[Text, ...]]) -> None:
        """Make the table hold `rows`, in their order when rows come or go."""
        wanted = {row[0].plain: row for row in rows}
        moved = False
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
            moved = True
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                moved = True
            elif old != cells:
                for column, was, now in zip(self._columns, old, cells):
                    if was != now:
                        self.update_cell(key, column, now, update_width=True)
            self._cells[key] = cells
        if moved:
            order = {key: i for i, key in enumerate(wanted)}
            self.sort(self._columns[0], key=lambda first: order[first.plain])
