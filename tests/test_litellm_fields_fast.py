"""A LiteLLM payload's fields are read as the plain reading reads them, for any value in any place.

`to_call` reads its cache figures from the three usage objects in one pass, an
epoch-float time without `parse_time`, and `parse_count` takes whole numbers and
short decimal texts as they are. Each is compared here with the reading it
replaces (copied below as it was): the same call, and the same values
reported to the sink in the same order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from apimon_tui.formats import values
from apimon_tui.formats.litellm import _dict, _time, parse_time, to_call
from apimon_tui.formats.ratelimit import parse_count
from apimon_tui.formats.values import MAX_RATELIMIT
from format_support import Collect
from test_values_properties import PROPERTY, json_values


def plain_cache_figures(obj: dict[str, Any], sink) -> tuple:
    """The reading before the one pass: cached tokens, then the writes and their 1-hour part, each
    from the first usage object that has it."""
    usages = (_dict(_dict(obj.get("metadata")).get("usage_object")),
              _dict(_dict(obj.get("hidden_params")).get("usage_object")),
              _dict(_dict(obj.get("response")).get("usage")))
    cached = None
    for usage in usages:
        value = _dict(usage.get("prompt_tokens_details")).get("cached_tokens")
        if value is not None:
            cached = values.count(value, "cached_tokens", sink)
            break
    for usage in usages:
        details = _dict(usage.get("prompt_tokens_details"))
        for written in (details.get("cache_creation_tokens"), details.get("cache_write_tokens"),
                        usage.get("cache_creation_input_tokens")):
            if written is not None:
                lifetimes = _dict(details.get("cache_creation_token_details"))
                return (cached, values.count(written, "cache_write_tokens", sink),
                        values.count(lifetimes.get("ephemeral_1h_input_tokens"), "cache_write_1h_tokens", sink))
    return cached, None, None


def plain_parse_count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if 0 <= number <= MAX_RATELIMIT else None


def plain_time(obj: dict[str, Any], key: str) -> tuple[float | None, bool]:
    value = obj.get(key)
    if value is None:
        return None, True
    seconds = parse_time(value)
    return (seconds, True) if values.usable_ts(seconds) else (None, False)


# Mostly the shapes LiteLLM writes (so figures meet in several usage objects), sometimes any value.
counts = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**16), st.integers(min_value=0, max_value=99),
                   st.floats(allow_nan=True), st.sampled_from(["12", "1e3", "-1"]), json_values)
details = st.fixed_dictionaries({}, optional={
    "cached_tokens": counts, "cache_creation_tokens": counts, "cache_write_tokens": counts,
    "cache_creation_token_details": st.one_of(
        st.fixed_dictionaries({}, optional={"ephemeral_1h_input_tokens": counts}), json_values),
})
usage = st.one_of(st.fixed_dictionaries({}, optional={"prompt_tokens_details": st.one_of(details, details, json_values),
                                                      "cache_creation_input_tokens": counts}),
                  st.fixed_dictionaries({"prompt_tokens_details": details}), json_values)


@st.composite
def payloads(draw) -> dict[str, Any]:
    obj = {"model": "gpt-4.1", "startTime": 1_764_000_000.0, "endTime": 1_764_000_000.5}
    for outer, inner in (("metadata", "usage_object"), ("hidden_params", "usage_object"), ("response", "usage")):
        if draw(st.integers(0, 3)):
            obj[outer] = {inner: draw(usage)} if draw(st.integers(0, 4)) else draw(json_values)
    return obj


@settings(PROPERTY, max_examples=400)
@given(payloads())
def test_cache_figures_are_those_of_the_plain_reading(obj):
    sink, plain_sink = Collect(), Collect()
    call = to_call(obj, "test", "", sink)
    expected = plain_cache_figures(obj, plain_sink)
    assert (call.cached_tokens, call.cache_write_tokens, call.cache_write_1h_tokens) == expected
    assert sink.bad_values == plain_sink.bad_values


def test_each_usage_object_gives_what_the_earlier_ones_lack():
    obj = {"model": "m", "endTime": 1_764_000_000.0,
           "metadata": {"usage_object": {"prompt_tokens_details": {"cache_write_tokens": 30}}},
           "hidden_params": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 12}}},
           "response": {"usage": {"prompt_tokens_details": {"cached_tokens": 99, "cache_creation_tokens": 77,
                                                            "cache_creation_token_details":
                                                                {"ephemeral_1h_input_tokens": 5}}}}}
    call = to_call(obj, "test", "")
    assert (call.cached_tokens, call.cache_write_tokens, call.cache_write_1h_tokens) == (12, 30, None)
    obj["metadata"]["usage_object"]["prompt_tokens_details"] = {"cached_tokens": 3}  # no writes: read on
    obj["hidden_params"]["usage_object"]["prompt_tokens_details"] = {}
    call = to_call(obj, "test", "")
    assert (call.cached_tokens, call.cache_write_tokens, call.cache_write_1h_tokens) == (3, 77, 5)


times = (st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=-1.0, max_value=8e9)
         | st.integers(min_value=-10, max_value=10**400) | st.text(max_size=30) | json_values)


@PROPERTY
@given(times)
def test_a_time_is_read_as_parse_time_reads_it(value):
    obj = {"endTime": value}
    assert repr(_time(obj, "endTime")) == repr(plain_time(obj, "endTime"))


@PROPERTY
@given(st.integers(min_value=-(10**17), max_value=10**17) | st.booleans() | st.floats(allow_nan=True)
       | st.from_regex(r"\A[0-9]{1,17}\Z") | st.from_regex(r"\A\s*[-+]?[0-9٤٢]{0,16}(\.[0-9]*)?([eE][0-9]{1,3})?\s*\Z")
       | json_values)
def test_a_count_is_read_as_float_reads_it(value):
    assert repr(parse_count(value)) == repr(plain_parse_count(value))


def test_counts_at_the_edges():
    for value in (MAX_RATELIMIT, MAX_RATELIMIT + 1, "999999999999999", "1000000000000000", "1000000000000001",
                  "٤٢", "0", "-0", True, 2**53 + 1):
        assert repr(parse_count(value)) == repr(plain_parse_count(value)), value


def test_a_payload_dated_by_any_end_time_is_dated_as_before():
    for end in (1_764_000_000.25, 1e300, -1.0, float("nan"), float("inf"), 1_764_000_000, "2025-11-24 16:00:00", True):
        obj = {"model": "m", "startTime": 1_763_999_999.0, "endTime": end}
        sink = Collect()
        call = to_call(obj, "test", "", sink)
        ended, ok = plain_time(obj, "endTime")
        assert call.ts == (ended if ended is not None else 1_763_999_999.0)
        assert call.latency_ms == (None if ended is None else (ended - 1_763_999_999.0) * 1000.0)
        assert sink.bad_values == ([] if ok else [("endTime", end)])
