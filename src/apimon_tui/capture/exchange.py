"""One observed HTTP exchange, and the native call record it becomes.

The capture hook (`capture.py`) fills an `Exchange` on the request path with
references and timestamps only, and feeds the response body through a tap
as the application consumes it. A tap keeps just what the record needs:

* `JsonTap` (plain JSON answers): the body while it is small; past
  `JsonTap.LIMIT` only its tail, where providers put `usage`.
* `SseTap` (server-sent events): the first and the last `data:` lines that
  carry a `usage` object (OpenAI sends `"usage":null` in every chunk but the
  last), the first error event (OpenAI's `data: {"error": {...}}`,
  Anthropic's `event: error`, the Responses API's `error` event in either of
  its shapes), the last Responses API `response.completed|incomplete|failed`
  event, and whether the provider's final event went by. The last usage is
  the final count (OpenAI's `include_usage` chunk, Anthropic's
  `message_delta`, the Responses API's final `response.*` event); the first
  only fills what the last leaves out (Anthropic's `input_tokens` from
  `message_start`, whose `output_tokens` is a placeholder and is never taken).

A stream's record says how it ended (`stream_ended`, see `formats/native.py`):
`complete`, `incomplete` (the Responses API's `response.incomplete`, with its
`incomplete_details.reason`), `error` (an error event, or `response.failed`,
after the 200: the call failed), `broken` (the connection failed part-way) or
`abandoned` (the application stopped before the end: closed it early, let it
be collected, or exited).

On the request path a tap only appends chunk references; bodies are held in
memory until the record is built (at most `_ChunkTap.LIMIT` bytes each) and
only usage and error objects are taken from them.

Everything costly (JSON parsing, pricing) happens later in `RecordBuilder`,
on the writer's thread. Prompts and completions are never kept unless the
capture was made with `include_bodies=True`.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call
from apimon_tui.formats.ratelimit import parse_ratelimit
from apimon_tui.core.redact import redact

BODY_LIMIT = 1 << 20  # bytes of each body kept with include_bodies
ERROR_MESSAGE_LIMIT = 1000

_HOST_PROVIDERS = (
    ("openai.azure.com", "azure"),
    ("api.openai.com", "openai"),
    ("anthropic.com", "anthropic"),
    ("openrouter.ai", "openrouter"),
    ("googleapis.com", "google"),
)
_AGENT_PROVIDERS = (("OpenAI/", "openai"), ("AsyncOpenAI/", "openai"),
                    ("Anthropic/", "anthropic"), ("AsyncAnthropic/", "anthropic"))


class BodySummary(NamedTuple):
    """What a tap found in a body: the usage and error objects, and whether the answer was cut short.

    `incomplete` is a Responses API answer that ended as `incomplete` (its
    `incomplete_details.reason`, when given, in `incomplete_reason`).
    """

    usage: dict[str, Any] | None = None
    error: Any = None
    incomplete: bool = False
    incomplete_reason: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What one `capture_httpx` call asked for."""

    include_bodies: bool = False
    tags: dict[str, str] | None = None


class _ChunkTap:
    """Holds the body's chunks as they pass (one list append each); `compact` bounds the memory."""

    LIMIT = 256 * 1024
    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size > self.LIMIT:
            self.compact()

    def compact(self) -> None:
        raise NotImplementedError


class JsonTap(_ChunkTap):
    """Keeps a JSON body while small, else its tail (where `usage` sits)."""

    TAIL = 16 * 1024
    __slots__ = ("truncated",)

    def __init__(self) -> None:
        super().__init__()
        self.truncated = False

    def compact(self) -> None:
        self.truncated = True
        tail = b"".join(self.chunks)[-self.TAIL:]
        self.chunks, self.size = [tail], len(tail)

    def summary(self) -> BodySummary:
        """The usage and error found in the body."""
        data = b"".join(self.chunks)
        if self.truncated:
            return BodySummary(_usage_in_tail(data))
        try:
            obj = json.loads(data)
        except ValueError:
            return BodySummary()
        if not isinstance(obj, dict):
            return BodySummary()
        return BodySummary(_find_usage(obj), obj.get("error"))


