"""A `LineTable` keyed by its first cell: rows keep their places while the same rows stay.

A row's key is its first cell's text (a model name, for instance). The order
given is used when rows come or go; otherwise each row stays where it was, so
a table whose figures change every refresh does not reshuffle under the eye.
"""

from __future__ import annotations

from rich.text import Text

from apimon_tui.tui.widgets.line_table import LineTable


class KeyedTable(LineTable):
    def show(self, rows: list[tuple[Text, ...]]) -> None:
        """Make the table hold `rows`, in their order when rows come or go."""
        wanted = {row[0].plain: row for row in rows}
        shown = [self.get_row_at(i)[0].plain for i in range(self.row_count)]
        order = shown if set(shown) == wanted.keys() else list(wanted)
        self.set_rows([(key, wanted[key]) for key in order], keep_cursor=True)
