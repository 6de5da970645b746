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
  `event: message_stop`, `event: response.completed`);
* `"error"`: an error event came after the 200 (OpenAI `data: {"error": {...}}`,
  Anthropic `event: error`); `failed` is true and `error` holds the event's
  type, code and message;
* `"broken"`: the connection failed part-way; `failed` is true and `error` names the exception;
* `"abandoned"`: the application stopped before the end: it closed the stream early,
  let it be garbage-collected, or exited with it open. Tokens are what was seen
  so far (unknown when the final usage event was not reached).
"""

from __future__ import annotations

from typing import Any

from apimon_tui.formats.base import Parser, json_object
from apimon_tui.model import Call, RateLimit

NAME = "native"
SCHEMA_VERSION = 1
_RATELIMIT_KEYS = RateLimit.__slots__
STREAM_ENDINGS = ("complete", "error", "broken", "abandoned")


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
    if call.error_type or call.error_code or call.error_message:
        record["error"] = {"type": call.error_type, "code": call.error_code, "message": call.error_message}
    if call.ratelimit is not None and not call.ratelimit.is_empty():
        record["ratelimit"] = {k: getattr(call.ratelimit, k) for k in _RATELIMIT_KEYS if getattr(call.ratelimit, k) is not None}
    if call.tags:
        record["tags"] = call.tags
    return record


_NUMBER = (int, float)
_NUMERIC_KEYS = ("status", "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cached_tokens",
                 "cache_write_tokens", "cache_write_1h_tokens", "cost_usd", "attempt")


def _ratelimit(rl: dict[str, Any]) -> RateLimit:
    values = {k: rl.get(k) for k in _RATELIMIT_KEYS}
    for key, value in values.items():
        if value is not None and type(value) not in _NUMBER:
            raise TypeError(f"ratelimit.{key} is not a number")
    return RateLimit(**values)


def from_record(obj: dict[str, Any], source: str = "", raw: str | None = None) -> Call:
    """Build a Call from a native record; raises ValueError/TypeError when broken.

    Written for speed (it runs once per line): numbers are type-checked in
    one pass instead of being converted one by one.
    """
    get = obj.get
    ts = obj["ts"]
    if type(ts) not in _NUMBER:
        raise TypeError("ts is not a number")
    for key in _NUMERIC_KEYS:
        value = get(key)
        if value is not None and type(value) not in _NUMBER:
            raise TypeError(f"{key} is not a number")
    error = get("error")
    if error is not None and not isinstance(error, dict):
        error = {"message": str(error)}
    rl = get("ratelimit")
    tags = get("tags")
    status = get("status")
    call = Call(
        ts,
        source,
        get("provider"),
        get("endpoint"),
        get("method"),
        get("model"),
        None if status is None else int(status),
        get("latency_ms"),
        get("ttft_ms"),
        get("input_tokens"),
        get("output_tokens"),
        get("cached_tokens"),
        get("cost_usd"),
        get("request_id"),
        failed=bool(get("failed")),
        stream=get("stream"),
        attempt=int(get("attempt") or 0),
        ratelimit=_ratelimit(rl) if isinstance(rl, dict) else None,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else None,
        raw=raw,
        cache_write_tokens=get("cache_write_tokens"),
        cache_write_1h_tokens=get("cache_write_1h_tokens"),
    )
    ended = get("stream_ended")
    if ended in STREAM_ENDINGS:
        call.stream_ended = ended
    if error:
        code = error.get("code")
        call.error_type = error.get("type")
        call.error_code = None if code is None else str(code)
        call.error_message = error.get("message")
    return call


class NativeParser(Parser):
    name = NAME

    def feed(self, line: str) -> None:
        obj = json_object(line, self.sink)
        if obj is None:
            return
        if "apimon" not in obj:
            self.sink.skip()
            return
        try:
            call = from_record(obj, self.source, line)
        except (KeyError, ValueError, TypeError) as exc:
            self.sink.unparsed(f"bad native record: {exc!r}", line)
            return
        self.sink.call(call)


PARSER = NativeParser