class SseTap(_ChunkTap):
    """Keeps the `data:` lines of an event stream that carry a usage object, an error or the Responses API's end.

    Lines are looked for when the held chunks pass `LIMIT` and at the end, not
    chunk by chunk, so the request path only appends.
    """

    CARRY_LIMIT = 1 << 20
    __slots__ = ("carry", "first_usage", "last_usage", "error", "response_last", "end_seen")

    def __init__(self) -> None:
        super().__init__()
        self.carry = b""
        self.first_usage: bytes | None = None
        self.last_usage: bytes | None = None
        self.error: bytes | None = None
        self.response_last: bytes | None = None  # the last line naming a Responses API event: its end, if it came
        self.end_seen = False  # the provider's last event went by (the rest of the body is only its close)

    def compact(self) -> None:
        data = self.carry + b"".join(self.chunks)
        end = data.rfind(b"\n") + 1
        self.carry = data[end:][-self.CARRY_LIMIT:]  # a line that continues in later chunks
        self.chunks, self.size = [], 0
        block = data[:end]
        if self.first_usage is None:
            self.first_usage = _data_line(block, min((i for i in map(block.find, _USAGE) if i >= 0), default=-1))
        self.last_usage = _data_line(block, max(map(block.rfind, _USAGE))) or self.last_usage
        if self.error is None:
            self.error = _error_line(block)
        self.response_last = _data_line(block, block.rfind(b'"response.')) or self.response_last
        if not self.end_seen:
            self.end_seen = any(block.startswith(line) or b"\n" + line in block for line in _STREAM_ENDS) or (
                self.response_last is not None and any(end in self.response_last for end in _RESPONSE_ENDS))

    def summary(self) -> BodySummary:
        """The last usage (gaps filled from the first), the first error, and how a Responses API answer ended.

        A `response.failed` event is an error (its `response.error`) when no
        error event came before it; `response.incomplete` cut the answer short.
        """
        self.chunks.append(b"\n")  # the stream has ended: its last line is complete
        self.compact()
        last_event = _event(self.last_usage)
        first, last = _event_usage(_event(self.first_usage)), _event_usage(last_event)
        usage = {**first, **last} if first or last else None
        error = _event_error(_event(self.error))
        end = (last_event if self.response_last == self.last_usage else _event(self.response_last)) or {}
        response = end.get("response")
        response = response if isinstance(response, dict) else {}
        kind = end.get("type")
        if kind == "response.failed" and error is None:
            error = response.get("error") if isinstance(response.get("error"), dict) else {"type": kind}
        if kind != "response.incomplete":
            return BodySummary(usage, error)
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return BodySummary(usage, error, True, reason if isinstance(reason, str) else None)


_USAGE = (b'"usage":{', b'"usage": {')  # an object: OpenAI's non-final chunks carry "usage":null
_STREAM_ENDS = (  # lines of the last event of a whole answer: chat completions, Anthropic Messages
    b"data: [DONE]", b"data:[DONE]", b"event: message_stop",
)


# The Responses API's last event, when it is the answer's end, in its `data:` line (a proxy may send no
# `event:` lines). Nothing follows it, so it is on the last line naming a `"response.*` type (looked for from
# the end of each block, so found at once in a Responses stream).
_RESPONSE_ENDS = tuple(
    b'"type":%s"response.%s"' % (space, state) for state in (b"completed", b"incomplete", b"failed")
    for space in (b"", b" ")
)


def _data_line(block: bytes, at: int) -> bytes | None:
    """The `data:` line of `block` holding position `at`, if any."""
    if at < 0:
        return None
    start = block.rfind(b"\n", 0, at) + 1
    end = block.find(b"\n", at)
    line = block[start:end if end >= 0 else len(block)]
    return line if line.startswith(b"data:") else None


def _error_line(block: bytes) -> bytes | None:
    """The first `data:` line of `block` that is an error event (an `error` key at its top, or `"type":"error"`)."""
    at = block.find(b'"error"')
    while at >= 0:
        line = _data_line(block, at)
        if _event_error(_event(line)) is not None:
            return line
        after = block.find(b"\n", at) + 1
        at = block.find(b'"error"', after) if after else -1
    return None


@dataclass(slots=True)
class Exchange:
    """What the hook saw of one HTTP attempt (perf_counter times, epoch `ended_at`).

    It holds the response's status and headers, never the response, so an
    abandoned response can still be collected (and recorded when it is).
    """

    request: Any
    options: CaptureOptions
    started: float
    ended: float = 0.0
    ended_at: float = 0.0
    status: int | None = None
    headers: Any = None
    first_byte: float | None = None
    tap: JsonTap | SseTap | None = None
    kept: list[bytes] | None = None
    exception: BaseException | None = None
    stream: bool = False  # answered with server-sent events
    body_read: bool = False  # the body was read to its end


