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

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from math import copysign, nan
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call
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


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector held off while a batch is read as columns.

    A batch's thousands of decoded objects live until it is read, so the
    collector, run every few hundred new objects, went over them again and
    again (a third of the time of a jsonl batch). Decoded JSON holds no
    cycles, so nothing is left for it to find; it runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_batch(parser, lines: Sequence[str], read) -> bool:
    """Whether `read(parser, lines)` took the batch as columns; if not, what it handed the sink is
    taken back, so the caller reads the batch line by line from a clean slate."""
    mark = parser.sink.mark()
    with no_cycle_collection():
        if read(parser, lines):
            return True
    parser.sink.rollback(mark)
    return False


def _loads_or_none(line: str) -> Any:
    try:
        return orjson.loads(line)
    except ValueError:
        return None


class Shape:
    """The objects of a batch with the same keys in the same order."""

    __slots__ = ("rows", "place", "_objs", "_columns", "_types", "inner")

    def __init__(self, rows: np.ndarray, keys: tuple, objs: tuple[dict, ...]) -> None:
        self.rows = rows
        self.place = {key: i for i, key in enumerate(keys)}
        self._objs = objs
        self._columns: list[tuple] | None = None
        self._types: dict[str, set] = {}
        self.inner: dict[str, tuple[Table | None, np.ndarray]] = {}  # see `Table._inner`

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


Segment = tuple[np.ndarray, Sequence, set]  # rows of the batch, their values (numbers may be float64), their types


