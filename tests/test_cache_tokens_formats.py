"""Cache reads and writes as each format carries them, starting from the real samples.

The convention for every format: `input_tokens` is the whole prompt, and
`cached_tokens` (reads) and `cache_write_tokens` are parts of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from apimon_tui.formats import litellm, native, otlp
from apimon_tui.core.model import Call
from format_support import parse_with

DATA = Path(__file__).parent / "data"


def one_call(module, lines: list[str]) -> Call:
    sink = parse_with(module, lines, one_by_one=True)
    assert not sink.bad and not sink.bad_values, (sink.bad, sink.bad_values)
    [call] = sink.calls
    return call


# -- OTel GenAI spans ---------------------------------------------------------------

def test_otel_cache_read_and_creation_attributes():
    export = json.loads((DATA / "otlp-genai.jsonl").read_text().splitlines()[0])
    span = export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] += [
        {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "40"}},
        {"key": "gen_ai.usage.cache_creation.input_tokens", "value": {"intValue": 25}},
    ]
    export["resourceSpans"][0]["scopeSpans"][0]["spans"] = [span]
    call = one_call(otlp, [json.dumps(export)])
    assert (call.input_tokens, call.cached_tokens, call.cache_write_tokens) == (100, 40, 25)


# -- LiteLLM StandardLoggingPayload -------------------------------------------------------

def sample_payload() -> dict:
    lines = (DATA / "litellm-1.110.2-payloads.log").read_text().splitlines()
    end = lines.index("}")
    return json.loads("\n".join(line for line in lines[: end + 1] if line == "{" or line.startswith((" ", "}"))))


def test_litellm_anthropic_usage_with_both_write_lifetimes():
    """LiteLLM's Usage for an Anthropic call: prompt_tokens already holds reads and writes."""
    payload = sample_payload()
    payload["prompt_tokens"] = 10_000
    payload["metadata"]["usage_object"] = {
        "prompt_tokens": 10_000, "completion_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 6_000, "cache_creation_tokens": 3_000,
                                  "cache_creation_token_details": {"ephemeral_5m_input_tokens": 1_000,
                                                                   "ephemeral_1h_input_tokens": 2_000}},
        "cache_creation_input_tokens": 3_000, "cache_read_input_tokens": 6_000,
    }
    call = one_call(litellm, json.dumps(payload, indent=4).splitlines())
    assert (call.input_tokens, call.cached_tokens, call.cache_write_tokens, call.cache_write_1h_tokens) == (
        10_000, 6_000, 3_000, 2_000)


def test_litellm_older_usage_with_only_the_top_level_creation_count():
    payload = sample_payload()
    payload["response"] = {"usage": {"prompt_tokens": 500, "completion_tokens": 5, "cache_creation_input_tokens": 120}}
    call = one_call(litellm, [json.dumps(payload)])
    assert (call.cache_write_tokens, call.cache_write_1h_tokens) == (120, None)


def test_litellm_without_cache_fields_says_nothing_about_writes():
    call = one_call(litellm, json.dumps(sample_payload(), indent=4).splitlines())
    assert call.cache_write_tokens is None


# -- native ----------------------------------------------------------------------------

def test_native_round_trip_keeps_cache_writes():
    call = Call(ts=1_795_700_000.0, model="claude-opus-4-1", status=200, input_tokens=20_000, cached_tokens=5_000,
                cache_write_tokens=10_000, cache_write_1h_tokens=4_000, output_tokens=100)
    record = native.to_record(call)
    assert (record["cache_write_tokens"], record["cache_write_1h_tokens"]) == (10_000, 4_000)
    line = json.dumps(record)
    again = one_call(native, [line])
    assert again.to_dict() == {**call.to_dict(), "source": "test", "raw": line}


def test_native_cache_write_that_is_not_a_number_is_unknown_and_counted_with_its_key():
    sink = parse_with(native, ['{"apimon": 1, "ts": 1764000000, "cache_write_tokens": "many", "input_tokens": 10}'])
    (call,) = sink.calls
    assert call.cache_write_tokens is None and call.input_tokens == 10
    assert sink.bad_values == [("cache_write_tokens", "many")]
