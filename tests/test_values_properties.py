"""Property tests: no value in a log line can stop a parser or put a non-finite figure in a call.

For every format, a real record with one field replaced by any JSON value
(NaN, Infinity, 1e400, 5,000-digit integers, lists, deep nesting...) and
any text or bytes as a whole line: the parser never raises, and every call
it reports carries only usable figures, which the pricer prices without
raising. Bad values are reported by field name, never silently kept.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimon_tui import formats
from apimon_tui.core.config import DEFAULTS
from apimon_tui.ingest.engine import Sink
from apimon_tui.formats import jsonl, litellm, native, nginx, openai_sdk, otlp
from apimon_tui.formats.values import MAX_MS, MAX_STATUS, MAX_TOKENS, MAX_TS, MIN_STATUS, MIN_TS
from apimon_tui.core.model import Call, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.sources.lines import LineAssembler
from apimon_tui.store import MetricsStore
from apimon_tui.ingest.summary import summarize
from format_support import Collect

DATA = Path(__file__).parent / "data"
PROPERTY = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PRICER = Pricer()
MARK = '"@@VALUE@@"'

DEEP = "[" * 100_000 + "]" * 100_000
ODD_TEXTS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000, "-0", "0.1e-400", DEEP,
             '"nan"', '"inf"', '"-1"', '"1e400"', '"1.5"', '"\\u0000"', '"\\ud800"', "[" * 990 + "]" * 990]

json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**30), max_value=10**30)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
# The JSON text of a value: what json.dumps writes (NaN and Infinity included), or a text no encoder writes.
value_texts = json_values.map(json.dumps) | st.sampled_from(ODD_TEXTS)


class Checked(Collect):
    """A sink that keeps everything, and checks each call and bad value as it comes."""

    def call(self, call: Call) -> None:
        assert_usable(call)
        super().call(call)

    def bad_value(self, field, value) -> None:
        assert isinstance(field, str) and field
        super().bad_value(field, value)


def _finite(value, high=math.inf) -> bool:
    return type(value) in (int, float) and 0 <= value <= high


def assert_usable(call: Call) -> None:
    """Every figure of `call` is a value the store and the outputs can use."""
    assert type(call.ts) in (int, float) and MIN_TS <= call.ts <= MAX_TS, call.ts
    for name in ("latency_ms", "ttft_ms"):
        value = getattr(call, name)
        assert value is None or _finite(value, MAX_MS), (name, value)
    assert call.cost_usd is None or _finite(call.cost_usd), call.cost_usd
    for name in ("input_tokens", "output_tokens", "cached_tokens"):
        value = getattr(call, name)
        assert value is None or (type(value) is int and 0 <= value <= MAX_TOKENS), (name, value)
    assert call.status is None or (type(call.status) is int and MIN_STATUS <= call.status <= MAX_STATUS)
    for name in ("provider", "endpoint", "method", "model", "request_id", "error_type", "error_code", "error_message"):
        value = getattr(call, name)
        assert value is None or type(value) is str, (name, value)
    assert type(call.attempt) is int and call.attempt >= 0
    assert call.stream is None or type(call.stream) is bool
    if call.ratelimit is not None:
        for value in (call.ratelimit.limit_requests, call.ratelimit.remaining_requests, call.ratelimit.limit_tokens,
                      call.ratelimit.remaining_tokens, call.ratelimit.reset_requests_s, call.ratelimit.reset_tokens_s):
            assert value is None or _finite(value), call.ratelimit
    if call.tags is not None:
        assert all(type(k) is str and type(v) is str for k, v in call.tags.items())
    cost = PRICER.estimate(call)
    assert cost is None or math.isfinite(cost)


def feed(module, lines: list[str], options: dict | None = None) -> Checked:
    sink = Checked()
    parser = module.PARSER(sink, "test", options or {}, lambda: 1795735579.0)
    parser.feed_many(lines)
    parser.flush()
    return sink


def through_store(lines: list[str], module=nginx, options: dict | None = None) -> None:
    """Through the engine's sink, pricer and store, as `report` reads it (the nginx column reader
    takes big batches): the summary is strict JSON as it is, with no figure made null."""
    counts = SourceCounts(label="test")
    store = MetricsStore(failed_capacity=0)
    sink = Sink(counts, Pricer(), None, bulk_failures=True)
    parser = module.PARSER(sink, "test", options or {}, lambda: 1795735579.0)
    parser.feed_many(lines)
    parser.flush()
    sink.commit(store)
    if module is not litellm:  # (a pretty-printed record is many lines, one call)
        assert counts.calls + counts.skipped + counts.unparsed == len(lines)
    summary = summarize(store.snapshot(), [], set())
    json.dumps(summary, allow_nan=False)  # strict without any figure made null
    assert store.newest == -math.inf or MIN_TS <= store.newest <= MAX_TS


def with_value(record: dict, path: tuple, text: str) -> str:
    """`record` as one JSON line, with the value at `path` replaced by the JSON text `text`."""
    target = record = json.loads(json.dumps(record))
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "@@VALUE@@"
    return json.dumps(record).replace(MARK, text, 1)


# -- native -------------------------------------------------------------------------

NATIVE = {
    "apimon": 1, "ts": 1795735579.25, "provider": "openai", "endpoint": "/v1/chat/completions", "method": "POST",
    "model": "gpt-4o", "status": 429, "latency_ms": 812.0, "ttft_ms": 40.5, "stream": False, "input_tokens": 120,
    "output_tokens": 3, "cached_tokens": 20, "cost_usd": 0.001, "request_id": "req_1", "attempt": 1, "failed": False,
    "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "slow down"},
    "ratelimit": {"limit_requests": 5000, "remaining_requests": 0, "limit_tokens": 4000000,
                  "remaining_tokens": 3998000, "reset_requests_s": 0.012, "reset_tokens_s": 6.0},
    "tags": {"host": "api-1"},
}
NATIVE_PATHS = [(key,) for key in NATIVE if key != "apimon"] + [
    ("error", "code"), ("error", "message"), ("error", "type"), ("tags", "host"),
    *[("ratelimit", key) for key in NATIVE["ratelimit"]],
]


@PROPERTY
@given(path=st.sampled_from(NATIVE_PATHS), text=value_texts)
def test_native_any_value_in_any_field(path, text):
    line = with_value(NATIVE, path, text)
    sink = feed(native, [line])
    through_store([line], native)
    assert len(sink.calls) + len(sink.bad) == 1
    if path != ("ts",) and _decodes(line):
        assert len(sink.calls) == 1  # only the time can make a record no call


# -- jsonl --------------------------------------------------------------------------

JSONL = {
    "timestamp": "2026-11-26T23:26:19.250Z", "provider": "openai", "endpoint": "/v1/chat/completions",
    "model": "gpt-4o", "status": 200, "latency_ms": 812.5, "request_id": "req_abc",
    "usage": {"prompt_tokens": 120, "completion_tokens": 30}, "cost_usd": 0.0006,
    "error": {"code": "x", "message": "y"},
}
JSONL_PATHS = [(key,) for key in JSONL] + [("usage", "prompt_tokens"), ("usage", "completion_tokens"),
                                           ("error", "code"), ("error", "message")]


@PROPERTY
@given(path=st.sampled_from(JSONL_PATHS), text=value_texts, unit=st.sampled_from(["auto", "s", "ms", "iso"]))
def test_jsonl_any_value_in_any_field(path, text, unit):
    options = {**DEFAULTS["jsonl"], "ts_unit": unit, "latency_unit": "s"}
    feed(jsonl, [with_value(JSONL, path, text)], options)
    through_store([with_value(JSONL, path, text)], jsonl, options)


# -- otlp ---------------------------------------------------------------------------

OTLP = json.loads((DATA / "otlp-genai.jsonl").read_text().splitlines()[0])
SPAN = ("resourceSpans", 0, "scopeSpans", 0, "spans", 0)
OTLP_ATTRIBUTES = len(OTLP["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"])
OTLP_PATHS = [SPAN + (key,) for key in ("startTimeUnixNano", "endTimeUnixNano", "status", "name", "attributes")] + [
    SPAN + ("status", "code"), SPAN + ("status", "message"),
    *[SPAN + ("attributes", i, "value") for i in range(OTLP_ATTRIBUTES)],
    *[SPAN + ("attributes", i, "key") for i in range(OTLP_ATTRIBUTES)],
    ("resourceSpans", 0, "scopeSpans"), ("resourceSpans", 0, "scopeSpans", 0, "spans"),
]
KINDS = ["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue"]
EXTRA_ATTRIBUTES = ["gen_ai.response.time_to_first_chunk", "http.response.status_code", "gen_ai.request.stream",
                    "gen_ai.usage.cache_read.input_tokens", "error.type", "gen_ai.operation.name"]


@PROPERTY
@given(path=st.sampled_from(OTLP_PATHS), text=value_texts)
def test_otlp_any_value_in_any_field(path, text):
    feed(otlp, [with_value(OTLP, path, text)])
    through_store([with_value(OTLP, path, text)], otlp)


@PROPERTY
@given(key=st.sampled_from(EXTRA_ATTRIBUTES), kind=st.sampled_from(KINDS), text=value_texts)
def test_otlp_any_attribute_value_of_any_kind(key, kind, text):
    export = json.loads(json.dumps(OTLP))
    export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": key, "value": {kind: "@@VALUE@@"}})
    sink = feed(otlp, [json.dumps(export).replace(MARK, text, 1)])
    assert len(sink.calls) + len(sink.bad) + sink.skipped == 1  # (another operation name: not a call)


# -- litellm ------------------------------------------------------------------------

LITELLM = {
    "id": "chatcmpl-1", "litellm_call_id": "abc", "call_type": "completion", "stream": True, "status": "failure",
    "custom_llm_provider": "openai", "startTime": 1795735588.7, "endTime": 1795735589.9,
    "completionStartTime": 1795735589.0, "model": "gpt-4o", "response_cost": 0.002, "prompt_tokens": 10,
    "completion_tokens": 5, "error_str": "boom",
    "error_information": {"error_code": "429", "error_class": "RateLimitError", "error_message": "slow"},
    "metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 2}}},
    "hidden_params": {"additional_headers": {"x_ratelimit_remaining_requests": "10",
                                             "x_ratelimit_reset_tokens": "6m0s"}},
}
LITELLM_PATHS = [(key,) for key in LITELLM] + [
    ("error_information", "error_code"), ("error_information", "error_class"),
    ("metadata", "usage_object"), ("metadata", "usage_object", "prompt_tokens_details", "cached_tokens"),
    ("hidden_params", "additional_headers"), ("hidden_params", "additional_headers", "x_ratelimit_remaining_requests"),
    ("hidden_params", "additional_headers", "x_ratelimit_reset_tokens"),
]


@PROPERTY
@given(path=st.sampled_from(LITELLM_PATHS), text=value_texts, pretty=st.booleans())
def test_litellm_any_value_in_any_field(path, text, pretty):
    line = with_value(LITELLM, path, text)
    lines = [line]
    if pretty and text is not DEEP:  # the same record as `json.dumps(indent=4)` prints it, over many lines
        lines = json.dumps(json.loads(line), indent=4).splitlines() if _decodes(line) else [line]
    sink = feed(litellm, lines)
    through_store(lines, litellm)
    assert len(sink.calls) + len(sink.bad) + sink.skipped >= 1


def _decodes(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


# -- nginx --------------------------------------------------------------------------

NGINX_JSON = json.loads((DATA / "nginx-1.22-json.log").read_text().splitlines()[0]) | {
    "model": "gpt-4o", "rl_limit_requests": "5000", "rl_reset_requests": "12ms"}
COMBINED = (DATA / "nginx-1.22-timed-combined.log").read_text().splitlines()[0]
COMBINED_PARTS = ["26/Nov/2026:23:26:19 +0000", "200", "0.025", "0.024", "276", "POST", "127.0.0.1"]


@PROPERTY
@given(key=st.sampled_from(sorted(NGINX_JSON)), text=value_texts | st.text(max_size=30).map(json.dumps))
def test_nginx_json_any_value_in_any_field(key, text):
    line = with_value(NGINX_JSON, (key,), text)
    feed(nginx, [line])
    through_store([line] * 300)


@PROPERTY
@given(part=st.sampled_from(COMBINED_PARTS), text=st.text(max_size=30) | st.sampled_from(["1" * 5000, "9" * 400]))
def test_nginx_combined_any_text_in_any_field(part, text):
    line = COMBINED.replace(part, text, 1)
    feed(nginx, [line])
    through_store([line] * 300)


# -- openai-sdk ---------------------------------------------------------------------

SDK_LINES = [
    "[2026-11-26 23:26:08 - openai._base_client:482 - DEBUG] Request options: {'method': 'post', 'url': "
    "'/chat/completions', 'json_data': {'model': @@, 'stream': @@}}",
    "[@@ - openai._base_client:606 - DEBUG] Building HTTP request: method=POST retries_taken=@@",
    "[2026-11-26 23:26:08 - openai._base_client:978 - DEBUG] Sending HTTP Request: POST @@",
    '[2026-11-26 23:26:08 - httpx:1025 - INFO] HTTP Request: POST http://x/v1/chat/completions "HTTP/1.1 @@ OK"',
    "[2026-11-26 23:26:08 - openai._base_client:1016 - DEBUG] HTTP Response: POST http://x/v1/chat/completions "
    "\"200 OK\" Headers({'openai-processing-ms': '@@', 'x-request-id': '@@', 'x-ratelimit-remaining-requests': "
    "'@@', 'x-ratelimit-reset-tokens': '@@'})",
    "[2026-11-26 23:26:08 - openai._base_client:1220 - DEBUG] HTTP Response: POST @@",
    "[2026-11-26 23:26:08 - openai._base_client:1225 - DEBUG] request_id: @@",
    "[2026-11-26 23:26:08 - openai._base_client:1080 - INFO] Retrying request to /chat/completions in @@ seconds"
    " (retry @@ of 2)",
    "2026-11-26 23:26:08 - openai - INFO - message='OpenAI API response' path=@@ processing_ms=@@ "
    "request_id=@@ response_code=@@",
    "@@ - httpx - INFO - HTTP Request: POST https://api.openai.com/v1/chat/completions \"HTTP/1.1 200 OK\"",
]
sdk_texts = st.text(max_size=30) | st.sampled_from(["nan", "inf", "-5", "1e400", "1" * 5000, "000", "999",
                                                    "9999-12-31 23:59:59", "2026-13-45 99:99:99", "0000-00-00 00:00:00"])


@PROPERTY
@given(texts=st.lists(st.tuples(st.sampled_from(SDK_LINES), st.lists(sdk_texts, min_size=4, max_size=4)),
                      min_size=1, max_size=8))
def test_openai_sdk_any_text_in_any_field(texts):
    lines = []
    for template, fills in texts:
        line = template
        for fill in fills:
            line = line.replace("@@", fill, 1)
        lines.append(line)
    feed(openai_sdk, lines)


# -- any line at all ----------------------------------------------------------------

MODULES = [native, jsonl, otlp, litellm, nginx, openai_sdk]


@PROPERTY
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_lines_in_every_format(data):
    lines = LineAssembler().feed(data + b"\n")
    assert formats.detect(lines) in (None, *formats.FORMAT_MODULES)
    for module in MODULES:
        sink = feed(module, lines)
        assert len(sink.calls) <= len(lines) + 1


@PROPERTY
@given(head=st.sampled_from(["{", '{"apimon": 1, "ts": ', '{"resourceSpans": [', '{"model": "x", "status": ']),
       text=value_texts | st.text(max_size=50))
def test_any_text_after_a_record_start_in_every_format(head, text):
    lines = [head + text, head + text + "}"]
    for module in MODULES:
        feed(module, lines)
    assert formats.detect(lines) in (None, *formats.FORMAT_MODULES)


def test_the_nginx_column_reader_takes_no_latency_or_time_the_per_line_path_refuses():
    """The columns take at most six digits of seconds and check the time's bounds: within the per-line path's."""
    from apimon_tui.formats import nginx_columns

    assert (10**nginx_columns.MAX_SECONDS_DIGITS) * 1000.0 <= MAX_MS
    assert nginx_columns.MAX_MSEC == MAX_TS * 1000
    lines = [COMBINED] * 299 + [COMBINED.replace("2026", "9999", 1)]
    counts = SourceCounts(label="test")
    sink = Sink(counts, Pricer(), None, bulk_failures=True)
    nginx.PARSER(sink, "test", {}, lambda: 0.0).feed_many(lines)
    sink.commit(MetricsStore(failed_capacity=0))
    assert (counts.calls, counts.unparsed) == (299, 1)
