"""The `openai-sdk` format: openai-python's OPENAI_LOG lines in, one call per HTTP attempt out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from apimon_tui import formats
from apimon_tui.formats import openai_sdk
from apimon_tui.formats.ratelimit import parse_reset
from format_support import Collect, nearest_rank, parse_with

DATA = Path(__file__).parent / "data"
CLOCK = 1_700_000_000.0
URL = "https://api.openai.com/v1/chat/completions"
PREFIX = "[2026-11-26 23:26:08 - openai._base_client:1016 - DEBUG] "
HTTPX = "[2026-11-26 23:26:08 - httpx:1025 - INFO] "


def parse(lines) -> Collect:
    return parse_with(openai_sdk, lines, now=CLOCK, one_by_one=True)


def headers(**extra) -> str:
    base = {"content-type": "application/json", "openai-processing-ms": "512", "x-request-id": "req_abc"}
    base.update({k.replace("_", "-"): v for k, v in extra.items()})
    return f"Headers({base!r})"


# -- the real samples -------------------------------------------------------------

def test_openai_1_109_sample_gives_the_expected_figures():
    expected = json.loads((DATA / "openai-1.109.1-debug.expected.json").read_text())
    sink = parse((DATA / "openai-1.109.1-debug.log").read_text().splitlines())
    calls = sink.calls
    assert not sink.bad
    assert len(calls) == expected["calls"]
    assert sum(c.is_error for c in calls) == expected["errors"]
    assert dict(Counter(c.status_label for c in calls)) == expected["status"]
    models = {}
    for c in calls:
        entry = models.setdefault(c.model, {"calls": 0, "errors": 0})
        entry["calls"] += 1
        entry["errors"] += c.is_error
    assert models == expected["models"]
    latencies = [c.latency_ms for c in calls if c.latency_ms is not None]
    assert len(latencies) == len(calls)
    for q in (50, 90, 95, 99):
        assert nearest_rank(latencies, q) == pytest.approx(expected["latency_ms"][f"p{q}"], rel=0.01)
    assert max(latencies) == pytest.approx(expected["latency_ms"]["max"], rel=0.01)


def test_openai_1_109_sample_fields_of_one_attempt():
    calls = parse((DATA / "openai-1.109.1-debug.log").read_text().splitlines()).calls
    first = calls[0]
    assert first.endpoint == "/v1/chat/completions"
    assert first.method == "POST"
    assert first.model == "gpt-4o"
    assert first.status == 200
    assert first.latency_ms == 493.0
    assert first.request_id == "req_8201c4e3ee56300e6ea73f8b6c534d92"
    assert first.ts == datetime(2026, 11, 26, 23, 26, 8).timestamp()  # naive: local time
    rl = first.ratelimit
    assert (rl.limit_requests, rl.remaining_requests, rl.limit_tokens, rl.remaining_tokens) == (5000, 4998, 4000000, 3998963)
    assert rl.reset_requests_s == pytest.approx(0.012)
    # the 429 and its retry: two attempts, the second marked as retry 1
    assert (calls[2].status, calls[2].attempt) == (429, 0)
    assert (calls[3].status, calls[3].attempt, calls[3].model) == (200, 1, "gpt-4.1")
    # streamed and embedding requests
    assert calls[4].stream is True
    embeddings = [c for c in calls if c.model == "text-embedding-3-small"]
    assert {c.endpoint for c in embeddings} == {"/v1/embeddings"}


def test_openai_3_57_sample_gives_the_expected_figures():
    expected = json.loads((DATA / "openai-3.57.0-debug.expected.json").read_text())
    sink = parse((DATA / "openai-3.57.0-debug.log").read_text().splitlines())
    calls = sink.calls
    assert not sink.bad
    assert len(calls) == expected["calls"]
    assert sum(c.is_error for c in calls) == expected["errors"]
    assert dict(Counter(c.status_label for c in calls)) == expected["status"]
    assert all(c.latency_ms is None and c.model is None for c in calls)
    assert all(c.request_id and c.request_id.startswith("req_") for c in calls)
    assert len({c.request_id for c in calls}) == len(calls)


def test_samples_are_detected_as_openai_sdk():
    for name in ("openai-1.109.1-debug.log", "openai-3.57.0-debug.log"):
        lines = (DATA / name).read_text().splitlines()
        assert formats.detect(lines) == "openai-sdk"


# -- one HTTP attempt, one call -----------------------------------------------------

def test_transport_and_response_lines_merge_into_one_call():
    sink = parse([
        PREFIX + f"Sending HTTP Request: POST {URL}",
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        PREFIX + f'HTTP Response: POST {URL} "200 OK" {headers()}',
        PREFIX + "request_id: req_abc",
    ])
    assert len(sink.calls) == 1
    call = sink.calls[0]
    assert (call.status, call.latency_ms, call.request_id, call.endpoint) == (200, 512.0, "req_abc", "/v1/chat/completions")
    assert "HTTP Request:" in call.raw and "HTTP Response:" in call.raw


def test_other_httpx_requests_are_not_openai_calls_when_the_sdk_logs_responses():
    sink = parse([
        PREFIX + f"Sending HTTP Request: POST {URL}",
        HTTPX + 'HTTP Request: GET https://example.com/health "HTTP/1.1 200 OK"',
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        PREFIX + f'HTTP Response: POST {URL} "200 OK" {headers()}',
        PREFIX + "request_id: req_abc",
    ])
    assert [(c.method, c.endpoint) for c in sink.calls] == [("POST", "/v1/chat/completions")]
    assert sink.skipped == 2  # the health check, the redundant request_id


def test_transport_line_alone_is_one_call_each():
    # OPENAI_LOG=info: only httpx's line and the SDK's INFO retry line.
    sink = parse([
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 429 Too Many Requests"',
        "[2026-11-26 23:26:08 - openai._base_client:1071 - INFO] Retrying request to /chat/completions in 0.383596 seconds",
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
    ])
    assert [(c.status, c.attempt) for c in sink.calls] == [(200, 0), (429, 0), (200, 1)]
    assert all(c.latency_ms is None for c in sink.calls)


def test_response_line_alone_is_one_call():
    sink = parse([
        PREFIX + f"Sending HTTP Request: POST {URL}",
        PREFIX + f'HTTP Response: POST {URL} "500 Internal Server Error" {headers()}',
        PREFIX + "request_id: req_abc",
    ])
    assert [(c.status, c.request_id) for c in sink.calls] == [(500, "req_abc")]
    assert sink.calls[0].is_error
    assert sink.skipped == 1  # the request_id line added nothing


def test_metadata_only_response_takes_the_request_id_line():
    sink = parse([
        PREFIX + "Building HTTP request: method=POST retries_taken=0",
        PREFIX + "Sending HTTP Request: POST",
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',  # the app enabled httpx2's logger
        PREFIX + "HTTP Response: POST 200",
        PREFIX + "request_id: req_xyz",
    ])
    assert len(sink.calls) == 1
    assert (sink.calls[0].status, sink.calls[0].request_id, sink.calls[0].endpoint) == (200, "req_xyz", "/v1/chat/completions")


def test_a_response_still_waiting_for_its_id_is_emitted_at_the_end():
    sink = parse([PREFIX + "HTTP Response: POST 200"])
    assert [(c.status, c.request_id) for c in sink.calls] == [(200, None)]


def test_metadata_only_retries_number_the_attempts():
    sink = parse([
        PREFIX + "Building HTTP request: method=POST retries_taken=0",
        PREFIX + "Sending HTTP Request: POST",
        PREFIX + "HTTP Response: POST 500",
        PREFIX + "request_id: req_1",
        PREFIX + "Encountered an HTTP status error: 500",
        PREFIX + "Retrying due to status code 500",
        PREFIX + "2 retries left",
        PREFIX + "Retrying request in 0.388313 seconds (retry 1 of 2)",
        PREFIX + "Building HTTP request: method=POST retries_taken=1",
        PREFIX + "Sending HTTP Request: POST",
        PREFIX + "HTTP Response: POST 200",
        PREFIX + "request_id: req_2",
    ])
    assert [(c.status, c.attempt, c.request_id) for c in sink.calls] == [(500, 0, "req_1"), (200, 1, "req_2")]


# -- transport errors -------------------------------------------------------------

def test_timeout_then_retry_success_is_a_failed_call_and_a_retry():
    sink = parse([
        PREFIX + "Request options: {'method': 'post', 'url': '/chat/completions', 'json_data': {'model': 'gpt-4o'}}",
        PREFIX + f"Sending HTTP Request: POST {URL}",
        PREFIX + "Encountered httpx.TimeoutException",
        "Traceback (most recent call last):",
        '  File "/app/.venv/lib/python3.11/site-packages/httpx/_transports/default.py", line 69, in map_httpcore_exceptions',
        "    yield",
        "httpx.ReadTimeout: The read operation timed out",
        PREFIX + "2 retries left",
        PREFIX + "Retrying request to /chat/completions in 0.412000 seconds",
        PREFIX + "Request options: {'method': 'post', 'url': '/chat/completions', 'json_data': {'model': 'gpt-4o'}}",
        PREFIX + f"Sending HTTP Request: POST {URL}",
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        PREFIX + f'HTTP Response: POST {URL} "200 OK" {headers()}',
        PREFIX + "request_id: req_abc",
    ])
    failed, ok = sink.calls
    assert (failed.status, failed.failed, failed.error_type, failed.attempt) == (None, True, "timeout", 0)
    assert failed.is_error and failed.status_label == "ERR"
    assert (failed.model, failed.endpoint) == ("gpt-4o", "/v1/chat/completions")
    assert (ok.status, ok.attempt, ok.model) == (200, 1, "gpt-4o")
    assert sink.skipped == 6  # four traceback lines, "2 retries left", the redundant request_id


def test_connection_error_without_retries_is_one_failed_call():
    sink = parse([
        PREFIX + f"Sending HTTP Request: POST {URL}",
        PREFIX + "Encountered Exception",
        "Traceback (most recent call last):",
        "httpx.ConnectError: [Errno 111] Connection refused",
        PREFIX + "Raising connection error",
    ])
    assert [(c.status, c.error_type) for c in sink.calls] == [(None, "connection")]


def test_v3_timeout_wording_and_raising_line():
    sink = parse([
        PREFIX + "Building HTTP request: method=POST retries_taken=2",
        PREFIX + "Sending HTTP Request: POST",
        PREFIX + "Encountered a timeout exception: ReadTimeout",
        PREFIX + "Raising timeout error",
    ])
    assert [(c.failed, c.error_type, c.error_message, c.attempt) for c in sink.calls] == [(True, "timeout", "ReadTimeout", 2)]


def test_raising_line_alone_is_a_failed_call():
    sink = parse([PREFIX + "Raising timeout error"])
    assert [(c.failed, c.error_type) for c in sink.calls] == [(True, "timeout")]


def test_info_level_retry_after_a_success_means_an_unanswered_attempt():
    # At info level a timeout shows only as a retry with no failed response before it.
    sink = parse([
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        "INFO:openai._base_client:Retrying request to /chat/completions in 0.404439 seconds",
        HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
    ])
    assert [(c.status_label, c.attempt) for c in sink.calls] == [("200", 0), ("ERR", 0), ("200", 1)]
    assert sink.calls[1].endpoint == "/chat/completions"


# -- prefixes, timestamps, headers ----------------------------------------------------

def test_custom_prefixes_are_read_by_message():
    sink = parse([
        f'2024-05-20 17:40:00,989 - httpx - INFO - HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        f'INFO:httpx:HTTP Request: POST {URL} "HTTP/1.1 503 Service Unavailable"',
        f'HTTP Request: POST {URL} "HTTP/2 200 OK"',
    ])
    first, second, third = sink.calls
    assert first.ts == pytest.approx(datetime(2024, 5, 20, 17, 40, 0, 989000).timestamp())
    assert (second.status, second.ts) == (503, CLOCK)
    assert (third.status, third.ts) == (200, CLOCK)


def test_zoned_timestamps_are_exact():
    sink = parse([
        f'2024-05-20T17:40:00.250+02:00 INFO HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
        f'2024-05-20T15:40:00Z INFO HTTP Request: POST {URL} "HTTP/1.1 200 OK"',
    ])
    expected = datetime(2024, 5, 20, 17, 40, 0, 250000, tzinfo=timezone(timedelta(hours=2))).timestamp()
    assert sink.calls[0].ts == pytest.approx(expected)
    assert sink.calls[1].ts == datetime(2024, 5, 20, 15, 40, tzinfo=timezone.utc).timestamp()


def test_headers_list_repr_with_duplicate_keys():
    listed = ("Headers([('date', 'Mon, 20 May 2024 17:40:00 GMT'), ('set-cookie', 'a=1'), ('set-cookie', 'b=2'), "
              "('openai-processing-ms', '87'), ('x-request-id', 'req_list'), ('x-ratelimit-reset-tokens', '6m0s'), "
              "('x-ratelimit-reset-requests', '1h32m15s')], encoding='utf-8')")
    sink = parse([PREFIX + f'HTTP Response: POST {URL} "200 OK" {listed}'])
    call = sink.calls[0]
    assert (call.latency_ms, call.request_id) == (87.0, "req_list")
    assert (call.ratelimit.reset_tokens_s, call.ratelimit.reset_requests_s) == (360.0, 5535.0)


@pytest.mark.parametrize("text, seconds", [
    ("12ms", 0.012), ("6m0s", 360.0), ("1h32m15s", 5535.0), ("8.64s", 8.64), ("1s", 1.0), ("0.5", 0.5),
    ("soon", None), ("", None), ("5x", None),
])
def test_reset_durations(text, seconds):
    assert parse_reset(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_model_is_read_from_json_data_only():
    options = ("{'method': 'post', 'url': '/embeddings', 'post_parser': <function Embeddings.create.<locals>.parser at 0x7f>, "
               "'json_data': {'input': \"say 'model': 'fake' please\", 'model': 'text-embedding-3-small', "
               "'metadata': {'model': 'nested'}}}")
    method, path, model, stream = openai_sdk.scan_options(options)
    assert (method, path, model, stream) == ("POST", "/embeddings", "text-embedding-3-small", None)


def test_legacy_v0_28_logfmt_lines():
    sink = parse([
        "message='Request to OpenAI API' method=post path=https://api.openai.com/v1/chat/completions",
        "message='OpenAI API response' path=https://api.openai.com/v1/chat/completions processing_ms=228 "
        "request_id=req_legacy response_code=200",
        "message='OpenAI API response' path=https://api.openai.com/v1/chat/completions processing_ms=15 "
        "request_id=req_limited response_code=429",
        "error_code=rate_limit_exceeded error_message='Rate limit reached for requests' error_param=None "
        "error_type=requests message='OpenAI API error received' stream_error=False",
    ])
    ok, limited = sink.calls
    assert (ok.status, ok.latency_ms, ok.request_id, ok.method, ok.endpoint, ok.ts) == (
        200, 228.0, "req_legacy", "POST", "/v1/chat/completions", CLOCK)
    assert (limited.status, limited.error_code, limited.error_type, limited.error_message) == (
        429, "rate_limit_exceeded", "requests", "Rate limit reached for requests")


def test_ordinary_lines_are_skipped_and_broken_known_lines_unparsed():
    sink = parse([
        "2024-05-20 17:40:00,989 - myapp - INFO - starting worker",
        "Encountered a problem in my app",
        PREFIX + "HTTP Response: garbage",
        HTTPX + "HTTP Request: POST nowhere",
    ])
    assert sink.calls == []
    assert sink.skipped == 2
    assert [reason for reason, _ in sink.bad] == ["unreadable 'HTTP Response' line", "unreadable 'HTTP Request' line"]


def test_sniff():
    assert openai_sdk.sniff(HTTPX + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"')
    assert openai_sdk.sniff("INFO:openai._base_client:Retrying request to /chat/completions in 0.404439 seconds")
    assert openai_sdk.sniff(PREFIX + "Building HTTP request: method=POST retries_taken=0")
    assert not openai_sdk.sniff('{"apimon": 1, "ts": 1}')
    assert not openai_sdk.sniff("2024-05-20 17:40:00 INFO starting")


# -- through the command --------------------------------------------------------

@pytest.mark.parametrize("name", ["openai-1.109.1-debug", "openai-3.57.0-debug"])
def test_report_json_on_the_samples(name):
    expected = json.loads((DATA / f"{name}.expected.json").read_text())
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(DATA / f"{name}.log")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["calls"], got["errors"], got["status"], got["unparsed"]) == (
        expected["calls"], expected["errors"], expected["status"], 0)
    for model, figures in expected.get("models", {}).items():
        assert {k: got["models"][model][k] for k in figures} == figures
    for key, value in expected.get("latency_ms", {}).items():
        assert got["latency_ms"][key] == pytest.approx(value, rel=0.01)
