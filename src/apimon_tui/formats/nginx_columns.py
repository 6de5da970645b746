"""Batches of nginx access lines read as columns with numpy.

Matching a regex and converting the fields costs CPython 2-2.7 µs per line,
which caps a core at 370,000-500,000 lines/s before anything is counted.
Here a batch is one byte buffer: the few bytes that mark where the fields
are (the quotes of a combined line, the `,"` before each key of a JSON
line) are found in one pass, and every field is read at its place for all
lines at once. The
lines taken are successful calls, whose time, status, latency and model are
all the store needs of them; so are the failed calls, where the store keeps
none whole (a store built for a summary: `report`, `check`).

Only a line that the per-line parser would read to the same figures is
taken; any other (a failed call the store keeps whole, an odd layout, a field
out of the usual shape) is left to `NginxParser`'s per-line path, so the
figures never depend on which path read a line.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from apimon_tui.formats.base import BLOCK_PADDING
from apimon_tui.formats.byte_lines import ByteLines, rows_all
from apimon_tui.formats.nginx_keys import HEADROOM_KEYS
from apimon_tui.formats.values import MAX_TS, MIN_TS

QUOTE, SPACE, ZERO, BACKSLASH = ord('"'), ord(" "), ord("0"), ord("\\")
STAMP_LEN = 26                      # 26/Nov/2026:23:26:19 +0000
MAX_SECONDS_DIGITS = 6              # $request_time up to 999999.999 s, below values.MAX_MS
MAX_EPOCH_DIGITS = 12               # $msec up to the year 33658 (beyond MAX_TS: checked, like the time of a combined line)
MAX_MSEC = int(MAX_TS) * 1000
MAX_MODEL_BYTES = 64                # longer model names are read line by line
MAX_PREFIX_BYTES = 64               # `$remote_addr - $remote_user`: longer ones are read line by line
MAX_MIDDLE_BYTES = 24               # ` $status $body_bytes_sent `: likewise
_MONTH_CODES = np.array(
    [int.from_bytes(m.encode(), "big") for m in
     ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")]
)
_MONTH_ORDER = np.argsort(_MONTH_CODES)
_SORTED_MONTH_CODES = _MONTH_CODES[_MONTH_ORDER]


@dataclass(slots=True)
class ColumnCalls:
    """The calls of a batch that were read as columns."""

    index: np.ndarray       # their line numbers in the batch, ascending
    ts: np.ndarray          # epoch seconds (float64)
    status: np.ndarray      # HTTP status (int64), below 400 unless failed calls were asked for
    latency_ms: np.ndarray  # float64, NaN for a line without $request_time
    model: np.ndarray | None = None  # per call, an index into `models` (None: no model at all)
    models: list[str | None] = field(default_factory=list)
    headroom: np.ndarray | None = None  # per call, whether it has a rate-limit value (None: no such keys)


_NONE = ColumnCalls(*(np.empty(0, dtype) for dtype in (np.int64, np.float64, np.int64, np.float64)))


def _digits(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decimal values of a window's bytes, and whether each is a digit."""
    values = window.astype(np.int32) - ZERO
    return values, (values >= 0) & (values <= 9)


def _number(values: np.ndarray, columns: slice) -> np.ndarray:
    out = values[:, columns.start].astype(np.int64)
    for column in range(columns.start + 1, columns.stop):
        out = out * 10 + values[:, column]
    return out


