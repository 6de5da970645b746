"""The `nginx` format: the JSON log_format and `combined` with timings, in; calls out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from apimon_tui import formats
from apimon_tui.formats import nginx
from format_support import Collect, nearest_rank, parse_with

DATA = Path(__file__).parent / "data"
JSON_SAMPLE = DATA / "nginx-1.22-json.log"
COMBINED_SAMPLE = DATA / "nginx-1.22-timed-combined.log"


def parse(lines, *, one_by_one: bool = False) -> Collect:
    return parse_with(nginx, lines, now=1234.5, one_by_one=one_by_one)


def one(line: str):
    sink = parse([line])
    assert not sink.bad and sink.skipped == 0, (sink.bad, sink.skipped)
    [call] = sink.calls
    return call


def sample_record() -> dict:
    return json.loads(JSON_SAMPLE.read_text().splitlines()[0])


def line_of(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


# -- the real samples ---------------------------------------------------------------

@pytest.mark.parametrize("sample", [JSON_SAMPLE, COMBINED_SAMPLE], ids=["json", "combined"])
@pytest.mark.parametrize("one_by_one", [False, True], ids=["feed_many", "feed"])
def test_sample_gives_the_expected_figures(sample, one_by_one):
    expected = json.loads(sample.with_suffix(".expected.json").read_text())
    sink = parse(sample.read_text().splitlines(), one_by_one=one_by_one)
    calls = sink.calls
    assert not sink.bad and sink.skipped == 0
    assert len(calls) == expected["calls"]
    assert sum(c.is_error for c in calls) == expected["errors"]
    assert Counter(c.status_label for c in calls) == expected["status"]
    latencies = [c.latency_ms for c in calls]
    for q in (50, 90, 95, 99):
        assert nearest_rank(latencies, q) == pytest.approx(expected["latency_ms"][f"p{q}"], rel=0.01)
    assert max(latencies) == expected["latency_ms"]["max"]


@pytest.mark.parametrize("sample", [JSON_SAMPLE, COMBINED_SAMPLE], ids=["json", "combined"])
def test_samples_are_detected_as_nginx(sample):
    assert formats.detect(sample.read_text().splitlines()) == "nginx"


def test_json_sample_fields_of_one_record():
    call = parse(JSON_SAMPLE.read_text().splitlines()).calls[0]
    assert call.ts == 1795735579.319  # from msec, to the millisecond
    assert (call.method, call.endpoint, call.status, call.latency_ms) == ("POST", "/v1/chat/completions", 200, 25.0)
    assert call.request_id == "req_26eb44cdb1b9e686256bdff625150a44"  # the API's id, not nginx's
    assert (call.ratelimit.remaining_requests, call.ratelimit.remaining_tokens) == (4998, 3998963)
    assert call.ratelimit.limit_requests is None
    assert call.model is None and call.source == "test"


def test_combined_sample_fields_of_one_record():
    calls = parse(COMBINED_SAMPLE.read_text().splitlines()).calls
    assert (calls[0].ts, calls[0].method, calls[0].endpoint, calls[0].status, calls[0].latency_ms) == (
        1795735579.0, "POST", "/v1/chat/completions", 200, 25.0)
    assert [c.endpoint for c in calls if c.status == 500] == ["/v1/embeddings", "/v1/chat/completions"]


def test_both_samples_describe_the_same_requests():
    from_json = parse(JSON_SAMPLE.read_text().splitlines()).calls
    from_combined = parse(COMBINED_SAMPLE.read_text().splitlines()).calls
    assert [(c.status, c.latency_ms, c.endpoint, int(c.ts)) for c in from_json] == [
        (c.status, c.latency_ms, c.endpoint, int(c.ts)) for c in from_combined]


# -- JSON: awkward values ------------------------------------------------------------

def test_missing_values_empty_and_dash():
    record = sample_record()
    record.update(msec="", openai_request_id="", openai_processing_ms="-", request_time="",
                  upstream_response_time="0.512, 0.100 : -", rl_remaining_requests="-",
                  rl_remaining_tokens="", rl_reset_tokens="6m0s", status="502", upstream_status="502, 502")
    call = one(line_of(record))
    assert call.ts == 1795735579.0  # from `time` when msec is empty
    assert call.request_id == "b7dc3ec95f95065e739de87254641dbe"  # nginx's own id when the API gave none
    assert call.latency_ms == pytest.approx(612.0)  # the measured upstream attempts, when request_time is missing
    assert (call.ratelimit.remaining_requests, call.ratelimit.reset_tokens_s) == (None, 360.0)
    assert call.status == 502 and call.is_error


def test_multi_attempt_upstream_times_do_not_change_the_request_time():
    record = sample_record()
    record.update(upstream_response_time="0.512, 0.100", upstream_header_time="0.500, 0.090",
                  upstream_connect_time="-, 0.001", upstream_addr="10.0.0.1:443, 10.0.0.2:443", request_time="0.640")
    assert one(line_of(record)).latency_ms == 640.0


@pytest.mark.parametrize("value, seconds", [
    ("0.512", 0.512), ("0.512, 0.100", 0.612), ("0.512, 0.100 : 0.200", 0.812), ("-, 0.250", 0.25), ("-", None), ("", None),
])
def test_upstream_seconds(value, seconds):
    assert nginx.upstream_seconds(value) == (pytest.approx(seconds) if seconds is not None else None)


def test_processing_ms_is_the_last_resort_latency():
    record = sample_record()
    record.update(request_time="", upstream_response_time="")
    assert one(line_of(record)).latency_ms == 235.0


def test_escape_json_escapes_are_decoded():
    record = sample_record()
    record.update(user_agent='my "agent" \\ v1\n', uri="/v1/chat/completions?q=caf\u00e9")
    line = line_of(record)
    assert '\\"agent\\"' in line and "\\n" in line
    call = one(line)
    assert call.endpoint == "/v1/chat/completions"  # the query string is not part of the endpoint
    assert call.raw == line


def test_model_key_is_read_when_the_log_format_has_one():
    record = sample_record()
    record["model"] = "gpt-4o-mini"
    assert one(line_of(record)).model == "gpt-4o-mini"


def test_full_reference_record_with_limits_and_resets():
    record = sample_record()
    record.update(rl_limit_requests="5000", rl_limit_tokens="4000000", rl_reset_requests="12ms", rl_reset_tokens="1m30s")
    rl = one(line_of(record)).ratelimit
    assert (rl.limit_requests, rl.limit_tokens, rl.reset_requests_s, rl.reset_tokens_s) == (5000, 4000000, 0.012, 90.0)
    assert rl.requests_fraction() == pytest.approx(4998 / 5000)


def test_unreadable_rate_limit_header_keeps_the_call():
    record = sample_record()
    record.update(rl_remaining_tokens="lots", rl_reset_tokens="soon")
    rl = one(line_of(record)).ratelimit
    assert (rl.remaining_tokens, rl.reset_tokens_s, rl.remaining_requests) == (None, None, 4998)


def test_unquoted_request_time_from_common_gists():
    record = sample_record()
    line = line_of(record).replace('"request_time":"0.025"', '"request_time":0.025')
    sink = parse([line_of(record), line])
    assert [c.latency_ms for c in sink.calls] == [25.0, 25.0]


def test_lines_in_another_key_order_are_read_right():
    first = sample_record()
    reordered = dict(reversed(list(first.items())))
    reordered.update(status="429", request_time="0.300")
    sink = parse([line_of(first), line_of(reordered), line_of(first)])
    assert [(c.status, c.latency_ms) for c in sink.calls] == [(200, 25.0), (429, 300.0), (200, 25.0)]


def test_iso_time_only():
    record = {"time": "2026-08-20T10:00:01+02:00", "method": "GET", "uri": "/v1/models", "status": "200", "request_time": "0.010"}
    call = one(line_of(record))
    assert call.ts == 1787212801.0
    assert (call.latency_ms, call.request_id, call.ratelimit) == (10.0, None, None)


def test_no_time_at_all_takes_the_clock():
    assert one(line_of({"status": "200", "request_time": "0.010"})).ts == 1234.5


def test_broken_json_is_unparsed_and_the_stream_goes_on():
    lines = JSON_SAMPLE.read_text().splitlines()[:3]
    truncated = lines[1][: len(lines[1]) // 2]
    sink = parse([lines[0], truncated, lines[2]])
    assert len(sink.calls) == 2 and sink.skipped == 0
    [(reason, text)] = sink.bad
    assert reason.startswith("invalid JSON") and text == truncated


@pytest.mark.parametrize("status", ["abc", "2000"])
def test_bad_status_leaves_the_call_with_an_unknown_status(status):
    record = sample_record()
    record["status"] = status
    sink = parse([line_of(record)])
    [call] = sink.calls
    assert call.status is None and not sink.bad and sink.bad_values == [("status", status)]


def test_json_objects_that_are_not_access_log_lines_are_skipped():
    sink = parse(['{"level":"info","msg":"nginx reloaded"}', "[1, 2]"])
    assert (sink.calls, sink.skipped, sink.bad) == ([], 2, [])


# -- combined ------------------------------------------------------------------------

COMBINED = '10.0.0.5 - alice [20/Aug/2026:10:00:01 +0200] "POST /v1/chat/completions?x=1 HTTP/1.1" 429 239 "-" "OpenAI/Python 1.109.1"'


def test_combined_without_timings_is_a_call_without_latency():
    call = one(COMBINED)
    assert (call.ts, call.method, call.endpoint, call.status, call.latency_ms) == (
        1787212801.0, "POST", "/v1/chat/completions", 429, None)
    assert call.is_error and call.raw == COMBINED


def test_combined_with_multi_attempt_upstream_times():
    call = one(COMBINED + " 1.250 0.512, 0.700 : 0.030")
    assert call.latency_ms == 1250.0


def test_combined_with_no_upstream():
    assert one(COMBINED + " 0.000 -").latency_ms == 0.0


def test_combined_request_that_is_not_http_still_counts():
    call = one('203.0.113.9 - - [20/Aug/2026:10:00:01 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-" 0.001 -')
    assert (call.status, call.method, call.endpoint) == (400, None, None)


def test_combined_time_with_negative_offset_and_cache():
    lines = [COMBINED.replace("+0200", "-0500"), COMBINED.replace("+0200", "-0500"), COMBINED]
    assert [c.ts for c in parse(lines).calls] == [1787238001.0, 1787238001.0, 1787212801.0]


def test_broken_combined_lines_are_unparsed_and_others_skipped():
    lines = [
        COMBINED.replace("Aug", "Agu"),
        '10.0.0.5 - - [20/Aug/2026:10:00:01 +0000] "POST /v1/chat/completions HTTP/1.1',
        '2026/08/20 10:00:01 [error] 12#12: *1 upstream timed out (110: Connection timed out)',
        "",
        COMBINED,
    ]
    sink = parse(lines)
    assert len(sink.calls) == 1 and sink.skipped == 2
    assert [reason for reason, _ in sink.bad] == ["bad time [20/Agu/2026:10:00:01 +0200]", "not a combined access log line"]


def test_sniff():
    assert nginx.sniff(JSON_SAMPLE.read_text().splitlines()[0])
    assert nginx.sniff(COMBINED)
    assert not nginx.sniff('{"model":"gpt-4o","status":200}')
    assert not nginx.sniff('{"model":"gpt-4o","status":200,"request_time":0.5}')  # an app's own JSON log
    assert not nginx.sniff("INFO:httpx:HTTP Request: POST https://api.openai.com/v1/chat/completions \"HTTP/1.1 200 OK\"")


# -- end to end -----------------------------------------------------------------------

@pytest.mark.parametrize("sample", [JSON_SAMPLE, COMBINED_SAMPLE], ids=["json", "combined"])
def test_report_json_on_the_sample(sample):
    expected = json.loads(sample.with_suffix(".expected.json").read_text())
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(sample)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["lines"], got["calls"], got["errors"], got["skipped"], got["unparsed"]) == (33, 33, 3, 0, 0)
    assert got["status"] == expected["status"]
    for key, value in expected["latency_ms"].items():
        assert got["latency_ms"][key] == pytest.approx(value, rel=0.01)
