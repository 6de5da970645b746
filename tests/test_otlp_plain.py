"""OTLP's plain reading (`_plain_calls`, and a `LineBlock`'s lines decoded from bytes) gives what
the careful path gives: every call, bad value, unparsed line and skip, for any line.

The plain reading vouches only for the usual export (lone attribute values of the usual kind,
usable times) and leaves any other line to the general readers; these tests feed it awkward
lines three ways (a list of `str` lines, a `LineBlock` of bytes as `report` reads a big file,
and `json` alone) and compare what each reports, and check that the usual lines are read the
plain way at all. Through the engine's sink, a block's plain calls go to the store as columns:
the store's every figure must be the one the careful path gives a call at a time.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core.model import Call, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.formats import otlp
from apimon_tui.formats.base import BLOCK_PADDING
from apimon_tui.ingest.engine import Sink
from apimon_tui.sources.lines import LineBlock
from apimon_tui.store import MetricsStore
from format_support import Collect
from test_call_columns import state
from test_quick_json import BIG
from test_values_properties import PROPERTY

BENCH_LINE = (  # as bench/formats.py writes a call (a failed one carries error.type and status code 2)
    '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bot"}}]},'
    '"scopeSpans":[{"scope":{"name":"opentelemetry.instrumentation.openai_v2","version":"2.3b0"},"spans":[{'
    '"traceId":"6513270e269e0d37f2a74de452e6b438","spanId":"0c5c7fd0a6a3a450","name":"chat gpt-4o","kind":3,'
    '"startTimeUnixNano":"1795699999817604476","endTimeUnixNano":"1795700000010200576","attributes":['
    '{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},'
    '{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},'
    '{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},'
    '{"key":"gen_ai.response.model","value":{"stringValue":"gpt-4o-2024-08-06"}},'
    '{"key":"gen_ai.response.id","value":{"stringValue":"chatcmpl-d23f128b2f33"}},'
    '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"3026"}},'
    '{"key":"gen_ai.usage.output_tokens","value":{"intValue":"104"}},'
    '{"key":"server.port","value":{"intValue":"443"}}],"status":{}}]}]}]}'
)
EXPORT = json.loads(BENCH_LINE)
SAMPLE = Path(__file__).parent / "data" / "otlp-genai.jsonl"
KEYS = ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
        "gen_ai.response.model", "gen_ai.response.id", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens", "error.type", "http.request.method",
        "http.response.status_code", "gen_ai.request.stream", "gen_ai.response.time_to_first_chunk",
        "server.port", "gen_ai.agent.name"]
KINDS = ["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue", "bytesValue", "other"]
INNER_TEXTS = ['"chat"', '"openai"', '"12"', '"00"', '" 7 "', '"1_000"', '"-3"', '"x"', '""', "12", "0", "-1", "1.5",
               "2.0", "true", "false", "null", "[]", "{}", '{"values": [{"stringValue": "a"}]}',
               '{"values": [{"arrayValue": {"values": [{"intValue": "1"}]}}]}', "1e19", '"NaN"', '"Infinity"',
               '"STATUS_CODE_ERROR"', '"embeddings"', '"execute_tool"', '"\\u00e9t\\u00e9"', *BIG,
               *[f'"{big}"' for big in BIG]]
TIME_TEXTS = ['"1795700000010200576"', '"0"', '"00"', "0", "1795700000010200576", '"-5"', '"x"', "null", "1.7e18",
              '"99999999999999999999999"', "99999999999999999999999", "true", '"10"', '"9"', "10"]


def _outcome(sink: Collect) -> tuple:
    return ([repr(call.to_dict()) for call in sink.calls], [(f, repr(v)) for f, v in sink.bad_values],
            sink.bad, sink.skipped)


def _fed(lines: list[str], block: bool = False) -> tuple:
    sink = Collect()
    parser = otlp.PARSER(sink, "test")
    if block:
        parser.feed_many(LineBlock("".join(f"{line}\n" for line in lines).encode("utf-8", "surrogatepass")
                                   + BLOCK_PADDING))
    else:
        parser.feed_many(lines)
    return _outcome(sink)


def _careful(lines: list[str]) -> tuple:
    with mock.patch.object(otlp, "quick_loads", lambda text: None):
        return _fed(lines)


def assert_as_careful(lines: list[str]) -> None:
    careful = _careful(lines)
    assert _fed(lines) == careful
    assert _fed(lines, block=True) == careful


def _span(export: dict, index: int = 0) -> dict:
    return export["resourceSpans"][0]["scopeSpans"][0]["spans"][index]


def _with_attribute(key: str, value_text: str, at: int | None = None) -> str:
    """The bench line with attribute `key` set to the JSON text `value_text` (appended, or put at `at`)."""
    export = copy.deepcopy(EXPORT)
    attributes = _span(export)["attributes"]
    attributes[:] = [kv for kv in attributes if kv["key"] != key]
    attributes.insert(len(attributes) if at is None else at, {"key": key, "value": "@@VALUE@@"})
    return json.dumps(export).replace('"@@VALUE@@"', value_text, 1)


def test_the_usual_lines_are_read_the_plain_way():
    calls = [Call(*fields) for fields in otlp._plain_calls(json.loads(BENCH_LINE), "test")]
    assert [(c.model, c.provider, c.input_tokens, c.output_tokens, round(c.latency_ms, 6)) for c in calls] == [
        ("gpt-4o-2024-08-06", "openai", 3026, 104, 192.5961)]
    spans = [json.loads(line) for line in SAMPLE.read_text().splitlines() if '"resourceSpans"' in line]
    assert sum(len(otlp._plain_calls(export, "test")) for export in spans) == 13  # raises where it gives up


def test_the_bench_line_and_the_sample_as_careful():
    assert_as_careful([BENCH_LINE] * 3 + SAMPLE.read_text().splitlines())


def test_a_failed_call_keeps_its_span_as_json_writes_it():
    export = copy.deepcopy(EXPORT)
    _span(export)["status"] = {"code": 2, "message": "rate limited"}
    _span(export)["attributes"].append({"key": "error.type", "value": {"stringValue": "429"}})
    line = json.dumps(export)
    [call] = [Call(*fields) for fields in otlp._plain_calls(json.loads(line), "test")]
    assert call.failed and call.error_code == "429" and call.raw.startswith('{"traceId":')
    assert_as_careful([line])
    for big in BIG:  # orjson reads these as floats: the raw text must still be json's
        _span(export)["kind"] = "@@VALUE@@"
        assert_as_careful([json.dumps(export).replace('"@@VALUE@@"', big)])


def test_awkward_exports_as_careful():
    export = copy.deepcopy(EXPORT)
    spans = _span(export)
    several = copy.deepcopy(EXPORT)
    other = {"name": "GET /", "startTimeUnixNano": "1795700000000000000", "endTimeUnixNano": "1795700000100000000",
             "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}}], "status": {}}
    several["resourceSpans"][0]["scopeSpans"][0]["spans"] = [other, spans, dict(spans, name="second"), other]
    several["resourceSpans"].append(copy.deepcopy(several["resourceSpans"][0]))
    legacy = copy.deepcopy(EXPORT)
    legacy["resourceSpans"][0]["instrumentationLibrarySpans"] = legacy["resourceSpans"][0]["scopeSpans"]
    no_key = copy.deepcopy(EXPORT)
    _span(no_key)["attributes"].append({"value": {"stringValue": "x"}})
    no_value = copy.deepcopy(EXPORT)
    _span(no_value)["attributes"].append({"key": "gen_ai.system"})
    odd_items = copy.deepcopy(EXPORT)
    _span(odd_items)["attributes"][1:1] = [5, None, "key", [], {"key": 7, "value": {"stringValue": "x"}}]
    lines = [
        json.dumps(several), json.dumps(legacy), json.dumps(no_key), json.dumps(no_value), json.dumps(odd_items),
        BENCH_LINE.replace('"status":{}', '"status":{"code":"STATUS_CODE_ERROR"}'),
        BENCH_LINE.replace('"status":{}', '"status":{"code":"2","message":"boom"}'),
        BENCH_LINE.replace('"status":{}', '"status":{"code":2,"message":7}'),
        BENCH_LINE.replace('"status":{}', '"status":[]'),
        BENCH_LINE.replace(',"status":{}', ""),
        BENCH_LINE.replace('"attributes":[{"key":"gen_ai.operation', '"attributes":{},"x":[{"key":"gen_ai.operation'),
        BENCH_LINE.replace('"scopeSpans":[', '"scopeSpans":{"a":').replace("}]}]}]}", "}]}}]}"),
        BENCH_LINE.replace('"spans":[', '"spans":"').replace('}]}]}]}', '}"}]}]}'),
        BENCH_LINE.replace('"resourceSpans":[', '"resourceSpans":[7,'),
        '{"resourceSpans":[]}', '{"resourceSpans":{}}', '{"resourceMetrics":[]}', '{"resourceSpans":[{}]}',
        " " + BENCH_LINE, BENCH_LINE + "  ", "", "{", "not json", "[1]",
        BENCH_LINE.replace('"name":"chat gpt-4o"', '"name":' + "[" * 300 + "]" * 300),  # past the bracket guard
        BENCH_LINE.replace('"name":"chat gpt-4o"', '"name":' + "[" * 1010 + "]" * 1010),  # too deep for json
        BENCH_LINE.replace('"chatcmpl-d23f128b2f33"', '"chat\\ud800"'),  # orjson refuses a lone surrogate
        BENCH_LINE.replace('"bot"', '"NaN"').replace('"kind":3', '"kind":NaN'),
        # the same key twice: the last one counts
        BENCH_LINE.replace('{"key":"server.port"', '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}},'
                           '{"key":"server.port"'),
    ]
    assert_as_careful(lines)


def test_bytes_that_are_not_utf8_as_careful():
    sink_block, sink_list = Collect(), Collect()
    raw = BENCH_LINE.replace("gpt-4o-2024-08-06", "gpt\udcff").encode("utf-8", "surrogateescape")
    otlp.PARSER(sink_block, "test").feed_many(LineBlock(raw + b"\n" + BLOCK_PADDING))
    otlp.PARSER(sink_list, "test").feed_many([raw.decode("utf-8", "replace")])
    assert _outcome(sink_block) == _outcome(sink_list)
    assert [call.model for call in sink_block.calls] == ["gpt\ufffd"]


def test_any_attribute_value_as_careful():
    """Every read key with every kind of value holding every awkward inner value, alone or not."""
    lines = []
    for key in KEYS:
        for kind in KINDS:
            for inner in INNER_TEXTS:
                lines.append(_with_attribute(key, f'{{"{kind}": {inner}}}'))
                lines.append(_with_attribute(key, f'{{"{kind}": {inner}, "stringValue": "second"}}', at=0))
    assert_as_careful(lines)


def test_null_and_bare_attribute_values_as_careful():
    values = ["null", "5", '"x"', "[]", "{}", '{"stringValue": null}', '{"intValue": null}', '{"boolValue": null}',
              '{"doubleValue": null}']
    assert_as_careful([_with_attribute(key, value) for key in KEYS for value in values])


def _with_times(start: str, end: str) -> str:
    export = copy.deepcopy(EXPORT)
    span = _span(export)
    for key, text in (("startTimeUnixNano", start), ("endTimeUnixNano", end)):
        if text == "absent":
            del span[key]
        else:
            span[key] = f"@@{key}@@"
    return json.dumps(export).replace('"@@startTimeUnixNano@@"', start).replace('"@@endTimeUnixNano@@"', end)


def test_span_times_as_careful():
    times = TIME_TEXTS + ["absent", '"1795700000010200576"'.replace("179", "279")]  # a later start: negative latency
    assert_as_careful([_with_times(start, end) for start in times for end in times])


@PROPERTY
@given(attributes=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(KINDS), st.sampled_from(INNER_TEXTS)),
                           max_size=6))
def test_spans_of_random_attributes_as_careful(attributes):
    export = copy.deepcopy(EXPORT)
    _span(export)["attributes"] = [{"key": key, "value": f"@@{i}@@"} for i, (key, _, _) in enumerate(attributes)]
    line = json.dumps(export)
    for i, (_, kind, inner) in enumerate(attributes):
        line = line.replace(f'"@@{i}@@"', f'{{"{kind}": {inner}}}')
    assert_as_careful([line])


# -- through the engine's sink into the store, as `report` reads a big file ---------------------------

def _random_line(rng: random.Random, ts: float) -> str:
    """A bench-like export of one to three spans: calls of several models and providers, failed
    ones, cache reads and writes, other spans, now and then an awkward value."""
    spans = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        end = int(ts * 1e9) + rng.randrange(10**6)
        operation = rng.choice(["chat", "chat", "embeddings", "invoke_agent"])
        attributes = [("gen_ai.operation.name", "stringValue", operation),
                      ("gen_ai.provider.name", "stringValue", rng.choice(["openai", "anthropic", "aws.bedrock"])),
                      ("gen_ai.request.model", "stringValue", rng.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4",
                                                                          "no-such-model", ""])),
                      ("gen_ai.usage.input_tokens", "intValue", str(rng.randrange(300_000))),
                      ("gen_ai.usage.output_tokens", "intValue", rng.choice([str(rng.randrange(800)), 12]))]
        if rng.random() < 0.3:
            attributes.append(("gen_ai.usage.cache_read.input_tokens", "intValue", str(rng.randrange(100))))
        if rng.random() < 0.1:
            attributes.append(("gen_ai.usage.cache_creation.input_tokens", "intValue", str(rng.randrange(100))))
        if rng.random() < 0.2:
            attributes.append(("http.response.status_code", "intValue", rng.choice(["200", "429", "500"])))
        if rng.random() < 0.2:
            attributes.append(("gen_ai.response.time_to_first_chunk", "doubleValue", rng.choice([0.25, 0, 1])))
        if rng.random() < 0.1:
            attributes.append(("error.type", "stringValue", rng.choice(["timeout", "429"])))
        if rng.random() < 0.05:
            attributes.append(("gen_ai.usage.input_tokens", "intValue", rng.choice(["-4", "x", BIG[0], "1e3"])))
        status = rng.choice([{}, {}, {}, {"code": 2, "message": "boom"}, {"code": "STATUS_CODE_ERROR"}])
        spans.append({"name": "chat", "startTimeUnixNano": str(end - rng.randrange(10**10)),
                      "endTimeUnixNano": rng.choice([str(end)] * 20 + ["0", "x"]),
                      "attributes": [{"key": k, "value": {kind: v}} for k, kind, v in attributes], "status": status})
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]})


class CountingSink(Sink):
    """The engine's sink, counting the calls it takes as columns."""

    __slots__ = ("in_columns",)

    def columns(self, calls) -> None:
        self.in_columns = getattr(self, "in_columns", 0) + len(calls)
        super().columns(calls)


