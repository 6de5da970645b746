"""`nginx`: access logs of an nginx reverse proxy in front of an LLM API.

Two layouts, told apart per line:

* the JSON `log_format ... escape=json` of the reference (formats.md section 7):
  every value a quoted string, `""` or `-` when missing, e.g.
  `{"msec":"1755684001.234","method":"POST","uri":"/v1/chat/completions",
  "status":"200","request_time":"1.238","upstream_response_time":"0.512, 0.700",
  "openai_request_id":"req_...","rl_remaining_tokens":"3999176",...}`;
* the classic `combined` format followed by `$request_time
  $upstream_response_time`; a `combined` line without the timings is still a
  call, with no latency.

Every request in the access log counts as a call: nginx cannot tell an API
call from any other request, so give the API location its own `access_log`.
Latency is `$request_time` (what the client waited); failing that, the sum of
the measured upstream attempts, then the `openai-processing-ms` header. nginx
does not see the model unless the log_format has a `model` key.

Speed matters here (a busy proxy writes hundreds of thousands of lines). In
a batch of a few hundred lines or more, the plain successful calls of either
layout are read all at once as columns (`nginx_columns`, with numpy). Line by
line, the combined layout is one precompiled regex; a JSON line is split on
`"` and read by the key order learned from the last line `json.loads` decoded
(lines with escapes, another key order or a broken end go through
`json.loads`); time stamps, latencies, resets and status codes are converted
once per distinct text. Successful calls reach the engine's sink as columns of
times and latencies per (model, status), not as a `Call` each
(`MetricsStore.add_bulk`): only the failed ones are kept whole, for
drill-down, and they too go in bulk where the store keeps none whole.
"""

from __future__ import annotations

import calendar
import functools
import json
import re
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from apimon_tui.formats import values
from apimon_tui.formats.base import Parser, decode_json
from apimon_tui.formats.nginx_keys import HEADROOM_KEYS
from apimon_tui.formats.values import MAX_MS, MAX_RATELIMIT, MAX_TS, MIN_TS
from apimon_tui.formats.ratelimit import parse_reset
from apimon_tui.core.model import Call, RateLimit

if TYPE_CHECKING:
    from apimon_tui.formats.nginx_columns import ColumnCalls

NAME = "nginx"

# $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
# "$http_referer" "$http_user_agent" [$request_time [$upstream_response_time]]
_COMBINED = re.compile(
    r'[^ ]+ [^ ]+ [^ ]+ \[([^\]]+)\] "(?:([A-Z]+) ([^ ?"]*)[^"]*|[^"]*)" (\d{3}) [^ ]+ "[^"]*" "[^"]*"'
    r"(?: (\d+\.\d+|\d+))?"
)
_QUOTED_STATUS = re.compile(r'"status":\s*"\d{3}"')
_LOOKS_LIKE_ACCESS_LINE = re.compile(r'[^ ]+ [^ ]+ [^ ]+ \[[^\]]*\] "')

# The JSON keys read, in the order of the value tuple both JSON paths produce.
_JSON_KEYS = (
    "msec", "time", "method", "uri", "status", "request_time", "upstream_response_time",
    "openai_processing_ms", "openai_request_id", "request_id", "model",
) + HEADROOM_KEYS
_STATUS = {str(code): code for code in range(100, 600)}
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CACHE_LIMIT = 50_000
# From this many lines a batch is worth reading as columns (numpy's fixed cost
# per batch is that of about 60 lines read one by one); bigger batches of
# decoded lines are read in parts of about COLUMNS_PART_BYTES. A `LineBlock`
# of bytes is read whole: its size is `parallel.CHUNK_BYTES`.
COLUMNS_MIN_LINES = 256
COLUMNS_PART_BYTES = 1024 * 1024
_NO_HEADROOM = (None,) * 6


def sniff(line: str) -> bool:
    """A combined line, or a JSON object with `request_time` and nginx's quoted `"status":"200"`."""
    if line.startswith("{"):
        return '"request_time"' in line and _QUOTED_STATUS.search(line) is not None
    return _COMBINED.match(line) is not None


def local_time_to_epoch(stamp: str) -> float:
    """`26/Nov/2026:23:26:19 +0000` ($time_local) as epoch seconds."""
    if len(stamp) != 26 or stamp[2] != "/" or stamp[6] != "/" or stamp[20] != " ":
        raise ValueError(f"bad time {stamp!r}")
    base = _day_start(stamp[:11]) + int(stamp[12:14]) * 3600 + int(stamp[15:17]) * 60 + int(stamp[18:20])
    offset = int(stamp[22:24]) * 3600 + int(stamp[24:26]) * 60
    return values.checked_ts(float(base - offset if stamp[21] == "+" else base + offset))


