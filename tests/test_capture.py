"""The capture hook, with the real `openai` SDK against FakeOpenAI on loopback.

Every check compares the records written to the file with the server's own
record of the attempts it answered.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from apimon_tui.capture import capture_httpx, flush, writer_for
from apimon_tui.capture.exchange import BodySummary, SseTap
from apimon_tui.fakes.openai_server import Attempt, FakeOpenAI, Outcome, prompt_tokens
from apimon_tui.formats.native import from_record

KEY = "sk-proj-capturetest0123456789abcdefWXYZ"
MESSAGES = [{"role": "user", "content": "say something short"}]
FAST = 5  # ms the fake asks the SDK to wait before a retry

SYNC_CLIENTS = [pytest.param(httpx2.Client, id="httpx2"), pytest.param(httpx.Client, id="httpx")]
ASYNC_CLIENTS = [pytest.param(httpx2.AsyncClient, id="httpx2"), pytest.param(httpx.AsyncClient, id="httpx")]


@pytest.fixture
def server():
    with FakeOpenAI(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "calls.jsonl"


def read_records(path: Path) -> list[dict[str, Any]]:
    flush()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_match(records: list[dict[str, Any]], attempts: list[Attempt]) -> None:
    """Each record says exactly what the server answered, attempt by attempt."""
    assert len(records) == len(attempts)
    for record, attempt in zip(records, attempts):
        assert from_record(record)  # a valid native record
        assert record["endpoint"] == attempt.path
        assert record["method"] == attempt.method
        assert record["status"] == attempt.status
        assert record.get("model") == attempt.model
        assert record["request_id"] == attempt.request_id
        assert record["attempt"] == attempt.retry_count
        assert record.get("input_tokens") == attempt.input_tokens
        assert record.get("output_tokens") == attempt.output_tokens
        assert record["stream"] == attempt.stream
        assert ("ttft_ms" in record) == (attempt.stream and attempt.status == 200)
        assert record["latency_ms"] > 0
        assert record["provider"] == "openai"
        assert record["ratelimit"]["limit_requests"] == 5000


def sdk(server: FakeOpenAI, http_client: Any, **kwargs: Any) -> Any:
    cls = openai.AsyncOpenAI if isinstance(http_client, (httpx.AsyncClient, httpx2.AsyncClient)) else openai.OpenAI
    return cls(base_url=server.base_url, api_key=kwargs.pop("api_key", KEY), http_client=http_client, **kwargs)


# -- the real SDK, sync ------------------------------------------------------


@pytest.mark.parametrize("client_type", SYNC_CLIENTS)
def test_plain_streaming_and_embedding_calls_are_recorded_exactly(server, log_path, client_type):
    with sdk(server, capture_httpx(client_type(), log_path)) as client:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])

    assert text == reply.choices[0].message.content
    records = read_records(log_path)
    assert_match(records, server.attempts)
    assert [r["endpoint"] for r in records] == ["/v1/chat/completions"] * 2 + ["/v1/embeddings"]
    assert records[0]["input_tokens"] == prompt_tokens(MESSAGES)
    assert records[1]["ttft_ms"] <= records[1]["latency_ms"]
    assert records[0]["cost_usd"] > 0


@pytest.mark.parametrize("client_type", SYNC_CLIENTS)
def test_stream_without_include_usage_has_no_token_counts(server, log_path, client_type):
    with sdk(server, capture_httpx(client_type(), log_path)) as client:
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    (record,) = read_records(log_path)
    assert_match([record], server.attempts)
    assert "input_tokens" not in record and "output_tokens" not in record
    assert record["stream"] is True and "ttft_ms" in record


@pytest.mark.parametrize("client_type", SYNC_CLIENTS)
def test_400_and_401_errors_carry_type_code_and_message(server, log_path, client_type):
    server.script([400])
    with sdk(server, capture_httpx(client_type(), log_path), max_retries=0) as client:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    wrong_key = "sk-proj-wrongkey9999999999999999abcd"
    with sdk(server, capture_httpx(client_type(), log_path), api_key=wrong_key) as client:
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    records = read_records(log_path)
    assert_match(records, server.attempts)
    assert records[0]["error"]["type"] == "invalid_request_error"
    assert records[0]["error"]["code"] == "context_length_exceeded"
    assert records[0]["error"]["message"].startswith("This model's maximum context length")
    assert records[1]["status"] == 401
    assert records[1]["error"]["code"] == "invalid_api_key"
    assert wrong_key not in log_path.read_text()


@pytest.mark.parametrize("client_type", SYNC_CLIENTS)
@pytest.mark.parametrize("first", [429, 500])
def test_retried_attempts_are_numbered(server, log_path, client_type, first):
    server.script([Outcome(first, retry_after_ms=FAST), 200, Outcome(first, retry_after_ms=FAST), 200])
    with sdk(server, capture_httpx(client_type(), log_path)) as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    records = read_records(log_path)
    assert_match(records, server.attempts)
    assert [(r["status"], r["attempt"]) for r in records] == [(first, 0), (200, 1)] * 2
    expected_code = "rate_limit_exceeded" if first == 429 else None
    assert [r["error"]["code"] for r in records[::2]] == [expected_code] * 2  # streamed error body read too
    assert records[3]["output_tokens"] == server.attempts[3].output_tokens


# -- the real SDK, async -----------------------------------------------------


@pytest.mark.parametrize("client_type", ASYNC_CLIENTS)
async def test_async_plain_streaming_error_and_retry(server, log_path, client_type):
    server.script([Outcome(429, retry_after_ms=FAST), 200, 200, Outcome(500, retry_after_ms=FAST), 200, 400])
    async with sdk(server, capture_httpx(client_type(), log_path)) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        async for _ in stream:
            pass
        await client.embeddings.create(model="text-embedding-3-small", input="hello")
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    records = read_records(log_path)
    assert_match(records, server.attempts)
    assert [(r["status"], r["attempt"]) for r in records] == [(429, 0), (200, 1), (200, 0), (500, 0), (200, 1),
                                                               (400, 0)]


# -- the writer --------------------------------------------------------------


def test_rotated_file_keeps_receiving_records(server, log_path):
    with sdk(server, capture_httpx(httpx2.Client(), log_path)) as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        flush()
        os.rename(log_path, log_path.with_suffix(".jsonl.1"))
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        flush()
        log_path.unlink()
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    first, *rest = server.attempts
    assert [r["request_id"] for r in read_records(log_path.with_suffix(".jsonl.1"))] == [first.request_id]
    assert [r["request_id"] for r in read_records(log_path)] == [rest[2].request_id]


def test_unwritable_path_never_raises_and_is_reported_once(server, tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "calls.jsonl"
    with caplog.at_level(logging.WARNING, logger="apimon_tui"):
        with sdk(server, capture_httpx(httpx2.Client(), path)) as client:
            reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            flush()
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        flush()

    assert reply.choices[0].message.content
    assert writer_for(path).failed == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot write" in warnings[0].getMessage() and str(path) in warnings[0].getMessage()


def test_api_key_never_reaches_the_file(server, log_path):
    server.script([Outcome(401, error={"message": f"Incorrect API key provided: {KEY}."})])
    leaky = [{"role": "user", "content": f"my key is {KEY}"}]
    with sdk(server, capture_httpx(httpx2.Client(), log_path, include_bodies=True)) as client:
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o", messages=leaky)
        client.chat.completions.create(model="gpt-4o", messages=leaky)

    records = read_records(log_path)
    text = log_path.read_text()
    assert KEY not in text and KEY[8:] not in text
    assert records[0]["error"]["message"] == f"Incorrect API key provided: sk-proj-…{KEY[-4:]}."
    assert f"my key is sk-proj-…{KEY[-4:]}" in records[1]["bodies"]["request"]


def test_bodies_are_kept_only_when_asked(server, log_path, tmp_path):
    with_bodies = tmp_path / "with-bodies.jsonl"
    with sdk(server, capture_httpx(httpx2.Client(), log_path, tags={"app": "tests"})) as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with sdk(server, capture_httpx(httpx2.Client(), with_bodies, include_bodies=True)) as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    (plain,) = read_records(log_path)
    assert plain["tags"] == {"app": "tests"}
    assert "bodies" not in plain
    assert MESSAGES[0]["content"] not in log_path.read_text()
    assert server.reply not in log_path.read_text()
    (full,) = read_records(with_bodies)
    assert MESSAGES[0]["content"] in full["bodies"]["request"]
    assert server.reply in full["bodies"]["response"]


# -- without an SDK ----------------------------------------------------------


def test_plain_httpx_client_and_idempotency_key_attempts(server, log_path):
    headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "job-42"}
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    server.script([503, 200])
    with capture_httpx(httpx.Client(base_url=server.base_url), log_path) as client:
        assert client.post("/chat/completions", json=body, headers=headers).status_code == 503
        assert client.post("/chat/completions", json=body, headers=headers).status_code == 200
        with client.stream("POST", "/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                           json={**body, "stream": True, "stream_options": {"include_usage": True}}) as response:
            lines = list(response.iter_lines())

    assert lines[-2] == "data: [DONE]"
    records = read_records(log_path)
    attempts = server.attempts
    assert [r["attempt"] for r in records] == [0, 1, 0]
    assert [r["status"] for r in records] == [a.status for a in attempts]
    assert [r["request_id"] for r in records] == [a.request_id for a in attempts]
    assert records[0]["error"]["message"].startswith("The engine is currently overloaded")
    assert records[2]["output_tokens"] == attempts[2].output_tokens and "ttft_ms" in records[2]
    assert "provider" not in records[0]  # plain httpx to loopback: nothing says which provider


def test_connection_failure_is_recorded_and_raised_unchanged(log_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with capture_httpx(httpx2.Client(), log_path) as client:
        with pytest.raises(httpx2.ConnectError):
            client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "gpt-4o"})

    (record,) = read_records(log_path)
    assert record["failed"] is True and "status" not in record
    assert record["error"]["type"] == "ConnectError"
    assert record["model"] == "gpt-4o"


def test_rejects_what_is_not_an_httpx_client():
    with pytest.raises(TypeError, match="httpx or httpx2"):
        capture_httpx(object())


# -- the stream tap on its own ----------------------------------------------


class SmallSseTap(SseTap):
    """Compacts every few bytes, so lines are looked for across many compactions."""

    LIMIT = 16


@pytest.mark.parametrize("tap_type", [SseTap, SmallSseTap])
def test_sse_usage_is_the_final_count_with_gaps_filled_from_the_first(tap_type):
    """Anthropic-style: message_start carries input tokens and 1 output token, message_delta the final count."""
    events = (
        b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5",'
        b'"usage":{"input_tokens":25,"cache_read_input_tokens":10,"output_tokens":1}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"the \\"usage\\" is"}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}'  # no final newline: the stream just ends
    )
    tap = tap_type()
    for i in range(0, len(events), 7):  # chunk boundaries fall mid-line
        tap.feed(events[i:i + 7])
    usage, error, incomplete, _ = tap.summary()
    assert usage == {"input_tokens": 25, "cache_read_input_tokens": 10, "output_tokens": 15}
    assert error is None and not incomplete


def test_sse_error_event_is_found():
    tap = SseTap()
    tap.feed(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
    assert tap.summary() == BodySummary(None, {"type": "overloaded_error", "message": "Overloaded"})
