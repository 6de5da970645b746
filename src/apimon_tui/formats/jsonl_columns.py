"""JSON-lines records of a batch read through the `[jsonl]` mapping as columns (`CallColumns`).

As `native_columns`: a batch is read by layout from its bytes when its
layouts cover most of it, else decoded with orjson, and each mapped field is
taken out for all lines at once, its dotted path resolved once per layout or
shape of object (`found`), not once per line. Times in ISO 8601
of the usual shape (`2026-11-26T13:33:20.0102Z`, UTC when no zone is
named) are converted with numpy to the very floats `datetime.timestamp`
gives; numbers by `ts_unit` as `epoch_seconds` scales them. A plain row is
a successful call with no error code or message (or, for a store that keeps
no failed call whole, one failed with an HTTP status and texts for both)
whose every mapped value `JsonlParser._call` takes as it is (no text to
convert, nothing to report); any other row goes through the per-line path,
its call whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apimon_tui.formats import json_columns as jc
from apimon_tui.formats.json_layouts import table_of
from apimon_tui.formats.nginx_columns import _epoch_days
from apimon_tui.formats.values import MAX_COST_USD, MAX_MS, MAX_STATUS, MAX_TOKENS, MAX_TS, MIN_STATUS, MIN_TS

SHAPE_ROWS = 8  # a batch with fewer lines than this per shape is read line by line
_NOTHING = frozenset({jc.NONE})
_IDENTIFIER_KINDS = frozenset({str, int, jc.NONE})
_STAMP = 27  # the longest ISO text read here: 2026-11-26T13:33:20.010200Z
_EXACT_INT = 2**53  # an integer time beyond this is not read as a float exactly: line by line


def read(parser, lines: Sequence[str]) -> bool:
    """Hand the calls of `lines` to the parser's sink as columns; False, with nothing handed, when
    the batch must be read line by line (the caller rolls back what was reported by then)."""
    table, ok = table_of(lines)
    if len(table.shapes) > len(lines) // SHAPE_ROWS:
        return False
    rows = len(lines)
    found = {}
    for field, path in parser.mapping.items():
        found[field], odd = table.found(path) if path else ([], [])
        for at in odd:
            ok[at] = False
    failures = getattr(parser.sink, "bulk_failures", False)  # a failed call as a row, else whole
    for field in ("error_code", "error_message"):
        ok &= jc.typed(rows, found[field], jc.TEXT_KINDS if failures else _NOTHING)
    for field in ("model", "provider", "endpoint"):
        ok &= jc.typed(rows, found[field], jc.TEXT_KINDS)
    ok &= jc.typed(rows, found["request_id"], _IDENTIFIER_KINDS)
    ts, more = _times(rows, found["ts"], parser.ts_unit)
    ok &= more
    status, more = jc.numbers(rows, found["status"], jc.INT_KINDS, MIN_STATUS, MAX_STATUS)
    ok &= more
    scale = parser.latency_scale
    latency, more = jc.numbers(rows, found["latency"], jc.NUMBER_KINDS, 0, MAX_MS / scale)
    latency *= scale
    ok &= more & ~(np.signbit(latency) & (latency == 0))
    tokens = []
    for field in ("input_tokens", "output_tokens"):
        column, more = jc.numbers(rows, found[field], jc.INT_KINDS, 0, MAX_TOKENS)
        tokens.append(column)
        ok &= more
    cost, more = jc.numbers(rows, found["cost_usd"], jc.NUMBER_KINDS, 0, MAX_COST_USD)
    ok &= more
    model, models = jc.names(rows, found["model"])
    ok &= (model != 0) | ~np.isnan(status) | ~np.isnan(latency)  # else no call, or a model of ""
    provider, providers = jc.names(rows, found["provider"])
    errors = None
    if failures:
        errors = jc.names(rows, found["error_code"]), jc.names(rows, found["error_message"])
        ok &= ~((errors[0][0] != 0) | (errors[1][0] != 0)) | (status >= 400)  # (else failed with no status: whole)
        failed = status >= 400
        cost[failed & np.isnan(cost) & ~(tokens[1] > 0)] = 0.0  # as `Pricer.estimate` prices one
    else:
        ok &= ~(status >= 400)

    whole = jc.whole_calls(parser, lines, ok)
    if whole is None:
        return False
    unknown = np.full(rows, np.nan)
    jc.hand(parser, ok, whole, ts, status, latency, unknown, [*tokens, unknown.copy(), unknown.copy()], cost,
            (model, models), (provider, providers), errors=errors)
    return True


def _times(rows: int, segments: list[jc.Segment], unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Each row's time as `epoch_seconds` reads it, and which rows are plain (a time of the usual shape)."""
    column = np.full(rows, np.nan)
    ok = np.zeros(rows, dtype=bool)
    for at, values, types in segments:
        if types == {str} and unit in ("auto", "iso"):
            column[at], ok[at] = iso_seconds(values)
        elif types and types <= {int, float} and unit != "iso":
            numbers = np.array(values, dtype=np.float64)
            ok[at] = np.abs(numbers) < _EXACT_INT if int in types else True
            column[at] = _scaled(numbers, unit)
    with np.errstate(invalid="ignore"):
        ok &= (column >= MIN_TS) & (column <= MAX_TS)
    return column, ok