@functools.lru_cache(maxsize=64)
def _day_start(date: str) -> int:
    """`26/Nov/2026` as epoch seconds at 00:00 UTC: a log's seconds share a handful of dates.

    `calendar.timegm` is linear in every field, so the time of day adds on.
    """
    return calendar.timegm((int(date[7:11]), _MONTHS[date[3:6]], int(date[0:2]), 0, 0, 0))


def upstream_seconds(value: str) -> float | None:
    """Total of the measured attempts in `0.512, 0.100 : -` ($upstream_*_time)."""
    total, measured = 0.0, False
    for part in value.replace(":", ",").split(","):
        part = part.strip()
        if part and part != "-":
            total += float(part)
            measured = True
    return total if measured else None


def _json_values(obj: dict[str, Any], sink) -> tuple[str, ...]:
    """The `_JSON_KEYS` values of a decoded line, as the strings nginx writes.

    A number written unquoted is read as its text; any other value that is
    not a string (a list, an object, a flag) is reported and left empty.
    """
    out = []
    for key in _JSON_KEYS:
        value = obj.get(key)
        if value is None or type(value) is str:
            out.append(value or "")
        elif type(value) is float or type(value) is int and abs(value) < values.MAX_IDENTIFIER:
            out.append(repr(value))
        else:
            sink.bad_value(key, value)
            out.append("")
    return tuple(out)


# (model, status) -> the times, latencies and batch positions of its successful calls.
_Groups = dict[tuple[str | None, int | None], tuple[list[float], list[float | None], list[int]]]
# model -> time, position, headroom (None when the line went out as a `Call`) and status
# of its newest line with rate-limit headroom.
_Latest = dict[str | None, tuple[float, int, tuple | None, int | None]]


class _Layout:
    """The key order of one JSON log_format, for reading lines without a JSON decoder.

    Valid only for lines with no backslash, where every `"` delimits a key or
    a value: split on `"`, a line `{"k0":"v0","k1":"v1"}` has its keys at
    every fourth place from 1, its values two places after their key, and
    `{`, `:`, `,` ... `:`, `}` between them. `values` returns None for any
    other line (another layout, a truncated line, an unquoted value, other
    separators), so the caller falls back to `json.loads`, which reads a
    line the way this does or not at all.
    """

    __slots__ = ("keys", "parts", "separators", "pick")

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.parts = 4 * len(keys) + 1
        self.separators = ["{", *[":", ","] * (len(keys) - 1), ":", "}"]
        where = {key: 4 * i + 3 for i, key in enumerate(keys)}
        # A key the format lacks reads the empty string appended to each line's parts.
        self.pick = itemgetter(*[where.get(key, -1) for key in _JSON_KEYS])

    @classmethod
    def learn(cls, obj: dict[str, Any]) -> _Layout | None:
        if obj and all(type(v) is str for v in obj.values()):
            return cls(list(obj))
        return None

    @classmethod
    def learn_from(cls, line: str) -> _Layout | None:
        """The layout of one line, if it is an nginx JSON record."""
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return None
        return cls.learn(obj) if isinstance(obj, dict) and "status" in obj else None

    def values(self, line: str) -> tuple[str, ...] | None:
        parts = line.split('"')
        if len(parts) != self.parts or parts[::2] != self.separators or parts[1::4] != self.keys:
            return None
        parts.append("")
        return self.pick(parts)