class RecordBuilder:
    """Turns exchanges into native records; keeps the state that spans attempts."""

    KEYS_REMEMBERED = 4096

    def __init__(self, pricer: Any = None) -> None:
        self.pricer = pricer
        self._attempts: collections.OrderedDict[str, int] = collections.OrderedDict()

    def record(self, ex: Exchange) -> dict[str, Any]:
        call = self.call(ex)
        record = to_record(call)
        if ex.options.include_bodies:
            record["bodies"] = _bodies(ex)
        return record

    def call(self, ex: Exchange) -> Call:
        request, tap = ex.request, ex.tap
        body = _request_json(request)
        model = body.get("model")
        usage, error, incomplete, incomplete_reason = tap.summary() if tap is not None else BodySummary()
        inp, out, cached, written, written_1h = _tokens(usage)
        call = Call(
            ts=ex.ended_at,
            provider=_provider(request),
            endpoint=request.url.path,
            method=request.method,
            model=model if isinstance(model, str) else None,
            latency_ms=round((ex.ended - ex.started) * 1000, 3),
            ttft_ms=round((ex.first_byte - ex.started) * 1000, 3) if ex.stream and ex.first_byte else None,
            stream=ex.stream or body.get("stream") is True,
            input_tokens=inp,
            output_tokens=out,
            cached_tokens=cached,
            attempt=self._attempt(request.headers),
            tags=ex.options.tags,
            cache_write_tokens=written,
            cache_write_1h_tokens=written_1h,
        )
        if ex.status is not None:
            headers = ex.headers
            call.status = ex.status
            call.request_id = headers.get("x-request-id") or headers.get("request-id")
            call.ratelimit = parse_ratelimit(headers, ex.ended_at)
            _set_error(call, error)
        if ex.exception is not None:
            call.failed = True
            call.error_type = type(ex.exception).__name__
            call.error_message = redact(str(ex.exception))[:ERROR_MESSAGE_LIMIT] or None
        if ex.stream:
            call.stream_ended = _stream_ended(ex, error, incomplete)
            call.failed = call.failed or error is not None  # an error event after the 200
            call.incomplete_reason = redact(incomplete_reason)[:ERROR_MESSAGE_LIMIT] if incomplete_reason else None
        call.cost_usd = self._cost(call)
        return call

    def _attempt(self, headers: Any) -> int:
        """The SDK's retry count, else how many earlier attempts shared this idempotency key."""
        retries = headers.get("x-stainless-retry-count")
        if retries is not None and retries.isdigit():
            return int(retries)
        key = headers.get("idempotency-key")
        if not key:
            return 0
        seen = self._attempts
        attempt = seen.get(key, -1) + 1
        seen[key] = attempt
        seen.move_to_end(key)
        if len(seen) > self.KEYS_REMEMBERED:
            seen.popitem(last=False)
        return attempt

    def _cost(self, call: Call) -> float | None:
        if self.pricer is None:
            return None
        try:
            cost = self.pricer.estimate(call)
        except Exception:  # pricing is best effort; the reader estimates again
            return None
        return None if cost is None else round(cost, 8)


def _stream_ended(ex: Exchange, error: Any, incomplete: bool) -> str:
    """How a stream ended: its error event, a broken connection, its end (cut short or not), or none of these."""
    if error is not None:
        return "error"
    if ex.exception is not None:
        return "broken"
    if incomplete:
        return "incomplete"
    if ex.body_read or (isinstance(ex.tap, SseTap) and ex.tap.end_seen):
        return "complete"
    return "abandoned"


def _request_json(request: Any) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):
        return {}
    try:
        obj = json.loads(request.content)
    except Exception:  # streamed (unread) or broken body: no model to report
        return {}
    return obj if isinstance(obj, dict) else {}


def _provider(request: Any) -> str | None:
    host = request.url.host
    for suffix, name in _HOST_PROVIDERS:
        if host.endswith(suffix):
            return name
    if request.headers.get("anthropic-version"):
        return "anthropic"
    agent = request.headers.get("user-agent", "")
    for prefix, name in _AGENT_PROVIDERS:
        if agent.startswith(prefix):
            return name
    return None


