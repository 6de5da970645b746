"""Cache tokens through the capture hook: a real httpx client against a loopback server
that answers with Anthropic's and OpenAI's wire formats (JSON and SSE).

Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI counts
cached tokens inside `prompt_tokens`. The records must follow one convention
(input is the whole prompt, reads and writes are parts of it) and carry the cost
at each part's own rate (prices: docs.anthropic.com pricing and prompt-caching
pages, platform.openai.com/docs/pricing).
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from apimon_tui.capture import capture_httpx, flush

ANTHROPIC_USAGE = {
    "input_tokens": 1_000, "cache_read_input_tokens": 6_000, "cache_creation_input_tokens": 3_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
    "output_tokens": 500,
}
# 1k plain x $3 + 6k reads x $0.30 + 1k 5-minute writes x $3.75 + 2k 1-hour writes x $6 + 500 x $15
ANTHROPIC_COST = "0.02805"
OPENAI_USAGE = {"prompt_tokens": 2_000, "completion_tokens": 100, "total_tokens": 2_100,
                "prompt_tokens_details": {"cached_tokens": 1_024}}
OPENAI_COST = "0.00472"  # 976 x $2.50 + 1,024 x $1.25 + 100 x $10


def _sse(*events: tuple[str | None, dict]) -> bytes:
    out = b""
    for name, data in events:
        out += (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"
    return out


BODIES = {
    "/v1/messages": ("application/json", json.dumps(
        {"id": "msg_1", "type": "message", "model": "claude-sonnet-4-5", "usage": ANTHROPIC_USAGE}).encode()),
    "/v1/messages/stream": ("text/event-stream", _sse(
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_2", "model": "claude-sonnet-4-5", "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}}),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}}),
        ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 500}}),
        ("message_stop", {"type": "message_stop"}),
    )),
    "/v1/chat/completions": ("application/json", json.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o", "usage": OPENAI_USAGE}).encode()),
    "/v1/chat/completions/stream": ("text/event-stream", _sse(
        (None, {"id": "c", "object": "chat.completion.chunk", "choices": [{"delta": {"content": "hi"}}],
                "usage": None}),
        (None, {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": OPENAI_USAGE}),
    ) + b"data: [DONE]\n\n"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        content_type, body = BODIES[self.path]
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _record(base_url: str, log: Path, path: str, model: str, headers: dict[str, str]) -> dict:
    with capture_httpx(httpx.Client(), path=log) as client:
        response = client.post(base_url + path, json={"model": model, "stream": path.endswith("stream")},
                               headers=headers)
        assert response.status_code == 200
    flush()
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    return record


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/stream"])
def test_anthropic_cache_reads_and_writes_are_parts_of_the_prompt(base_url, tmp_path, path):
    record = _record(base_url, tmp_path / "calls.jsonl", path, "claude-sonnet-4-5", {"anthropic-version": "2023-06-01"})
    assert record["provider"] == "anthropic"
    tokens = {k: record.get(k) for k in ("input_tokens", "cached_tokens", "cache_write_tokens",
                                         "cache_write_1h_tokens", "output_tokens")}
    assert tokens == {"input_tokens": 10_000, "cached_tokens": 6_000, "cache_write_tokens": 3_000,
                      "cache_write_1h_tokens": 2_000, "output_tokens": 500}
    assert abs(Decimal(record["cost_usd"]) - Decimal(ANTHROPIC_COST)) < Decimal("1e-12")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/chat/completions/stream"])
def test_openai_cached_tokens_are_part_of_the_prompt(base_url, tmp_path, path):
    record = _record(base_url, tmp_path / "calls.jsonl", path, "gpt-4o", {"user-agent": "OpenAI/Python 2.8.0"})
    assert record["provider"] == "openai"
    assert (record["input_tokens"], record["cached_tokens"], record["output_tokens"]) == (2_000, 1_024, 100)
    assert "cache_write_tokens" not in record
    assert abs(Decimal(record["cost_usd"]) - Decimal(OPENAI_COST)) < Decimal("1e-12")
