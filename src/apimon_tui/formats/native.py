"""`native`: apimon-tui's own JSON-lines call record (schema version 1).

One JSON object per line, written by the capture hook and the demo, and the
richest record apimon-tui reads. The marker key `"apimon": 1` names the
schema version, so a reader can tell these lines from any other JSON log.

    {"apimon": 1, "ts": 1764201600.123, "provider": "openai",
     "endpoint": "/v1/chat/completions", "method": "POST", "model": "gpt-4o",
     "status": 429, "latency_ms": 812.0, "ttft_ms": null, "stream": false,
     "input_tokens": 120, "output_tokens": 0, "cached_tokens": 0,
     "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "cost_usd": 0.0,
     "request_id": "req_...", "attempt": 1,
     "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "..."},
     "ratelimit": {"limit_requests": 5000, "remaining_requests": 0,
                   "limit_tokens": 4000000, "remaining_tokens": 3998000,
                   "reset_requests_s": 0.012, "reset_tokens_s": 6.0},
     "tags": {"host": "api-1"}}

Only `apimon` and `ts` are required; every other key may be absent or null.
`input_tokens` counts the whole prompt; `cached_tokens` (cache reads) and
`cache_write_tokens` (cache writes, of which `cache_write_1h_tokens` have
Anthropic's 1-hour lifetime) are parts of it, never added to it.
`failed: true` marks a call that failed without an error status: no HTTP
answer (timeout, connection error), or a stream that broke or sent an error
event after its 200.

`stream_ended` says how a captured stream (a `text/event-stream` answer) ended:

* `"complete"`: read to its end, or to the provider's last event (`data: [DONE]`,
  `event: message_stop`, `response.completed`);
* `"incomplete"`: the Responses API ended it with `response.incomplete`: an
  answer cut short, not a failure; `incomplete_reason` holds the event's
  `incomplete_details.reason` (`max_output_tokens`, `content_filter`...) when given;
* `"error"`: an error event came after the 200 (OpenAI `data: {"error": {...}}`,
  Anthropic `event: error`, the Responses API's `error` event), or the Responses
  API ended it with `response.failed`; `failed` is true and `error` holds the
  error's type, code and message;
* `"broken"`: the connection failed part-way; `failed` is true and `error` names the exception;
* `"abandoned"`: the application stopped before the end: it closed the stream early,
  let it be garbage-collected, or exited with it open. Tokens are what was seen
  so far (unknown when the final usage event was not reached).
"""

from __future__ import annotations

from typing import Any

from apimon_tui.formats.column_batches import ColumnBatches
from apimon_tui.formats.base import DOUBTING, Doubt, Parser, Sink, json_object, quick_loads
from apimon_tui.formats.values import (
    MAX_ATTEMPT, MAX_COST_USD, MAX_IDENTIFIER, MAX_MS, MAX_RATELIMIT, MAX_RESET_S, MAX_STATUS, MAX_TOKENS, MAX_TS,
    MIN_STATUS, MIN_TS, QUIET, Unusable, identifier, shown, text,
)
from apimon_tui.core.model import Call, RateLimit

NAME = "native"
SCHEMA_VERSION = 1
_RATELIMIT_KEYS = RateLimit.__slots__
STREAM_ENDINGS = ("complete", "incomplete", "error", "broken", "abandoned")


def sniff(line: str) -> bool:
    return line.startswith("{") and '"apimon"' in line


def to_record(call: Call) -> dict[str, Any]:
    """The native JSON object for a call (the inverse of `from_record`)."""
    record: dict[str, Any] = {"apimon": SCHEMA_VERSION, "ts": round(call.ts, 6)}
    for key in (
        "provider", "endpoint", "method", "model", "status", "latency_ms", "ttft_ms",
        "stream", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
        "cache_write_1h_tokens", "cost_usd", "request_id", "attempt",
    ):
        value = getattr(call, key)
        if value is not None:
            record[key] = value
    if call.failed:
        record["failed"] = True
    if call.stream_ended is not None:
        record["stream_ended"] = call.stream_ended
    if call.incomplete_reason is not None:
        record["incomplete_reason"] = call.incomplete_reason
    if call.error_type or call.error_code or call.error_message:
        record["error"] = {"type": call.error_type, "code": call.error_code, "message": call.error_message}
    if call.ratelimit is not None and not call.ratelimit.is_empty():
        record["ratelimit"] = {k: getattr(call.ratelimit, k) for k in _RATELIMIT_KEYS if getattr(call.ratelimit, k) is not None}
    if call.tags:
        record["tags"] = call.tags
    return record


_NUMBER = (int, float)
_TEXT_KEYS = ("provider", "endpoint", "method", "model", "request_id")
_TEXT_OR_NONE = frozenset({str, type(None)})
_RATELIMIT_FIELDS = tuple(
    (key, 0, MAX_RESET_S if key.startswith("reset") else MAX_RATELIMIT, not key.startswith("reset"))
    for key in _RATELIMIT_KEYS
)


