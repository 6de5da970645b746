"""A fake Anthropic Messages endpoint on loopback, for tests.

The same server as `FakeOpenAI` (scripted `Outcome`s, the `attempts` record),
answering `POST /v1/messages` the way Anthropic does, so the real `anthropic`
SDK runs against it unchanged: a `message` body, or with `stream: true` the
named events `message_start` (input and cache usage), `content_block_*`,
`ping`, `message_delta` (the final output count) and `message_stop`; errors
as `{"type": "error", "error": {"type", "message"}, "request_id"}`, and
mid-stream as `event: error`. Headers are `request-id` and
`anthropic-ratelimit-*` with RFC 3339 resets.

    with FakeAnthropic(cache_read_tokens=2048) as srv:
        client = anthropic.Anthropic(base_url=srv.base_url, api_key="sk-ant-test")
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from apimon_tui.fakes.openai_server import DEFAULT_REPLY, FakeOpenAI, Outcome, _Answer, _words, prompt_tokens

ANTHROPIC_MODEL_SUFFIX = "-20250929"  # the dated snapshot a bare model name answers as

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
    401: ("authentication_error", "invalid x-api-key"),
    404: ("not_found_error", "model: not found"),
    429: ("rate_limit_error", "This request would exceed your organization's rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


class FakeAnthropic(FakeOpenAI):
    """An Anthropic Messages server on a free loopback port; use as a context manager.

    Every answer reports `cache_read_tokens` and `cache_write_tokens` in its usage,
    beside the uncached `input_tokens` (Anthropic counts them apart).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        reply: str = DEFAULT_REPLY,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        limit_requests: int = 1000,
        limit_tokens: int = 96_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(api_key=api_key, reply=reply, limit_requests=limit_requests,
                         limit_tokens=limit_tokens, clock=clock)
        self.cache_read_tokens = cache_read_tokens
        self.cache_write_tokens = cache_write_tokens

    @property
    def base_url(self) -> str:
        """The URL to give the SDK as `base_url` (it adds `/v1/messages` itself)."""
        return super().base_url.removesuffix("/v1")

    def _authorized(self, headers: dict[str, str]) -> bool:
        """The key as `x-api-key` (the HTTP API, anthropic 0.x/1.x) or as a bearer token (anthropic 2.x)."""
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        return self.api_key is None or key == self.api_key

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        outcome = self._next_outcome()
        payload = _json(body)
        model = payload.get("model") if isinstance(payload, dict) else None
        if outcome.status >= 400:
            return self._error(outcome.status, outcome, headers, model)
        if not self._authorized(headers):
            return self._error(401, outcome, headers, model)
        if method != "POST" or path != "/v1/messages":
            return self._error(404, Outcome(404, error={"message": f"Not found: {method} {path}"}), headers, model)
        if not isinstance(payload, dict) or not isinstance(model, str) or not payload.get("messages"):
            return self._error(400, Outcome(400, error={"message": "messages: field required"}), headers, model)
        return self._messages(payload, model, outcome)

    def _headers(self, tokens: int, retry_after_ms: int | None = None) -> dict[str, str]:
        left_requests, left_tokens, reset = self._use_quota(tokens)
        reset_at = datetime.fromtimestamp(self.clock() + reset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "request-id": f"req_011{uuid.uuid4().hex[:21]}",
            "anthropic-organization-id": "36562039-1ae4-48e6-ae28-1e517e3d2d12",
            "anthropic-ratelimit-requests-limit": str(self.limit_requests),
            "anthropic-ratelimit-requests-remaining": str(left_requests),
            "anthropic-ratelimit-requests-reset": reset_at,
            "anthropic-ratelimit-tokens-limit": str(self.limit_tokens),
            "anthropic-ratelimit-tokens-remaining": str(round(left_tokens, -3)),
            "anthropic-ratelimit-tokens-reset": reset_at,
        }
        if retry_after_ms is not None:
            headers["retry-after"] = str(max(1, -(-retry_after_ms // 1000)))
        return headers

    def _error(self, status: int, outcome: Outcome, headers: dict[str, str], model: Any) -> _Answer:
        kind, message = _ERRORS.get(status, ("api_error", "Unexpected error."))
        error = {"type": kind, "message": message, **(outcome.error or {})}
        answer_headers = self._headers(0, outcome.retry_after_ms)
        body = {"type": "error", "error": error, "request_id": answer_headers["request-id"]}
        return _Answer(status, answer_headers, body=body, model=model if isinstance(model, str) else None)

    def _messages(self, payload: dict[str, Any], model: str, outcome: Outcome) -> _Answer:
        system = payload.get("system")
        messages = [*([{"content": system}] if system else []), *payload["messages"]]
        prompt, out = prompt_tokens(messages), _words(self.reply)
        uncached = max(0, prompt - self.cache_read_tokens - self.cache_write_tokens)
        usage = {"input_tokens": uncached, "cache_creation_input_tokens": self.cache_write_tokens,
                 "cache_read_input_tokens": self.cache_read_tokens, "output_tokens": out}
        message = {"id": f"msg_01{uuid.uuid4().hex[:22]}", "type": "message", "role": "assistant",
                   "model": model + ANTHROPIC_MODEL_SUFFIX, "stop_reason": None, "stop_sequence": None}
        headers = self._headers(prompt + out)
        if payload.get("stream") is not True:
            body = {**message, "content": [{"type": "text", "text": self.reply}], "stop_reason": "end_turn",
                    "usage": usage}
            return _Answer(200, headers, body=body, model=model, input_tokens=prompt, output_tokens=out)
        answer = _Answer(200, headers, events=list(self._events(message, usage)), model=model,
                         input_tokens=prompt, output_tokens=out, named=True, done=False)
        if outcome.cut_after is not None:
            error = None if outcome.stream_error is None else {"type": "error", "error": outcome.stream_error}
            answer.cut(outcome, error)
            answer.output_tokens = None  # the final count comes in message_delta
        return answer

    def _events(self, message: dict[str, Any], usage: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """message_start (with input usage and Anthropic's placeholder output of 1), one delta per word, the end."""
        start_usage = {**usage, "output_tokens": 1}
        yield {"type": "message_start", "message": {**message, "content": [], "usage": start_usage}}
        yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        yield {"type": "ping"}
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            text = word if i == len(words) - 1 else word + " "
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        yield {"type": "content_block_stop", "index": 0}
        yield {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
               "usage": {"output_tokens": usage["output_tokens"]}}
        yield {"type": "message_stop"}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return None
