"""Responses API streams in the capture hook, with the real `openai` SDK on loopback.

A stream's last event says how the answer ended: `response.completed`,
`response.incomplete` (cut short, not a failure) or `response.failed` (a
failed call after its 200), or an `error` event in either of the shapes
seen (code and message at the top, as the API reference documents; an
`error` object, as the API is seen sending). Every record is compared with
what the fake server says it sent, and `report --json` is run on the records
with the real console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
from format_support import Collect

import apimon_tui
from apimon_tui.capture import capture_httpx, flush
from apimon_tui.capture.exchange import BodySummary, SseTap
from apimon_tui.fakes.openai_server import Attempt, FakeOpenAI, Outcome
from apimon_tui.formats.native import from_record

KEY = "sk-proj-responsestest0123456789abcdefWXYZ"
CACHED = 3
FAILURE = {"code": "server_error", "message": "The model failed to generate a response."}
SCRIPT = shutil.which("apimon-tui")
COMMAND = [SCRIPT] if SCRIPT else [sys.executable, "-m", "apimon_tui"]


@pytest.fixture
def server():
    with FakeOpenAI(api_key=KEY, cached_tokens=CACHED) as srv:
        yield srv


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


def read_records(path: Path) -> list[dict[str, Any]]:
    flush()
    return [json.loads(line) for line in path.read_text().splitlines()]


def client_for(server: FakeOpenAI, http_client: Any) -> Any:
    cls = openai.AsyncOpenAI if isinstance(http_client, (httpx.AsyncClient, httpx2.AsyncClient)) else openai.OpenAI
    return cls(base_url=server.base_url, api_key=KEY, http_client=http_client, max_retries=0)


def event_types(stream: Any) -> list[str]:
    return [event.type for event in stream]


def assert_same_attempt(record: dict[str, Any], attempt: Attempt) -> None:
    assert (record["status"], record["request_id"], record["model"]) == (attempt.status, attempt.request_id,
                                                                        attempt.model)
    assert record["endpoint"] == "/v1/responses" and record["stream"] is True
    call = from_record(record)  # reads back
    assert (call.stream_ended, call.incomplete_reason) == (record["stream_ended"], record.get("incomplete_reason"))


def sent_tokens(attempt: Attempt) -> dict[str, int]:
    usage = attempt.usage
    return {"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"],
            "cached_tokens": usage["input_tokens_details"]["cached_tokens"]}


def report(path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(apimon_tui.__file__).parents[1])}
    done = subprocess.run([*COMMAND, "report", "--json", str(path)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("client_type", [httpx.Client, httpx2.Client])
def test_completed_incomplete_and_failed_streams_are_recorded_as_they_ended(server, log_path, client_type):
    server.script([200, 200, Outcome(cut_after=2, response_error=FAILURE)])
    with client_for(server, capture_httpx(client_type(), log_path)) as client:
        ends = [event_types(client.responses.create(model="gpt-4o", input="say hi", stream=True, **extra))[-1]
                for extra in ({}, {"max_output_tokens": 4}, {})]

    assert ends == ["response.completed", "response.incomplete", "response.failed"]  # the SDK raised on none
    completed, incomplete, failed = records = read_records(log_path)
    for record, attempt in zip(records, server.attempts, strict=True):
        assert_same_attempt(record, attempt)
        assert "ttft_ms" in record
    whole, cut, broke = server.attempts

    assert completed["stream_ended"] == "complete" and "failed" not in completed
    assert {k: completed[k] for k in ("input_tokens", "output_tokens", "cached_tokens")} == sent_tokens(whole)
    assert completed["cached_tokens"] == CACHED and completed["cost_usd"] > 0

    assert incomplete["stream_ended"] == "incomplete" and "failed" not in incomplete
    assert incomplete["incomplete_reason"] == cut.last_event["response"]["incomplete_details"]["reason"]
    assert incomplete["incomplete_reason"] == "max_output_tokens"
    assert {k: incomplete[k] for k in ("input_tokens", "output_tokens", "cached_tokens")} == sent_tokens(cut)
    assert incomplete["output_tokens"] == 4 and incomplete["cost_usd"] > 0

    assert (failed["failed"], failed["stream_ended"]) == (True, "error")
    sent_error = broke.last_event["response"]["error"]
    assert failed["error"] == {"type": None, "code": sent_error["code"], "message": sent_error["message"]}
    assert broke.usage is None  # the failed response carried no usage: its tokens are unknown, not 0
    assert not {"input_tokens", "output_tokens", "cached_tokens"} & failed.keys()
    assert from_record(failed).is_error and not from_record(incomplete).is_error

    summary = report(log_path)
    assert (summary["calls"], summary["errors"]) == (3, 1)
    model = summary["models"]["gpt-4o"]
    assert (model["calls"], model["errors"]) == (3, 1)
    assert model["input_tokens"] == whole.usage["input_tokens"] + cut.usage["input_tokens"]
    assert model["output_tokens"] == whole.usage["output_tokens"] + cut.usage["output_tokens"]
    assert model["cached_tokens"] == 2 * CACHED


@pytest.mark.parametrize(("shape", "sent"), [
    ("documented: code and message at the top", {"code": "rate_limit_exceeded", "message": "Slow down.",
                                                 "param": None}),
    ("as sent: an error object", {"error": {"type": "too_many_requests", "code": "too_many_requests",
                                            "message": "Too Many Requests", "param": None}}),
])
def test_error_event_in_either_shape_is_a_failed_call(server, log_path, shape, sent):
    server.script([Outcome(cut_after=5, stream_error=sent)])
    with client_for(server, capture_httpx(httpx2.Client(), log_path)) as client:
        stream = client.responses.create(model="gpt-4o-mini", input="say hi", stream=True)
        if "error" in sent:  # openai-python raises on an `error` object, and yields the documented shape
            with pytest.raises(openai.APIError, match="Too Many Requests"):
                event_types(stream)
        else:
            assert event_types(stream)[-1] == "error"

    (record,) = read_records(log_path)
    (attempt,) = server.attempts
    assert_same_attempt(record, attempt)
    assert attempt.last_event["type"] == "error"
    assert (record["failed"], record["stream_ended"]) == (True, "error")
    error = sent.get("error", sent)
    assert (record["error"]["code"], record["error"]["message"]) == (error["code"], error["message"])
    assert not {"input_tokens", "output_tokens"} & record.keys()
    assert (report(log_path)["calls"], report(log_path)["errors"]) == (1, 1)


async def test_async_failed_stream_is_a_failed_call(server, log_path):
    server.script([Outcome(response_error={"code": "rate_limit_exceeded", "message": "Rate limit reached."})])
    async with client_for(server, capture_httpx(httpx2.AsyncClient(), log_path)) as client:
        stream = await client.responses.create(model="gpt-4o", input=[{"role": "user", "content": "hi"}],
                                               stream=True)
        types = [event.type async for event in stream]

    assert types[-1] == "response.failed"
    (record,) = read_records(log_path)
    assert_same_attempt(record, server.attempts[0])
    assert (record["failed"], record["stream_ended"]) == (True, "error")
    assert (record["error"]["code"], record["error"]["message"]) == ("rate_limit_exceeded", "Rate limit reached.")


# -- the stream tap on its own: events with no `event:` line, hostile values -----


class SmallSseTap(SseTap):
    """Compacts every few bytes, so lines are looked for across many compactions."""

    LIMIT = 16


def feed(tap: SseTap, data: bytes) -> SseTap:
    for i in range(0, len(data), 7):  # chunk boundaries fall mid-line
        tap.feed(data[i:i + 7])
    return tap


def data_lines(*events: dict[str, Any], separators: tuple[str, str] = (",", ":")) -> bytes:
    """Events as a proxy may relay them: `data:` lines only, no `event:` lines."""
    return b"".join(b"data: " + json.dumps(e, separators=separators).encode() + b"\n\n" for e in events)


USAGE = {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 8}, "output_tokens": 16}


@pytest.mark.parametrize("tap_type", [SseTap, SmallSseTap])
@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_tap_reads_the_final_response_event_from_data_lines_alone(tap_type, separators):
    tap = feed(tap_type(), data_lines(
        {"type": "response.created", "response": {"status": "in_progress", "usage": None, "error": None}},
        {"type": "response.output_text.delta", "delta": '"type":"response.failed" is only text'},
        {"type": "response.incomplete", "response": {"status": "incomplete", "error": None, "usage": USAGE,
                                                     "incomplete_details": {"reason": "content_filter"}}},
        separators=separators))
    assert tap.summary() == BodySummary(USAGE, None, True, "content_filter")
    assert tap.end_seen


@pytest.mark.parametrize("tap_type", [SseTap, SmallSseTap])
def test_tap_text_that_names_an_end_event_is_not_one(tap_type):
    tap = feed(tap_type(), data_lines({"type": "response.output_text.delta",
                                       "delta": 'say {"type":"response.failed","response":{}}'}))
    assert tap.summary() == BodySummary()
    assert not tap.end_seen


@pytest.mark.parametrize(("event", "summary"), [
    ({"type": "response.failed", "response": {"status": "failed", "error": None}},
     BodySummary(None, {"type": "response.failed"})),  # failed for a reason not given
    ({"type": "response.failed", "response": {"status": "failed", "error": "boom"}},
     BodySummary(None, {"type": "response.failed"})),
    ({"type": "response.failed", "response": "not an object"}, BodySummary(None, {"type": "response.failed"})),
    ({"type": "response.completed", "response": [1, 2]}, BodySummary()),
])
def test_tap_never_fails_on_a_strange_final_event(event, summary):
    assert feed(SseTap(), data_lines(event)).summary() == summary


@pytest.mark.parametrize("details", [None, "max_output_tokens", ["max_output_tokens"], {"reason": 7}])
def test_tap_incomplete_with_no_usable_reason_is_incomplete_for_an_unknown_reason(details):
    tap = feed(SseTap(), data_lines({"type": "response.incomplete",
                                     "response": {"status": "incomplete", "incomplete_details": details}}))
    assert tap.summary() == BodySummary(None, None, True, None)


def test_the_first_error_event_wins_over_a_later_failed_response():
    tap = feed(SseTap(), data_lines(
        {"type": "error", "code": "server_error", "message": "first"},
        {"type": "response.failed", "response": {"status": "failed", "error": {"code": "x", "message": "later"}}}))
    assert tap.summary().error == {"code": "server_error", "message": "first"}


# -- the native reader --------------------------------------------------------


def test_native_reader_keeps_an_incomplete_stream_and_its_reason_as_text_only():
    base = {"apimon": 1, "ts": 1764201600.0, "status": 200, "stream": True, "stream_ended": "incomplete"}
    call = from_record({**base, "incomplete_reason": "max_output_tokens"})
    assert (call.stream_ended, call.incomplete_reason, call.is_error) == ("incomplete", "max_output_tokens", False)
    assert call.to_dict()["incomplete_reason"] == "max_output_tokens"
    sink = Collect()
    assert from_record({**base, "incomplete_reason": {"x": 1}}, sink=sink).incomplete_reason is None
    assert [field for field, _ in sink.bad_values] == ["incomplete_reason"]