def _epoch_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).

    Linear in `day`, like `calendar.timegm`, which the per-line path uses.
    """
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _bytes_of(words: np.ndarray, width: int) -> np.ndarray:
    """`ByteLines.words` as one row of `width` bytes per offset."""
    return np.ascontiguousarray(words.T).view(np.uint8)[:, :width]


def _byte(words: np.ndarray, index: int) -> np.ndarray:
    """Byte `index` of each offset's `ByteLines.words`."""
    return (words[index // 8] >> np.uint64(8 * (index % 8))) & np.uint64(0xFF)


def _local_times(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`$time_local` texts (as `ByteLines.words`) as epoch seconds, and which are well formed.

    Neighbouring lines mostly share their second: each run of equal stamps
    is converted once.
    """
    count = stamps.shape[1]
    if not count:
        return np.empty(0, np.float64), np.empty(0, bool)
    new = np.ones(count, dtype=bool)
    new[1:] = (stamps[:, 1:] != stamps[:, :-1]).any(axis=0)
    run = np.cumsum(new) - 1
    seconds, ok = _convert_local_times(_bytes_of(stamps[:, new], STAMP_LEN))
    return seconds[run], ok[run]


def _convert_local_times(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`$time_local` windows (dd/Mon/yyyy:HH:MM:SS +zzzz) as epoch seconds, and which are well formed."""
    values, is_digit = _digits(stamps)
    digit_columns = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]
    ok = rows_all(is_digit[:, digit_columns])
    for column, char in ((2, "/"), (6, "/"), (11, ":"), (14, ":"), (17, ":"), (20, " ")):
        ok &= stamps[:, column] == ord(char)
    sign = stamps[:, 21]
    ok &= (sign == ord("+")) | (sign == ord("-"))
    code = (stamps[:, 3].astype(np.int64) << 16) | (stamps[:, 4].astype(np.int64) << 8) | stamps[:, 5]
    at = np.minimum(np.searchsorted(_SORTED_MONTH_CODES, code), 11)
    ok &= _SORTED_MONTH_CODES[at] == code
    month = _MONTH_ORDER[at] + 1
    year = _number(values, slice(7, 11))
    ok &= year >= 1  # the per-line path refuses year 0
    days = _epoch_days(year, month, _number(values, slice(0, 2)))
    seconds = days * 86400 + _number(values, slice(12, 14)) * 3600 + _number(values, slice(15, 17)) * 60
    seconds += _number(values, slice(18, 20))
    offset = _number(values, slice(22, 24)) * 3600 + _number(values, slice(24, 26)) * 60
    seconds = np.where(sign == ord("+"), seconds - offset, seconds + offset)
    return seconds.astype(np.float64), ok


def _decimal_millis(window: np.ndarray, length: np.ndarray, max_whole: int) -> tuple[np.ndarray, np.ndarray]:
    """`<digits>.<3 digits>` texts (nginx's seconds to the ms) as integer ms, and which are of that shape.

    `window` holds each text from its first byte and is at least
    `max_whole + 4` bytes wide, `length` is the text's length; an integer
    count of ms divided by 1000 is exactly the `float()` of the text.
    Texts of one length have their digits at the same places: each length
    present is read at once, the digits summed by place value with a
    matrix product (exact: below 2**53).
    """
    millis = np.zeros(len(window), dtype=np.int64)
    ok = np.zeros(len(window), dtype=bool)
    for size, rows in _by_length(length, range(5, max_whole + 5)):
        texts = window[rows]
        digit_columns, place_values = _decimal_places(size)
        digits = texts[:, digit_columns]
        ok[rows] = rows_all((digits - ZERO) < 10) & (texts[:, size - 4] == ord("."))
        millis[rows] = (digits - float(ZERO)) @ place_values
    return millis, ok


def _by_length(length: np.ndarray, sizes: range) -> list[tuple[int, np.ndarray | slice]]:
    """The lengths in `sizes` that occur, each with its rows; all rows at once where every length is one."""
    if not len(length):
        return []
    low, high = int(length.min()), int(length.max())
    if low == high:
        return [(low, slice(None))] if low in sizes else []
    counts = np.bincount(np.clip(length, sizes.start - 1, sizes.stop) - (sizes.start - 1))
    present = np.flatnonzero(counts[1:len(sizes) + 1]) + sizes.start
    return [(size, np.flatnonzero(length == size)) for size in present.tolist()]


@functools.cache
def _decimal_places(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the digits of a `size`-byte `<digits>.<3 digits>` text are, and their place values in ms."""
    return np.delete(np.arange(size), size - 4), 10.0 ** np.arange(size - 2, -1, -1)


def _request_times(after: np.ndarray, at_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`$request_time` after the user agent's closing quote, in ms, and which lines are read.

    Read: ` <digits>.<3 digits>` followed by anything but a digit, or nothing
    at all (a `combined` line without timings: NaN). Other shapes, which
    the per-line regex reads its own way, are left to it.
    """
    is_digit = _digits(after)[1]
    length = np.argmin(is_digit[:, 1:], axis=1) + 4  # the run of digits (argmin: the first non-digit), `.`, 3 digits
    millis, ok = _decimal_millis(after[:, 1:], length, MAX_SECONDS_DIGITS)
    ok &= (after[:, 0] == SPACE) & ~is_digit[np.arange(len(after)), np.minimum(length + 1, after.shape[1] - 1)]
    latency = millis.astype(np.float64)
    latency[at_end] = np.nan
    return latency, ok | at_end


def _spaces_in(words: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many spaces the first `length` bytes at each offset (`ByteLines.words`) hold, and whether two are side by side.

    A word at a time: each space byte becomes its top bit (`_space_bits`),
    the bits past `length` are masked off, and the bits are counted.
    """
    bits = _space_bits(words) & _leading_bytes(len(words))[:, np.clip(length, 0, 8 * len(words))]
    count = np.bitwise_count(bits).sum(axis=0)
    side_by_side = np.bitwise_or.reduce(bits & (bits << np.uint64(8)), axis=0) != 0  # within a word
    side_by_side |= np.bitwise_or.reduce((bits[:-1] >> np.uint64(63)) & (bits[1:] >> np.uint64(7)), axis=0) != 0
    return count, side_by_side


_LOW_SEVEN = np.uint64(0x7F7F7F7F7F7F7F7F)
_EIGHT_SPACES = np.uint64(int.from_bytes(b" " * 8, "little"))


def _space_bits(words: np.ndarray) -> np.ndarray:
    """The top bit of each byte that is a space, no other bit (exact: no carry crosses a byte)."""
    x = words ^ _EIGHT_SPACES  # spaces become zero bytes
    return ~(((x & _LOW_SEVEN) + _LOW_SEVEN) | x | _LOW_SEVEN)


@functools.cache
def _leading_bytes(words: int) -> np.ndarray:
    """Column `length` (0 to 8 * words): words whose first `length` bytes are all ones."""
    table = np.zeros((words, 8 * words + 1), dtype=np.uint64)
    for length in range(8 * words + 1):
        for k in range(words):
            table[k, length] = (1 << (8 * min(max(length - 8 * k, 0), 8))) - 1
    return table


def combined_calls(lines: Sequence[str], failures: bool) -> ColumnCalls:
    """The successful calls (and the failed ones too with `failures`) among
    `combined` lines that this reader vouches for.

    `$remote_addr - $remote_user [$time_local] "$request" $status
    $body_bytes_sent "$http_referer" "$http_user_agent" [$request_time ...]`:
    nginx escapes `"` inside values as `\\x22`, so such a line has exactly six
    quotes, and every other field sits at a known distance from one of them.
    The space-separated fields are read in windows of known width; a line
    with a longer one is read line by line.
    """
    buf = ByteLines(lines)
    quotes = buf.positions(QUOTE)
    first = np.searchsorted(quotes, buf.starts)
    six = np.flatnonzero(np.searchsorted(quotes, buf.ends) - first == 6)
    if not len(six):
        return _NONE
    start, end, first = buf.starts[six], buf.ends[six], first[six]
    q0, q1, q2, q3, q4, q5 = (quotes[first + k] for k in range(6))
    data = buf.bytes
    # Three non-empty space-free fields, then ` [<26-byte time>] "`.
    prefix_end = q0 - STAMP_LEN - 4  # the space before `[`
    ok = (prefix_end > start) & (prefix_end - start <= MAX_PREFIX_BYTES)
    ok &= (data[start] != SPACE) & (data[np.maximum(prefix_end - 1, 0)] != SPACE)
    ok &= (data[prefix_end] == SPACE) & (data[prefix_end + 1] == ord("["))
    ok &= (data[q0 - 2] == ord("]")) & (data[q0 - 1] == SPACE)
    spaces, side_by_side = _spaces_in(buf.words(start, MAX_PREFIX_BYTES), prefix_end - start)
    ok &= (spaces == 2) & ~side_by_side
    ts, stamp_ok = _local_times(buf.words(q0 - STAMP_LEN - 2, STAMP_LEN))
    ok &= stamp_ok & (ts >= MIN_TS) & (ts <= MAX_TS)  # (the per-line path reports any other time unusable)
    # ` <3-digit status> <non-empty space-free bytes> "<referer>" "<user agent>"`.
    middle = buf.words(q1 + 1, MAX_MIDDLE_BYTES)
    status_values, status_digits = _digits(np.stack([_byte(middle, 1), _byte(middle, 2), _byte(middle, 3)], axis=1))
    ok &= rows_all(status_digits)
    status = _number(status_values, slice(0, 3))
    ok &= (status >= 100) & (status < _status_limit(failures))
    ok &= (_byte(middle, 0) == SPACE) & (_byte(middle, 4) == SPACE) & (q2 >= q1 + 8) & (q2 - q1 - 1 <= MAX_MIDDLE_BYTES)
    ok &= (data[q2 - 1] == SPACE) & (_spaces_in(middle, q2 - q1 - 1)[0] == 3)
    ok &= (data[q3 + 1] == SPACE) & (q4 == q3 + 2)
    latency, timing_ok = _request_times(buf.window(q5 + 1, MAX_SECONDS_DIGITS + 7), q5 + 1 == end)
    ok &= timing_ok
    taken = np.flatnonzero(ok)
    return ColumnCalls(six[taken], ts[taken], status[taken], latency[taken])


def json_calls(lines: Sequence[str], keys: list[str], failures: bool) -> ColumnCalls:
    """The successful calls (and the failed ones too with `failures`) among JSON
    lines of the layout `keys` (in order) that this reader vouches for.

    The layout is nginx's `escape=json` log_format with every value a string.
    A line with no backslash is read as `{"k0":"v0","k1":"v1",...}` when each
    `","` before a key and the texts around the keys are where the layout
    puts them, and it holds no other quote (`_layout_quotes_only`): it then
    splits on `"` as `nginx._Layout` reads it. Taken: lines with `msec`, a
    2xx/3xx `status` (any with `failures`) and a `request_time` in nginx's
    own shapes; the rest is read line by line.
    """
    wanted = {key: i for i, key in enumerate(keys)}
    # What precedes each value: `{"k0":"` at the line's start, then `","k1":"` from the end of the value before.
    texts = tuple(b'{"' * (i == 0) + b'","' * (i > 0) + key.encode() + b'":"' for i, key in enumerate(keys))
    if not {"msec", "status", "request_time"} <= wanted.keys() or max(map(len, texts)) > len(BLOCK_PADDING):
        return _NONE  # (a longer text, read from a line's last bytes, would be read past the padding)
    buf = ByteLines(lines)
    data = buf.bytes
    is_quote = data == QUOTE
    opens = buf.following(ord(","), is_quote)  # where a key after the first opens, and where else `,"` occurs
    first = np.searchsorted(opens, buf.starts)
    count = np.diff(first, append=len(opens))  # (no line's last byte, a newline, is an opening quote)
    slashes = buf.positions(BACKSLASH)
    plain = np.searchsorted(slashes, buf.ends) == np.searchsorted(slashes, buf.starts)
    ok = (count == len(keys) - 1) & plain & (data[buf.ends - 2] == QUOTE) & (data[buf.ends - 1] == ord("}"))
    rows = np.flatnonzero(ok)
    if not len(rows):
        return _NONE
    text_at = np.empty((len(rows), len(keys)), dtype=np.int64)
    text_at[:, 0] = buf.starts[rows]
    if len(opens) == len(rows) * (len(keys) - 1):  # (every line is one of the rows: those of line i come i-th)
        text_at[:, 1:] = opens.reshape(len(rows), -1) - 2
    else:
        text_at[:, 1:] = opens[first[rows, None] + np.arange(len(keys) - 1)] - 2
    value_at = text_at + np.array(list(map(len, texts)))
    value_end = np.empty_like(text_at)  # where each value's closing quote is
    value_end[:, :-1] = text_at[:, 1:]
    value_end[:, -1] = buf.ends[rows] - 2
    value_length = value_end - value_at
    ok = buf.start_with(text_at, texts) & rows_all(value_length >= 0)
    ok &= _layout_quotes_only(buf, is_quote, rows, ok, 4 * len(keys))

    def value(key: str) -> tuple[np.ndarray, np.ndarray]:
        """Where the key's value starts in the buffer, and its length."""
        return value_at[:, wanted[key]], value_length[:, wanted[key]]

    at, length = value("status")
    status_values, status_digits = _digits(buf.window(at, 3))
    status = _number(status_values, slice(0, 3))
    ok &= (length == 3) & rows_all(status_digits) & (status >= 100) & (status < _status_limit(failures))
    at, length = value("msec")
    msec, msec_ok = _decimal_millis(buf.window(at, MAX_EPOCH_DIGITS + 4), length, MAX_EPOCH_DIGITS)
    at, length = value("request_time")
    latency, latency_ok = _decimal_millis(buf.window(at, MAX_SECONDS_DIGITS + 4), length, MAX_SECONDS_DIGITS)
    ok &= msec_ok & latency_ok & (msec <= MAX_MSEC)
    model = models = None
    if "model" in wanted:
        at, length = value("model")
        ok &= length <= MAX_MODEL_BYTES
        model, models, model_ascii = _texts(buf, at, np.minimum(length, MAX_MODEL_BYTES))
        ok &= model_ascii
    headroom = None
    if any(key in wanted for key in HEADROOM_KEYS):
        headroom = np.zeros(len(rows), dtype=bool)
        for key in HEADROOM_KEYS:
            if key in wanted:
                headroom |= value(key)[1] > 0
    taken = np.flatnonzero(ok)
    names: list[str | None] = []
    if model is not None:
        # `""` and `-` both mean no model: one index for both.
        names = [None if m in ("", "-") else m for m in models]
        first_of: dict[str | None, int] = {}
        model = np.array([first_of.setdefault(name, i) for i, name in enumerate(names)])[model[taken]]
    return ColumnCalls(
        rows[taken], msec[taken] / 1000.0, status[taken], latency[taken].astype(np.float64),
        model, names, None if headroom is None else headroom[taken],
    )


def _layout_quotes_only(
    buf: ByteLines, is_quote: np.ndarray, rows: np.ndarray, read: np.ndarray, quotes: int,
) -> np.ndarray:
    """Which of the `rows` flagged in `read` hold exactly `quotes` quotes (each holds that many at least).

    Counting each line's quotes costs as much as finding them all, so the
    buffer's quotes are counted at once: when those of the other lines
    leave exactly `quotes` to each line read, none of these holds another.
    Only otherwise (a line with a stray quote) is each line counted.
    """
    left = np.count_nonzero(is_quote)
    others = np.ones(len(buf.starts), dtype=bool)
    others[rows[read]] = False
    if others.any():
        left -= _count_in_lines(buf, is_quote, np.flatnonzero(others)).sum()
    if left == quotes * np.count_nonzero(read):
        return read
    return read & (_count_in_lines(buf, is_quote, rows) == quotes)


def _count_in_lines(buf: ByteLines, flags: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """How many of `flags` are set in each of `lines` (line numbers)."""
    bounds = np.stack([buf.starts[lines], buf.ends[lines]], axis=1).ravel()
    # (each line's sum runs to its end, the next to the next line's start; an empty
    # line's sum is its newline's flag, which is never set)
    return np.add.reduceat(flags.view(np.uint8), bounds, dtype=np.int64)[::2]


def distinct(values: np.ndarray) -> list[int]:
    """The distinct integers of `values`, ascending: `np.unique`'s answer at a fourth of its fixed cost."""
    ordered = np.sort(values)
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    return ordered[new].tolist()


def _status_limit(failures: bool) -> int:
    """The first status not taken: 400 (the successes), or 600 (every call)."""
    return 600 if failures else 400


def _texts(buf: ByteLines, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The texts in [start, start + length) as indexes into the list of distinct ones, and which are ASCII.

    Each row is its length byte then its bytes, zeroed past the end, so
    rows are equal exactly when the texts are. Other texts are left to the
    per-line path, which decodes them from the whole line.
    """
    window = buf.window(start, MAX_MODEL_BYTES)
    keyed = np.zeros((len(start), MAX_MODEL_BYTES + 1), dtype=np.uint8)
    keyed[:, 0] = length
    keyed[:, 1:] = np.where(np.arange(MAX_MODEL_BYTES) < length[:, None], window, 0)
    distinct, index = np.unique(keyed.view(np.dtype((np.void, MAX_MODEL_BYTES + 1))).ravel(), return_inverse=True)
    raw = [row[1:1 + row[0]] for row in distinct.tolist()]
    index = index.ravel()
    return index, [text.decode("ascii", "replace") for text in raw], np.array([text.isascii() for text in raw])[index]