def _repaired(key: str, value: Any, low: float, high: float, whole: bool, sink: Sink) -> int | float | None:
    """A number that failed the fast check: a whole float taken as an int, anything else reported."""
    if whole and type(value) is float and value.is_integer() and low <= value <= high:
        return int(value)
    sink.bad_value(key, value)
    return None


def _checked(obj: dict[str, Any], fields: tuple, sink: Sink, prefix: str = "") -> None:
    """Set each numeric field of `obj` that is not a number within its bounds to None, reported.

    One type check and one chained comparison per field (NaN fails it);
    the rare value that fails goes to `_repaired`.
    """
    get = obj.get
    for key, low, high, whole in fields:
        value = get(key)
        if value is not None and (type(value) not in _NUMBER or not low <= value <= high
                                  or (whole and type(value) is float)):
            obj[key] = _repaired(prefix + key, value, low, high, whole, sink)


def _drop_non_texts(obj: dict[str, Any], sink: Sink) -> None:
    for key in _TEXT_KEYS:
        value = obj.get(key)
        if value is not None and type(value) is not str:
            sink.bad_value(key, value)
            obj[key] = None


def _ratelimit(rl: Any, sink: Sink) -> RateLimit | None:
    """The headroom of a record: one type check and one chained comparison per figure
    (the usual case), else `_checked`, which reports and drops what does not fit."""
    if not isinstance(rl, dict):
        sink.bad_value("ratelimit", rl)
        return None
    get = rl.get
    limit_requests, remaining_requests = get("limit_requests"), get("remaining_requests")
    limit_tokens, remaining_tokens = get("limit_tokens"), get("remaining_tokens")
    reset_requests, reset_tokens = get("reset_requests_s"), get("reset_tokens_s")
    if ((limit_requests is None or type(limit_requests) is int and 0 <= limit_requests <= MAX_RATELIMIT)
            and (remaining_requests is None or type(remaining_requests) is int
                 and 0 <= remaining_requests <= MAX_RATELIMIT)
            and (limit_tokens is None or type(limit_tokens) is int and 0 <= limit_tokens <= MAX_RATELIMIT)
            and (remaining_tokens is None or type(remaining_tokens) is int and 0 <= remaining_tokens <= MAX_RATELIMIT)
            and (reset_requests is None or type(reset_requests) in _NUMBER and 0 <= reset_requests <= MAX_RESET_S)
            and (reset_tokens is None or type(reset_tokens) in _NUMBER and 0 <= reset_tokens <= MAX_RESET_S)):
        return RateLimit(limit_requests, remaining_requests, limit_tokens, remaining_tokens, reset_requests, reset_tokens)
    _checked(rl, _RATELIMIT_FIELDS, sink, "ratelimit.")
    return RateLimit(*[rl.get(k) for k in _RATELIMIT_KEYS])