class Columns:
    """The key-at-a-time readers of a top-level table (see the functions of the same names), for a
    table that gives `rows` and `segments`."""

    rows: int

    def segments(self, key: str) -> list[Segment]:
        raise NotImplementedError

    def numbers(self, key: str, kinds: frozenset, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        return numbers(self.rows, self.segments(key), kinds, low, high)

    def typed(self, key: str, kinds: frozenset) -> np.ndarray:
        return typed(self.rows, self.segments(key), kinds)

    def names(self, key: str) -> tuple[np.ndarray, list[str | None]]:
        return names(self.rows, self.segments(key))

    def values(self, key: str) -> list[Any]:
        return values(self.rows, self.segments(key))


class Table(Columns):
    """A batch's decoded objects, grouped by shape, read a field at a time (see the module's doc).

    `rows` numbers the objects in the batch (a table of nested objects holds some rows only).
    """

    def __init__(self, objs: Sequence[dict], rows: np.ndarray | None = None) -> None:
        self.rows = len(objs) if rows is None else None
        first: dict = {}
        shape_ids = np.fromiter(map(first.setdefault, map(tuple, objs), count()), dtype=np.int64, count=len(objs))
        order = np.argsort(shape_ids, kind="stable")
        starts = np.flatnonzero(np.diff(shape_ids[order])) + 1
        # `first` holds the shapes in the order of their first row, as the sorted ids do.
        self.shapes = []
        for local, keys in zip(np.split(order, starts), first):
            local_list = local.tolist()
            picked = itemgetter(*local_list)(objs) if len(local_list) > 1 else (objs[local_list[0]],)
            self.shapes.append(Shape(local if rows is None else rows[local], keys, picked))

    def segments(self, key: str) -> list[Segment]:
        """The values of `key`, shape by shape (rows without it hold None)."""
        return [(shape.rows, shape.column(key), shape.types(key)) for shape in self.shapes if key in shape.place]

    def found(self, path: tuple[str, ...], dotted: bool = True) -> tuple[list[Segment], list[np.ndarray]]:
        """The values at a path as `jsonl.find` finds them (whole dotted keys first; only single keys
        if not `dotted`), and the rows where it steps into something other than an object or null (not plain)."""
        segments: list[Segment] = []
        odd: list[np.ndarray] = []
        for shape in self.shapes:
            for cut in range(len(path), 0, -1) if dotted else (1,):
                key = ".".join(path[:cut])
                if key in shape.place:
                    break
            else:
                continue
            if cut == len(path):
                segments.append((shape.rows, shape.column(key), shape.types(key)))
                continue
            table, not_objects = self._inner(shape, key)
            odd.append(not_objects)
            if table is not None:
                more, more_odd = table.found(path[cut:], dotted)
                segments += more
                odd += more_odd
        return segments, odd

    @staticmethod
    def _inner(shape: Shape, key: str) -> tuple[Table | None, np.ndarray]:
        """The table of the objects a shape holds under `key` (made once: paths share their first
        steps), and the rows holding neither an object nor null there."""
        made = shape.inner.get(key)
        if made is None:
            inner = shape.column(key)
            if shape.types(key) == {dict}:  # the usual case: every row holds an object there
                made = shape.inner[key] = (Table(inner, shape.rows), shape.rows[:0])
                return made
            is_dict = np.fromiter(map(dict.__instancecheck__, inner), dtype=bool, count=len(inner))
            not_objects = shape.rows[:0]
            if not NESTED_KINDS.issuperset(shape.types(key)):
                not_objects = shape.rows[~is_dict & np.fromiter((v is not None for v in inner), dtype=bool,
                                                                count=len(inner))]
            table = Table([v for v in inner if type(v) is dict], shape.rows[is_dict]) if is_dict.any() else None
            made = shape.inner[key] = (table, not_objects)
        return made

    def types(self, key: str) -> set:
        """The types of the values of `key` in all rows (NoneType for a row without it)."""
        return set().union(*(shape.types(key) for shape in self.shapes))

    def has(self, key: str) -> np.ndarray:
        """Which rows hold `key` (of any value)."""
        ok = np.zeros(self.rows, dtype=bool)
        for shape in self.shapes:
            if key in shape.place:
                ok[shape.rows] = True
        return ok

    def later(self, key: str) -> tuple[list[Any], Callable[[Any], Any]]:
        """Each row's value of `key` (None where there is none), and what reads it (as `LayoutTable.later`)."""
        return self.values(key), _itself


NESTED_KINDS = frozenset({dict, NONE})


def _itself(value: Any) -> Any:
    return value


def numbers(rows: int, segments: list[Segment], kinds: frozenset, low: float, high: float,
            ) -> tuple[np.ndarray, np.ndarray]:
    """The values as float64 (NaN: none, or not plain) and which rows are plain:
    absent, null, or of a type in `kinds` within [low, high]."""
    column = np.full(rows, np.nan)
    ok = np.ones(rows, dtype=bool)
    for at, values, types in segments:
        if type(values) is np.ndarray:  # numbers read from the bytes: one type per segment
            if kinds.issuperset(types):
                column[at] = values
            else:
                ok[at] = False
            continue
        if not kinds.issuperset(types):
            good = [type(v) in kinds for v in values]
            ok[at[~np.array(good)]] = False
            values = [v if fit else None for v, fit in zip(values, good)]
        elif NONE not in types:
            values = np.fromiter(values, dtype=np.float64, count=len(values))  # (quicker than numpy's own discovery)
        column[at] = values
    with np.errstate(invalid="ignore"):
        out = (column < low) | (column > high)
    if out.any():
        ok &= ~out
        column[out] = np.nan
    return column, ok


def typed(rows: int, segments: list[Segment], kinds: frozenset) -> np.ndarray:
    """Which rows hold nothing or a value of a type in `kinds`."""
    ok = np.ones(rows, dtype=bool)
    for at, values, types in segments:
        if not kinds.issuperset(types):
            ok[at] = False if len(types) == 1 else [type(v) in kinds for v in values]  # (one type: none fits)
    return ok


def values(rows: int, segments: list[Segment]) -> list[Any]:
    """Each row's value (None where there is none)."""
    out = np.full(rows, None, dtype=object)
    for at, column, types in segments:
        if type(column) is np.ndarray:
            column = column.astype(np.int64).tolist() if types == {int} else column.tolist()
        out[at] = np.fromiter(column, dtype=object, count=len(column))  # (no value taken for a sequence)
    return out.tolist()


def names(rows: int, segments: list[Segment]) -> tuple[np.ndarray, list[str | None]]:
    """Each row's value as an index into the list of distinct ones (0: None, an empty string, or not a string)."""
    index = np.zeros(rows, dtype=np.int64)
    place: dict[Any, int] = {None: 0, "": 0}
    for at, column, types in segments:
        if not TEXT_KINDS.issuperset(types):
            column = [None] * len(at) if type(column) is np.ndarray else [v if type(v) is str else None for v in column]
        elif (distinct := getattr(column, "distinct", None)) is not None:  # texts read from the bytes
            codes, texts = distinct()
            for name in texts:
                if name not in place:
                    place[name] = len(place) - 1
            index[at] = np.array(list(map(place.__getitem__, texts)), dtype=np.int64)[codes]
            continue
        for name in dict.fromkeys(column):
            if name not in place:
                place[name] = len(place) - 1
        index[at] = list(map(place.__getitem__, column))
    return index, [None, *list(place)[2:]]


def whole_calls(parser, lines: Sequence[str], ok: np.ndarray) -> list[tuple[int, Call]] | None:
    """(row, call) of the rows that are not plain, read by the per-line path; None when one of them
    cannot go beside columns (`exact`), so the batch is read line by line."""
    whole = []
    for i in np.flatnonzero(~ok).tolist():
        call = parser.call_of(lines[i])
        if call is not None:
            if not exact(call):
                return None
            whole.append((i, call))
    return whole


def exact(call: Call) -> bool:
    """Whether columns hold the call's time and latencies as read (a float, not -0.0)."""
    for value in (call.latency_ms, call.ttft_ms):
        if value is not None and (type(value) is not float or (value == 0 and copysign(1.0, value) < 0)):
            return False
    return type(call.ts) is float


def hand(parser, ok: np.ndarray, whole: list[tuple[int, Call]], ts, status, latency, ttft, tokens: list, cost,
         models: tuple[np.ndarray, list], providers: tuple[np.ndarray, list], ratelimits: list | None = None,
         make_ratelimit=None, errors: tuple | None = None) -> None:
    """The plain rows (`ok`) and the calls read whole, in log order, to the parser's sink as one
    `CallColumns`: each whole call's figures put in its row of the columns. `errors`, for a sink
    that takes failed calls as rows (`Sink.bulk_failures`), holds each row's error code and message
    (`names` of them)."""
    model, model_names = models
    provider, provider_names = providers
    failed = code = message = None
    codes, messages = [""], [""]
    if errors is not None:
        (code, code_names), (message, message_names) = errors
        codes = ["" if name is None else name for name in code_names]
        messages = ["" if text is None else text for text in message_names]
    if whole:
        failed = np.zeros(len(ts), dtype=bool)
        if code is None:
            code = np.zeros(len(ts), dtype=np.int64)
        place = {name: i for i, name in enumerate(codes)}
        numbers = (ts, latency, ttft, *tokens, cost)
        for i, call in whole:
            for column, value in zip(numbers, (call.ts, call.latency_ms, call.ttft_ms, call.input_tokens,
                                               call.output_tokens, call.cached_tokens, call.cache_write_tokens,
                                               call.cost_usd)):
                column[i] = nan if value is None else value
            status[i] = call.status or 0
            failed[i] = call.failed
            code[i] = place.setdefault(call.error_code or "", len(place))
            model[i] = _index(model_names, call.model)
            provider[i] = _index(provider_names, call.provider)
            if ratelimits is not None:
                ratelimits[i] = call.ratelimit
            ok[i] = True
        codes = list(place)
    if ratelimits is not None:
        for i in np.flatnonzero(~ok).tolist():
            ratelimits[i] = None
    calls = CallColumns(
        parser.source, ts, model, model_names, np.nan_to_num(status).astype(np.int64), latency, ttft, *tokens,
        cost, failed, code, codes, provider, provider_names, ratelimits, make_ratelimit, whole, message, messages,
    )
    parser.sink.columns(calls if ok.all() else calls.take(ok))


def _index(names: list, name: str | None) -> int:
    """`name`'s place in `names` (None for an empty one), added at the end when new."""
    name = name or None
    try:
        return names.index(name)
    except ValueError:
        names.append(name)
        return len(names) - 1
