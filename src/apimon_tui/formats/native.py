"""`native`: apimon-tui's own JSON-lines call record (schema version 1).

One JSON object per line, written by the capture hook and the demo, and the
richest record apimon-tui reads. The marker key `"apimon": 1` names the
schema version, so a reader can tell these lines from any other JSON log.

    {"apimon": 1, "ts": 1764201600.123, "provider": "openai",
     "endpoint": "/v1/chat/completions", "method": "POST", "model": "gpt-4o",
     "status": 429, "latency_ms": 812.0, "ttft_ms": null, "stream": false,
     "input_tokens": 120, "output_tokens": 0, "cached_tokens": 0,
     "cost_usd": 0.0, "request_id": "req_...", "attempt": 1,
     "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "..."},
     "ratelimit": {"limit_requests": 5000, "remaining_requests": 0,
                   "limit_tokens": 4000000, "remaining_tokens": 3998000,
                   "reset_requests_s": 0.012, "reset_tokens_s": 6.0},
     "tags": {"host": "api-1"}}

Only `apimon` and `ts` are required; every other key may be absent or null.
`failed: true` marks a call with no HTTP answer (timeout, connection error).
"""

from __future__ import annotations

import json
from typing import Any

from apimon_tui.formats.base import Parser
from apimon_tui.model import Call, RateLimit

NAME = "native"
SCHEMA_VERSION = 1
_RATELIMIT_KEYS = RateLimit.__slots__


def sniff(line: str) -> bool:
    return line.startswith("{") and '"apimon"' in line


def to_record(call: Call) -> dict[str, Any]:
    """The native JSON object for a call (the inverse of `from_record`)."""
    record: dict[str, Any] = {"apimon": SCHEMA_VERSION, "ts": round(call.ts, 6)}
    for key in (
        "provider", "endpoint", "method", "model", "status", "latency_ms", "ttft_ms",
        "stream", "input_tokens", "output_tokens", "cached_tokens", "cost_usd",
        "request_id", "attempt",
    ):
        value = getattr(call, key)
        if value is not None:
            record[key] = value
    if call.failed:
        record["failed"] = True
    if call.error_type or call.error_code or call.error_message:
        record["error"] = {"type": call.error_type, "code": call.error_code, "message": call.error_message}
    if call.ratelimit is not None and not call.ratelimit.is_empty():
        record["ratelimit"] = {k: getattr(call.ratelimit, k) for k in _RATELIMIT_KEYS if getattr(call.ratelimit, k) is not None}
    if call.tags:
        record["tags"] = call.tags
    return record


def _num(value: Any, kind: type) -> Any:
    if value is None or isinstance(value, bool):
        return None
    return kind(value)


def from_record(obj: dict[str, Any], source: str = "", raw: str | None = None) -> Call:
    """Build a Call from a native record; raises ValueError/TypeError when broken."""
    error = obj.get("error") or {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    rl = obj.get("ratelimit")
    ratelimit = None
    if isinstance(rl, dict):
        ratelimit = RateLimit(**{k: _num(rl.get(k), float if k.startswith("reset") else int) for k in _RATELIMIT_KEYS})
    tags = obj.get("tags")
    code = error.get("code")
    return Call(
        ts=float(obj["ts"]),
        source=source,
        provider=obj.get("provider"),
        endpoint=obj.get("endpoint"),
        method=obj.get("method"),
        model=obj.get("model"),
        status=_num(obj.get("status"), int),
        latency_ms=_num(obj.get("latency_ms"), float),
        ttft_ms=_num(obj.get("ttft_ms"), float),
        input_tokens=_num(obj.get("input_tokens"), int),
        output_tokens=_num(obj.get("output_tokens"), int),
        cached_tokens=_num(obj.get("cached_tokens"), int),
        cost_usd=_num(obj.get("cost_usd"), float),
        request_id=obj.get("request_id"),
        error_type=error.get("type"),
        error_code=None if code is None else str(code),
        error_message=error.get("message"),
        failed=bool(obj.get("failed")),
        stream=obj.get("stream"),
        attempt=int(obj.get("attempt") or 0),
        ratelimit=ratelimit,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else None,
        raw=raw,
    )


class NativeParser(Parser):
    name = NAME

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            self.sink.skip()
            return
        try:
            obj = json.loads(line)
        except ValueError as exc:
            self.sink.unparsed(f"invalid JSON: {exc.msg}", line)
            return
        if not isinstance(obj, dict) or "apimon" not in obj:
            self.sink.skip()
            return
        try:
            call = from_record(obj, self.source, line)
        except (KeyError, ValueError, TypeError) as exc:
            self.sink.unparsed(f"bad native record: {exc!r}", line)
            return
        self.sink.call(call)


PARSER = NativeParser
