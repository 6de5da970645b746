"""`otlp://HOST:PORT`: an OTLP/HTTP receiver as a source, for spans pushed by SDKs and Collectors.

A fleet's app servers (OpenTelemetry SDKs) or a Collector's `otlphttp`
exporter POST `ExportTraceServiceRequest`s to `/v1/traces`, as binary protobuf
or JSON, optionally gzipped. Each request's GenAI inference spans (what the
`otlp` format counts as calls) become one OTLP/JSON line, so they are read by
the `otlp` parser exactly as the Collector's file exporter output is; other
spans are ignored and counted. Protobuf is decoded with `opentelemetry-proto`
and turned into the OTLP/JSON mapping with protobuf's `json_format`, span by
span and only for spans that carry `gen_ai.*` attributes (the rest are never
converted). Ids become hex as OTLP/JSON writes them, whether they came as
bytes, hex or base64.

Answers follow the OTLP/HTTP spec: 200 (with `partialSuccess` when GenAI
spans had to be rejected), 400 for a body that cannot be decoded, 401 without
the bearer token (when `$APIMON_OTLP_TOKEN` is set), 413 over the size cap,
415 for other content types or encodings, and 429 with `Retry-After` when the
bounded queue is full (those spans are counted as refused: the client retries
them, nothing is dropped silently). Nothing a client sends is ever printed.

`otlp://:4318?for=5m` listens for five minutes and then ends, so a run that
reads its sources to the end (`report`, `check`) can take spans too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import os
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from apimon_tui.formats.otlp import attributes, is_call
from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source, batch
from apimon_tui.core.timeutil import format_duration, parse_duration

PREFIX = "otlp://"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
TRACES_PATH = "/v1/traces"
TOKEN_ENV = "APIMON_OTLP_TOKEN"
MAX_BODY_BYTES = 16 * 1024 * 1024  # before and after gunzip
QUEUE_SPANS = 50_000
RETRY_AFTER_S = 1
CLIENT_TIMEOUT_S = 30
END_WAIT_S = 0.02  # how long a read-to-the-end run waits for spans per pass
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SPAN_LISTS = ("scopeSpans", "instrumentationLibrarySpans")  # the second: OTLP before 0.15
_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_PROTO_IDS = {"traceId": "trace_id", "spanId": "span_id", "parentSpanId": "parent_span_id"}


@dataclass(frozen=True, slots=True)
class ReceiverSpec:
    """`otlp://HOST:PORT[?for=DURATION]`: where to listen, and for how long (None: until stopped)."""

    host: str
    port: int
    listen_s: float | None = None


def parse_spec(spec: str) -> ReceiverSpec:
    """Read `otlp://HOST:PORT[?for=DURATION]`; no host means loopback only. Raises ValueError for the user."""
    rest = spec[len(PREFIX):]
    how = "write otlp://HOST:PORT, e.g. otlp://:4318, and ?for=5m to listen for a while"
    try:
        parts = urlsplit(f"//{rest}")
        port = parts.port
    except ValueError:
        raise ValueError(f"{spec}: not an address: {how}") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.path not in ("", "/") or parts.username or set(query) - {"for"} or len(query.get("for", [])) > 1:
        raise ValueError(f"{spec}: {how} (spans are taken at {TRACES_PATH})")
    listen_s = None
    if "for" in query:
        try:
            listen_s = parse_duration(query["for"][0])
        except ValueError as exc:
            raise ValueError(f"{spec}: {exc}") from None
    return ReceiverSpec(parts.hostname or DEFAULT_HOST, DEFAULT_PORT if port is None else port, listen_s)


# -- decoding: a request's GenAI spans as one OTLP/JSON line ---------------


@dataclass(slots=True)
class Export:
    """What one request carried: its GenAI spans as one OTLP/JSON line (None when there are none)."""

    line: str | None
    calls: int = 0  # GenAI inference spans, to become calls
    ignored: int = 0  # other spans
    rejected: int = 0  # GenAI spans with no time (in the line: reported unparsed), or not span objects

    @property
    def spans(self) -> int:
        return self.calls + self.ignored + self.rejected

    @property
    def queued(self) -> int:
        """The spans the line holds, what it weighs in the queue (an upper bound: with the non-objects)."""
        return self.calls + self.rejected


def decode_protobuf(body: bytes) -> Export:
    """A binary `ExportTraceServiceRequest`; raises DecodeError when it is not one."""
    request = ExportTraceServiceRequest.FromString(body)
    resources: list[dict[str, Any]] = []
    others = 0
    for resource_spans in request.resource_spans:
        scopes = []
        for scope_spans in resource_spans.scope_spans:
            spans = []
            for span in scope_spans.spans:
                if any(kv.key.startswith("gen_ai.") for kv in span.attributes):
                    spans.append(_span_json(span))
                else:
                    others += 1
            if spans:
                scopes.append({"scope": json_format.MessageToDict(scope_spans.scope), "spans": spans})
        if scopes:
            resources.append({"resource": json_format.MessageToDict(resource_spans.resource), "scopeSpans": scopes})
    export = select(resources)
    export.ignored += others
    return export


def _span_json(span: Any) -> dict[str, Any]:
    """One protobuf span in the OTLP/JSON mapping, its ids in hex (json_format writes base64)."""
    obj = json_format.MessageToDict(span)
    for key, field_name in _PROTO_IDS.items():
        if key in obj:
            obj[key] = getattr(span, field_name).hex()
    return obj


class BadExport(ValueError):
    """Why a body is not an export request, in words safe to show (no text from the body)."""


def decode_json(body: bytes) -> Export:
    """An OTLP/JSON `ExportTraceServiceRequest`; raises ValueError when it is not one."""
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise BadExport("the body is not a JSON object")
    resources = obj.get("resourceSpans", [])
    if not isinstance(resources, list):
        raise BadExport("resourceSpans is not a list")
    return select(resources)


def select(resources: list[Any]) -> Export:
    """Keep the GenAI inference spans (as the `otlp` format defines them), count the others."""
    export = Export(None)
    kept = []
    for resource_spans in resources:
        if not isinstance(resource_spans, dict):
            continue
        scopes = []
        for key in _SPAN_LISTS:
            for scope_spans in _list(resource_spans.get(key)):
                if not isinstance(scope_spans, dict):
                    continue
                spans = [s for s in _list(scope_spans.get("spans")) if _keep(s, export)]
                if spans:
                    scopes.append({**scope_spans, "spans": spans})
        if scopes:
            kept.append({"resource": resource_spans.get("resource") or {}, "scopeSpans": scopes})
    if kept:
        export.line = json.dumps({"resourceSpans": kept}, separators=(",", ":"))
    return export


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _keep(span: Any, export: Export) -> bool:
    """Whether `span` goes to the parser, counted in `export` either way."""
    if not isinstance(span, dict):
        export.rejected += 1
        return False
    if not is_call(attributes(span.get("attributes"))):
        export.ignored += 1
        return False
    if _has_time(span):
        export.calls += 1
    else:
        export.rejected += 1  # still handed on: the parser reports it unparsed, with the span
    for key, size in _ID_BYTES.items():
        if key in span:
            span[key] = hex_id(span[key], size)
    return True


def _has_time(span: dict[str, Any]) -> bool:
    """Whether the parser can time the span: a start or end read as it reads them (0 is unset)."""
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        value = span.get(key)
        if isinstance(value, bool):
            continue
        try:
            if int(value) if isinstance(value, int) else int(float(value)):
                return True
        except (TypeError, ValueError, OverflowError):
            continue
    return False


def hex_id(value: Any, size: int) -> Any:
    """A trace or span id as lowercase hex: OTLP/JSON's hex, or the base64 of the standard protobuf mapping."""
    if not isinstance(value, str):
        return value
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    return raw.hex() if len(raw) == size else value


