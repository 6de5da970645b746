"""Reading a batch of JSON lines as columns: decode every line, then check each field for all lines at once.

A per-line parser spends more on checking a record's fields one by one than
orjson spends decoding it. Here the decoded objects of a batch are grouped
by shape: the same keys in the same order, holding values of the same
types (the lines of one writer mostly share a few shapes). A field's type
is then checked once per shape, its values are taken out of all objects of
a shape at once (`zip` over their values), and its bounds are checked with
numpy for the whole batch. Only the rows that are not plain (an odd type, a
value out of bounds, a line orjson refuses) are left to the parser's
per-line path, which reads and reports them as always. Imported with
numpy, by the parsers' batch paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from apimon_tui.formats.base import QUICK_BRACKETS

NONE = type(None)
EMPTY: dict = {}  # the object of a line that did not decode to one (its row is not plain)
TEXT_KINDS = frozenset({str, NONE})
INT_KINDS = frozenset({int, NONE})
NUMBER_KINDS = frozenset({int, float, NONE})
FLOAT_KINDS = frozenset({float, NONE})


def decoded(lines: Sequence[str]) -> tuple[list[Any], np.ndarray]:
    """Each line's object (`EMPTY` where it is not a JSON object orjson reads) and which lines are objects.

    As `quick_loads`: a line with more brackets than `QUICK_BRACKETS` is left to
    the careful path (only a line that long can have that many).
    """
    try:
        objs = list(map(orjson.loads, lines))
    except ValueError:
        objs = [_loads_or_none(line) for line in lines]
    ok = np.fromiter(map(dict.__instancecheck__, objs), dtype=bool, count=len(objs))
    long = np.flatnonzero(np.fromiter(map(len, lines), dtype=np.int64, count=len(objs)) > QUICK_BRACKETS)
    for i in long.tolist():
        if lines[i].count("[") + lines[i].count("{") > QUICK_BRACKETS:
            ok[i] = False
    if not ok.all():
        objs = [obj if good else EMPTY for obj, good in zip(objs, ok.tolist())]
    return objs, ok


def _loads_or_none(line: str) -> Any:
    try:
        return orjson.loads(line)
    except ValueError:
        return None


class Shape:
    """The objects of a batch with the same keys in the same order."""

    __slots__ = ("rows", "place", "_objs", "_columns", "_types")

    def __init__(self, rows: np.ndarray, keys: tuple, objs: tuple[dict, ...]) -> None:
        self.rows = rows
        self.place = {key: i for i, key in enumerate(keys)}
        self._objs = objs
        self._columns: list[tuple] | None = None
        self._types: dict[str, set] = {}

    def column(self, key: str) -> tuple:
        """The values of `key` in each object of the shape, in row order (the key must be there)."""
        if self._columns is None:
            self._columns = list(zip(*map(dict.values, self._objs)))
        return self._columns[self.place[key]]

    def types(self, key: str) -> set:
        """The types of the shape's values of `key` (NoneType alone where it has no such key)."""
        types = self._types.get(key)
        if types is None:
            types = self._types[key] = set(map(type, self.column(key))) if key in self.place else {NONE}
        return types


class Table:
    """A batch's decoded objects, grouped by shape, read a field at a time (see the module's doc)."""

    def __init__(self, objs: list[dict]) -> None:
        self.rows = len(objs)
        first: dict = {}
        shape_ids = np.fromiter(map(first.setdefault, map(tuple, objs), count()), dtype=np.int64, count=len(objs))
        order = np.argsort(shape_ids, kind="stable")
        starts = np.flatnonzero(np.diff(shape_ids[order])) + 1
        # `first` holds the shapes in the order of their first row, as the sorted ids do.
        self.shapes = []
        for rows, keys in zip(np.split(order, starts), first):
            rows_list = rows.tolist()
            picked = itemgetter(*rows_list)(objs) if len(rows_list) > 1 else (objs[rows_list[0]],)
            self.shapes.append(Shape(rows, keys, picked))

    def types(self, key: str) -> set:
        """The types of the values of `key` in all rows (NoneType for a row without it)."""
        return set().union(*(shape.types(key) for shape in self.shapes))

    def numbers(self, key: str, kinds: frozenset, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """The values of `key` as float64 (NaN: none, or not plain) and which rows are plain:
        absent, null, or of a type in `kinds` within [low, high]."""
        column = np.full(self.rows, np.nan)
        ok = np.ones(self.rows, dtype=bool)
        for shape in self.shapes:
            if key not in shape.place:
                continue
            values = shape.column(key)
            if not kinds.issuperset(shape.types(key)):
                good = [type(v) in kinds for v in values]
                ok[shape.rows[~np.array(good)]] = False
                values = [v if fit else None for v, fit in zip(values, good)]
            column[shape.rows] = values
        with np.errstate(invalid="ignore"):
            out = (column < low) | (column > high)
        if out.any():
            ok &= ~out
            column[out] = np.nan
        return column, ok

    def has(self, key: str) -> np.ndarray:
        """Which rows hold `key` (of any value)."""
        ok = np.zeros(self.rows, dtype=bool)
        for shape in self.shapes:
            if key in shape.place:
                ok[shape.rows] = True
        return ok

    def typed(self, key: str, kinds: frozenset) -> np.ndarray:
        """Which rows hold, under `key`, nothing or a value of a type in `kinds`."""
        ok = np.ones(self.rows, dtype=bool)
        for shape in self.shapes:
            if not kinds.issuperset(shape.types(key)):
                ok[shape.rows] = [type(v) in kinds for v in shape.column(key)]
        return ok

    def values(self, key: str) -> list[Any]:
        """The values of `key` in each row (None where absent)."""
        out: list[Any] = [None] * self.rows
        for shape in self.shapes:
            if key in shape.place:
                for row, value in zip(shape.rows.tolist(), shape.column(key)):
                    out[row] = value
        return out

    def names(self, key: str) -> tuple[np.ndarray, list[str | None]]:
        """Each row's value of `key` as an index into the list of distinct ones (0: None, or not a string)."""
        index = np.zeros(self.rows, dtype=np.int64)
        place: dict[Any, int] = {None: 0}
        for shape in self.shapes:
            if key not in shape.place:
                continue
            column = shape.column(key)
            if not TEXT_KINDS.issuperset(shape.types(key)):
                column = [v if type(v) is str else None for v in column]
            for name in dict.fromkeys(column):
                place.setdefault(name, len(place))
            index[shape.rows] = list(map(place.__getitem__, column))
        return index, list(place)
