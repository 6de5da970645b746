"""JSON lines read by layout, straight from their bytes: most lines of a batch are never decoded.

One writer's lines share a few layouts: the same keys in the same order,
values of the same kinds in the same places, the same bytes between them;
only the texts of string and number values change. A layout is learnt from
one line (and checked against what orjson decodes of it). Every line with
as many quotes is then checked against it at once with numpy: each run of
fixed bytes (keys, separators, literals, brackets) compared at its place,
found from the line's quotes, and each number read as JSON writes one. A
line that passes holds the layout's structure with its own texts, and its
values are read here exactly as orjson reads them. A line with a backslash
or a byte outside printable ASCII, or a number this reader does not read
exactly (more than 18 bytes, or digits past 2**53), matches no layout and is
left to the caller (`covered`), as are lines of a layout too rare to learn.

`LayoutTable` answers as `json_columns.Table` does (segments of values by
key or path), so a format's column reader takes either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from apimon_tui.core import heap
from apimon_tui.formats.base import QUICK_BRACKETS
from apimon_tui.formats.byte_lines import ByteLines, rows_all
from apimon_tui.formats.json_columns import NONE, Columns, Segment, Table, decoded

QUOTE, BACKSLASH, MINUS, DOT, ZERO = b'"\\-.0'
COVERED = 7 / 8         # the share of a batch's lines its layouts must read, else it is decoded
MAX_NUMBER = 18        # bytes of a number's text read here (so its digits fit int64); a longer one leaves its line uncovered
MAX_NAME = 64          # bytes of a string value compared as bytes when names are asked for
CHUNK = 16             # fixed bytes compared per read (the buffer is padded by more)
MAX_TRIES = 16         # lines tried as a layout's model, per batch
DISTINCT_BY_COMPARING = 8  # names found by comparing every value with one; the rest are sorted
_POWERS = 10.0 ** np.arange(23)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?(?![0-9eE.+-])")  # JSON's numbers
_LITERALS = {"true": True, "false": False, "null": None}
START, END = -1, -2    # anchors: a line's start, its newline (other anchors are its quotes, by number)


def table_of(lines: Sequence[str]) -> tuple[Columns, np.ndarray]:
    """The batch's lines as a `LayoutTable` when its layouts read most of them, else decoded into a
    `json_columns.Table`; and which lines it holds (the others are for the per-line path)."""
    heap.keep_freed_blocks()  # (arrays of a few MB, batch after batch)
    table = LayoutTable(lines, needed=math.ceil(COVERED * len(lines)))
    if np.count_nonzero(table.covered) >= COVERED * len(lines):
        return table, table.covered.copy()
    objs, ok = decoded(lines)
    return Table(objs), ok


class Unlearnable(Exception):
    """A line whose layout this reader does not read (it is left to the other paths)."""


@dataclass(slots=True)
class Slot:
    """What a layout holds at a path: a string or number (the `variable`-th between its fixed runs),
    a literal (`value`), an object or an array."""

    kind: str
    variable: int = -1
    value: Any = None


class Layout:
    """One line's structure: its fixed runs of bytes, each at an offset from an anchor (a quote of
    the line, by number, or its start or end), and what is at each path."""

    __slots__ = ("variables", "slots", "children", "anchor", "offset", "length", "chunk_run", "chunk_offset",
                 "chunk_texts")

    def __init__(self, runs: list[tuple[int, int, bytes]], variables: list[str], slots: dict[tuple, Slot],
                 children: dict[tuple, list[str]]) -> None:
        # runs: (anchor, offset, bytes), in order; a value lies between each two
        self.variables = variables      # "string" or "number", per gap between runs
        self.slots = slots
        self.children = children        # each object's keys, in order
        self.anchor = np.array([anchor for anchor, _, _ in runs])
        self.offset = np.array([offset for _, offset, _ in runs])
        self.length = np.array([len(text) for _, _, text in runs])
        # The runs cut into pieces of at most `CHUNK` bytes, each compared at its place in its run.
        pieces = [(i, at, text[at:at + CHUNK]) for i, (_, _, text) in enumerate(runs) for at in range(0, len(text), CHUNK)]
        self.chunk_run = np.array([i for i, _, _ in pieces])
        self.chunk_offset = np.array([at for _, at, _ in pieces])
        self.chunk_texts = tuple(text for _, _, text in pieces)


def learn(line: str) -> Layout:
    """The layout of one line, checked against orjson's reading of it; `Unlearnable` if this reader
    would not read it exactly as orjson does."""
    try:
        value = orjson.loads(line)
    except ValueError:
        raise Unlearnable from None
    if type(value) is not dict or line.count("[") + line.count("{") > QUICK_BRACKETS:
        raise Unlearnable
    learner = _Learner(line)
    try:
        learner.document()
    except IndexError:
        raise Unlearnable from None
    layout = learner.layout()
    if learner.rebuilt(()) != value:
        raise Unlearnable  # (a guard: the learner and orjson must read the line alike)
    return layout


class _Learner:
    """Walks one line's JSON by hand, noting where each value is and which bytes are fixed."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.at = 0
        self.values: list[tuple[int, int, str, tuple]] = []  # (start, end, kind, path) of each string or number
        self.slots: dict[tuple, Slot] = {}
        self.children: dict[tuple, list[str]] = {}

    def document(self) -> None:
        self.space()
        if self.line[self.at] != "{":
            raise Unlearnable
        self.value(())
        self.space()
        if self.at != len(self.line):
            raise Unlearnable

    def space(self) -> None:
        while self.line.startswith(" ", self.at):
            self.at += 1

    def value(self, path: tuple) -> None:
        self.space()
        char = self.line[self.at]
        if char == "{":
            self.container(path, "}", self.member)
        elif char == "[":
            self.container(path, "]", self.item)
        elif char == '"':
            start = self.at + 1
            self.string()
            self.slots[path] = Slot("string", len(self.values))
            self.values.append((start, self.at - 1, "string", path))
        elif (number := _NUMBER.match(self.line, self.at)) is not None:
            self.slots[path] = Slot("number", len(self.values))
            self.values.append((self.at, number.end(), "number", path))
            self.at = number.end()
        else:
            for word, literal in _LITERALS.items():
                if self.line.startswith(word, self.at):
                    self.slots[path] = Slot("literal", value=literal)
                    self.at += len(word)
                    return
            raise Unlearnable

    def container(self, path: tuple, close: str, element) -> None:
        self.slots[path] = Slot("object" if close == "}" else "array")
        if close == "}":
            self.children[path] = []
        self.at += 1
        self.space()
        if self.line[self.at] == close:
            self.at += 1
            return
        index = 0
        while True:
            element(path, index)
            self.space()
            char = self.line[self.at]
            self.at += 1
            if char == close:
                return
            if char != ",":
                raise Unlearnable
            index += 1

    def member(self, path: tuple, _index: int) -> None:
        self.space()
        if self.line[self.at] != '"':
            raise Unlearnable
        start = self.at + 1
        self.string()
        key = self.line[start:self.at - 1]
        if key in self.children[path]:
            raise Unlearnable  # a key given twice: orjson keeps the last, left to it
        self.children[path].append(key)
        self.space()
        if self.line[self.at] != ":":
            raise Unlearnable
        self.at += 1
        self.value((*path, key))

    def item(self, path: tuple, index: int) -> None:
        self.value((*path, index))

    def string(self) -> None:
        self.at = self.line.index('"', self.at + 1) + 1

    def layout(self) -> Layout:
        """The fixed runs between the values, each anchored where its place in any line is known:
        at the quote it starts with, at the first quote it holds, or at the line's start or end."""
        line = self.line
        quotes = [i for i, char in enumerate(line) if char == '"']
        quote_number = {at: i for i, at in enumerate(quotes)}
        runs = []
        bounds = [(0, 0), *((start, end) for start, end, _, _ in self.values), (len(line), len(line))]
        for (_, begin), (end, _) in zip(bounds, bounds[1:]):
            text = line[begin:end]
            if begin == 0:
                anchor, offset = START, 0
            elif begin in quote_number:  # after a string: the run starts with its closing quote
                anchor, offset = quote_number[begin], 0
            elif '"' in text:  # after a number
                anchor = quote_number[begin + text.index('"')]
                offset = -text.index('"')
            elif end == len(line):
                anchor, offset = END, -len(text)
            else:
                raise Unlearnable  # two numbers between the same quotes ([1, 2]): not read here
            if not text:
                raise Unlearnable
            if end == len(line) and anchor != END:
                text += "\n"  # the line ends right after it
            runs.append((anchor, offset, text.encode("ascii")))
        return Layout(runs, [kind for _, _, kind, _ in self.values], self.slots, self.children)

    def rebuilt(self, path: tuple) -> Any:
        """The value at `path` as this learner read it."""
        slot = self.slots[path]
        if slot.kind in ("string", "number"):
            start, end, kind, _ = self.values[slot.variable]
            text = self.line[start:end]
            return text if kind == "string" else int(text) if text.lstrip("-").isdigit() else float(text)
        if slot.kind == "object":
            return {key: self.rebuilt((*path, key)) for key in self.children[path]}
        if slot.kind == "array":
            return [self.rebuilt((*path, i)) for i in range(_items(self.slots, path))]
        return slot.value


