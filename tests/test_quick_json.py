"""The JSON formats decode with orjson first and fall back to `json`: the figures are those `json` gives.

orjson and `json` differ where orjson refuses (NaN, Infinity, 1e400, lone
surrogates: the careful path reads those), where it reads an integer past
64 bits as a float, and where it nests deeper than `json` will. Each test
here puts such a value in every field a format reads, and compares what the
parser reports (calls, bad values, unparsed lines, skips) with what the
careful path alone reports for the same line.
"""

from __future__ import annotations

import json
import math
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core.config import DEFAULTS
from apimon_tui.formats import jsonl, litellm, native, otlp
from apimon_tui.formats.base import FIND_CHARS_PER_BRACKET, QUICK_BRACKETS, brackets_over, quick_loads
from format_support import parse_with
from test_values_properties import (
    JSONL, JSONL_PATHS, NATIVE, NATIVE_PATHS, OTLP, OTLP_PATHS, PROPERTY, json_values, value_texts, with_value,
)

BIG = ["123456789012345678901234567890", "-9223372036854775809", "18446744073709551616", "1" * 40,
       "9223372036854775807", "18446744073709551615"]
# Values on which orjson and json part ways, besides any JSON value.
parting_texts = value_texts | st.sampled_from(BIG + ["[" * 600 + "]" * 600, "1e19", "-0", '"\\ud800"', "1E400"])
LITELLM = {
    "id": "chatcmpl-1", "litellm_call_id": "c-1", "call_type": "completion", "stream": True, "status": "success",
    "custom_llm_provider": "openai", "startTime": 1795735588.7, "endTime": 1795735589.9,
    "completionStartTime": 1795735589.1, "model": "gpt-4.1", "response_cost": 0.0021, "prompt_tokens": 120,
    "completion_tokens": 33,
    "metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 20, "cache_creation_tokens": 5}}},
    "hidden_params": {"additional_headers": {"x_ratelimit_limit_requests": 5000,
                                             "x_ratelimit_remaining_requests": 4999}},
    "error_information": {"error_code": "429", "error_class": "RateLimitError"}, "error_str": "slow down",
}
LITELLM_PATHS = [(key,) for key in LITELLM] + [
    ("metadata", "usage_object", "prompt_tokens_details", "cached_tokens"),
    ("metadata", "usage_object", "prompt_tokens_details", "cache_creation_tokens"),
    ("hidden_params", "additional_headers", "x_ratelimit_limit_requests"),
    ("error_information", "error_code"), ("error_information", "error_class"),
]


def _outcome(sink) -> tuple:
    """What a parser reported, comparable across decoders (NaN equal to itself)."""
    return ([repr(call.to_dict()) for call in sink.calls], [(f, repr(v)) for f, v in sink.bad_values],
            sink.bad, sink.skipped)


def assert_as_careful(module, line: str, options: dict | None = None) -> None:
    quick = parse_with(module, [line], options=options, now=1795735579.0)
    with mock.patch.object(module, "quick_loads", lambda text, brackets_cut=0: None):
        careful = parse_with(module, [line], options=options, now=1795735579.0)
    assert _outcome(quick) == _outcome(careful)


def _same(quick, careful) -> bool:
    """orjson's value equals json's, but for an integer past 64 bits, which orjson makes a float."""
    if type(careful) is int and not -2**63 <= careful < 2**64:
        return type(quick) is float and quick == float(careful)
    if type(quick) is not type(careful):
        return False
    if type(careful) is dict:
        return list(quick) == list(careful) and all(_same(quick[k], careful[k]) for k in careful)
    if type(careful) is list:
        return len(quick) == len(careful) and all(map(_same, quick, careful))
    if type(careful) is float and math.isnan(careful):
        return math.isnan(quick)
    return quick == careful


@PROPERTY
@given(text=parting_texts | json_values.map(lambda v: json.dumps({"a": v, "a ": [v, {"k": v}]})))
def test_orjson_reads_what_json_reads_where_it_reads_at_all(text):
    quick = quick_loads(text)
    if quick is not None:
        assert _same(quick, json.loads(text))


def test_what_orjson_refuses_or_reads_otherwise_is_left_to_json():
    assert quick_loads('{"a": NaN}') is None and quick_loads("[1e400]") is None
    assert quick_loads('{"a": ' + "[" * 600 + "]" * 600 + "}") is None  # json may refuse it: nested too deep
    assert quick_loads('{"a": 1, "a": 2}') == json.loads('{"a": 1, "a": 2}') == {"a": 2}
    assert quick_loads("123456789012345678901234567890") == 1.2345678901234568e29  # why the field checks doubt


bracket_texts = st.lists(st.sampled_from(["[", "{", "]", "}", "x" * FIND_CHARS_PER_BRACKET, "\u00e9", "\U0001f600", '"a"']),
                         max_size=1200).map("".join)


