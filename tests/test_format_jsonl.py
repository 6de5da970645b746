"""The `jsonl` format: any JSON-lines log read through the `[jsonl]` field mapping."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from apimon_tui import formats
from apimon_tui.core.config import DEFAULTS
from apimon_tui.formats import jsonl
from format_support import Collect, parse_with


def parse(lines, options=None) -> Collect:
    return parse_with(jsonl, [line if isinstance(line, str) else json.dumps(line) for line in lines],
                      options=options if options is not None else dict(DEFAULTS["jsonl"]), now=4321.0)


def the_call(record, options=None):
    sink = parse([record], options)
    assert not sink.bad and sink.skipped == 0, (sink.bad, sink.skipped)
    [call] = sink.calls
    return call


DEFAULT_RECORD = {
    "timestamp": "2026-11-26T23:26:19.250Z", "provider": "openai", "endpoint": "/v1/chat/completions",
    "model": "gpt-4o", "status": 200, "latency_ms": 812.5, "request_id": "req_abc",
    "usage": {"prompt_tokens": 120, "completion_tokens": 30}, "cost_usd": 0.0006,
}


# -- the default mapping ------------------------------------------------------------

def test_default_mapping_reads_every_field():
    call = the_call(DEFAULT_RECORD)
    assert call.ts == 1795735579.25
    assert (call.provider, call.endpoint, call.model, call.status, call.latency_ms) == (
        "openai", "/v1/chat/completions", "gpt-4o", 200, 812.5)
    assert (call.input_tokens, call.output_tokens, call.cost_usd, call.request_id) == (120, 30, 0.0006, "req_abc")
    assert not call.is_error and call.raw == json.dumps(DEFAULT_RECORD)


def test_empty_options_mean_the_default_mapping():
    assert the_call(DEFAULT_RECORD, {}).input_tokens == 120


def test_error_fields_and_status_as_text():
    record = {**DEFAULT_RECORD, "status": "429", "error": {"code": "rate_limit_exceeded", "message": "Rate limit reached"}}
    call = the_call(record)
    assert (call.status, call.is_error, call.error_code, call.error_message) == (429, True, "rate_limit_exceeded", "Rate limit reached")


@pytest.mark.parametrize("status, label, failed", [("failure", "ERR", True), ("success", "OK", False), ("ERROR", "ERR", True)])
def test_status_words(status, label, failed):
    call = the_call({**DEFAULT_RECORD, "status": status})
    assert (call.status, call.status_label, call.failed) == (None, label, failed)


def test_error_without_status_is_failed():
    record = {k: v for k, v in DEFAULT_RECORD.items() if k != "status"}
    record["error"] = {"message": "Connection error."}
    call = the_call(record)
    assert (call.status_label, call.error_message) == ("ERR", "Connection error.")


def test_missing_time_takes_the_clock():
    record = {k: v for k, v in DEFAULT_RECORD.items() if k != "timestamp"}
    assert the_call(record).ts == 4321.0


# -- mappings -------------------------------------------------------------------------

APP_RECORD = {
    "@timestamp": 1795735579.25, "level": "info", "msg": "llm call",
    "llm": {"request": {"model": "claude-sonnet-4-5"}, "response": {"status_code": 200, "id": "msg_01"},
            "usage": {"input": 900, "output": 310}, "duration_s": 1.834},
    "choices": [{"finish_reason": "stop"}],
}
APP_MAPPING = {
    **DEFAULTS["jsonl"], "ts": "@timestamp", "ts_unit": "s", "model": "llm.request.model", "status": "llm.response.status_code",
    "latency": "llm.duration_s", "latency_unit": "s", "input_tokens": "llm.usage.input", "output_tokens": "llm.usage.output",
    "request_id": "llm.response.id", "endpoint": "choices.0.finish_reason", "provider": "",
}


def test_nested_dotted_paths_and_latency_in_seconds():
    call = the_call(APP_RECORD, APP_MAPPING)
    assert (call.model, call.status, call.input_tokens, call.output_tokens, call.request_id) == (
        "claude-sonnet-4-5", 200, 900, 310, "msg_01")
    assert call.latency_ms == pytest.approx(1834.0)
    assert call.ts == 1795735579.25
    assert call.endpoint == "stop"  # a number in the path steps into a list
    assert call.provider is None  # an empty path is not read


def test_keys_that_hold_dots_are_found():
    record = {"gen_ai.request.model": "gpt-4o-mini", "attributes": {"http.status_code": "503"}, "ms": 40}
    mapping = {**DEFAULTS["jsonl"], "model": "gen_ai.request.model", "status": "attributes.http.status_code", "latency": "ms"}
    call = the_call(record, mapping)
    assert (call.model, call.status, call.latency_ms) == ("gpt-4o-mini", 503, 40.0)


@pytest.mark.parametrize("value, unit, seconds", [
    (1795735579, "auto", 1795735579.0),
    (1795735579.25, "auto", 1795735579.25),
    (1795735579250, "auto", 1795735579.25),
    ("1795735579250", "auto", 1795735579.25),
    (1795735579250000, "auto", 1795735579.25),
    (1795735579250000000, "auto", 1795735579.25),
    (1795735579250, "ms", 1795735579.25),
    (1795735579, "s", 1795735579.0),
    ("2026-11-26T23:26:19.250Z", "auto", 1795735579.25),
    ("2026-11-26T23:26:19.250+00:00", "iso", 1795735579.25),
    ("2026-11-27T00:26:19.250+01:00", "iso", 1795735579.25),
    ("2026-11-26 23:26:19.250", "auto", 1795735579.25),  # no zone: UTC
])
def test_timestamp_units(value, unit, seconds):
    call = the_call({**DEFAULT_RECORD, "timestamp": value}, {**DEFAULTS["jsonl"], "ts_unit": unit})
    assert call.ts == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize("value, unit", [("yesterday", "auto"), ("2026-11-26T23:26:19Z", "s"), (1795735579, "iso"), (True, "auto")])
def test_unreadable_timestamp_is_unparsed(value, unit):
    sink = parse([{**DEFAULT_RECORD, "timestamp": value}], {**DEFAULTS["jsonl"], "ts_unit": unit})
    assert not sink.calls and sink.bad[0][0].startswith("bad timestamp")


def test_latency_in_ms_or_seconds():
    assert the_call({**DEFAULT_RECORD, "latency_ms": "0.25"}, {**DEFAULTS["jsonl"], "latency_unit": "s"}).latency_ms == 250.0
    assert the_call({**DEFAULT_RECORD, "latency_ms": "250"}).latency_ms == 250.0


# -- skipped and unparsed ----------------------------------------------------------------

def test_lines_without_the_mapped_fields_are_skipped():
    sink = parse(['{"level": "info", "msg": "server started"}', "plain text", "[1, 2]", DEFAULT_RECORD])
    assert (len(sink.calls), sink.skipped, sink.bad) == (1, 3, [])


def test_broken_json_is_unparsed_and_the_next_line_read():
    line = json.dumps(DEFAULT_RECORD)
    sink = parse([line[:40], line])
    assert len(sink.calls) == 1 and sink.bad[0][0].startswith("invalid JSON")


@pytest.mark.parametrize("field, value, reported, attribute", [
    ("status", 9000, "status", "status"), ("status", "abc", "status", "status"),
    ("latency_ms", "slow", "latency", "latency_ms"), ("latency_ms", -5, "latency", "latency_ms"),
    ("usage", {"prompt_tokens": "many"}, "input_tokens", "input_tokens"),
    ("usage", {"prompt_tokens": 1.5}, "input_tokens", "input_tokens"),
    ("cost_usd", "NaN", "cost_usd", "cost_usd"), ("model", ["gpt-4o"], "model", "model"),
])
def test_a_bad_value_leaves_the_call_with_that_field_unknown(field, value, reported, attribute):
    sink = parse([{**DEFAULT_RECORD, field: value}])
    [call] = sink.calls
    assert getattr(call, attribute) is None and not sink.bad
    assert [name for name, _ in sink.bad_values] == [reported]


@pytest.mark.parametrize("stamp", ["yesterday", 1e400, [1795735579], "9999-12-31T23:59:59"])
def test_a_line_with_no_usable_time_is_unparsed(stamp):
    sink = parse([{**DEFAULT_RECORD, "timestamp": stamp}])
    assert not sink.calls and sink.bad[0][0].startswith(("bad timestamp", "unusable time"))


def test_a_number_quoted_as_text_is_read():
    call = the_call({**DEFAULT_RECORD, "status": "429", "latency_ms": "812.5", "usage": {"prompt_tokens": "120"}})
    assert (call.status, call.latency_ms, call.input_tokens) == (429, 812.5, 120)


def test_sniff_wants_model_and_status_or_latency():
    assert jsonl.sniff(json.dumps(DEFAULT_RECORD))
    assert jsonl.sniff('{"model": "gpt-4o", "latency_ms": 12}')
    assert not jsonl.sniff('{"model": "gpt-4o"}')
    assert not jsonl.sniff('{"status": 200, "latency_ms": 12}')
    assert not jsonl.sniff('{"model": "gpt-4o", "status": ')
    assert formats.detect(["starting", json.dumps(DEFAULT_RECORD)]) == "jsonl"


# -- end to end ---------------------------------------------------------------------------

def test_report_json_with_a_mapping_from_the_config_file(tmp_path):
    records = []
    for i, (status, seconds) in enumerate([(200, 0.5), (200, 1.0), (200, 1.5), (429, 0.1), (500, 2.0)]):
        record = json.loads(json.dumps(APP_RECORD))
        record["@timestamp"] = 1795735579 + i
        record["llm"]["response"]["status_code"] = status
        record["llm"]["duration_s"] = seconds
        records.append(json.dumps(record))
    log = tmp_path / "app.log"
    log.write_text("app starting\n" + "\n".join(records) + "\n{\"llm\": \n")
    config = tmp_path / "config.toml"
    config.write_text("[jsonl]\n" + "".join(f'{k} = "{v}"\n' for k, v in APP_MAPPING.items()))
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--format", "jsonl", "--json", "--config", str(config), str(log)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["lines"], got["calls"], got["errors"], got["skipped"], got["unparsed"]) == (7, 5, 2, 1, 1)
    assert got["status"] == {"200": 3, "429": 1, "500": 1}
    assert got["models"]["claude-sonnet-4-5"]["input_tokens"] == 4500
    assert got["latency_ms"]["p50"] == pytest.approx(1000.0, rel=0.01)
    assert got["latency_ms"]["max"] == pytest.approx(2000.0, rel=0.01)
    assert (got["first_ts"], got["last_ts"]) == (1795735579.0, 1795735583.0)
