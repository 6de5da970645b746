"""The `litellm` format: StandardLoggingPayload records, one-line or pretty-printed, in; calls out."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from apimon_tui import formats
from apimon_tui.formats import litellm
from format_support import Collect, nearest_rank, parse_with

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "litellm-1.110.2-payloads.log"


def parse(lines) -> Collect:
    return parse_with(litellm, lines, one_by_one=True)


def sample_payload() -> dict:
    """The first record of the real sample, as a dict to vary."""
    lines = SAMPLE.read_text().splitlines()
    end = lines.index("}")
    return json.loads("\n".join(line for line in lines[: end + 1] if line == "{" or line.startswith((" ", "}"))))


def pretty(obj: dict) -> list[str]:
    return json.dumps(obj, indent=4).splitlines()


# -- the real sample --------------------------------------------------------------

def test_sample_gives_the_expected_figures():
    expected = json.loads((DATA / "litellm-1.110.2-payloads.expected.json").read_text())
    sink = parse(SAMPLE.read_text().splitlines())
    calls = sink.calls
    assert not sink.bad
    assert len(calls) == expected["calls"]
    assert sum(c.is_error for c in calls) == expected["errors"]
    assert Counter(c.status for c in calls) == {200: expected["calls"]}
    models = {}
    for c in calls:
        entry = models.setdefault(c.model, {"calls": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0})
        entry["calls"] += 1
        entry["errors"] += c.is_error
        entry["input_tokens"] += c.input_tokens
        entry["output_tokens"] += c.output_tokens
    assert models == expected["models"]
    assert sum(c.cost_usd for c in calls) == pytest.approx(expected["cost_usd"], rel=1e-9)
    latencies = [c.latency_ms for c in calls]
    for q in (50, 90, 95, 99):
        assert nearest_rank(latencies, q) == pytest.approx(expected["latency_ms"][f"p{q}"], rel=0.01)
    # the warnings printed between and inside the objects are skipped, not parsed
    assert sink.skipped == 8


def test_sample_fields_of_one_record():
    call = parse(SAMPLE.read_text().splitlines()).calls[0]
    assert (call.model, call.provider, call.endpoint, call.request_id) == ("gpt-4.1", "openai", "completion", "chatcmpl-1")
    assert call.ts == 1795735588.961642
    assert call.latency_ms == pytest.approx(233.2611083984375)
    assert call.ttft_ms is None  # not a stream
    rl = call.ratelimit
    assert (rl.limit_requests, rl.remaining_requests, rl.limit_tokens, rl.remaining_tokens) == (5000, 4998, 4000000, 3998963)
    assert (rl.reset_requests_s, rl.reset_tokens_s) == (0.012, 0.009)
    assert call.raw is None  # successes keep no text


def test_sample_is_detected_as_litellm():
    assert formats.detect(SAMPLE.read_text().splitlines()) == "litellm"


# -- record shapes ----------------------------------------------------------------

def test_single_line_records():
    record = sample_payload()
    sink = parse(["starting app", json.dumps(record), json.dumps({"message": "a json log line", "level": "INFO"})])
    assert [c.request_id for c in sink.calls] == ["chatcmpl-1"]
    assert sink.skipped == 2


def test_failure_record_takes_its_status_and_error():
    record = sample_payload()
    record.update(status="failure", response_cost=0.0, prompt_tokens=0, completion_tokens=0,
                  error_str="litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached")
    record["error_information"].update(error_code="429", error_class="RateLimitError", llm_provider="openai")
    call = parse(pretty(record)).calls[0]
    assert (call.status, call.failed, call.is_error) == (429, False, True)
    assert (call.error_code, call.error_type) == ("429", "RateLimitError")
    assert call.error_message.startswith("litellm.RateLimitError")
    assert call.raw is not None and len(call.raw) <= litellm.MAX_RAW_CHARS


def test_failure_without_a_numeric_code_is_failed_with_no_status():
    record = sample_payload()
    record.update(status="failure", error_str="Connection error")
    record["error_information"].update(error_code="", error_class="APIConnectionError")
    call = parse(pretty(record)).calls[0]
    assert (call.status, call.failed, call.status_label, call.error_type) == (None, True, "ERR", "APIConnectionError")


def test_string_times_stream_ttft_and_cached_tokens():
    record = sample_payload()
    record.update(stream=True, startTime="2025-01-24 09:20:46.847371", endTime="2025-01-24 09:20:47.851954",
                  completionStartTime="2025-01-24 09:20:46.951954", response_time=0.104583)
    record["metadata"]["usage_object"]["prompt_tokens_details"] = {"cached_tokens": 128}
    call = parse(pretty(record)).calls[0]
    start = datetime(2025, 1, 24, 9, 20, 46, 847371, tzinfo=timezone.utc).timestamp()
    assert call.ts == pytest.approx(datetime(2025, 1, 24, 9, 20, 47, 851954, tzinfo=timezone.utc).timestamp())
    assert call.latency_ms == pytest.approx((call.ts - start) * 1000)
    assert call.ttft_ms == pytest.approx(104.583, abs=0.01)
    assert (call.stream, call.cached_tokens) == (True, 128)


def test_zoned_string_time():
    assert litellm.parse_time("2025-01-24T09:20:46+01:00") == datetime(2025, 1, 24, 8, 20, 46, tzinfo=timezone.utc).timestamp()
    assert litellm.parse_time(1737710446.5) == 1737710446.5
    assert litellm.parse_time("yesterday") is None


# -- broken input never swallows what follows ------------------------------------------

def test_unterminated_object_is_unparsed_and_the_next_record_read():
    good = sample_payload()
    lines = pretty(good)[:30] + ["23:26:25 - LiteLLM:WARNING: something"] + pretty(good)
    sink = parse(lines)
    assert [c.request_id for c in sink.calls] == ["chatcmpl-1"]
    assert [reason for reason, _ in sink.bad] == ["unterminated JSON object (a new record started)"]


def test_invalid_json_object_is_unparsed_and_the_next_record_read():
    broken = ["{", '    "id": "x",', '    "model": "gpt-4o",', "}"]  # trailing comma
    sink = parse(broken + pretty(sample_payload()))
    assert len(sink.calls) == 1
    assert len(sink.bad) == 1 and sink.bad[0][0].startswith("invalid JSON")


def test_record_without_a_time_is_unparsed():
    record = sample_payload()
    record.update(startTime="later", endTime=None)
    sink = parse([json.dumps(record)])
    assert sink.calls == []
    assert sink.bad[0][0] == "bad LiteLLM payload: no readable startTime/endTime"


def test_oversized_object_is_dropped_and_the_next_record_read(monkeypatch):
    good = pretty(sample_payload())
    monkeypatch.setattr(litellm, "MAX_OBJECT_CHARS", len("\n".join(good)) + 100)
    big = sample_payload()
    big["messages"] = [{"role": "user", "content": f"line {i} " + "x" * 60} for i in range(100)]
    sink = parse(pretty(big) + good)
    assert [c.request_id for c in sink.calls] == ["chatcmpl-1"]
    assert [reason for reason, _ in sink.bad] == [f"JSON object longer than {litellm.MAX_OBJECT_CHARS:,} characters"]
    assert sink.skipped == 0  # the rest of the big object is dropped with it


def test_end_of_input_inside_an_object_is_unparsed():
    sink = parse(pretty(sample_payload())[:-1])
    assert sink.calls == []
    assert [reason for reason, _ in sink.bad] == ["unterminated JSON object at end of input"]


def test_one_line_json_inside_an_open_object_is_read_on_its_own():
    lines = pretty(sample_payload())
    lines[10:10] = ['{"message": "retrying", "level": "WARNING"}', "", "\x1b[1;31mGive Feedback\x1b[0m"]
    sink = parse(lines)
    assert [c.request_id for c in sink.calls] == ["chatcmpl-1"]
    assert sink.skipped == 3
    assert not sink.bad


def test_json_object_that_is_not_a_payload_is_skipped_line_by_line():
    sink = parse(pretty({"message": "hello", "level": "INFO", "extra": {"a": 1}}))
    assert sink.calls == [] and not sink.bad
    assert sink.skipped == 7


def test_nested_braces_inside_strings_do_not_confuse_the_depth():
    record = copy.deepcopy(sample_payload())
    record["error_str"] = "odd text { [ with braces"
    record["messages"] = [{"role": "user", "content": "}}} ]] \" {"}]
    assert [c.request_id for c in parse(pretty(record)).calls] == ["chatcmpl-1"]


def test_sniff():
    assert litellm.sniff('"litellm_call_id": "69b56b86-1e79-4aea-88fb-7d423e0349ed",')
    assert litellm.sniff('{"call_type": "acompletion", "response_cost": 0.1, "model": "gpt-4o"}')
    assert not litellm.sniff('{"message": "hello", "level": "INFO"}')
    assert not litellm.sniff("{")


# -- through the command --------------------------------------------------------

def test_report_json_on_the_sample():
    expected = json.loads((DATA / "litellm-1.110.2-payloads.expected.json").read_text())
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(SAMPLE)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["calls"], got["errors"], got["unparsed"]) == (expected["calls"], expected["errors"], 0)
    for model, figures in expected["models"].items():
        assert {k: got["models"][model][k] for k in figures} == figures
    assert got["cost_usd"] == pytest.approx(expected["cost_usd"], rel=1e-6)
    for key, value in expected["latency_ms"].items():
        assert got["latency_ms"][key] == pytest.approx(value, rel=0.01)


def test_pretty_payloads_after_the_proxy_s_own_start_up_lines_are_detected(tmp_path):
    """A proxy's stdout opens with a hundred or more lines of its own before the first payload."""
    server = [f"INFO:     Started server process [{i}]" if i % 3 == 0 else
              f"12:00:{i % 60:02d} - LiteLLM Proxy:INFO: proxy_server.py:{i} - loaded model config" for i in range(150)]
    log = tmp_path / "proxy.log"
    log.write_text("\n".join(server) + "\n" + SAMPLE.read_text(), encoding="utf-8")
    expected = json.loads((DATA / "litellm-1.110.2-payloads.expected.json").read_text())
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(log)],
                          capture_output=True, text=True, timeout=120)
    out = json.loads(proc.stdout)
    assert out["sources"][0]["format"] == "litellm"
    assert out["calls"] == expected["calls"] and out["unparsed"] == 0
    assert {m: v["input_tokens"] for m, v in out["models"].items()} == {
        m: v["input_tokens"] for m, v in expected["models"].items()}