def _store_after(lines: list[str], block: bool, bulk_failures: bool = False, **store_args) -> tuple:
    store = MetricsStore(**store_args)
    sink = CountingSink(SourceCounts(label="spans.jsonl"), Pricer(), None, bulk_failures=bulk_failures)
    parser = otlp.PARSER(sink, "spans.jsonl")
    for start in range(0, len(lines), 500):
        part = lines[start:start + 500]
        if block:
            parser.feed_many(LineBlock("".join(f"{line}\n" for line in part).encode() + BLOCK_PADDING))
        else:
            parser.feed_many(part)
        sink.commit(store)
    c = sink.counts
    if block:
        assert getattr(sink, "in_columns", 0) > 2000  # most calls went in as columns
    return (state(store), c.calls, c.skipped, c.unparsed, c.bad_values,
            [(u.reason, u.text) for u in c.first_unparsed], [(b.field, b.text) for b in c.first_bad_values],
            sorted(sink.pricer.unpriced))


@pytest.mark.parametrize("store_args", [{"failed_capacity": 0}, {}, {"fine_s": 60, "horizon_s": 600},
                                        {"failed_capacity": 0, "bulk_failures": True},  # failed calls as rows
                                        {"failed_capacity": 0, "bulk_failures": True, "max_groups": 3}])
def test_columns_into_the_store_as_careful_calls_one_by_one(store_args):
    rng = random.Random(20)
    ts, lines = 1_795_700_000.0, []
    for _ in range(3000):
        ts += rng.expovariate(2.0)
        lines.append(_random_line(rng, ts) if rng.random() < 0.97 else rng.choice(
            ['{"resourceMetrics":[]}', "plain text", "{", "", BENCH_LINE.replace('"3026"', '"' + BIG[1] + '"')]))
    with mock.patch.object(otlp, "quick_loads", lambda text: None):
        careful = _store_after(lines, block=False, **store_args)
    assert _store_after(lines, block=True, **store_args) == careful
    assert careful[1] > 2000 and careful[3] > 10 and careful[4] > 10  # calls, unparsed lines and bad values
