"""`otlp`: OpenTelemetry trace exports (OTLP/JSON, one export request per line).

This is what the collector's `file` exporter writes: each line is one
`{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans": [...]}]}]}`.
A span is a call when it carries the GenAI semantic conventions of an
inference or embeddings operation (`gen_ai.operation.name` = chat,
text_completion, generate_content or embeddings, or no operation name but a
`gen_ai.provider.name` / `gen_ai.system`). Agent, tool, workflow and retrieval
spans and ordinary spans (HTTP, database) are not calls: they wrap or sit
beside the inference spans, and counting them would count calls twice.

Both attribute generations are read: `gen_ai.provider.name` or the older
`gen_ai.system`, `gen_ai.usage.input_tokens` / `output_tokens` or the older
`prompt_tokens` / `completion_tokens`. 64-bit integers arrive as decimal
strings (`"intValue": "10"`, `"startTimeUnixNano": "..."`) or as numbers.
Span status code 2 (ERROR, or its enum name `STATUS_CODE_ERROR`, as the
standard protobuf JSON mapping writes it) marks the call failed, with
`status.message` as the error message and `error.type` as the error code. A line that yields no call
(only other spans, or a metrics or logs export) counts as one skipped line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from math import copysign
from typing import Any

import orjson

from apimon_tui.formats import values
from apimon_tui.formats.base import DOUBTING, QUICK_BRACKETS, Doubt, Parser, Sink, json_object, quick_loads
from apimon_tui.formats.values import MAX_MS, MAX_TOKENS
from apimon_tui.core.model import Call

NAME = "otlp"

CALL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
STATUS_ERROR = 2
STATUS_ERROR_NAME = "STATUS_CODE_ERROR"  # what protobuf's own JSON mapping writes instead of 2
MAX_RAW_CHARS = 4000
MAX_DEPTH = 32  # of arrays and lists in an attribute value
MAX_NANOS = int(values.MAX_TS) * 1_000_000_000
_SPAN_LISTS = ("scopeSpans", "instrumentationLibrarySpans")  # the second: OTLP before 0.15


def sniff(line: str) -> bool:
    return line.startswith("{") and line[1:].lstrip().startswith(('"resourceSpans"', '"resourceMetrics"', '"resourceLogs"'))


def any_value(value: Any, depth: int = 0) -> Any:
    """The Python value of an OTLP/JSON AnyValue (`{"intValue": "10"}` -> 10).

    A number that does not read stays as written, for the field checks to
    report; arrays and lists nested deeper than `MAX_DEPTH` are dropped.
    """
    if not isinstance(value, dict) or depth > MAX_DEPTH:
        return None
    for kind, inner in value.items():
        if kind == "stringValue":
            return inner
        if kind == "intValue":
            return _decimal(inner)
        if kind == "doubleValue":
            return _double(inner)
        if kind == "boolValue":
            return inner if isinstance(inner, bool) else None
        if kind == "arrayValue":
            return [any_value(v, depth + 1) for v in _values(inner)]
        if kind == "kvlistValue":
            return {kv["key"]: any_value(kv.get("value"), depth + 1) for kv in _values(inner) if _is_key_value(kv)}
        if kind == "bytesValue":
            return inner
    return None


def _values(inner: Any) -> list:
    values = inner.get("values") if isinstance(inner, dict) else None
    return values if isinstance(values, list) else []


def _is_key_value(kv: Any) -> bool:
    return isinstance(kv, dict) and type(kv.get("key")) is str


def _decimal(value: Any) -> Any:
    """An int64 as OTLP/JSON writes it (decimal digits or a number) as an int; anything else as it is."""
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _double(value: Any) -> Any:
    """A double as OTLP/JSON writes it (also "NaN" and "Infinity", as proto JSON writes them)."""
    if type(value) is str:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _int(value: Any) -> int | None:
    """A whole number in a span's own fields (times, status code), else None."""
    value = _decimal(value)
    return value if type(value) is int else None


def attributes(items: Any) -> dict[str, Any]:
    """A span's `attributes` list as a dict of decoded values (a lone `stringValue`, the
    usual value, read inline: this runs for every attribute of every span)."""
    if not isinstance(items, list):
        return {}
    out = {}
    for kv in items:
        if isinstance(kv, dict) and type(key := kv.get("key")) is str:
            value = kv.get("value")
            if type(value) is dict and len(value) == 1 and "stringValue" in value:
                out[key] = value["stringValue"]
            else:
                out[key] = any_value(value)
    return out


