"""Big batches of a JSON-lines format read as numpy columns, for a sink that takes them.

The reader module (`COLUMNS`, e.g. `native_columns`) and numpy are imported
only when a big batch comes, so a short run never pays for them.
"""

from __future__ import annotations

import importlib

COLUMN_LINES = 64  # a smaller batch is read line by line


class ColumnBatches:
    """`feed_many` for a parser whose module `COLUMNS` reads a batch as columns (else line by line)."""

    COLUMNS: str

    def feed_many(self, lines: list[str]) -> None:
        if len(lines) >= COLUMN_LINES and getattr(self.sink, "columns", None) is not None:
            from apimon_tui.formats import json_columns

            reader = importlib.import_module(f"apimon_tui.formats.{self.COLUMNS}")
            if json_columns.read_batch(self, lines, reader.read):
                return
        super().feed_many(lines)