def _items(slots: dict[tuple, Slot], path: tuple) -> int:
    count = 0
    while (*path, count) in slots:
        count += 1
    return count


@dataclass(slots=True)
class Part:
    """The lines of a batch that match one layout, with where each of their values is."""

    layout: Layout
    rows: np.ndarray       # line numbers in the batch
    start: np.ndarray      # (rows, variables): where each value's text starts in the buffer
    length: np.ndarray     # and its length in bytes
    number: np.ndarray     # (rows, variables): each number's value (NaN for a string)
    whole: np.ndarray      # (rows, variables): whether it was written as an integer


class LayoutTable(Columns):
    """A batch's lines read by layout (see the module's doc); `covered` says which lines were."""

    def __init__(self, lines: Sequence[str], needed: int = 0) -> None:
        """`needed`: how many lines must be read for the table to be of use (it gives up sooner)."""
        self.rows = len(lines)
        self.lines = lines
        self.buf = ByteLines(lines)
        self.covered = np.zeros(self.rows, dtype=bool)
        self.shapes: list[Part] = []
        quotes, first, count = self._quotes()
        plain = self._plain_lines() & (count % 2 == 0) & (count > 0)
        counts = count[plain]
        rows = np.flatnonzero(plain)
        # The biggest groups first, while the lines left could still make up `needed` with those read,
        # and the layouts found are big enough to: a batch of many small layouts is given up on soon.
        self.needed = needed
        self._left = len(rows)
        self._tries = MAX_TRIES
        values, sizes = np.unique(counts, return_counts=True)
        for quote_count in values[np.argsort(-sizes, kind="stable")].tolist():
            if not self._hopeful():
                break
            group = rows[counts == quote_count]
            self._read_group(group, quote_count, quotes, first)

    def _hopeful(self) -> bool:
        """Whether the lines not tried yet could still make up what is needed, within the tries left."""
        return self._tries > 0 and np.count_nonzero(self.covered) + self._left >= self.needed

    def _quotes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every quote of the batch, where each line's first is among them, and how many each line holds."""
        buf = self.buf
        quotes = np.flatnonzero(buf.bytes[:buf.ends[-1]] == QUOTE)
        first = np.searchsorted(quotes, buf.starts)
        return quotes, first, np.diff(first, append=len(quotes))

    def _plain_lines(self) -> np.ndarray:
        """The lines with no backslash and no byte outside printable ASCII but their newline."""
        buf = self.buf
        content = buf.bytes[:buf.ends[-1] + 1]
        plain = np.ones(self.rows, dtype=bool)
        odd = content.view(np.int8) < 0x20  # control bytes, and every byte past ASCII
        if np.count_nonzero(odd) != self.rows:  # more than the newlines
            odd[buf.ends] = False
            plain[np.searchsorted(buf.ends, np.flatnonzero(odd))] = False
        slashes = buf.positions(BACKSLASH)
        if len(slashes):
            plain[np.searchsorted(buf.ends, slashes[slashes <= buf.ends[-1]])] = False
        return plain

    def _read_group(self, rows: np.ndarray, quote_count: int, quotes: np.ndarray, first: np.ndarray) -> None:
        """Learn layouts from the lines with `quote_count` quotes and take the lines that match them."""
        while len(rows) and self._hopeful():
            self._tries -= 1
            model = int(rows[0])
            try:
                layout = learn(self.lines[model])
            except Unlearnable:
                rows = rows[1:]
                self._left -= 1
                continue
            run_at = self._run_places(layout, rows, quotes, first)
            part, matched = _match(self.buf, layout, rows, run_at)
            if part is not None:
                self.shapes.append(part)
                self.covered[part.rows] = True
            matched[0] = True  # the model is left to the other paths if it did not match its own layout
            taken = int(np.count_nonzero(matched))
            self._left -= taken
            rows = rows[~matched]
            if taken * self._tries < self.needed - np.count_nonzero(self.covered):
                self._tries = 0  # (a model line is most likely of a big layout: the others are smaller still)
        self._left -= len(rows)  # (lines of layouts not tried)

    def _run_places(self, layout: Layout, rows: np.ndarray, quotes: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Where each run of `layout` starts in each of `rows`, if the row is of the layout."""
        anchor = layout.anchor
        at = np.empty((len(rows), len(anchor)), dtype=np.int64)
        by_quote = anchor >= 0
        at[:, by_quote] = quotes[first[rows, None] + anchor[by_quote]]
        for end, places in ((START, self.buf.starts), (END, self.buf.ends)):
            if (anchor == end).any():
                at[:, anchor == end] = places[rows, None]
        return at + layout.offset

    # -- answers by key or path, as `json_columns.Table` gives them

    def segments(self, key: str) -> list[Segment]:
        return self.found((key,), dotted=False)[0]

    def found(self, path: tuple[str, ...], dotted: bool = True) -> tuple[list[Segment], list[np.ndarray]]:
        segments: list[Segment] = []
        odd: list[np.ndarray] = []
        for part in self.shapes:
            _found_in(self, part, (), path, dotted, segments, odd)
        return segments, odd

    def types(self, key: str) -> set:
        kinds: set = set()
        for part in self.shapes:
            slot = part.layout.slots.get((key,))
            kinds |= {NONE} if slot is None else _slot_types(part, slot)
        return kinds

    def has(self, key: str) -> np.ndarray:
        ok = np.zeros(self.rows, dtype=bool)
        for part in self.shapes:
            if (key,) in part.layout.slots:
                ok[part.rows] = True
        return ok

    def later(self, key: str) -> tuple[list[Any], Callable[[Any], Any]]:
        """Each row's object at `key` as something to decode later (its line's number; None where
        there is none), and what decodes it: the store reads only a few (the newest headroom)."""
        out = np.full(self.rows, None, dtype=object)
        for part in self.shapes:
            slot = part.layout.slots.get((key,))
            if slot is not None and slot.kind == "object":
                out[part.rows] = part.rows
        lines = self.lines
        return out.tolist(), lambda row: orjson.loads(lines[row])[key]


def _found_in(table: LayoutTable, part: Part, node: tuple, path: tuple, dotted: bool,
              segments: list[Segment], odd: list[np.ndarray]) -> None:
    """`Table.found` for one part: the longest dotted key present first, then into its object."""
    children = part.layout.children[node]
    for cut in range(len(path), 0, -1) if dotted else (1,):
        key = ".".join(path[:cut])
        if key in children:
            break
    else:
        return
    at = (*node, key)
    slot = part.layout.slots[at]
    if cut == len(path):
        segments += _slot_segments(table, part, at, slot)
    elif slot.kind == "object":
        _found_in(table, part, at, path[cut:], dotted, segments, odd)
    elif not (slot.kind == "literal" and slot.value is None):
        odd.append(part.rows)


def _slot_types(part: Part, slot: Slot) -> set:
    if slot.kind == "number":
        whole = part.whole[:, slot.variable]
        return {int} if whole.all() else {float} if not whole.any() else {int, float}
    if slot.kind == "literal":
        return {type(slot.value)}
    return {_KINDS[slot.kind]}


_KINDS = {"string": str, "object": dict, "array": list}


def _slot_segments(table: LayoutTable, part: Part, path: tuple, slot: Slot) -> list[Segment]:
    """The segments of one part's values at `path` (numbers split into integers and floats)."""
    rows = part.rows
    if slot.kind == "number":
        whole = part.whole[:, slot.variable]
        values = part.number[:, slot.variable]
        if whole.all() or not whole.any():
            return [(rows, values, _slot_types(part, slot))]
        return [(rows[whole], values[whole], {int}), (rows[~whole], values[~whole], {float})]
    if slot.kind == "string":
        return [(rows, Texts(table.buf, part.start[:, slot.variable], part.length[:, slot.variable]), {str})]
    if slot.kind == "literal":
        return [(rows, [slot.value] * len(rows), {type(slot.value)})]
    return [(rows, Decoded(table.lines, rows, path), _slot_types(part, slot))]