def is_call(attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return type(operation) is str and operation in CALL_OPERATIONS
    return attrs.get("gen_ai.provider.name") is not None or attrs.get("gen_ai.system") is not None


def _name(attrs: dict[str, Any], sink: Sink, *keys: str) -> str | None:
    """The first of `keys` that is set, when it is text."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value if type(value) is str else values.text(value, key, sink)
    return None


def _count(attrs: dict[str, Any], sink: Sink, *keys: str) -> int | None:
    """The first of `keys` that is set, as a token count (any_value has decoded the usual `intValue`)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            if type(value) is int and 0 <= value <= MAX_TOKENS:
                return value
            return values.count(_decimal(value), key, sink)
    return None


def _span_time(span: dict[str, Any], key: str) -> tuple[int | None, bool]:
    """(Unix nanoseconds, whether usable) of a span time; 0 or absent is unset (None, usable)."""
    value = span.get(key)
    if value is None or value == 0 or value == "0":
        return None, True
    nanos = _decimal(value)
    if type(nanos) is int and 0 < nanos <= MAX_NANOS:
        return nanos, True
    return None, False


def _span_text(span: dict[str, Any]) -> str:
    try:
        return json.dumps(span, separators=(",", ":"))[:MAX_RAW_CHARS]
    except (RecursionError, ValueError):
        return values.shown(span, MAX_RAW_CHARS)


def span_call(span: dict[str, Any], attrs: dict[str, Any], source: str, sink: Sink = values.QUIET) -> Call:
    """The call a GenAI span describes; raises ValueError when neither of its times is usable.

    Any other value it cannot use is unknown in the call and reported to `sink`.
    """
    start, start_ok = _span_time(span, "startTimeUnixNano")
    end, end_ok = _span_time(span, "endTimeUnixNano")
    if start is None and end is None:
        raise values.Unusable(f"span {values.shown(span.get('name'))} has no usable start or end time")
    for key, ok in (("startTimeUnixNano", start_ok), ("endTimeUnixNano", end_ok)):
        if not ok:
            sink.bad_value(key, span.get(key))
    latency = None
    if start is not None and end is not None:
        latency = values.measure((end - start) / 1e6, "latency_ms", sink, MAX_MS)
    ttft_s = values.measure(_double(attrs.get("gen_ai.response.time_to_first_chunk")),
                            "gen_ai.response.time_to_first_chunk", sink, MAX_MS / 1000.0)
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    failed = _is_error_status(status.get("code"))
    stream = attrs.get("gen_ai.request.stream")
    if stream is not None and type(stream) is not bool:
        sink.bad_value("gen_ai.request.stream", stream)
        stream = None
    # Read in this order (the order bad values are reported in), then built by position:
    # keywords cost a microsecond a call.
    provider = _name(attrs, sink, "gen_ai.provider.name", "gen_ai.system")
    endpoint = values.text(attrs.get("gen_ai.operation.name"), "gen_ai.operation.name", sink)
    method = values.text(attrs.get("http.request.method"), "http.request.method", sink)
    model = _name(attrs, sink, "gen_ai.response.model", "gen_ai.request.model")
    http_status = values.status(_decimal(attrs.get("http.response.status_code")), "http.response.status_code", sink)
    input_tokens = _count(attrs, sink, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    output_tokens = _count(attrs, sink, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    cached_tokens = _count(attrs, sink, "gen_ai.usage.cache_read.input_tokens")
    cache_write_tokens = _count(attrs, sink, "gen_ai.usage.cache_creation.input_tokens")
    request_id = values.identifier(attrs.get("gen_ai.response.id"), "gen_ai.response.id", sink)
    error_code = values.identifier(attrs.get("error.type"), "error.type", sink)
    error_message = values.text(status.get("message"), "status.message", sink) or None
    call = Call((end if end is not None else start) / 1e9, source, provider, endpoint, method, model, http_status,
                latency, ttft_s * 1000.0 if ttft_s is not None else None, input_tokens, output_tokens,
                cached_tokens, None, request_id, None, error_code, error_message, failed, stream, None, 0, None,
                None, None, cache_write_tokens)
    if call.is_error:
        call.raw = _span_text(span)
    return call


def _is_error_status(code: Any) -> bool:
    """Status code ERROR, as the number OTLP/JSON uses or the enum name protobuf's JSON mapping writes."""
    return code == STATUS_ERROR_NAME or _int(code) == STATUS_ERROR


def _spans(obj: dict[str, Any]):
    """The spans of an export, wherever its lists hold what OTLP says they hold."""
    for resource_spans in obj.get("resourceSpans") or []:
        if not isinstance(resource_spans, dict):
            continue
        for key in _SPAN_LISTS:
            scope_list = resource_spans.get(key)
            for scope_spans in scope_list if isinstance(scope_list, list) else ():
                spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
                if isinstance(spans, list):
                    yield from (s for s in spans if isinstance(s, dict))


_OPEN_BRACE = ord("{")
_BRACKET = ord("{")  # "[" | 0x20 is "{" too, and no other byte is


def _deep_lines(data: bytes, ends: Any) -> set[int]:
    """The lines of a block with more brackets than `quick_loads` leaves to orjson (see there),
    counted for the whole block at once, in one array."""
    import numpy as np  # a block is numpy's already (`LineBlock`)

    if not len(ends):
        return set()
    marks = np.bitwise_or(np.frombuffer(data, dtype=np.uint8, count=int(ends[-1]) + 1), 0x20)
    brackets = np.equal(marks, _BRACKET, out=marks.view(bool))
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    per_line = np.add.reduceat(brackets, starts, dtype=np.int32)
    return set(np.flatnonzero(per_line > QUICK_BRACKETS).tolist())


# -- the plain reading: the usual export, read without building an attribute dict --------------------

# The attributes a call is read from, each at its place in the list `_plain_call` fills, and the
# one kind of AnyValue the plain reading takes for each: texts first.
_PLAIN_KINDS = {
    "gen_ai.operation.name": "stringValue", "gen_ai.provider.name": "stringValue", "gen_ai.system": "stringValue",
    "gen_ai.response.model": "stringValue", "gen_ai.request.model": "stringValue",
    "gen_ai.response.id": "stringValue", "error.type": "stringValue", "http.request.method": "stringValue",
    "gen_ai.usage.input_tokens": "intValue", "gen_ai.usage.prompt_tokens": "intValue",
    "gen_ai.usage.output_tokens": "intValue", "gen_ai.usage.completion_tokens": "intValue",
    "gen_ai.usage.cache_read.input_tokens": "intValue", "gen_ai.usage.cache_creation.input_tokens": "intValue",
    "http.response.status_code": "intValue",
    "gen_ai.request.stream": "boolValue", "gen_ai.response.time_to_first_chunk": "doubleValue",
}
_PLAIN_SLOT = {key: slot for slot, key in enumerate(_PLAIN_KINDS)}
_PLAIN_KIND = tuple(_PLAIN_KINDS.values())  # by slot
_TEXTS = 8  # the first eight slots hold texts
_NO_VALUES = [None] * len(_PLAIN_KINDS)
_TEXT_TYPES = frozenset({str, type(None)})
_NUMBERS = (int, float)


class _NotPlain(Exception):
    """A value the plain reading does not vouch for: the export is read the general way."""


# What stops the plain reading: a value not of the usual kind (`_NotPlain`, or KeyError for a
# lone value of another kind), a part of the export missing (KeyError) or of another type
# (TypeError: a list where a dict belongs), a number that does not read (ValueError).
_PLAIN_MISSES = (_NotPlain, LookupError, TypeError, ValueError)


def _plain_calls(obj: dict[str, Any], source: str, raw: bool = True) -> list[tuple]:
    """The fields of the calls of an export (`_plain_call`), when every part and value read is of
    the usual kind; raises one of `_PLAIN_MISSES` otherwise (the general readers then give the
    figures, bad values and all). Without `raw`, a failed call's span is not written back as its
    raw text (a store that keeps no failed call whole reads none)."""
    calls = []
    for resource_spans in obj["resourceSpans"]:
        if "instrumentationLibrarySpans" in resource_spans:
            raise _NotPlain("instrumentationLibrarySpans")
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                fields = _plain_call(span, source, raw)
                if fields is not None:
                    calls.append(fields)
    return calls


def _plain_call(span: dict[str, Any], source: str, raw: bool = True) -> tuple | None:
    """The fields of the `Call` that `span_call` makes of a span (`Call(*fields)`), when every
    value read is plain: a lone AnyValue of the kind `_PLAIN_KINDS` names for it, holding text,
    a whole number in bounds, a number in bounds or a bool; and usable times. None when the
    span is no call (`is_call`). The attributes are looked up in one pass over the list, the
    others skipped unread. Fields, not a `Call`: a block's plain calls go to the store as
    columns (`_Columns`) and need none.

    Inlined where it runs once per attribute or call: a function call costs more than a check.
    """
    got = _NO_VALUES.copy()
    plain_slot, kinds = _PLAIN_SLOT.get, _PLAIN_KIND
    for kv in span["attributes"]:
        slot = plain_slot(kv["key"])
        if slot is not None:
            value = kv["value"]
            if len(value) != 1:
                raise _NotPlain(kv["key"])
            got[slot] = value[kinds[slot]]  # a lone value of another kind: KeyError
    if not _TEXT_TYPES.issuperset(map(type, got[:_TEXTS])):
        raise _NotPlain("stringValue")
    (operation, provider, system, response_model, request_model, response_id, error_type, method,
     input_tokens, prompt_tokens, output_tokens, completion_tokens, cache_read, cache_write, http_status,
     stream, ttft) = got
    if provider is None:
        provider = system
    if operation not in CALL_OPERATIONS and (operation is not None or provider is None):
        return None
    start, end = span.get("startTimeUnixNano"), span.get("endTimeUnixNano")
    if type(start) is str and type(end) is str and start != "0" and end != "0":  # the usual: both written
        start, end = int(start), int(end)
        latency = (end - start) / 1e6
        if not (0 < start <= MAX_NANOS and 0 < end <= MAX_NANOS and 0 <= latency <= MAX_MS):
            raise _NotPlain("time")
    else:
        start, end = _plain_nanos(start), _plain_nanos(end)
        latency = None
        if start is not None and end is not None:
            latency = (end - start) / 1e6
            if not 0 <= latency <= MAX_MS:
                raise _NotPlain("latency_ms")
        elif end is None:
            if start is None:
                raise _NotPlain("no time")
            end = start
    status = span.get("status")
    if type(status) is not dict:
        status = {}
    message = status.get("message")
    if message is not None and type(message) is not str:
        raise _NotPlain("status.message")
    code = status.get("code")
    if input_tokens is None:
        input_tokens = prompt_tokens
    if output_tokens is None:
        output_tokens = completion_tokens
    if ttft is not None:
        if type(ttft) not in _NUMBERS or not 0 <= ttft <= MAX_MS / 1000.0 or copysign(1, ttft) < 0:
            raise _NotPlain("doubleValue")  # (-0.0 too: columns keep no sign of zero)
        ttft *= 1000.0
    if stream is not None and type(stream) is not bool:
        raise _NotPlain("boolValue")
    if http_status is not None:
        http_status = _plain_whole(http_status, values.MIN_STATUS, values.MAX_STATUS)
    failed = code is not None and _is_error_status(code)
    model = request_model if response_model is None else response_model
    if type(input_tokens) is str and type(output_tokens) is str:  # the usual: both counted, as text
        input_tokens, output_tokens = int(input_tokens), int(output_tokens)
        if not (0 <= input_tokens <= MAX_TOKENS and 0 <= output_tokens <= MAX_TOKENS):
            raise _NotPlain("intValue")
    else:
        input_tokens = None if input_tokens is None else _plain_whole(input_tokens, 0, MAX_TOKENS)
        output_tokens = None if output_tokens is None else _plain_whole(output_tokens, 0, MAX_TOKENS)
    return (end / 1e9, source, provider, operation, method, model, http_status, latency, ttft, input_tokens,
            output_tokens,
            None if cache_read is None else _plain_whole(cache_read, 0, MAX_TOKENS), None, response_id, None,
            error_type, message or None, failed, stream, None, 0, None, None,
            _plain_raw(span) if raw and (failed or (http_status is not None and http_status >= 400)) else None,
            None if cache_write is None else _plain_whole(cache_write, 0, MAX_TOKENS))


def _plain_whole(number: Any, low: int, high: int) -> int:
    """An `intValue` from `low` to `high`, written as decimal digits (as OTLP/JSON writes int64) or a number."""
    if type(number) is str:
        number = int(number)
    if type(number) is not int or not low <= number <= high:
        raise _NotPlain("intValue")
    return number


def _plain_nanos(value: Any) -> int | None:
    """A span time: "0" or absent is unset (None); otherwise it must be usable."""
    if value is None or value == "0":
        return None
    nanos = int(value) if type(value) is str else value
    if type(nanos) is not int or not 0 < nanos <= MAX_NANOS:
        raise _NotPlain("time")
    return nanos


def _plain_raw(span: dict[str, Any]) -> str:
    """`_span_text`, for a span orjson decoded: `json` decodes the same values but for an integer
    past 64 bits, which orjson makes a float of 2**63 or more, written with an exponent ("e+")."""
    try:
        text = json.dumps(span, separators=(",", ":"))
    except (RecursionError, ValueError):
        raise _NotPlain("raw") from None
    if "e+" in text:
        raise _NotPlain("raw")
    return text[:MAX_RAW_CHARS]


# The places of a few `Call` fields in the tuples `_plain_call` gives.
_TS, _PROVIDER, _MODEL, _STATUS, _LATENCY, _TTFT, _INPUT, _OUTPUT, _CACHED, _CODE, _MESSAGE, _FAILED, _CACHE_WRITE = (
    0, 2, 5, 6, 7, 8, 9, 10, 11, 15, 16, 17, 24)


class _Columns:
    """The plain calls of a block, gathered for `Sink.columns` (`core.columns.CallColumns`).

    A call the store also needs whole comes as a `Call` too: one that wrote to
    the prompt cache (priced from the whole call), and a failed one (the ring
    of failed calls and the error groups take it) unless the store keeps no
    failed call whole (`failures`: a summary's), which counts a failed row in
    its error group by its code and message.
    """

    __slots__ = ("source", "failures", "rows", "whole")

    def __init__(self, source: str, failures: bool) -> None:
        self.source = source
        self.failures = failures
        self.rows: list[tuple] = []
        self.whole: list[tuple[int, Call]] = []

    def add(self, calls: list[tuple]) -> None:
        rows, failures = self.rows, self.failures
        for fields in calls:
            status = fields[_STATUS]
            if fields[_CACHE_WRITE] or (not failures and (fields[_FAILED] or (status is not None and status >= 400))):
                self.whole.append((len(rows), Call(*fields)))
            rows.append(fields)

    def hand(self, sink: Sink) -> None:
        """Hand what was gathered to `sink` as columns, and start again."""
        if not self.rows:
            return
        import numpy as np  # a block is numpy's already (`LineBlock`)

        from apimon_tui.core.columns import CallColumns

        rows, whole = self.rows, self.whole
        self.rows, self.whole = [], []
        fields = list(zip(*rows))

        def floats(at: int) -> Any:
            return np.array(fields[at], dtype=np.float64)  # None: NaN

        model, models = _indexes(fields[_MODEL])
        provider, providers = _indexes(fields[_PROVIDER])
        code, codes = _indexes(fields[_CODE])
        status = np.nan_to_num(floats(_STATUS)).astype(np.int64)
        failed, output = np.array(fields[_FAILED], dtype=bool), floats(_OUTPUT)
        cost = np.full(len(rows), np.nan)
        message = messages = None
        if self.failures:  # failed rows: their message for their group, and the cost `Pricer.estimate` gives
            message, messages = _indexes(tuple(text or "" for text in fields[_MESSAGE]))
            cost[(failed | (status >= 400)) & ~(output > 0)] = 0.0
        sink.columns(CallColumns(
            self.source, floats(_TS), model, models, status, floats(_LATENCY), floats(_TTFT), floats(_INPUT), output,
            floats(_CACHED), floats(_CACHE_WRITE), cost, failed, code, codes, provider, providers, None, None, whole,
            message, messages or [""],
        ))


def _indexes(names: tuple) -> tuple[Any, list]:
    """Each name's place in the list of the distinct names (in order of first appearance), and that list."""
    import numpy as np

    distinct = list(dict.fromkeys(names))
    place = {name: i for i, name in enumerate(distinct)}
    return np.fromiter(map(place.__getitem__, names), dtype=np.int64, count=len(names)), distinct


class OtlpParser(Parser):
    name = NAME

    def feed_many(self, lines: Sequence[str]) -> None:
        """`feed` each line; a `LineBlock`'s lines (a big file read as bytes: sources/lines.py) are
        decoded by orjson from their bytes, so the block is never decoded and split into `str`s,
        and their plain calls go to a sink that takes columns (`Sink.columns`) as columns.

        A line that is not plain goes on as `feed` would take it, from its `str`, after the
        columns of the plain lines before it: the store gets every call in log order.
        """
        data = getattr(lines, "data", None)
        if data is None:
            super().feed_many(lines)
            return
        from apimon_tui.formats.json_columns import no_cycle_collection  # numpy's, as a block is

        failures = getattr(self.sink, "bulk_failures", False)
        columns = _Columns(self.source, failures) if getattr(self.sink, "columns", None) is not None else None
        deep = _deep_lines(data, lines.ends)
        view, start, source = memoryview(data), 0, self.source
        with no_cycle_collection():  # the block's objects hold no cycles
            for i, end in enumerate(lines.ends.tolist()):
                obj = None
                if data[start] == _OPEN_BRACE and i not in deep:  # as `feed`: a line that starts an object
                    try:
                        obj = orjson.loads(view[start:end])
                    except ValueError:  # also bytes not UTF-8, which the line's `str` reads as U+FFFD
                        pass
                start = end + 1
                if type(obj) is dict and columns is not None:
                    try:
                        calls = _plain_calls(obj, source, not failures)
                    except _PLAIN_MISSES:
                        pass
                    else:
                        if calls:
                            columns.add(calls)
                        else:
                            self.sink.skip()
                        continue
                    columns.hand(self.sink)
                    if not self._feed_quickly(obj):
                        self._feed_carefully(lines[i])
                elif type(obj) is not dict:
                    if columns is not None:
                        columns.hand(self.sink)
                    self.feed(lines[i])
                elif not (self._feed_plainly(obj) or self._feed_quickly(obj)):
                    self._feed_carefully(lines[i])
            if columns is not None:
                columns.hand(self.sink)

    def feed(self, line: str) -> None:
        if line.startswith("{"):
            obj = quick_loads(line)
            if type(obj) is dict and (self._feed_plainly(obj) or self._feed_quickly(obj)):
                return
        self._feed_carefully(line)

    def _feed_plainly(self, obj: dict[str, Any]) -> bool:
        """The calls of an export whose every value read is plain (see `_plain_call`); False
        (nothing reported) to leave it to the general readers."""
        try:
            calls = _plain_calls(obj, self.source)
        except _PLAIN_MISSES:
            return False
        sink = self.sink
        for fields in calls:
            sink.call(Call(*fields))
        if not calls:
            sink.skip()
        return True

    def _feed_quickly(self, obj: dict[str, Any]) -> bool:
        """The calls of an export orjson decoded; False (nothing reported) to leave the line to the
        careful path: a doubtful value, an unusable span, or a failed call, whose raw text is its
        span as `json` decodes it."""
        if not isinstance(obj.get("resourceSpans"), list):
            self.sink.skip()  # metrics and logs exports, other JSON
            return True
        calls = []
        try:
            for span in _spans(obj):
                attrs = attributes(span.get("attributes"))
                if is_call(attrs):
                    call = span_call(span, attrs, self.source, DOUBTING)
                    if call.is_error:
                        return False
                    calls.append(call)
        except (Doubt, values.Unusable):
            return False
        for call in calls:
            self.sink.call(call)
        if not calls:
            self.sink.skip()
        return True

    def _feed_carefully(self, line: str) -> None:
        obj = json_object(line, self.sink)
        if obj is None:
            return
        if not isinstance(obj.get("resourceSpans"), list):
            self.sink.skip()  # metrics and logs exports, other JSON
            return
        reported = 0
        for span in _spans(obj):
            attrs = attributes(span.get("attributes"))
            if not is_call(attrs):
                continue
            try:
                call = span_call(span, attrs, self.source, self.sink)
            except values.Unusable as exc:
                self.sink.unparsed(str(exc), _span_text(span))
            else:
                self.sink.call(call)
            reported += 1
        if not reported:
            self.sink.skip()


PARSER = OtlpParser