def _scaled(numbers: np.ndarray, unit: str) -> np.ndarray:
    """Epoch seconds of numbers by `ts_unit` (`auto`: by their size), as `epoch_seconds` divides them."""
    if unit == "ms":
        return numbers / 1e3
    if unit == "s":
        return numbers
    size = np.abs(numbers)
    return np.where(size >= 1e17, numbers / 1e9,
                    np.where(size >= 1e14, numbers / 1e6, np.where(size >= 1e11, numbers / 1e3, numbers)))


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # of YYYY-MM-DDTHH:MM:SS
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_FRACTION = np.arange(20, 26)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
# The weight of each character of YYYY-MM-DDTHH:MM:SS and six digits of fraction in year, month,
# day, hour, minute, second and microsecond (0 for a separator).
_PLACES = np.zeros((25, 7))
for _field, (_first, _width) in enumerate([(0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2), (19, 6)]):
    _PLACES[_first:_first + _width, _field] = 10.0 ** np.arange(_width - 1, -1, -1)


def _stamp_codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's first `_STAMP` character codes (see `_codes`), and its length."""
    window = getattr(texts, "window", None)  # texts read from the bytes (`json_layouts.Texts`)
    if window is not None:
        return window(_STAMP)
    length = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return _codes(texts, length), length


def iso_seconds(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`datetime.fromisoformat(text)` as epoch seconds (UTC when no zone), for texts of the shape
    `YYYY-MM-DDTHH:MM:SS`, then `.` and one to six digits, then `Z`, each optional; and which
    texts have that shape and name a real moment (the others are for the per-line path). Exact
    (microseconds over 1e6, as `timestamp` divides them) where the microseconds since the epoch
    are below 2**53: years 1685 to 2255, which hold every usable time (`values.MAX_TS`)."""
    codes, length = _stamp_codes(texts)
    rows = np.arange(len(length))
    zulu = codes[rows, np.clip(length - 1, 0, _STAMP - 1)] == ord("Z")
    body = length - zulu
    digits = codes - np.uint8(ord("0"))  # (wraps: a code below "0" becomes 208 or more)
    fraction_marked = (body >= 21) & (body <= 26) & (codes[:, 19] == ord("."))
    ok = (length >= 19) & (length <= _STAMP) & ((body == 19) | fraction_marked)
    ok &= (digits[:, _DIGITS] <= 9).all(axis=1)
    for at, mark in _SEPARATORS.items():
        ok &= codes[:, at] == ord(mark)
    fraction = np.where(_FRACTION < body[:, None], digits[:, 20:26], 0)
    ok &= (fraction <= 9).all(axis=1)
    # Every field in one product of small integers: exact in float64, whatever the order of the sums.
    fields = (np.concatenate((digits[:, :19], fraction), axis=1).astype(np.float64) @ _PLACES).astype(np.int64)
    year, month, day, hour, minute, second, micro = fields.T
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    ok &= (year >= 1) & month_ok & (day >= 1) & (day <= days) & (hour <= 23) & (minute <= 59) & (second <= 59)
    seconds = _epoch_days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds * 1_000_000 + micro).astype(np.float64) / 1e6, ok


def _codes(texts: Sequence[str], length: np.ndarray) -> np.ndarray:
    """Each text's first `_STAMP` character codes as uint8 (255 for any past ASCII, which no check
    takes), 0 past its end. Texts of one length in ASCII, the usual batch, are joined and read as bytes, for less work
    than building the `U27` array, which converts text by text."""
    width = int(length[0]) if len(texts) else 0
    if 0 < width <= _STAMP and (length == width).all():
        joined = "".join(texts)
        if joined.isascii():
            codes = np.zeros((len(texts), _STAMP), dtype=np.uint8)
            codes[:, :width] = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(texts), width)
            return codes
    wide = np.array(texts, dtype=f"U{_STAMP}").view(np.uint32).reshape(len(texts), _STAMP)
    return np.minimum(wide, 255).astype(np.uint8)  # (past ASCII, no code is read: 255 stands for them all)