@PROPERTY
@given(text=bracket_texts, slack=st.integers(-3, 3))
def test_brackets_are_counted_as_str_count_counts_them(text, slack):
    """Found one by one, or counted whole past one per `FIND_CHARS_PER_BRACKET` characters: the same count."""
    count = text.count("[") + text.count("{")
    for limit in (count + slack, QUICK_BRACKETS, -1):
        assert brackets_over(text, limit) == (count > limit)


def test_more_brackets_than_the_limit_are_refused_whether_found_one_by_one_or_counted_whole():
    def spread(objects: int) -> str:  # objects + 1 brackets, far enough apart to be found one by one
        return "[" + ",".join(['{"k": "' + "x" * FIND_CHARS_PER_BRACKET + '"}'] * objects) + "]"

    deep = "[" * (QUICK_BRACKETS + 1) + "]" * (QUICK_BRACKETS + 1)  # too many to find one by one: counted
    assert quick_loads(deep) is None and quick_loads(spread(QUICK_BRACKETS)) is None
    assert quick_loads(deep[1:-1]) == json.loads(deep[1:-1])
    assert quick_loads(spread(QUICK_BRACKETS - 1)) == json.loads(spread(QUICK_BRACKETS - 1))


@PROPERTY
@given(path=st.sampled_from(NATIVE_PATHS), text=parting_texts)
def test_native_reads_any_value_as_json_does(path, text):
    assert_as_careful(native, with_value(NATIVE, path, text))


def test_native_big_integers_in_every_field_are_reported_as_json_reads_them():
    for path in NATIVE_PATHS:
        line = with_value(NATIVE, path, BIG[0])
        assert_as_careful(native, line)
    sink = parse_with(native, [with_value(NATIVE, ("input_tokens",), BIG[0])])
    assert sink.bad_values == [("input_tokens", int(BIG[0]))]  # the integer as written, not orjson's float
    [call] = parse_with(native, [with_value(NATIVE, ("tags", "host"), BIG[0])]).calls
    assert call.tags == {"host": BIG[0]}  # orjson's float would read 1.2345678901234568e+29


@PROPERTY
@given(path=st.sampled_from(JSONL_PATHS), text=parting_texts, unit=st.sampled_from(["auto", "s", "ms", "iso"]))
def test_jsonl_reads_any_value_as_json_does(path, text, unit):
    assert_as_careful(jsonl, with_value(JSONL, path, text), {**DEFAULTS["jsonl"], "ts_unit": unit})


def test_jsonl_structured_error_message_keeps_json_text_of_big_integers():
    line = with_value(JSONL, ("error", "message"), '{"detail": ' + BIG[0] + "}")
    [call] = parse_with(jsonl, [line], options=DEFAULTS["jsonl"]).calls
    assert call.error_message == '{"detail": ' + BIG[0] + "}"


@PROPERTY
@given(path=st.sampled_from(OTLP_PATHS), text=parting_texts)
def test_otlp_reads_any_value_as_json_does(path, text):
    assert_as_careful(otlp, with_value(OTLP, path, text))


def test_otlp_failed_span_raw_text_is_json_s():
    span = ("resourceSpans", 0, "scopeSpans", 0, "spans", 0)
    record = json.loads(json.dumps(OTLP))
    record["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"] = {"code": 2, "message": "boom"}
    line = with_value(record, span + ("kind",), BIG[0])
    [call] = parse_with(otlp, [line]).calls
    assert call.failed and f'"kind":{BIG[0]}' in call.raw
    assert_as_careful(otlp, line)


@PROPERTY
@given(path=st.sampled_from(LITELLM_PATHS), text=parting_texts, failed=st.booleans())
def test_litellm_reads_any_value_as_json_does(path, text, failed):
    record = {**LITELLM, "status": "failure" if failed else "success"}
    assert_as_careful(litellm, with_value(record, path, text))


def test_other_json_lines_are_counted_as_the_careful_path_counts_them():
    for line in ['{"level": "info", "msg": "started"}', "[1, 2]", "{", '{"apimon": 1}', '{"apimon": 1, "ts": NaN}',
                 '{"apimon": 1, "ts": 1795735579, "ts": "late"}', "plain text"]:
        for module in (native, jsonl, otlp, litellm):
            assert_as_careful(module, line, DEFAULTS["jsonl"] if module is jsonl else None)


@PROPERTY
@given(field=st.sampled_from(["stream_ended", "incomplete_reason"]), text=parting_texts)
def test_native_stream_ends_read_as_json_does(field, text):
    record = {**NATIVE, "stream_ended": "incomplete", "incomplete_reason": "max_output_tokens"}
    assert_as_careful(native, with_value(record, (field,), text))