def _find_usage(obj: dict[str, Any]) -> dict[str, Any] | None:
    """`usage` at the top (chat, embeddings, Anthropic), or in `response`/`message` (event payloads)."""
    for holder in (obj, obj.get("response"), obj.get("message")):
        if isinstance(holder, dict) and isinstance(holder.get("usage"), dict):
            return holder["usage"]
    return None


def _event(line: bytes | None) -> dict[str, Any] | None:
    if line is None:
        return None
    try:
        obj = json.loads(line[5:])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _event_error(event: dict[str, Any] | None) -> Any:
    """The error an event reports: its `error` (OpenAI chat, Anthropic, the Responses API as it is sent),
    or the fields of a Responses API `error` event that has them at its top (as its reference documents)."""
    if event is None:
        return None
    error = event.get("error")
    if error is None and event.get("type") == "error":
        return {"code": event.get("code"), "message": event.get("message")}
    return error


def _event_usage(event: dict[str, Any] | None) -> dict[str, Any]:
    """The usage of one event; Anthropic's `message_start` counts no output yet (its 1 is a placeholder)."""
    usage = _find_usage(event) if event else None
    if not usage:
        return {}
    start = event.get("type") == "message_start"  # type: ignore[union-attr]
    return {k: v for k, v in usage.items() if v is not None and not (start and k == "output_tokens")}


def _usage_in_tail(data: bytes) -> dict[str, Any] | None:
    at = data.rfind(b'"usage"')
    start = data.find(b"{", at) if at >= 0 else -1
    if start < 0:
        return None
    try:
        usage, _ = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return usage if isinstance(usage, dict) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tokens(usage: dict[str, Any] | None) -> tuple[int | None, int | None, int | None, int | None, int | None]:
    """(input, output, cache reads, cache writes, 1-hour cache writes), reads and writes counted
    inside input, whatever the provider.

    OpenAI chat and embeddings: `prompt_tokens`/`completion_tokens` (embeddings have only
    `total_tokens` beside the prompt), reads in `prompt_tokens_details.cached_tokens` (and writes
    in `cache_write_tokens` where an OpenAI-compatible proxy reports them). Responses API and
    Anthropic: `input_tokens`/`output_tokens`; Anthropic counts cache reads and writes apart from
    `input_tokens`, so they are added back in, and splits writes by lifetime in `cache_creation`.
    """
    if not usage:
        return None, None, None, None, None
    if "prompt_tokens" in usage:
        inp = _int(usage.get("prompt_tokens"))
        out = _int(usage.get("completion_tokens"))
        if out is None and inp is not None and _int(usage.get("total_tokens")) is not None:
            out = usage["total_tokens"] - inp
        details = usage.get("prompt_tokens_details")
        details = details if isinstance(details, dict) else {}
        return inp, out, _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens")), None
    inp, out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    lifetimes = usage.get("cache_creation")
    lifetimes = lifetimes if isinstance(lifetimes, dict) else {}
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage or lifetimes:
        read = _int(usage.get("cache_read_input_tokens")) or 0
        long_lived = _int(lifetimes.get("ephemeral_1h_input_tokens"))
        written = _int(usage.get("cache_creation_input_tokens"))
        if written is None:
            written = (long_lived or 0) + (_int(lifetimes.get("ephemeral_5m_input_tokens")) or 0)
        return (inp or 0) + read + written, out, read, written, long_lived
    return inp, out, _int((usage.get("input_tokens_details") or {}).get("cached_tokens")), None, None


def _set_error(call: Call, error: Any) -> None:
    """Error type, code and message from an OpenAI or Anthropic error object (or a bare string)."""
    if isinstance(error, str):
        call.error_message = redact(error)[:ERROR_MESSAGE_LIMIT]
        return
    if not isinstance(error, dict):
        return
    kind, code, message = error.get("type"), error.get("code"), error.get("message")
    call.error_type = kind if isinstance(kind, str) else None
    call.error_code = None if code is None else str(code)
    call.error_message = redact(message)[:ERROR_MESSAGE_LIMIT] if isinstance(message, str) else None


def _bodies(ex: Exchange) -> dict[str, str]:
    try:
        request = bytes(ex.request.content[:BODY_LIMIT])
    except Exception:  # a streamed upload was never held in memory
        request = b""
    response = b"".join(ex.kept or [])[:BODY_LIMIT]
    return {"request": redact(request.decode("utf-8", "replace")),
            "response": redact(response.decode("utf-8", "replace"))}
