"""LiteLLM payloads read in batches (`feed_many`, as the engine reads) give what line by line gives.

`feed_many` keeps each line's shape for the lines inside an open object;
these feed awkward input both ways and compare everything the parser reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apimon_tui.formats import litellm
from format_support import Collect, parse_with

SAMPLE = Path(__file__).parent / "data" / "litellm-1.110.2-payloads.log"


def _payload(i: int, **fields) -> dict:
    return {"id": f"c-{i}", "call_type": "completion", "status": "success", "custom_llm_provider": "openai",
            "startTime": 1795735588.5 + i, "endTime": 1795735589.0 + i, "model": "gpt-4.1", "response_cost": 0.002,
            "prompt_tokens": 10 + i, "completion_tokens": 3, "metadata": {"tags": ["a", "b"], "note": "{[}]"},
            **fields}


def _pretty(i: int, **fields) -> list[str]:
    return json.dumps(_payload(i, **fields), indent=4).splitlines()


def awkward() -> list[str]:
    lines = SAMPLE.read_text().splitlines()  # warnings printed inside the objects
    body = _pretty(1)
    lines += body[:4] + [""] + body[4:]                       # a blank line inside an object
    lines += body[:3] + ['    "a": 1, "b": 2'] + body[3:]     # two members on one line
    lines += body[:5] + ["{", '    "x": 1'] + _pretty(2)       # a new object starts at column 0
    lines += body[:5] + [json.dumps(_payload(3))] + body[5:]  # a one-line payload inside an open object
    lines += _pretty(4, error_str="line\\nbreak }", status="failure",
                     error_information={"error_code": "429"})
    lines += ["  not JSON at all", "}", "]", "{}"] + _pretty(5) + body[:6]  # ends inside an object
    return lines


def outcome(sink) -> tuple:
    return [repr(c.to_dict()) for c in sink.calls], sink.bad, sink.skipped, sink.bad_values


@pytest.mark.parametrize("kept", [litellm.SHAPES_KEPT, 3])
def test_batches_report_what_line_by_line_reports(monkeypatch, kept):
    monkeypatch.setattr(litellm, "SHAPES_KEPT", kept)
    lines = awkward()
    one_by_one = parse_with(litellm, lines, one_by_one=True)
    assert len(one_by_one.calls) >= 8 and one_by_one.bad and one_by_one.skipped
    for size in (len(lines), 7, 1):
        sink = Collect()
        parser = litellm.PARSER(sink, "test", {}, lambda: 0.0)
        for start in range(0, len(lines), size):
            parser.feed_many(lines[start:start + size])
        parser.flush()
        assert outcome(sink) == outcome(one_by_one)


def test_an_oversized_object_in_batches_is_dropped_as_line_by_line(monkeypatch):
    monkeypatch.setattr(litellm, "MAX_OBJECT_CHARS", 1000)
    lines = _pretty(1, messages=[{"role": "user", "content": "x" * 40}] * 30) + _pretty(2)
    one_by_one = parse_with(litellm, lines, one_by_one=True)
    batched = parse_with(litellm, lines)
    assert [reason for reason, _ in one_by_one.bad] == ["JSON object longer than 1,000 characters"]
    assert outcome(batched) == outcome(one_by_one) and len(batched.calls) == 1