def _error(error: Any, sink: Sink) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) of the `error` object; a bare string is its message."""
    if type(error) is str:
        return None, None, error or None
    if not isinstance(error, dict):
        sink.bad_value("error", error)
        return None, None, None
    return (text(error.get("type"), "error.type", sink), identifier(error.get("code"), "error.code", sink),
            text(error.get("message"), "error.message", sink))


def _tags(tags: Any, sink: Sink) -> dict[str, str] | None:
    """Tags are names to texts; a number or flag is written as text, anything else is reported."""
    if not isinstance(tags, dict):
        sink.bad_value("tags", tags)
        return None
    out = {}
    for key, value in tags.items():
        if type(value) in (str, float, bool) or type(value) is int and abs(value) < MAX_IDENTIFIER:
            out[key] = str(value)
        else:
            sink.bad_value(f"tags.{key}", value)
    return out


def from_record(obj: dict[str, Any], source: str = "", raw: str | None = None, sink: Sink = QUIET) -> Call:
    """Build a Call from a native record; raises ValueError when its time is not usable.

    Any other field that is not a usable value is unknown in the call and
    reported to `sink`. Written for speed (it runs once per line): each
    number is checked by its type and one chained comparison with its bounds
    (NaN fails it), field by field with no loop; the rare value that fails
    goes to `_repaired`. A count must be an int, a measure an int or a float.
    """
    get = obj.get
    ts = get("ts")
    if type(ts) not in _NUMBER or not MIN_TS <= ts <= MAX_TS:
        raise Unusable(f"unusable time {shown(ts)}" if "ts" in obj else "no time (ts)")
    status = get("status")
    if status is not None and (type(status) is not int or not MIN_STATUS <= status <= MAX_STATUS):
        status = _repaired("status", status, MIN_STATUS, MAX_STATUS, True, sink)
    latency = get("latency_ms")
    if latency is not None and (type(latency) not in _NUMBER or not 0 <= latency <= MAX_MS):
        latency = _repaired("latency_ms", latency, 0, MAX_MS, False, sink)
    ttft = get("ttft_ms")
    if ttft is not None and (type(ttft) not in _NUMBER or not 0 <= ttft <= MAX_MS):
        ttft = _repaired("ttft_ms", ttft, 0, MAX_MS, False, sink)
    inp = get("input_tokens")
    if inp is not None and (type(inp) is not int or not 0 <= inp <= MAX_TOKENS):
        inp = _repaired("input_tokens", inp, 0, MAX_TOKENS, True, sink)
    out = get("output_tokens")
    if out is not None and (type(out) is not int or not 0 <= out <= MAX_TOKENS):
        out = _repaired("output_tokens", out, 0, MAX_TOKENS, True, sink)
    cached = get("cached_tokens")
    if cached is not None and (type(cached) is not int or not 0 <= cached <= MAX_TOKENS):
        cached = _repaired("cached_tokens", cached, 0, MAX_TOKENS, True, sink)
    written = get("cache_write_tokens")
    if written is not None and (type(written) is not int or not 0 <= written <= MAX_TOKENS):
        written = _repaired("cache_write_tokens", written, 0, MAX_TOKENS, True, sink)
    written_1h = get("cache_write_1h_tokens")
    if written_1h is not None and (type(written_1h) is not int or not 0 <= written_1h <= MAX_TOKENS):
        written_1h = _repaired("cache_write_1h_tokens", written_1h, 0, MAX_TOKENS, True, sink)
    cost = get("cost_usd")
    if cost is not None and (type(cost) not in _NUMBER or not 0 <= cost <= MAX_COST_USD):
        cost = _repaired("cost_usd", cost, 0, MAX_COST_USD, False, sink)
    attempt = get("attempt")
    if attempt is not None and (type(attempt) is not int or not 0 <= attempt <= MAX_ATTEMPT):
        attempt = _repaired("attempt", attempt, 0, MAX_ATTEMPT, True, sink)
    if not _TEXT_OR_NONE.issuperset(map(type, map(get, _TEXT_KEYS))):  # (one pass in C: the usual case)
        _drop_non_texts(obj, sink)
    stream = get("stream")
    if stream is not None and type(stream) is not bool:
        sink.bad_value("stream", stream)
        stream = None
    failed = get("failed")
    if failed is not None and type(failed) is not bool:
        sink.bad_value("failed", failed)
        failed = False
    rl = get("ratelimit")
    tags = get("tags")
    error = get("error")
    call = Call(  # every field by position: keywords cost a microsecond a call
        ts,
        source,
        get("provider"),
        get("endpoint"),
        get("method"),
        get("model"),
        status,
        latency,
        ttft,
        inp,
        out,
        cached,
        cost,
        get("request_id"),
        None,  # error_type, error_code, error_message: below
        None,
        None,
        bool(failed),
        stream,
        None,  # stream_ended: below
        attempt or 0,
        None if rl is None else _ratelimit(rl, sink),
        None if tags is None else _tags(tags, sink),
        raw,
        written,
        written_1h,
    )
    ended = get("stream_ended")
    if ended is not None:
        if type(ended) is str and ended in STREAM_ENDINGS:
            call.stream_ended = ended
        else:
            sink.bad_value("stream_ended", ended)
        call.incomplete_reason = text(get("incomplete_reason"), "incomplete_reason", sink)
    if error is not None:
        call.error_type, call.error_code, call.error_message = _error(error, sink)
    return call


def _plain_tags(tags: Any) -> bool:
    """Tags with no float, which `_tags` takes as text (a float may be an integer orjson made one)."""
    return type(tags) is not dict or float not in set(map(type, tags.values()))


class NativeParser(ColumnBatches, Parser):
    COLUMNS = "native_columns"
    name = NAME

    def feed(self, line: str) -> None:
        call = self.call_of(line)
        if call is not None:
            self.sink.call(call)

    def call_of(self, line: str) -> Call | None:
        """The line's call, or None once the sink is told why there is none."""
        if line.startswith("{"):
            obj = quick_loads(line)
            if type(obj) is dict and "apimon" not in obj:
                self.sink.skip()  # another JSON log line
                return None
            if type(obj) is dict and _plain_tags(obj.get("tags")):
                try:
                    return from_record(obj, self.source, line, DOUBTING)
                except (Doubt, Unusable):
                    pass  # the careful path below reports it
        return self._call_carefully(line)

    def _call_carefully(self, line: str) -> Call | None:
        obj = json_object(line, self.sink)
        if obj is None:
            return None
        if "apimon" not in obj:
            self.sink.skip()
            return None
        try:
            return from_record(obj, self.source, line, self.sink)
        except Unusable as exc:
            self.sink.unparsed(f"bad native record: {exc}", line)
            return None


PARSER = NativeParser
