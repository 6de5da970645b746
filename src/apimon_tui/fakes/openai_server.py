"""A fake OpenAI-compatible endpoint on loopback, for tests and the demo.

A real HTTP server (stdlib `ThreadingHTTPServer` in a thread) that answers
`POST /v1/chat/completions` (plain, and `stream: true` as server-sent events
with `usage` in the final chunk when `stream_options.include_usage` is set),
`POST /v1/responses` (plain, and streamed as named `response.*` events whose
last one, `response.completed`, `response.incomplete` when the reply is cut
at `max_output_tokens`, or `response.failed`, carries the response and its
usage) and `POST /v1/embeddings` with OpenAI's body shapes, headers (`x-request-id:
req_<32 hex>`, `openai-processing-ms`, `x-ratelimit-*`) and error bodies
(`{"error": {"message", "type", "param", "code"}}`), so the real `openai` SDK
can run against it unchanged:

    with FakeOpenAI() as srv:
        srv.script([Outcome(429, retry_after_ms=5), 200])
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test")
        ...
        srv.attempts  # what the server answered, attempt by attempt

Outcomes are taken one per attempt from the scripted queue; when the queue is
empty every attempt succeeds. A streamed answer can be cut short: after its
first `cut_after` events it sends an error event (`stream_error`) and ends,
or it stalls, holding the connection open unfinished until the server stops
(for clients that abandon a stream part-way). A Responses API answer can
also fail (`response_error`), ending with `response.failed`. Token counts are words plus a small per-message
overhead: not a tokenizer, but deterministic, so tests compare exact figures.
"""

from __future__ import annotations

import base64
import collections
import json
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator

from apimon_tui.core.redact import mask_key

DEFAULT_REPLY = "This is a fake reply from the apimon-tui test endpoint."
STALL_LIMIT_S = 30.0  # a stalled stream ends unfinished after this long even if the server is not stopped
EMBEDDING_DIMENSIONS = 8

