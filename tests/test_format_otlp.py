"""The `otlp` format: OTLP/JSON span exports with GenAI attributes in; calls out."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from apimon_tui import formats
from apimon_tui.formats import otlp
from format_support import Collect, nearest_rank, parse_with

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "otlp-genai.jsonl"
EXPECTED = json.loads((DATA / "otlp-genai.expected.json").read_text())


def parse(lines) -> Collect:
    return parse_with(otlp, lines)


def sample_lines() -> list[str]:
    return SAMPLE.read_text().splitlines()


def first_export() -> dict:
    return json.loads(sample_lines()[0])


def first_span(export: dict) -> dict:
    return export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]


def attr(span: dict, key: str) -> dict:
    return next(a for a in span["attributes"] if a["key"] == key)


def with_span(span: dict) -> str:
    export = first_export()
    export["resourceSpans"][0]["scopeSpans"][0]["spans"] = [span]
    return json.dumps(export)


def the_call(line: str):
    sink = parse([line])
    assert not sink.bad and sink.skipped == 0, (sink.bad, sink.skipped)
    [call] = sink.calls
    return call


# -- the sample ---------------------------------------------------------------------

def test_sample_gives_the_expected_figures():
    sink = parse(sample_lines())
    calls = sink.calls
    assert not sink.bad
    assert sink.skipped == EXPECTED["skipped"]
    assert len(calls) == EXPECTED["calls"]
    assert sum(c.is_error for c in calls) == EXPECTED["errors"]
    assert Counter(c.status_label for c in calls) == EXPECTED["status"]
    models = {}
    for c in calls:
        entry = models.setdefault(c.model, {"calls": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0})
        entry["calls"] += 1
        entry["errors"] += c.is_error
        entry["input_tokens"] += c.input_tokens or 0
        entry["output_tokens"] += c.output_tokens or 0
    assert models == EXPECTED["models"]
    latencies = [c.latency_ms for c in calls]
    for q in (50, 90, 95, 99):
        assert nearest_rank(latencies, q) == pytest.approx(EXPECTED["latency_ms"][f"p{q}"], rel=0.01)


def test_sample_is_detected_as_otlp():
    assert formats.detect(sample_lines()) == "otlp"


def test_fields_of_one_span():
    call = parse(sample_lines()[:1]).calls[0]
    assert call.ts == 1795735601.234  # the end of the span
    assert call.latency_ms == pytest.approx(1234.0)
    assert (call.provider, call.endpoint, call.model, call.request_id) == ("openai", "chat", "gpt-4o-2024-08-06", "chatcmpl-CQ1a8")
    assert (call.input_tokens, call.output_tokens, call.status, call.failed) == (100, 180, None, False)
    assert (call.status_label, call.raw) == ("OK", None)


def test_several_spans_per_line_and_only_inference_spans_count():
    # line 2: an HTTP server span, an agent span, two chat spans and a tool span
    sink = parse(sample_lines()[1:2])
    assert [c.request_id for c in sink.calls] == ["chatcmpl-CQ1b2", "chatcmpl-CQ1b7"]
    assert sink.calls[1].cached_tokens == 512
    assert sink.skipped == 0


def test_streamed_span_has_ttft_and_http_status():
    call = next(c for c in parse(sample_lines()).calls if c.request_id == "chatcmpl-CQ1d4")
    assert (call.ttft_ms, call.stream, call.status) == (pytest.approx(312.0), True, 200)


# -- attribute generations and encodings ----------------------------------------------

def test_old_and_new_attribute_names_give_the_same_call():
    new = first_span(first_export())
    old = copy.deepcopy(new)
    for a in old["attributes"]:
        a["key"] = {"gen_ai.provider.name": "gen_ai.system", "gen_ai.usage.input_tokens": "gen_ai.usage.prompt_tokens",
                    "gen_ai.usage.output_tokens": "gen_ai.usage.completion_tokens"}.get(a["key"], a["key"])
    assert "gen_ai.system" in json.dumps(old)
    a, b = the_call(with_span(new)), the_call(with_span(old))
    assert (b.provider, b.input_tokens, b.output_tokens) == ("openai", 100, 180)
    assert a.to_dict() == b.to_dict()


def test_64_bit_ints_as_strings_or_numbers():
    span = first_span(first_export())
    as_numbers = copy.deepcopy(span)
    as_numbers["startTimeUnixNano"] = int(span["startTimeUnixNano"])
    as_numbers["endTimeUnixNano"] = int(span["endTimeUnixNano"])
    attr(as_numbers, "gen_ai.usage.input_tokens")["value"] = {"intValue": 100}
    assert isinstance(attr(span, "gen_ai.usage.input_tokens")["value"]["intValue"], str)
    assert the_call(with_span(span)).to_dict() == the_call(with_span(as_numbers)).to_dict()


def test_request_model_when_no_response_model():
    span = first_span(first_export())
    span["attributes"] = [a for a in span["attributes"] if a["key"] != "gen_ai.response.model"]
    assert the_call(with_span(span)).model == "gpt-4o"


@pytest.mark.parametrize("value, decoded", [
    ({"stringValue": "x"}, "x"), ({"intValue": "9007199254740993"}, 9007199254740993), ({"intValue": 7}, 7),
    ({"doubleValue": 0.25}, 0.25), ({"boolValue": True}, True),
    ({"arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "2"}]}}, ["stop", 2]),
    ({"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}}, {"a": 1}),
    ({"arrayValue": {}}, []), ({}, None), ("not an AnyValue", None),
])
def test_any_value(value, decoded):
    assert otlp.any_value(value) == decoded


def test_nan_double_from_proto_json():
    assert math.isnan(otlp.any_value({"doubleValue": "NaN"}))


def test_legacy_instrumentation_library_spans():
    export = first_export()
    export["resourceSpans"][0]["instrumentationLibrarySpans"] = export["resourceSpans"][0].pop("scopeSpans")
    assert the_call(json.dumps(export)).request_id == "chatcmpl-CQ1a8"


# -- errors -----------------------------------------------------------------------------

def test_error_span_with_http_status():
    call = next(c for c in parse(sample_lines()).calls if c.status == 429)
    assert (call.failed, call.is_error, call.error_code, call.model) == (True, True, "rate_limit_exceeded", "gpt-4o")
    assert call.error_message.startswith("Error code: 429")
    assert call.raw and json.loads(call.raw)["status"]["code"] == 2  # the span, kept for drill-down


def test_error_span_without_http_answer_is_err():
    call = next(c for c in parse(sample_lines()).calls if c.error_code == "APITimeoutError")
    assert (call.status, call.status_label, call.error_message, call.model) == (None, "ERR", "Request timed out.", "gpt-4o-mini")
    assert call.latency_ms == pytest.approx(30004.0)


def test_ok_status_code_is_not_an_error():
    span = first_span(first_export())
    span["status"] = {"code": 1}
    assert not the_call(with_span(span)).is_error


# -- skipped and unparsed ---------------------------------------------------------------

def test_lines_without_genai_calls_are_skipped_once_each():
    lines = sample_lines()
    metrics, only_db_spans, logs = lines[4], lines[9], lines[10]
    assert '"resourceMetrics"' in metrics and '"resourceLogs"' in logs and "gen_ai" not in only_db_spans
    sink = parse([metrics, only_db_spans, logs, "plain text from the collector", '{"other": "json"}'])
    assert (sink.calls, sink.skipped, sink.bad) == ([], 5, [])


def test_agent_and_tool_spans_alone_are_skipped():
    export = json.loads(sample_lines()[1])
    spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
    export["resourceSpans"][0]["scopeSpans"][0]["spans"] = [
        s for s in spans if attr_value(s, "gen_ai.operation.name") in ("invoke_agent", "execute_tool")]
    assert len(export["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 2
    sink = parse([json.dumps(export)])
    assert (sink.calls, sink.skipped) == ([], 1)


def attr_value(span, key):
    for a in span["attributes"]:
        if a["key"] == key:
            return otlp.any_value(a["value"])
    return None


def test_broken_json_is_unparsed_and_the_next_line_read():
    lines = sample_lines()
    sink = parse([lines[0][:300], lines[0]])
    assert len(sink.calls) == 1 and sink.skipped == 0
    assert sink.bad[0][0].startswith("invalid JSON")


def test_span_without_times_is_unparsed_and_its_neighbours_kept():
    export = json.loads(sample_lines()[11])
    spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
    del spans[0]["startTimeUnixNano"], spans[0]["endTimeUnixNano"]
    sink = parse([json.dumps(export)])
    assert len(sink.calls) == 2 and sink.skipped == 0
    assert sink.bad[0][0] == "span 'chat gpt-4o-mini' has no usable start or end time"


def test_sniff():
    for line in sample_lines():
        assert otlp.sniff(line)
    assert not otlp.sniff('{"model": "gpt-4o", "status": 200}')
    assert not otlp.sniff("resourceSpans")


# -- end to end -------------------------------------------------------------------------

def test_report_json_on_the_sample():
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(SAMPLE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    for key in ("lines", "calls", "skipped", "unparsed", "errors", "status", "input_tokens", "output_tokens"):
        assert got[key] == EXPECTED[key], key
    assert {m: {k: v[k] for k in ("calls", "errors", "input_tokens", "output_tokens")} for m, v in got["models"].items()} == EXPECTED["models"]
    for key, value in EXPECTED["latency_ms"].items():
        assert got["latency_ms"][key] == pytest.approx(value, rel=0.01)