class _Lazy(Sequence):
    """Values made into a list only when first read, then kept (a type check reads none)."""

    _made: list | None = None

    def made(self) -> list:
        raise NotImplementedError

    def _values(self) -> list:
        if self._made is None:
            self._made = self.made()
        return self._made

    def __getitem__(self, index):
        return self._values()[index]

    def __iter__(self):
        return iter(self._values())


class Decoded(_Lazy):
    """The objects or arrays at one path of a part's rows, decoded from their lines again when
    read (a check of their type needs only the layout's)."""

    def __init__(self, lines: Sequence[str], rows: np.ndarray, path: tuple) -> None:
        self.lines, self.rows, self.path = lines, rows, path

    def __len__(self) -> int:
        return len(self.rows)

    def made(self) -> list[Any]:
        out = []
        for row in self.rows.tolist():
            value = orjson.loads(self.lines[row])
            for step in self.path:
                value = value[step]
            out.append(value)
        return out


class Texts(_Lazy):
    """The string values of a part's rows at one path, as places in the buffer, decoded when read."""

    def __init__(self, buf: ByteLines, start: np.ndarray, length: np.ndarray) -> None:
        self.buf, self.start, self.length = buf, start, length

    def __len__(self) -> int:
        return len(self.start)

    def made(self) -> list[str]:
        index, distinct = self.distinct()
        return np.array(distinct, dtype=object)[index].tolist()

    def distinct(self) -> tuple[np.ndarray, list[str]]:
        """Each value as an index into the list of the distinct values."""
        length = self.length
        width = int(length.max(initial=0))
        if width == 0:
            return np.zeros(len(length), dtype=np.int64), [""]
        if width > MAX_NAME:
            data = self.buf.bytes
            texts = [data[s:s + n].tobytes().decode("ascii") for s, n in zip(self.start.tolist(), length.tolist())]
            distinct = list(dict.fromkeys(texts))
            place = {text: i for i, text in enumerate(distinct)}
            return np.array([place[text] for text in texts], dtype=np.int64), distinct
        window = self.buf.window(self.start, width)  # (past each value's end: the bytes after it)
        index = np.zeros(len(length), dtype=np.int64)
        distinct: list[str] = []
        left = np.arange(len(length))
        while len(left) and len(distinct) < DISTINCT_BY_COMPARING:  # a log names few models: one pass each
            size = int(length[left[0]])
            model = window[left[0], :size]
            rest = window[left, :size] if len(distinct) else window[:, :size]
            same = (length[left] == size) & rows_all(rest == model)
            index[left[same]] = len(distinct)
            distinct.append(model.tobytes().decode("ascii"))
            left = left[~same]
        if len(left):  # (each row its length, then its bytes: rows are equal when their texts are)
            texts = np.where(np.arange(width) < length[left, None], window[left], 0)
            keyed = np.concatenate((length[left, None].astype(np.uint8), texts), axis=1)
            rest, inverse = np.unique(keyed.view(np.dtype((np.void, width + 1))).ravel(), return_inverse=True)
            index[left] = len(distinct) + inverse.ravel()
            distinct += [_text(row) for row in rest.view(np.uint8).reshape(-1, width + 1)]
        return index, distinct

    def window(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `width` bytes of each value (zero past its end), and each value's length."""
        return np.where(np.arange(width) < self.length[:, None], self.buf.window(self.start, width), 0), self.length


def _text(keyed: np.ndarray) -> str:
    return keyed[1:1 + keyed[0]].tobytes().decode("ascii")


def _match(buf: ByteLines, layout: Layout, rows: np.ndarray, run_at: np.ndarray) -> tuple[Part | None, np.ndarray]:
    """The part of `rows` that matches `layout` (None if none does), and which rows matched;
    `run_at` says where each run would be in each row."""
    # (a line that does not match may put a place past the buffer: it is read at its end, padding no text holds)
    at = _clip(run_at[:, layout.chunk_run] + layout.chunk_offset, 0, len(buf.bytes) - CHUNK)
    ok = buf.start_with(np.ascontiguousarray(at), layout.chunk_texts)
    start = run_at[:, :-1] + layout.length[:-1]
    length = run_at[:, 1:] - start
    ok &= rows_all(length >= 0)
    numbers = np.flatnonzero(np.array(layout.variables) == "number")
    value = np.full(length.shape, np.nan)
    whole = np.zeros(length.shape, dtype=bool)
    if len(numbers):
        values, integers, read = read_numbers(buf, start[:, numbers], length[:, numbers])
        value[:, numbers] = values
        whole[:, numbers] = integers
        ok &= rows_all(read)
    if not ok.any():
        return None, ok
    if not ok.all():
        rows, start, length, value, whole = rows[ok], start[ok], length[ok], value[ok], whole[ok]
    return Part(layout, rows, start, length, value, whole), ok


def read_numbers(buf: ByteLines, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The JSON numbers (no exponent) at `start` of `length` bytes, as orjson reads them: their
    values as float64, whether each is an integer, and whether each was read: JSON's shape, at most
    `MAX_NUMBER` bytes, its digits as one integer below 2**53 and a power of ten within 22 (so one
    product or quotient of exact floats gives the nearest float, as a full parser does). Columns of
    numbers of up to 8 bytes are read a number to a word (`_short_numbers`), the others, and those
    with an exponent, byte by byte (`_numbers`)."""
    value = np.empty(start.shape)
    whole = np.empty(start.shape, dtype=bool)
    read = np.empty(start.shape, dtype=bool)
    width = np.minimum(length.max(axis=0, initial=0), MAX_NUMBER)  # each column's longest
    for column_width in np.flatnonzero(np.bincount(width)).tolist():  # (`np.unique` imports numpy.ma: 23 ms)
        columns = np.flatnonzero(width == column_width)
        at = (slice(None), columns)
        if column_width <= 8:
            out = _short_numbers(buf, start[at].ravel(), length[at].ravel())
        else:
            out = _numbers(buf, start[at].ravel(), length[at].ravel(), column_width)
        for target, result in zip((value, whole, read), out):
            target[at] = result.reshape(len(start), len(columns))
    again = ~read & (length <= 8)  # an exponent (9.5e-05), which only the byte reader reads
    if again.any():
        value[again], whole[again], read[again] = _numbers(buf, start[again], length[again], 8)
    early = ~read & (start + length < MAX_NUMBER)  # in the buffer's first bytes, before any window
    for at in zip(*np.nonzero(early)):
        value[at], whole[at], read[at] = _number_text(buf.bytes[start[at]:start[at] + length[at]].tobytes())
    return value, whole, read


_JSON_NUMBER = re.compile(rb"(-?)((?:0|[1-9][0-9]*))(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]{1,3}))?")


def _number_text(text: bytes) -> tuple[float, bool, bool]:
    """`read_numbers` for one number, by Python: the same numbers read, the same left out."""
    match = _JSON_NUMBER.fullmatch(text)
    if match is None or len(text) > MAX_NUMBER:
        return np.nan, False, False
    _, whole, fraction, power = match.groups()
    if int(whole + (fraction or b"")) >= 2**53 or abs(int(power or 0) - len(fraction or b"")) > 22:
        return np.nan, False, False
    integer = fraction is None and power is None
    return float(int(text)) + 0.0 if integer else float(text), integer, True


def _word(byte: int) -> np.uint64:
    return np.uint64(byte * 0x0101010101010101)


_ALL, _ZEROS, _LOW7, _LOW_NIBBLES, _SIXES, _FOURTH_BITS = (
    _word(0xFF), _word(ZERO), _word(0x7F), _word(0x0F), _word(0x06), _word(0x10))
_HIGH_NIBBLES, _DOTS = _word(0xF0), _word(DOT)
_EIGHT, _ONE, _SEVEN = np.uint64(8), np.uint64(1), np.uint64(7)


def _short_numbers(buf: ByteLines, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`read_numbers` for numbers of at most 8 bytes, each read as one little-endian word that
    ends where the number ends (its first byte the lowest of the word's used ones): the bytes
    before it and the sign become "0", the dot is taken out and the bytes below it moved up,
    every byte is checked to be a digit and the eight are read as one integer, all with integer
    arithmetic on words (SWAR)."""
    end = start + length
    word = buf.gather(_clip(end - 8, 0, len(buf.bytes) - 8), 1).ravel()
    begin = _clip(8 - length, 0, 7).astype(np.uint64)  # the number's first byte in the word
    negative = ((word >> (_EIGHT * begin)) & np.uint64(0xFF)) == MINUS
    first = np.minimum(begin + negative, _SEVEN)  # its first digit
    keep = _ALL << (_EIGHT * first)
    word = (word & keep) | (_ZEROS & ~keep)
    # The dot, found as the byte that is zero once every byte is XORed with "." (exact per byte).
    marked = word ^ _DOTS
    dots = ~(((marked & _LOW7) + _LOW7) | marked | _LOW7)
    dotted = dots != 0
    dot = np.zeros(len(word), dtype=np.uint64)  # the dot's byte (0 where there is none)
    dot[dotted] = (np.log2(dots[dotted].astype(np.float64)).astype(np.uint64) - _SEVEN) // _EIGHT
    below = (_ONE << (_EIGHT * dot)) - _ONE  # the bytes before the dot
    above = ~((below << _EIGHT) | np.uint64(0xFF))  # and after it (for a dot at byte 0..6)
    moved = np.where(dotted, (word & above) | ((word & below) << _EIGHT) | np.uint64(ZERO), word)
    digits_only = ((moved & _HIGH_NIBBLES) == _ZEROS) & ((((moved & _LOW_NIBBLES) + _SIXES) & _FOURTH_BITS) == 0)
    read = (end >= 8) & (length >= 1 + negative) & (length <= 8) & digits_only & (np.bitwise_count(dots) <= 1)
    read &= ~dotted | ((dot != first) & (dot != _SEVEN))  # a digit on either side of the dot
    lead = (word >> (_EIGHT * first)) & np.uint64(0xFFFF)  # the first digit and the byte after it
    read &= ~(((lead & np.uint64(0xFF)) == ZERO) & (first < _SEVEN) & ((lead >> _EIGHT) != DOT))  # no leading zero
    # Eight digits, the first in the lowest byte, as one integer (D. Lemire's three products).
    value = ((moved & _LOW_NIBBLES) * np.uint64(2561)) >> _EIGHT
    value = ((value & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    value = ((value & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    number = value.astype(np.float64) / _POWERS[np.where(dotted, _SEVEN - dot, 0).astype(np.int64)]
    number[negative] *= -1
    number[~dotted] += 0.0  # an integer -0 is 0
    return number, ~dotted, read


_WEIGHTS = 10 ** np.arange(MAX_NUMBER - 1, -1, -1, dtype=np.int64)
_INTEGER_POWERS = 10 ** np.arange(MAX_NUMBER, dtype=np.int64)


def _numbers(buf: ByteLines, start: np.ndarray, length: np.ndarray, width: int,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`read_numbers` for longer numbers, and those with an exponent, byte by byte. Each window
    ends where its number ends, so digits are read as one integer by a product with fixed powers
    of ten (exact in int64 below 10**18): the digits before an exponent are taken down to their
    places, and those before a dot by one place more (the dot's place holds a 0). Windows are
    `width` bytes wide (at most `MAX_NUMBER`): a longer number is not read."""
    end = start + length
    rows = np.arange(len(start))
    place = np.arange(width)
    text = buf.window(_clip(end - width, 0, len(buf.bytes) - 24), width)  # (3 words read; see `_match`)
    begin = width - length                       # where the number starts in its window
    negative = text[rows, _clip(begin, 0, width - 1)] == MINUS
    first = _clip(begin + negative, 0, width - 1)  # its first digit
    inside = place >= first[:, None]
    digit = text - np.uint8(ZERO)                # (wraps: anything below "0" becomes 208 or more)
    is_digit = digit <= 9
    exponent = np.full(len(start), width)         # where the exponent's "e" is (the window's end: none)
    read = (end >= width) & (length >= 1 + negative) & (length <= width)
    is_e = inside & ((text | np.uint8(0x20)) == ord("e"))
    if is_e.any():
        marked = np.argmax(is_e, axis=1)
        exponent = np.where(is_e[rows, marked], marked, width)
        read &= np.count_nonzero(is_e, axis=1) <= 1
    mantissa_part = inside & (place < exponent[:, None])
    is_dot = mantissa_part & (text == DOT)
    power, exponent_ok = _exponents(text, is_digit, digit, exponent)
    read &= exponent_ok & rows_all(is_digit | is_dot | ~mantissa_part)
    dot = np.argmax(is_dot, axis=1)
    dotted = is_dot[rows, dot]
    if np.count_nonzero(is_dot) != np.count_nonzero(dotted):
        read &= np.count_nonzero(is_dot, axis=1) <= 1
    last = _clip(exponent - 1, 0, width - 1)     # the mantissa's last byte
    read &= is_digit[rows, first] & is_digit[rows, last] & (~dotted | (dot != first))
    second = np.minimum(first + 1, width - 1)
    read &= ~((text[rows, first] == ZERO) & (first < last) & ~is_dot[rows, second])  # no leading zero
    digits = np.where(mantissa_part & is_digit, digit, np.uint8(0)) @ _WEIGHTS[-width:] // _INTEGER_POWERS[width - 1 - last]
    decimals = np.where(dotted, last - dot, 0)
    after = digits % _INTEGER_POWERS[decimals]
    mantissa = (digits - after) // np.where(dotted, 10, 1) + after
    power -= decimals
    read &= (mantissa < 2**53) & (np.abs(power) <= 22)
    scale = _POWERS[np.minimum(np.abs(power), 22)]
    number = np.where(power >= 0, mantissa * scale, mantissa / scale)  # one rounding each: exact (Clinger)
    number[negative] *= -1
    integer = ~dotted & (exponent == width)
    number[integer] += 0.0  # an integer -0 is 0
    return number, integer, read


def _exponents(text: np.ndarray, is_digit: np.ndarray, digit: np.ndarray, exponent: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
    """The power of ten each window's exponent (after the "e" at `exponent`, to the window's end)
    names (0 for none), and whether it is JSON's: a sign or not, then one to three digits."""
    width = text.shape[1]
    rows = np.arange(len(text))
    given = exponent < width
    if not given.any():
        return np.zeros(len(text), dtype=np.int64), np.ones(len(text), dtype=bool)
    after = _clip(exponent + 1, 0, width - 1)
    signed = given & ((text[rows, after] == ord("+")) | (text[rows, after] == MINUS))
    digits_from = exponent + 1 + signed
    part = np.arange(width) >= digits_from[:, None]
    ok = ~given | ((digits_from < width) & (width - digits_from <= 3) & rows_all(is_digit | ~part))
    power = np.where(part & is_digit, digit, np.uint8(0)) @ _WEIGHTS[-width:]
    return np.where(given & (text[rows, after] == MINUS), -power, power), ok


def _clip(values: np.ndarray, low: int, high: int) -> np.ndarray:
    return np.minimum(np.maximum(values, low), high)