_DEFAULT_ERRORS: dict[int, dict[str, Any]] = {
    400: {"message": "This model's maximum context length is 4097 tokens. However, your messages resulted "
                     "in 4294 tokens. Please reduce the length of the messages.",
          "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"},
    403: {"message": "Country, region, or territory not supported",
          "type": "invalid_request_error", "param": None, "code": "unsupported_country_region_territory"},
    404: {"message": "The model does not exist or you do not have access to it.",
          "type": "invalid_request_error", "param": None, "code": "model_not_found"},
    429: {"message": "Rate limit reached for gpt-4o in organization org-fake on tokens per min (TPM): "
                     "Limit 30000, Used 29790, Requested 1254. Please try again in 2.088s.",
          "type": "tokens", "param": None, "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request. Sorry about that!",
          "type": "server_error", "param": None, "code": None},
    503: {"message": "The engine is currently overloaded, please try again later.",
          "type": "server_error", "param": None, "code": None},
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the server answers one attempt: a status, and for errors the body and retry hint.

    `error` overrides keys of the default error object for the status;
    `delay_s` holds the answer back that long (for the demo's latency spikes).
    A streamed answer with `cut_after` sends only that many events, then the
    `stream_error` event and its end, or without one it stalls. Chat
    completions send `stream_error` as `{"error": stream_error}`; the
    Responses API as the fields of its `error` event beside `type` and
    `sequence_number`, so a test picks the event's shape (`code`/`message`
    at the top, as its reference documents, or an `error` object, as it is
    seen sent). `response_error` makes a Responses API answer fail: its
    last event is `response.failed` with this error (after `cut_after` text
    deltas, when given) and no usage.
    """

    status: int = 200
    retry_after_ms: int | None = None
    error: dict[str, Any] | None = None
    delay_s: float = 0.0
    cut_after: int | None = None
    stream_error: dict[str, Any] | None = None
    response_error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt the server answered, as the server saw it: the truth tests compare against.

    `stream` is whether the request asked for a stream, whatever the answer was;
    `usage` is the usage object the server sent (for a stream, its last one, with
    gaps filled from earlier ones), `stream_error` the error event it sent and
    `last_event` a stream's last event (the Responses API's final `response.*`).
    """

    method: str
    path: str
    status: int
    request_id: str
    model: str | None = None
    stream: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    retry_count: int | None = None
    idempotency_key: str | None = None
    authorized: bool = True
    usage: dict[str, Any] | None = None
    stream_error: dict[str, Any] | None = None
    last_event: dict[str, Any] | None = None


@dataclass(slots=True)
class _Window:
    """Requests and tokens used in the current one-minute rate-limit window."""

    start: float = 0.0
    requests: int = 0
    tokens: int = 0


@dataclass(slots=True)
class _Answer:
    """What to send: a JSON body, or server-sent events.

    Events are written as `data:` lines; `named` events also get an `event:`
    line with their `type` (Anthropic), `done` ends the stream with `data: [DONE]`
    (OpenAI), and `stall` holds the connection open after the events instead of ending it.
    """

    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    stream: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    named: bool = False
    done: bool = True
    stall: bool = False
    stream_error: dict[str, Any] | None = None

    def cut(self, outcome: Outcome, error_event: dict[str, Any] | None) -> None:
        """Keep the first `outcome.cut_after` events, then the error event (and no end marker) or a stall."""
        if outcome.cut_after is None or not self.events:
            return
        self.events = self.events[:outcome.cut_after]
        self.done = False
        if error_event is not None:
            self.events.append(error_event)
            self.stream_error = outcome.stream_error
        else:
            self.stall = True

    def usage_sent(self) -> dict[str, Any] | None:
        """The usage the events (or body) carried: the last one, gaps filled from earlier ones."""
        if self.body is not None:
            usage = self.body.get("usage")
            return dict(usage) if isinstance(usage, dict) else None
        merged: dict[str, Any] = {}
        for event in self.events:
            kind = event.get("type")
            holder = (event.get("message") if kind == "message_start"
                      else event.get("response") if isinstance(kind, str) and kind.startswith("response.") else event)
            usage = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(usage, dict):
                merged.update(usage)
        return merged or None


def go_duration(seconds: float) -> str:
    """A duration as OpenAI's reset headers write it: `12ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


def _words(text: Any) -> int:
    if isinstance(text, str):
        return len(text.split())
    if isinstance(text, list):  # content parts, or a list of token ids
        return sum(_words(part.get("text", "")) if isinstance(part, dict) else 1 for part in text)
    return 0


def prompt_tokens(messages: list[Any]) -> int:
    """The fake's token count for a chat prompt: 3, plus 4 and the words of each message."""
    return 3 + sum(4 + _words(m.get("content")) for m in messages if isinstance(m, dict))


def input_tokens(given: Any) -> int:
    """The fake's token count for a Responses API `input`: a text counts as one user message."""
    return prompt_tokens([{"content": given}] if isinstance(given, str) else given)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class FakeOpenAI:
    """An OpenAI-compatible server on a free loopback port; use as a context manager."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        reply: str = DEFAULT_REPLY,
        limit_requests: int = 5000,
        limit_tokens: int = 4_000_000,
        cached_tokens: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.reply = reply
        self.cached_tokens = cached_tokens  # of each Responses API prompt, reported as read from the cache
        self.limit_requests = limit_requests
        self.limit_tokens = limit_tokens
        self.clock = clock
        self._lock = threading.Lock()
        self._queue: collections.deque[Outcome] = collections.deque()
        self.released = threading.Event()  # set on stop: stalled streams end
        self._attempts: list[Attempt] = []
        self._window = _Window()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self.released.clear()
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to give an SDK as `base_url`, ending in `/v1`."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not running: use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- scripting and the record of attempts ----------------------------

    def script(self, outcomes: Iterable[int | Outcome]) -> None:
        """Queue how the next attempts are answered (an int is a bare status)."""
        with self._lock:
            self._queue.extend(o if isinstance(o, Outcome) else Outcome(int(o)) for o in outcomes)

    @property
    def attempts(self) -> list[Attempt]:
        """Every attempt answered so far, in the order the answers were sent."""
        with self._lock:
            return list(self._attempts)

    def _next_outcome(self) -> Outcome:
        with self._lock:
            return self._queue.popleft() if self._queue else Outcome()

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def _use_quota(self, tokens: int) -> tuple[int, int, float]:
        """Count one request in the rate-limit window; (requests left, tokens left, seconds to reset)."""
        now = self.clock()
        with self._lock:
            window = self._window
            if now - window.start >= 60:
                window.start, window.requests, window.tokens = now - now % 60, 0, 0
            window.requests += 1
            window.tokens += tokens
            return (
                max(0, self.limit_requests - window.requests),
                max(0, self.limit_tokens - window.tokens),
                window.start + 60 - now,
            )

    # -- answers ---------------------------------------------------------

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        """What to send back for one request (the handler only writes it out)."""
        answer = self._answer(method, path, headers, body)
        try:
            answer.stream = json.loads(body).get("stream") is True
        except (ValueError, AttributeError):
            answer.stream = False
        return answer

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        outcome = self._next_outcome()
        if outcome.delay_s:
            time.sleep(outcome.delay_s)
        authorized = self._authorized(headers)
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = None
        model = payload.get("model") if isinstance(payload, dict) else None
        if outcome.status >= 400:
            return self._error(outcome.status, outcome, headers, model)
        if not authorized:
            return self._error(401, outcome, headers, model)
        if not isinstance(payload, dict):
            return self._error(400, Outcome(400, error={
                "message": "We could not parse the JSON body of your request.", "param": None, "code": None}),
                headers, None)
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat(payload, outcome)
        if method == "POST" and path == "/v1/responses":
            return self._responses(payload, outcome)
        if method == "POST" and path == "/v1/embeddings":
            return self._embeddings(payload)
        return self._error(404, Outcome(404, error={"message": f"Invalid URL ({method} {path})", "code": None}),
                           headers, model)

    def _authorized(self, headers: dict[str, str]) -> bool:
        return self.api_key is None or headers.get("authorization") == f"Bearer {self.api_key}"

    def _headers(self, tokens: int, retry_after_ms: int | None = None) -> dict[str, str]:
        left_requests, left_tokens, reset = self._use_quota(tokens)
        headers = {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-organization": "user-fake",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(0 if retry_after_ms is not None else left_requests),
            "x-ratelimit-remaining-tokens": str(left_tokens),
            "x-ratelimit-reset-requests": go_duration(reset),
            "x-ratelimit-reset-tokens": go_duration(reset),
        }
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
            headers["retry-after"] = str(max(1, -(-retry_after_ms // 1000)))
        return headers

    def _error(self, status: int, outcome: Outcome, headers: dict[str, str], model: Any) -> _Answer:
        error = dict(_DEFAULT_ERRORS.get(status, {"message": "Unexpected error.", "type": "server_error",
                                                  "param": None, "code": None}))
        if status == 401:
            sent = headers.get("authorization", "").removeprefix("Bearer ")
            error = {"message": f"Incorrect API key provided: {mask_key(sent)}. You can find your API key at "
                                "https://platform.openai.com/account/api-keys.",
                     "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
        error.update(outcome.error or {})
        return _Answer(status, self._headers(0, outcome.retry_after_ms), body={"error": error},
                       model=model if isinstance(model, str) else None)

    def _chat(self, payload: dict[str, Any], outcome: Outcome) -> _Answer:
        model = payload.get("model")
        messages = payload.get("messages") or []
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            missing = "model" if not isinstance(model, str) else "messages"
            return self._error(400, Outcome(400, error={"message": f"Missing required parameter: '{missing}'.",
                                                        "param": missing, "code": "missing_required_parameter"}),
                               {}, model)
        inp, out = prompt_tokens(messages), _words(self.reply)
        usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(self.clock()), "model": model,
                "system_fingerprint": "fp_fake0001"}
        headers = self._headers(inp + out)
        if payload.get("stream") is True:
            with_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            answer = _Answer(200, headers, events=list(self._chunks(base, usage if with_usage else None)), model=model,
                             input_tokens=inp if with_usage else None, output_tokens=out if with_usage else None)
            if outcome.cut_after is not None:
                answer.cut(outcome, None if outcome.stream_error is None else {"error": outcome.stream_error})
                answer.input_tokens = answer.output_tokens = None  # the usage chunk comes last
            return answer
        body = {**base, "object": "chat.completion", "service_tier": "default", "usage": usage, "choices": [{
            "index": 0, "logprobs": None, "finish_reason": "stop",
            "message": {"role": "assistant", "content": self.reply, "refusal": None, "annotations": []}}]}
        return _Answer(200, headers, body=body, model=model, input_tokens=inp, output_tokens=out)

    def _chunks(self, base: dict[str, Any], usage: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        """The SSE chunks of a streamed reply: role, one chunk per word, stop, then usage if asked."""
        extra = {"usage": None} if usage is not None else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "object": "chat.completion.chunk", "service_tier": "default", **extra, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            yield chunk({"content": word if i == len(words) - 1 else word + " "})
        yield chunk({}, "stop")
        if usage is not None:
            yield {**base, "object": "chat.completion.chunk", "service_tier": "default", "choices": [], "usage": usage}

    def _responses(self, payload: dict[str, Any], outcome: Outcome) -> _Answer:
        """A Responses API answer: the response object, or its events when streamed.

        The reply is cut at `max_output_tokens` words (status `incomplete`,
        reason `max_output_tokens`); `outcome.response_error` makes it fail.
        """
        model, given = payload.get("model"), payload.get("input")
        if not isinstance(model, str) or not isinstance(given, (str, list)) or not given:
            missing = "model" if not isinstance(model, str) else "input"
            return self._error(400, Outcome(400, error={"message": f"Missing required parameter: '{missing}'.",
                                                        "param": missing, "code": "missing_required_parameter"}),
                               {}, model)
        inp, words = input_tokens(given), self.reply.split(" ")
        limit = payload.get("max_output_tokens")
        cut_short = isinstance(limit, int) and 0 < limit < len(words)
        failed = outcome.response_error is not None
        if cut_short:
            words = words[:limit]
        elif failed and outcome.cut_after is not None:
            words = words[:outcome.cut_after]
        usage = {"input_tokens": inp, "input_tokens_details": {"cached_tokens": min(self.cached_tokens, inp)},
                 "output_tokens": len(words), "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": inp + len(words)}
        item = {"id": f"msg_{uuid.uuid4().hex}", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": " ".join(words), "annotations": [], "logprobs": []}]}
        response = {"id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(self.clock()),
                    "status": "completed", "error": None, "incomplete_details": None, "model": model,
                    "output": [item], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                    "usage": usage}
        if failed:
            error = {"code": "server_error", "message": "The model failed to generate a response.",
                     **outcome.response_error}
            response.update(status="failed", error=error, output=[], usage=None)
        elif cut_short:
            response.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
            item["status"] = "incomplete"
        headers = self._headers(inp + len(words))
        sent_in, sent_out = (None, None) if failed else (inp, len(words))
        if payload.get("stream") is not True:
            return _Answer(200, headers, body=response, model=model, input_tokens=sent_in, output_tokens=sent_out)
        answer = _Answer(200, headers, events=list(self._response_events(response, item, words)), model=model,
                         input_tokens=sent_in, output_tokens=sent_out, named=True, done=False)
        if outcome.cut_after is not None and not failed:
            answer.cut(outcome, None if outcome.stream_error is None else {"type": "error", **outcome.stream_error})
            answer.input_tokens = answer.output_tokens = None  # the usage comes with the last event
        for number, event in enumerate(answer.events):
            event["sequence_number"] = number
        return answer

    @staticmethod
    def _response_events(response: dict[str, Any], item: dict[str, Any], words: list[str]) -> Iterator[dict[str, Any]]:
        """The events of a streamed Responses API answer: created, the text word by word, then its end."""
        pending = {**response, "status": "in_progress", "error": None, "incomplete_details": None,
                   "output": [], "usage": None}
        yield {"type": "response.created", "response": pending}
        yield {"type": "response.in_progress", "response": pending}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        yield {"type": "response.output_item.added", "output_index": 0,
               "item": {**item, "status": "in_progress", "content": []}}
        yield {"type": "response.content_part.added", **where,
               "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}
        for i, word in enumerate(words):
            yield {"type": "response.output_text.delta", **where, "logprobs": [],
                   "delta": word if i == len(words) - 1 else word + " "}
        if response["status"] != "failed":
            part = item["content"][0]
            yield {"type": "response.output_text.done", **where, "text": part["text"], "logprobs": []}
            yield {"type": "response.content_part.done", **where, "part": part}
            yield {"type": "response.output_item.done", "output_index": 0, "item": item}
        yield {"type": f"response.{response['status']}", "response": response}

    def _embeddings(self, payload: dict[str, Any]) -> _Answer:
        model, inputs = payload.get("model"), payload.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(model, str) or not isinstance(inputs, list) or not inputs:
            return self._error(400, Outcome(400, error={"message": "'input' is a required property",
                                                        "param": "input", "code": None}), {}, model)
        dims = int(payload.get("dimensions") or EMBEDDING_DIMENSIONS)
        as_base64 = payload.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            vector = [((index + 1) * (d + 1) % 17) / 17 for d in range(dims)]
            encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(max(1, _words(text)) for text in inputs)
        body = {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return _Answer(200, self._headers(tokens), body=body, model=model, input_tokens=tokens, output_tokens=0)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the FakeOpenAI for the answer, records the attempt, then writes it.

    Recording before writing means a client that has its answer always finds it in `attempts`.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "fake-openai"
    sys_version = ""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the attempts list is the log."""

    def _handle(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        started = time.perf_counter()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        answer = fake.answer(self.command, path, headers, body)
        if "openai-processing-ms" in answer.headers:
            answer.headers["openai-processing-ms"] = str(max(1, round((time.perf_counter() - started) * 1000)))
        retry = headers.get("x-stainless-retry-count")
        fake._record(Attempt(
            method=self.command, path=path, status=answer.status,
            request_id=answer.headers.get("x-request-id") or answer.headers["request-id"],
            model=answer.model, stream=answer.stream,
            input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
            retry_count=int(retry) if retry and retry.isdigit() else None,
            idempotency_key=headers.get("idempotency-key"), authorized=fake._authorized(headers),
            usage=answer.usage_sent(), stream_error=answer.stream_error,
            last_event=answer.events[-1] if answer.events else None,
        ))
        if answer.events:
            self._write_events(answer)
        else:
            self._write_json(answer)

    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_json(self, answer: _Answer) -> None:
        data = _dumps(answer.body)
        self._start(answer.status, {**answer.headers, "content-type": "application/json",
                                    "content-length": str(len(data))})
        self.wfile.write(data)

    def _write_events(self, answer: _Answer) -> None:
        """Server-sent events in chunked encoding, flushed event by event."""
        self._start(answer.status, {**answer.headers, "content-type": "text/event-stream; charset=utf-8",
                                    "transfer-encoding": "chunked", "cache-control": "no-cache"})
        for event in answer.events:
            name = b"event: %s\n" % event["type"].encode() if answer.named else b""
            self._write_chunk(name + b"data: " + _dumps(event) + b"\n\n")
        if answer.done:
            self._write_chunk(b"data: [DONE]\n\n")
        if answer.stall:
            self.server.fake.released.wait(STALL_LIMIT_S)  # type: ignore[attr-defined]
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