def gunzip(body: bytes, limit: int) -> bytes:
    """The gzip-decoded body; OverflowError past `limit` bytes, BadExport when it is not gzip."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadExport("the body is not valid gzip") from None
    if len(data) > limit:
        raise OverflowError
    if not inflater.eof:
        raise BadExport("the gzip body is cut short")
    return data


# -- answers ----------------------------------------------------------------


def _status_class():
    """google.rpc.Status, the body of every OTLP/HTTP error answer (not shipped by opentelemetry-proto)."""
    file = descriptor_pb2.FileDescriptorProto(name="apimon_tui/google_rpc_status.proto", package="google.rpc",
                                              syntax="proto3")
    message = file.message_type.add(name="Status")
    message.field.add(name="code", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    message.field.add(name="message", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


RpcStatus = _status_class()


@dataclass(slots=True)
class Reply:
    code: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # the body was not read: the connection cannot be reused
    message: str = ""  # why it failed, for the status line


def success(content_type: str, export: Export) -> Reply:
    """200; `partialSuccess` only when spans were rejected (the spec wants it unset otherwise)."""
    response = ExportTraceServiceResponse()
    if export.rejected:
        response.partial_success.rejected_spans = export.rejected
        response.partial_success.error_message = (
            f"{export.rejected} GenAI span(s) rejected: no start or end time, or not a span object")
    return Reply(200, _encode(response, content_type), content_type)


def failure(code: int, message: str, content_type: str, **kw: Any) -> Reply:
    return Reply(code, _encode(RpcStatus(message=message), content_type), content_type, message=message, **kw)


def _encode(message: Any, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


# -- the queue between the HTTP threads and the engine -------------------------


class SpanQueue:
    """OTLP/JSON lines waiting for the engine, bounded by the spans they hold."""

    def __init__(self, limit: int = QUEUE_SPANS) -> None:
        self.limit = limit
        self.spans = 0
        self._lines: deque[tuple[str, int]] = deque()
        self._ready = threading.Condition()

    def __len__(self) -> int:
        return len(self._lines)

    def offer(self, line: str, spans: int) -> bool:
        """Queue `line` unless that would pass the limit (a lone request is always taken)."""
        with self._ready:
            if self.spans and self.spans + spans > self.limit:
                return False
            self._lines.append((line, spans))
            self.spans += spans
            self._ready.notify()
            return True

    def take(self, max_lines: int, wait_s: float = 0.0) -> list[str]:
        """Up to `max_lines` lines, waiting up to `wait_s` for one when there is none."""
        with self._ready:
            if not self._lines and wait_s:
                self._ready.wait(wait_s)
            taken = [self._lines.popleft() for _ in range(min(max_lines, len(self._lines)))]
            self.spans -= sum(spans for _, spans in taken)
        return [line for line, _ in taken]


# -- the source -------------------------------------------------------------------


@dataclass(slots=True)
class ReceiverCounts:
    """What the receiver answered, for the status line (spans unless said otherwise)."""

    requests: int = 0
    calls: int = 0  # GenAI spans taken
    ignored: int = 0  # other spans, taken and not used
    rejected: int = 0  # GenAI spans without a time
    refused: int = 0  # spans in requests answered 429 or 503 (the client retries them)
    bad_requests: int = 0  # requests answered 400
    unauthorised: int = 0  # requests answered 401
    too_large: int = 0  # requests answered 413
    unsupported: int = 0  # requests answered 415


class OtlpReceiverSource(Source):
    """Listens for OTLP/HTTP trace exports and hands their GenAI spans on as OTLP/JSON lines."""

    def __init__(
        self,
        spec: str,
        *,
        follow: bool = True,
        label: str | None = None,
        token: str | None = None,
        max_body: int = MAX_BODY_BYTES,
        queue_spans: int = QUEUE_SPANS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`follow=False` (a run that reads to the end: `report`, `check`) needs `?for=` in the spec."""
        address = parse_spec(spec)
        if not follow and address.listen_s is None:
            raise ValueError(f"{spec}: a receiver takes spans until it is stopped: use it with the monitor or "
                             f"report --follow, or say how long to listen, e.g. {spec}?for=5m")
        super().__init__(label or spec, follow)
        self.host, port = address.host, address.port
        self.clock = clock
        self.deadline = None if address.listen_s is None else clock() + address.listen_s
        self.token = (os.environ.get(TOKEN_ENV) or None) if token is None else token
        self.max_body = max_body
        self.counts = ReceiverCounts()
        self.last_refusal = ""  # the last post answered with an error, and why (shown in the state)
        self.queue = SpanQueue(queue_spans)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        try:
            self._server = _Server((self.host, port), _Handler, self)
        except OSError as exc:
            self._error = f"cannot listen on {self.host}:{port}: {exc.strerror or exc}"
            return
        self.port = self._server.server_address[1]
        if label is None:
            self.label = f"{PREFIX}{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"apimon-{self.label}", daemon=True)
        self._thread.start()

    # -- the Source interface -----------------------------------------------

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        """What was taken; a run that reads to the end waits a moment for it rather than spin."""
        if self.deadline is not None and self.clock() >= self.deadline:
            self.close()  # before taking: a post answered until now is still read
        return batch(self.label, self.queue.take(max_lines, 0.0 if self.follow else END_WAIT_S))

    @property
    def at_eof(self) -> bool:
        return (self._server is None or self._closing.is_set()) and not len(self.queue)

    @property
    def state(self) -> str:
        if self._server is None:
            return "not listening"
        c = self.counts
        if self._closing.is_set():
            parts = [f"stopped · {c.calls:,} GenAI spans"]
        else:
            left = "" if self.deadline is None else f" for {format_duration(max(0.0, self.deadline - self.clock()))}"
            parts = [f"listening{left} · {c.calls:,} GenAI spans"]
        if self.token is None and not _loopback(self.host):
            parts.append(f"open to anyone: set {TOKEN_ENV}")
        for count, words in ((c.ignored, "other spans ignored"), (c.rejected, "rejected"),
                             (c.refused, "refused: queue full"), (c.bad_requests, "bad requests"),
                             (c.unauthorised, "unauthorised"), (c.too_large, "too large"),
                             (c.unsupported, "unsupported type")):
            if count:
                parts.append(f"{count:,} {words}")
        if self.last_refusal:
            parts.append(f"last: {self.last_refusal}")
        return " · ".join(parts)

    def events(self) -> dict[str, int]:
        c = self.counts
        return {"requests": c.requests, "genai_spans": c.calls, "ignored_spans": c.ignored,
                "rejected_spans": c.rejected, "refused_spans": c.refused, "bad_requests": c.bad_requests,
                "unauthorised_requests": c.unauthorised, "too_large_requests": c.too_large,
                "unsupported_requests": c.unsupported}

    def close(self) -> None:
        """Stop listening; requests in flight are answered 503 (retryable). What was queued can still be read."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- answering a request (on the server's threads) ----------------------

    def answer(self, request: BaseHTTPRequestHandler) -> Reply:
        """The reply to one POST; counts what it carried.

        A refused body within the size cap is read and dropped, so the
        client's keep-alive connection stays usable; one over the cap is not
        read, and the connection is closed after the answer.
        """
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        reply_type = PROTOBUF if content_type == PROTOBUF else JSON
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        try:
            length = int(request.headers["Content-Length"])
            if length < 0:
                raise ValueError
        except (KeyError, ValueError):
            return self._refuse("bad_requests", failure(411, "a Content-Length is required", reply_type, close=True))
        if length > self.max_body:
            return self._refuse("too_large", failure(413, f"the body is over {self.max_body:,} bytes",
                                                     reply_type, close=True))
        body = request.rfile.read(length)
        refusal = self._refusal(request, content_type, encoding, reply_type)
        return refusal if refusal is not None else self._take(body, encoding, content_type)

    def _refusal(self, request: BaseHTTPRequestHandler, content_type: str, encoding: str,
                 reply_type: str) -> Reply | None:
        """Why a post is refused before its body is looked at, or None."""
        if urlsplit(request.path).path != TRACES_PATH:
            return failure(404, f"OTLP/HTTP traces are taken at {TRACES_PATH}", reply_type)
        if self.token is not None and not _authorised(request.headers.get("Authorization"), self.token):
            return self._refuse("unauthorised", failure(401, "a bearer token is required", reply_type,
                                                        headers={"WWW-Authenticate": "Bearer"}))
        if content_type not in (PROTOBUF, JSON) or encoding not in ("identity", "gzip"):
            return self._refuse("unsupported", failure(415, f"send {PROTOBUF} or {JSON}, plain or gzip",
                                                       reply_type))
        return None

    def _take(self, body: bytes, encoding: str, content_type: str) -> Reply:
        try:
            if encoding == "gzip":
                body = gunzip(body, self.max_body)
            export = decode_protobuf(body) if content_type == PROTOBUF else decode_json(body)
        except OverflowError:
            return self._refuse("too_large", failure(413, f"the body is over {self.max_body:,} bytes once "
                                                          "decompressed", content_type))
        except (DecodeError, ValueError, RecursionError) as exc:
            what = "protobuf" if content_type == PROTOBUF else "JSON"
            reason = str(exc) if isinstance(exc, BadExport) else f"not an OTLP/{what} ExportTraceServiceRequest"
            return self._refuse("bad_requests", failure(400, reason, content_type))
        if self._closing.is_set() or (export.line is not None and not self.queue.offer(export.line, export.queued)):
            code = 503 if self._closing.is_set() else 429
            with self._lock:
                self.counts.refused += export.spans
            return failure(code, "the receiver's queue is full: retry later" if code == 429 else
                           "the receiver is stopping", content_type, headers={"Retry-After": str(RETRY_AFTER_S)})
        with self._lock:
            c = self.counts
            c.requests += 1
            c.calls += export.calls
            c.ignored += export.ignored
            c.rejected += export.rejected
        return success(content_type, export)

    def _refuse(self, counter: str, reply: Reply) -> Reply:
        with self._lock:
            setattr(self.counts, counter, getattr(self.counts, counter) + 1)
        self.last_refusal = f"{reply.code} {reply.message}"
        return reply


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _authorised(header: str | None, token: str) -> bool:
    scheme, _, credentials = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, receiver: OtlpReceiverSource) -> None:
        self.receiver = receiver
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke mid-request: noted, never printed (the monitor owns the terminal)."""
        self.receiver.last_refusal = "a connection broke during a post"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters expect
    server_version = "apimon-tui"
    timeout = CLIENT_TIMEOUT_S
    server: _Server

    def do_POST(self) -> None:
        reply = self.server.receiver.answer(self)
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Never write to the terminal."""