class NginxParser(Parser):
    name = NAME

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._layout: _Layout | None = None
        self._stamps: dict[str, float] = {}
        self._ms: dict[str, float] = {}
        self._resets: dict[str, float | None] = {"": None, "-": None}
        # Whether the sink takes failed calls in bulk too (a summary's store); calls of a status
        # below `_bulk_below` go to it in bulk, the others whole (as `Call`s).
        self._failures_in_bulk = getattr(self.sink, "bulk_failures", False)
        self._bulk_below = 600 if self._failures_in_bulk else 400

    def feed(self, line: str) -> None:
        self.feed_many([line])

    def feed_many(self, lines: list[str]) -> None:
        """Parse a batch; successful calls go to a bulk sink as columns, not `Call`s.

        The engine's sink takes successes in bulk (`bulk`): they need no
        pricing (no tokens) and are never kept whole. A failed call is a
        `Call`, unless the sink takes failed calls in bulk too
        (`bulk_failures`); so is any call for a sink without `bulk`. In a big
        batch the plain lines of the calls that go in bulk are read all at
        once (`nginx_columns`) and the per-line path reads the others.
        """
        bulk = getattr(self.sink, "bulk", None)
        if bulk is None:
            self._feed_lines(enumerate(lines), None, {})
            return
        part = max(COLUMNS_MIN_LINES, COLUMNS_PART_BYTES // (len(lines[0]) + 1)) if lines else 0
        if len(lines) > part and not hasattr(lines, "data"):  # a `LineBlock` of bytes is a part already
            for start in range(0, len(lines), part):
                self.feed_many(lines[start:start + part])
            return
        groups: _Groups = {}
        latest: _Latest = {}
        columns = self._columns(lines, latest) if len(lines) >= COLUMNS_MIN_LINES else None
        if columns is None:
            self._feed_lines(enumerate(lines), groups, latest)
        else:
            rest = _positions_not_in(columns.index, len(lines))
            self._feed_lines(zip(rest, [lines[i] for i in rest]), groups, latest)
        for (model, code), (times, latencies, _) in _with_columns(groups, columns):
            won = latest.get(model)
            ratelimit = None
            if won is not None and won[2] is not None and won[3] == code:
                ratelimit = (won[0], RateLimit(*won[2]))
            bulk(self.source, model, code, times, latencies, ratelimit)

    def _columns(self, lines: list[str], latest: _Latest) -> ColumnCalls | None:
        """The calls of a big batch that go in bulk, read as columns by the layout of its first line.

        JSON lines are read by the learned key order (learned here from the
        first line when none is known yet); the latest headroom among the
        calls taken goes into `latest`.
        """
        from apimon_tui.core import heap
        from apimon_tui.formats import nginx_columns

        heap.keep_freed_blocks()
        if not lines[0].startswith("{"):
            return nginx_columns.combined_calls(lines, self._failures_in_bulk)
        layout = self._layout or _Layout.learn_from(lines[0])
        if layout is None:
            return None
        self._layout = layout
        columns = nginx_columns.json_calls(lines, layout.keys, self._failures_in_bulk)
        if columns.headroom is not None and columns.headroom.any():
            self._note_latest_headroom(lines, layout, columns, latest)
        return columns

    def _note_latest_headroom(self, lines: list[str], layout: _Layout, columns: ColumnCalls, latest: _Latest) -> None:
        """Per model, the newest of the calls taken with rate-limit headroom (see `_json_line`)."""
        import numpy as np

        from apimon_tui.formats import nginx_columns

        with_headroom = np.flatnonzero(columns.headroom)
        models = np.zeros(len(with_headroom), dtype=np.int64) if columns.model is None else columns.model[with_headroom]
        for model_index in nginx_columns.distinct(models):
            rows = with_headroom[models == model_index]
            model = columns.models[model_index] if columns.models else None
            for row in _newest_first(rows, columns):
                position = int(columns.index[row])
                headroom = self._headroom(layout.values(lines[position]))
                if headroom is not None:
                    latest[model] = (float(columns.ts[row]), position, headroom, int(columns.status[row]))
                    break

    def _feed_lines(self, numbered: Iterable[tuple[int, str]], groups: _Groups | None, latest: dict) -> None:
        """The per-line path: each line's call goes to `groups` (in bulk) or out as a `Call`."""
        sink = self.sink
        by_code: dict[int, tuple[Callable, Callable, Callable]] = {}  # the appends of the combined lines' groups
        emit = sink.call
        match = _COMBINED.match
        ms_cache = self._ms
        stamps = self._stamps
        source = self.source
        for position, line in numbered:
            if line.startswith("{"):
                layout = self._layout
                fields = layout.values(line) if layout is not None and "\\" not in line else None
                if fields is None and (fields := self._decode(line)) is None:
                    continue
                try:
                    call = self._json_line(fields, line, position, groups, latest)
                except ValueError as exc:
                    sink.unparsed(str(exc), line)
                    continue
                if call is not None:
                    emit(call)
                continue
            m = match(line)
            if m is None:
                self._not_combined(line)
                continue
            stamp, status, rtime = m.group(1, 4, 5)
            ts = stamps.get(stamp)
            if ts is None:
                try:
                    ts = self._remember_stamp(stamp, local_time_to_epoch(stamp))
                except (ValueError, KeyError):
                    sink.unparsed(f"bad time [{stamp}]", line)
                    continue
            code = _STATUS.get(status)
            if code is None:
                sink.bad_value("status", status)
            latency = None
            if rtime is not None:
                latency = ms_cache.get(rtime)
                if latency is None:
                    latency = self._to_ms(rtime, "request_time")
            if groups is not None and (code is None or code < self._bulk_below):
                append = by_code.get(code)
                if append is None:
                    group = groups.setdefault((None, code), ([], [], []))
                    append = by_code[code] = (group[0].append, group[1].append, group[2].append)
                append[0](ts)
                append[1](latency)
                append[2](position)
                continue
            method, path = m.group(2, 3)
            emit(Call(ts, source, None, path or None, method, None, code, latency, raw=line))

    def _to_ms(self, seconds: str, field: str) -> float | None:
        """`0.025` seconds as 25.0 ms, remembered: the same few thousand values repeat.

        A text that is no usable latency (`abc`, `nan`, `-1`, 1e400) is reported, not remembered.
        """
        try:
            ms = round(float(seconds) * 1000.0, 3)
        except ValueError:
            ms = None
        if ms is None or not 0.0 <= ms <= MAX_MS:
            self.sink.bad_value(field, seconds)
            return None
        if len(self._ms) > _CACHE_LIMIT:
            self._ms.clear()
        self._ms[seconds] = ms
        return ms

    def _remember_stamp(self, stamp: str, ts: float) -> float:
        """Time stamps have one-second resolution: each is converted once."""
        if len(self._stamps) > _CACHE_LIMIT:
            self._stamps.clear()
        self._stamps[stamp] = ts
        return ts

    def _reset(self, value: str) -> float | None:
        """`12ms`, `6m0s`, `1.5s` (x-ratelimit-reset-*) in seconds, remembered like latencies."""
        if len(self._resets) > _CACHE_LIMIT:
            self._resets.clear()
        seconds = self._resets[value] = parse_reset(value)
        return seconds

    def _not_combined(self, line: str) -> None:
        if _LOOKS_LIKE_ACCESS_LINE.match(line):
            self.sink.unparsed("not a combined access log line", line)
        else:
            self.sink.skip()

    # -- JSON ---------------------------------------------------------------

    def _decode(self, line: str) -> tuple[str, ...] | None:
        """The values of a line the learned layout cannot read (None once reported), relearning it."""
        obj = decode_json(line, self.sink)
        if obj is None:
            return None
        if not isinstance(obj, dict) or "status" not in obj:
            self.sink.skip()
            return None
        self._layout = _Layout.learn(obj)
        return _json_values(obj, self.sink)

    def _json_line(
        self,
        line_values: tuple[str, ...],
        line: str,
        position: int,
        groups: _Groups | None,
        latest: _Latest,
    ) -> Call | None:
        """The line's call, or None once it is added to `groups` (in bulk).

        `latest` keeps, per model, the newest line with rate-limit headroom
        (the later line among equal times): its time, its position, its
        headroom when its call is in `groups` (None when it went out as a
        `Call`, which carries its own), and its status.
        """
        (msec, iso, method, uri, status, rtime, upstream_time, processing_ms, openai_id, nginx_id,
         model, rl_limit_req, rl_rem_req, rl_limit_tok, rl_rem_tok, rl_reset_req, rl_reset_tok) = line_values
        ts = float(msec) if msec and msec != "-" else self._iso_time(iso)
        if not MIN_TS <= ts <= MAX_TS:
            raise values.Unusable(f"unusable time {msec or iso!r}")
        code = _STATUS.get(status)
        if code is None and status and status != "-":
            self.sink.bad_value("status", status)
        if rtime and rtime != "-":
            latency = self._ms.get(rtime)
            if latency is None:
                latency = self._to_ms(rtime, "request_time")
        else:
            latency = self._fallback_latency(upstream_time, processing_ms)
        headroom = None
        if rl_rem_req or rl_rem_tok or rl_reset_req or rl_reset_tok or rl_limit_req or rl_limit_tok:
            headroom = self._headroom(line_values)
        model = model if model and model != "-" else None
        if groups is not None:
            in_bulk = code is None or code < self._bulk_below
            if headroom is not None:
                won = latest.get(model)
                if won is None or (won[0], won[1]) <= (ts, position):
                    latest[model] = (ts, position, headroom if in_bulk else None, code)
            if in_bulk:
                group = groups.get((model, code))
                if group is None:
                    group = groups[(model, code)] = ([], [], [])
                group[0].append(ts)
                group[1].append(latency)
                group[2].append(position)
                return None
        if "?" in uri:
            uri = uri.partition("?")[0]
        if openai_id and openai_id != "-":
            request_id = openai_id
        else:
            request_id = nginx_id if nginx_id and nginx_id != "-" else None
        return Call(
            ts, self.source, None, uri or None,
            method if method and method != "-" else None,
            model, code, latency, None, None, None, None, None, request_id,
            ratelimit=None if headroom is None else RateLimit(*headroom), raw=line,
        )

    def _fallback_latency(self, upstream_time: str, processing_ms: str) -> float | None:
        """Latency for a line without `request_time`: the upstream attempts, else the API's own figure."""
        if upstream_time and upstream_time != "-":
            try:
                seconds = upstream_seconds(upstream_time)
            except ValueError:
                seconds = None
                self.sink.bad_value("upstream_response_time", upstream_time)
            if seconds is not None:
                return values.measure(round(seconds * 1000.0, 3), "upstream_response_time", self.sink, MAX_MS)
        if processing_ms and processing_ms != "-":
            try:
                return values.measure(float(processing_ms), "openai_processing_ms", self.sink, MAX_MS)
            except ValueError:
                self.sink.bad_value("openai_processing_ms", processing_ms)
        return None

    def _headroom(self, line_values: tuple[str, ...]) -> tuple | None:
        """The rate-limit figures of a line's values, or None when none of them reads."""
        rl_limit_req, rl_rem_req, rl_limit_tok, rl_rem_tok, rl_reset_req, rl_reset_tok = line_values[-6:]
        resets = self._resets
        reset_req = resets[rl_reset_req] if rl_reset_req in resets else self._reset(rl_reset_req)
        reset_tok = resets[rl_reset_tok] if rl_reset_tok in resets else self._reset(rl_reset_tok)
        headroom = (_int(rl_limit_req), _int(rl_rem_req), _int(rl_limit_tok), _int(rl_rem_tok), reset_req, reset_tok)
        return None if headroom == _NO_HEADROOM else headroom

    def _iso_time(self, iso: str) -> float:
        """`$time_iso8601` as epoch seconds."""
        if not iso or iso == "-":
            return self.clock()
        ts = self._stamps.get(iso)
        if ts is None:
            try:
                ts = self._remember_stamp(iso, datetime.fromisoformat(iso).timestamp())
            except OverflowError:
                raise ValueError(f"bad time {iso!r}") from None
        return ts


def _positions_not_in(taken, count: int) -> list[int]:
    """The positions in range(count) that are not in the sorted array `taken`."""
    import numpy as np

    left = np.ones(count, dtype=bool)
    left[taken] = False
    return np.flatnonzero(left).tolist()


def _newest_first(rows, columns: ColumnCalls) -> Iterator[int]:
    """`rows` of `columns`, newest first; among equal times the later line, as reading line by line would keep.

    The newest is found without sorting, and its headroom nearly always
    reads: the others are put in order only when it does not.
    """
    import numpy as np

    times = columns.ts[rows]
    yield int(rows[times == times.max()][-1])
    yield from rows[np.lexsort((columns.index[rows], times))[-2::-1]].tolist()


def _with_columns(groups: _Groups, columns: ColumnCalls | None) -> list:
    """`groups` with the calls read as columns added, in the order of their first line.

    A group with columns goes on as numpy arrays (NaN: no latency), which the
    store cuts into seconds with numpy; one fed by both paths (a success the
    columns left to the per-line path) gets its calls back in line order.
    """
    if columns is None or not len(columns.index):
        return list(groups.items())
    import numpy as np

    from apimon_tui.formats import nginx_columns

    merged = dict(groups)
    keys = columns.status if columns.model is None else columns.model * 1000 + columns.status
    for key in nginx_columns.distinct(keys):
        pick = keys == key
        model = columns.models[key // 1000] if columns.model is not None else None
        code = key % 1000
        positions, times, latencies = columns.index[pick], columns.ts[pick], columns.latency_ms[pick]
        slow = groups.get((model, code))
        if slow is not None:
            positions = np.concatenate([positions, slow[2]])
            order = np.argsort(positions, kind="stable")
            positions = positions[order]
            times = np.concatenate([times, slow[0]])[order]
            latencies = np.concatenate([latencies, np.array(slow[1], dtype=np.float64)])[order]
        merged[(model, code)] = (times, latencies, positions[:1].tolist())  # numpy columns: NaN, no latency
    return sorted(merged.items(), key=lambda item: item[1][2][0])


def _int(value: str) -> int | None:
    """A rate-limit count; an unreadable or negative header loses the figure, not the call."""
    if not value or value == "-":
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= MAX_RATELIMIT else None


PARSER = NginxParser
