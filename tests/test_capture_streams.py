"""Streams in the capture hook, with the real `openai` and `anthropic` SDKs on loopback.

How a stream ended (`stream_ended`), a stream that fails after its 200 with an
error event, and a stream the application abandons, in a real subprocess so
that garbage collection and interpreter exit are real. Every record is
compared with what the fake server says it sent.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

import apimon_tui
from apimon_tui.capture import capture_httpx, flush
from apimon_tui.capture.exchange import BodySummary, SseTap
from apimon_tui.fakes.anthropic_server import FakeAnthropic
from apimon_tui.fakes.openai_server import Attempt, FakeOpenAI, Outcome
from apimon_tui.formats.native import from_record

OPENAI_KEY = "sk-proj-streamtest0123456789abcdefWXYZ"
ANTHROPIC_KEY = "sk-ant-api03-streamtest0123456789abcdefWXYZ"
MESSAGES = [{"role": "user", "content": "say something short"}]
OPENAI_STREAM_ERROR = {"message": "The server had an error while processing your request. Sorry about that!",
                       "type": "server_error", "param": None, "code": "internal_error"}
ANTHROPIC_STREAM_ERROR = {"type": "overloaded_error", "message": "Overloaded"}
CACHE_READ, CACHE_WRITE = 1024, 256


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


@pytest.fixture
def openai_server():
    with FakeOpenAI(api_key=OPENAI_KEY) as srv:
        yield srv


@pytest.fixture
def anthropic_server():
    with FakeAnthropic(api_key=ANTHROPIC_KEY, cache_read_tokens=CACHE_READ, cache_write_tokens=CACHE_WRITE) as srv:
        yield srv


def read_records(path: Path) -> list[dict[str, Any]]:
    flush()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def openai_client(server: FakeOpenAI, http_client: Any) -> Any:
    cls = openai.AsyncOpenAI if isinstance(http_client, (httpx.AsyncClient, httpx2.AsyncClient)) else openai.OpenAI
    return cls(base_url=server.base_url, api_key=OPENAI_KEY, http_client=http_client, max_retries=0)


def anthropic_client(server: FakeAnthropic, http_client: Any) -> Any:
    cls = anthropic.AsyncAnthropic if isinstance(http_client, httpx2.AsyncClient) else anthropic.Anthropic
    return cls(base_url=server.base_url, api_key=ANTHROPIC_KEY, http_client=http_client, max_retries=0)


def anthropic_tokens(usage: dict[str, Any]) -> dict[str, int]:
    """The record's convention from Anthropic's wire usage: input counts cache reads and writes too."""
    return {"input_tokens": usage["input_tokens"] + usage["cache_read_input_tokens"]
            + usage["cache_creation_input_tokens"], "cached_tokens": usage["cache_read_input_tokens"]}


def assert_same_attempt(record: dict[str, Any], attempt: Attempt) -> None:
    assert record["status"] == attempt.status
    assert record["request_id"] == attempt.request_id
    assert record["model"] == attempt.model
    assert record["stream"] is attempt.stream
    assert from_record(record).stream_ended == record.get("stream_ended")  # reads back


# -- streams that end: complete, and an error event after the 200 -----------


@pytest.mark.parametrize("client_type", [httpx.Client, httpx2.Client])
def test_openai_streams_complete_and_error_event_after_200(openai_server, log_path, client_type):
    openai_server.script([200, Outcome(cut_after=2, stream_error=OPENAI_STREAM_ERROR)])
    with openai_client(openai_server, capture_httpx(client_type(), log_path)) as client:
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}):
            pass
        with pytest.raises(openai.APIError, match="The server had an error"):
            for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
                pass

    complete, errored = read_records(log_path)
    whole, cut = openai_server.attempts
    assert_same_attempt(complete, whole)
    assert complete["stream_ended"] == "complete" and "failed" not in complete
    assert (complete["input_tokens"], complete["output_tokens"]) == (whole.input_tokens, whole.output_tokens)
    assert_same_attempt(errored, cut)
    assert errored["status"] == 200 and errored["failed"] is True
    assert errored["stream_ended"] == "error"
    assert errored["error"] == {key: cut.stream_error[key] for key in ("type", "code", "message")}
    assert "ttft_ms" in complete and "ttft_ms" in errored
    assert from_record(errored).is_error


async def test_async_openai_stream_error_event_after_200(openai_server, log_path):
    openai_server.script([Outcome(cut_after=3, stream_error=OPENAI_STREAM_ERROR)])
    async with openai_client(openai_server, capture_httpx(httpx2.AsyncClient(), log_path)) as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass

    (record,) = read_records(log_path)
    assert_same_attempt(record, openai_server.attempts[0])
    assert (record["failed"], record["stream_ended"], record["error"]["code"]) == (True, "error", "internal_error")


ANTHROPIC_CLIENTS = [
    pytest.param(httpx2.Client, id="httpx2.Client"),
    pytest.param(anthropic.DefaultHttpxClient, id="DefaultHttpxClient"),
]
ANTHROPIC_ASYNC_CLIENTS = [
    pytest.param(httpx2.AsyncClient, id="httpx2.AsyncClient"),
    pytest.param(anthropic.DefaultAsyncHttpxClient, id="DefaultAsyncHttpxClient"),
]


@pytest.mark.parametrize("client_type", ANTHROPIC_CLIENTS)
def test_anthropic_plain_stream_and_error_event_with_cache_usage(anthropic_server, log_path, client_type):
    anthropic_server.script([200, 200, Outcome(cut_after=2, stream_error=ANTHROPIC_STREAM_ERROR)])
    with anthropic_client(anthropic_server, capture_httpx(client_type(), log_path)) as client:
        reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream:
            text = stream.get_final_text()
        with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
            for _ in client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES,
                                            stream=True):
                pass

    assert text == reply.content[0].text
    plain, streamed, errored = records = read_records(log_path)
    for record, attempt in zip(records, anthropic_server.attempts, strict=True):
        assert_same_attempt(record, attempt)
        assert record["provider"] == "anthropic"
        assert record["ratelimit"]["limit_requests"] == 1000
        assert {k: record.get(k) for k in ("input_tokens", "cached_tokens")} == anthropic_tokens(attempt.usage)
    assert plain["output_tokens"] == streamed["output_tokens"] == anthropic_server.attempts[0].usage["output_tokens"]
    assert "stream_ended" not in plain and streamed["stream_ended"] == "complete"
    assert plain["cached_tokens"] == CACHE_READ
    assert errored["failed"] is True and errored["stream_ended"] == "error"
    assert errored["error"] == {"type": "overloaded_error", "code": None, "message": "Overloaded"}
    assert "output_tokens" not in errored  # message_start's 1 is a placeholder, not a count
    assert "ttft_ms" in streamed and "ttft_ms" in errored


@pytest.mark.parametrize("client_type", ANTHROPIC_ASYNC_CLIENTS)
async def test_async_anthropic_stream_with_cache_usage(anthropic_server, log_path, client_type):
    async with anthropic_client(anthropic_server, capture_httpx(client_type(), log_path)) as client:
        stream = await client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES,
                                              stream=True)
        async for _ in stream:
            pass

    (record,) = read_records(log_path)
    (attempt,) = anthropic_server.attempts
    assert_same_attempt(record, attempt)
    assert record["stream_ended"] == "complete"
    assert {k: record[k] for k in ("input_tokens", "cached_tokens")} == anthropic_tokens(attempt.usage)
    assert record["output_tokens"] == attempt.usage["output_tokens"]


def test_anthropic_2_rejects_an_httpx_client():
    """What the README says: anthropic 2.x takes only httpx2 clients, so `httpx.Client` capture cannot apply."""
    with pytest.raises(TypeError, match="httpx2"):
        anthropic.Anthropic(api_key=ANTHROPIC_KEY, http_client=capture_httpx(httpx.Client()))


@pytest.mark.parametrize(("client_type", "cut"), [(httpx.Client, httpx.RemoteProtocolError),
                                                  (httpx2.Client, httpx2.RemoteProtocolError)])
def test_stream_cut_by_the_server_is_broken(log_path, client_type, cut):
    with FakeOpenAI(api_key=OPENAI_KEY) as server:
        server.script([Outcome(cut_after=2)])
        client = capture_httpx(client_type(base_url=server.base_url), log_path)
        with client.stream("POST", "/chat/completions", headers={"Authorization": f"Bearer {OPENAI_KEY}"},
                           json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}) as response:
            chunks = response.iter_raw()
            assert next(chunks).startswith(b"data: ")
            server.stop()  # the stalled stream's connection closes without its last chunk
            with pytest.raises(cut):
                list(chunks)

    (record,) = read_records(log_path)
    assert_same_attempt(record, server.attempts[0])
    assert (record["stream_ended"], record["failed"]) == ("broken", True)
    assert record["error"]["type"] == "RemoteProtocolError"


# -- abandoned streams, in this process ---------------------------------------


def test_stream_closed_early_is_abandoned_with_what_was_seen(anthropic_server, log_path):
    with anthropic_client(anthropic_server, capture_httpx(httpx2.Client(), log_path)) as client:
        with client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES,
                                    stream=True) as stream:
            events = iter(stream)
            assert [next(events).type, next(events).type] == ["message_start", "content_block_start"]

    (record,) = read_records(log_path)
    (attempt,) = anthropic_server.attempts
    assert_same_attempt(record, attempt)
    assert record["stream_ended"] == "abandoned" and "failed" not in record
    assert {k: record[k] for k in ("input_tokens", "cached_tokens")} == anthropic_tokens(attempt.usage)
    assert "output_tokens" not in record


@pytest.mark.parametrize("client_type", [httpx.Client, httpx2.Client])
def test_plain_httpx_response_dropped_unclosed_is_recorded_when_collected(openai_server, log_path, client_type):
    """No SDK closes it: the response is only garbage-collected, mid-stream."""
    openai_server.script([Outcome(cut_after=2)])  # two chunks, then the server holds the stream open
    client = capture_httpx(client_type(base_url=openai_server.base_url), log_path)
    request = client.build_request("POST", "/chat/completions", headers={"Authorization": f"Bearer {OPENAI_KEY}"},
                                   json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
    response = client.send(request, stream=True)
    chunks = response.iter_raw()
    assert next(chunks).startswith(b"data: ")
    assert read_records(log_path) == []
    del response, chunks
    gc.collect()

    (record,) = read_records(log_path)
    assert_same_attempt(record, openai_server.attempts[0])
    assert record["stream_ended"] == "abandoned" and "ttft_ms" in record


@pytest.mark.parametrize("client_type", [httpx.AsyncClient, httpx2.AsyncClient])
async def test_async_response_dropped_unclosed_is_recorded_when_collected(openai_server, log_path, client_type):
    openai_server.script([Outcome(cut_after=2)])
    client = capture_httpx(client_type(base_url=openai_server.base_url), log_path)
    request = client.build_request("POST", "/chat/completions", headers={"Authorization": f"Bearer {OPENAI_KEY}"},
                                   json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
    response = await client.send(request, stream=True)
    chunks = response.aiter_raw()
    assert (await chunks.__anext__()).startswith(b"data: ")
    del response, chunks
    for _ in range(100):  # the loop closes the dropped async generators (in steps), which let go of the body
        gc.collect()
        if read_records(log_path):
            break
        await asyncio.sleep(0)

    (record,) = read_records(log_path)
    assert_same_attempt(record, openai_server.attempts[0])
    assert record["stream_ended"] == "abandoned" and "ttft_ms" in record


# -- abandoned streams, in a real subprocess ----------------------------------

ABANDONING_APP = textwrap.dedent('''
    import gc, sys
    import anthropic, httpx2, openai
    from apimon_tui.capture import capture_httpx, flush

    sdk, how, base_url, key, path = sys.argv[1:]
    http_client = capture_httpx(httpx2.Client(), path)
    if sdk == "openai":
        client = openai.OpenAI(base_url=base_url, api_key=key, http_client=http_client)
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                stream=True, stream_options={"include_usage": True})
    else:
        client = anthropic.Anthropic(base_url=base_url, api_key=key, http_client=http_client)
        stream = client.messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                        messages=[{"role": "user", "content": "hi"}], stream=True)
    events = iter(stream)
    next(events), next(events)  # two chunks read, then the app moves on without closing
    if how == "collected":
        del stream, events
        gc.collect()
        flush()
        print(sum(1 for _ in open(path)))  # recorded before exit
    # "exit": the stream is still referenced when the interpreter exits
''')


@pytest.mark.parametrize("how", ["exit", "collected"])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_abandoned_stream_in_a_real_process_is_recorded(openai_server, anthropic_server, log_path, sdk, how):
    server, key = (openai_server, OPENAI_KEY) if sdk == "openai" else (anthropic_server, ANTHROPIC_KEY)
    server.script([Outcome(cut_after=2)])  # the server holds the rest back: the app cannot read to the end
    env = {**os.environ, "PYTHONPATH": str(Path(apimon_tui.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", ABANDONING_APP, sdk, how, server.base_url, key, str(log_path)],
                          env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == ("1" if how == "collected" else "")
    (record,) = read_records(log_path)
    (attempt,) = server.attempts
    assert_same_attempt(record, attempt)
    assert record["stream_ended"] == "abandoned"
    assert "failed" not in record and "ttft_ms" in record
    assert "output_tokens" not in record  # the final count was never reached
    if sdk == "anthropic":
        assert {k: record[k] for k in ("input_tokens", "cached_tokens")} == anthropic_tokens(attempt.usage)
    else:
        assert "input_tokens" not in record  # OpenAI sends usage only in the last chunk


def test_a_record_submitted_while_the_interpreter_finalizes_neither_hangs_nor_fails_the_exit(tmp_path):
    """No thread can start then: the writer must not try to wait for one."""
    app = textwrap.dedent('''
        import sys
        from apimon_tui.capture.jsonl_writer import JsonlWriter

        class SubmitsLate:
            def __del__(self):
                self.writer.submit({"late": True})

        late = SubmitsLate()
        late.writer = JsonlWriter(sys.argv[1])
    ''')
    env = {**os.environ, "PYTHONPATH": str(Path(apimon_tui.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", app, str(tmp_path / "late.jsonl")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")


# -- the native reader and the command line -----------------------------------


def test_report_counts_a_stream_error_after_200_as_an_error(anthropic_server, log_path):
    anthropic_server.script([200, Outcome(cut_after=2, stream_error=ANTHROPIC_STREAM_ERROR)])
    with anthropic_client(anthropic_server, capture_httpx(httpx2.Client(), log_path)) as client:
        for _ in client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, stream=True):
            pass
        with pytest.raises(anthropic.APIStatusError):
            for _ in client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES,
                                            stream=True):
                pass
    flush()

    env = {**os.environ, "PYTHONPATH": str(Path(apimon_tui.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(log_path)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["calls"] == 2
    assert report["errors"] == 1


def test_native_reader_keeps_known_stream_endings_only():
    base = {"apimon": 1, "ts": 1764201600.0, "status": 200, "stream": True}
    assert from_record({**base, "stream_ended": "abandoned"}).stream_ended == "abandoned"
    errored = from_record({**base, "stream_ended": "error", "failed": True,
                           "error": {"type": "overloaded_error", "code": None, "message": "Overloaded"}})
    assert (errored.stream_ended, errored.is_error, errored.error_type) == ("error", True, "overloaded_error")
    assert from_record({**base, "stream_ended": "\x1b[2Jgone"}).stream_ended is None
    assert from_record(base).stream_ended is None


# -- the stream tap on its own -----------------------------------------------


class SmallSseTap(SseTap):
    """Compacts every few bytes, so lines are looked for across many compactions."""

    LIMIT = 16


def feed(tap: SseTap, data: bytes) -> SseTap:
    for i in range(0, len(data), 7):  # chunk boundaries fall mid-line
        tap.feed(data[i:i + 7])
    return tap


@pytest.mark.parametrize("tap_type", [SseTap, SmallSseTap])
def test_tap_finds_the_error_event_after_lines_that_only_mention_error(tap_type):
    events = (
        b'data: {"choices":[{"delta":{"content":"an \\"error\\" word"}}],"error":null}\n\n'
        b'data: {"error": {"message": "boom", "type": "server_error", "param": null, "code": "internal_error"}}\n\n'
    )
    tap = feed(tap_type(), events)
    assert tap.summary() == BodySummary(None, {"message": "boom", "type": "server_error", "param": None,
                                               "code": "internal_error"})
    assert not tap.end_seen


@pytest.mark.parametrize("tap_type", [SseTap, SmallSseTap])
def test_tap_sees_the_end_only_in_the_last_events_line(tap_type):
    content = b'data: {"choices":[{"delta":{"content":"data: [DONE]\\nevent: message_stop"}}]}\n\n'
    tap = feed(tap_type(), content)
    tap.summary()
    assert not tap.end_seen
    ended = feed(tap_type(), content + b"data: [DONE]\n\n")
    ended.summary()
    assert ended.end_seen


def test_tap_never_takes_message_start_output_placeholder():
    tap = feed(SseTap(), b'event: message_start\ndata: {"type":"message_start","message":'
                         b'{"usage":{"input_tokens":25,"output_tokens":1}}}\n\n')
    assert tap.summary() == BodySummary({"input_tokens": 25}, None)
