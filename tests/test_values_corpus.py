"""A generated corpus per format through the real `report --json`: every line accounted for, exactly.

Each corpus mixes good calls, calls with bad values (each known to hold
so many), lines with no usable time and garbage of every kind the issue
names (deep nesting, truncated records, invalid UTF-8, NUL bytes, a
multi-megabyte line), shuffled. The report must count each as the
corpus says: calls, bad values, unparsed and skipped lines, truncated
lines, and print strict JSON.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

START = 1795735579.0
DEEP = "[" * 100_000 + "]" * 100_000
LONG = 2 * 1024 * 1024  # bytes: over the 1 MiB line limit


@dataclass
class Corpus:
    """Lines (as bytes) and what `report` must make of them."""

    lines: list[bytes] = field(default_factory=list)
    calls: int = 0
    bad_values: int = 0
    unparsed: int = 0
    skipped: int = 0
    truncated: int = 0

    def add(self, line: str | bytes, *, calls=0, bad_values=0, unparsed=0, skipped=0, truncated=0) -> None:
        self.lines.append(line.encode() if isinstance(line, str) else line)
        self.calls += calls
        self.bad_values += bad_values
        self.unparsed += unparsed
        self.skipped += skipped
        self.truncated += truncated


@dataclass(frozen=True)
class Format:
    """How to write each kind of line of one format, and what becomes of its garbage."""

    name: str
    good: callable                 # (i) -> a line that is one call
    bad: list                      # (i) -> (a line that is one call, how many bad values it holds)
    untimed: list                  # (i) -> a line with no usable time (unparsed)
    truncated: callable            # (i) -> a good line cut short, read as one unparsed line
    json: bool = True              # a line starting with `{` that does not decode is unparsed (not skipped)


def _native(i: int, **fields) -> str:
    return json.dumps({"apimon": 1, "ts": START + i, "model": "gpt-4o", "status": 200, "latency_ms": 500.0 + i,
                       "input_tokens": 10, "output_tokens": 5, **fields})


def _jsonl(i: int, **fields) -> str:
    return json.dumps({"timestamp": START + i, "model": "gpt-4o", "status": 200, "latency_ms": 500.0,
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5}, **fields})


def _otlp(i: int, start=None, end=None, **attrs) -> str:
    start = f"{int(START + i) * 10**9}" if start is None else start
    end = f"{int(START + i + 1) * 10**9}" if end is None else end
    values = {"gen_ai.operation.name": {"stringValue": "chat"}, "gen_ai.provider.name": {"stringValue": "openai"},
              "gen_ai.request.model": {"stringValue": "gpt-4o"}, "gen_ai.usage.input_tokens": {"intValue": "10"},
              **attrs}
    span = {"name": "chat gpt-4o", "startTimeUnixNano": start, "endTimeUnixNano": end, "status": {},
            "attributes": [{"key": k, "value": v} for k, v in values.items()]}
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]})


def _litellm(i: int, **fields) -> str:
    return json.dumps({"id": f"c{i}", "litellm_call_id": f"l{i}", "call_type": "completion", "status": "success",
                       "model": "gpt-4o", "startTime": START + i, "endTime": START + i + 0.5,
                       "response_cost": 0.001, "prompt_tokens": 10, "completion_tokens": 5, **fields})


def _nginx_json(i: int, **fields) -> str:
    record = {"msec": f"{START + i:.3f}", "status": "200", "request_time": "0.250", "model": "gpt-4o",
              "uri": "/v1/chat/completions", **fields}
    return json.dumps(record, separators=(",", ":"))


def _combined(i: int, stamp="26/Nov/2026:23:26:19 +0000", status="200", rtime="0.025") -> str:
    return f'127.0.0.1 - - [{stamp}] "POST /v1/chat/completions HTTP/1.1" {status} 276 "-" "OpenAI/Python" {rtime} 0.024'


def _sdk(i: int, stamp="2026-11-26 23:26:08", status="200") -> str:
    return (f'[{stamp} - httpx:1025 - INFO] HTTP Request: POST https://api.openai.com/v1/chat/completions '
            f'"HTTP/1.1 {status} OK"')


FORMATS = [
    Format("native", _native,
           [lambda i: (_native(i, latency_ms=float("nan")), 1), lambda i: (_native(i, model=["x"]), 1),
            lambda i: (_native(i, input_tokens=1e400), 1), lambda i: (_native(i, model=5, status=9000, cost_usd=-1), 3),
            lambda i: (_native(i, output_tokens=2.5, ttft_ms=float("inf")), 2)],
           [lambda i: _native(i, ts=float("nan")), lambda i: _native(i, ts=float("inf")), lambda i: _native(i, ts="x"),
            lambda i: json.dumps({"apimon": 1, "model": "gpt-4o"})],
           lambda i: _native(i)[:30]),
    Format("jsonl", _jsonl,
           [lambda i: (_jsonl(i, status=9000), 1), lambda i: (_jsonl(i, latency_ms="slow"), 1),
            lambda i: (_jsonl(i, cost_usd=float("nan"), model=["x"]), 2),
            lambda i: (_jsonl(i, usage={"prompt_tokens": 1.5, "completion_tokens": -3}), 2)],
           [lambda i: _jsonl(i, timestamp="yesterday"), lambda i: _jsonl(i, timestamp=1e400),
            lambda i: _jsonl(i, timestamp=[1])],
           lambda i: _jsonl(i)[:30]),
    Format("otlp", _otlp,
           [lambda i: (_otlp(i, **{"gen_ai.response.time_to_first_chunk": {"doubleValue": "NaN"}}), 1),
            lambda i: (_otlp(i, **{"gen_ai.usage.input_tokens": {"intValue": "1e400"}}), 1),
            lambda i: (_otlp(i, **{"gen_ai.request.model": {"intValue": "5"}}), 1),
            lambda i: (_otlp(i, end=f"{int(START + i - 5) * 10**9}"), 1)],
           [lambda i: _otlp(i, start="0", end="0"), lambda i: _otlp(i, start="abc", end="1e400"),
            lambda i: _otlp(i, start=str(10**30), end="0")],
           lambda i: _otlp(i)[:60]),
    Format("litellm", _litellm,
           [lambda i: (_litellm(i, response_cost=float("nan")), 1), lambda i: (_litellm(i, prompt_tokens=1e400), 1),
            lambda i: (_litellm(i, model=["x"]), 1), lambda i: (_litellm(i, endTime=START + i - 5), 1)],
           [lambda i: _litellm(i, startTime="later", endTime=None), lambda i: _litellm(i, startTime=float("nan"), endTime=1e400)],
           lambda i: _litellm(i)[:60]),
    Format("nginx", _nginx_json,
           [lambda i: (_nginx_json(i, request_time="nan"), 1), lambda i: (_nginx_json(i, status="2000"), 1),
            lambda i: (_nginx_json(i, request_time="abc", status="x"), 2)],
           [lambda i: _nginx_json(i, msec="NaN"), lambda i: _nginx_json(i, msec="-5"),
            lambda i: _nginx_json(i, msec="99999999999.000")],
           lambda i: _nginx_json(i)[:40]),
    Format("nginx", _combined,
           [lambda i: (_combined(i, status="000"), 1), lambda i: (_combined(i, rtime="9999999.999"), 1)],
           [lambda i: _combined(i, stamp="26/Nov/9999:23:26:19 +0000"), lambda i: _combined(i, stamp="26/Nov/1969:23:26:19 +0000")],
           lambda i: _combined(i)[:60], json=True),
    Format("openai-sdk", _sdk,
           [lambda i: (_sdk(i, status="000"), 1), lambda i: (_sdk(i, status="999"), 1)],
           [lambda i: _sdk(i, stamp="2026-13-45 10:00:00"), lambda i: _sdk(i, stamp="9999-12-31 23:59:59")],
           lambda i: _sdk(i)[:95], json=False),
]


def corpus(fmt: Format, seed: int, good: int = 400) -> Corpus:
    rng = random.Random(seed)
    out = Corpus()
    for i in range(good):
        out.add(fmt.good(i), calls=1)
    for i in range(40):
        line, bad = rng.choice(fmt.bad)(i)
        out.add(line, calls=1, bad_values=bad)
    for i in range(12):
        out.add(rng.choice(fmt.untimed)(i), unparsed=1)
    for i in range(5):
        out.add(fmt.truncated(i), unparsed=1)
    garbage_json = {"unparsed": 1} if fmt.json else {"skipped": 1}
    out.add('{"a": ' + DEEP + "}", **garbage_json)              # 100,000 nested brackets
    out.add(b'{"apimon": 1, "ts": \x00, "model": "\x00"}', **garbage_json)  # NUL bytes in a record
    out.add(b"\xff\xfe invalid \x80 UTF-8 \xc3", skipped=1)
    out.add(b"\x00\x00 NUL bytes \x00", skipped=1)
    out.add("an ordinary application log line", skipped=1)
    out.add('{"model": "' + "x" * LONG + '"}', truncated=1, **garbage_json)  # cut at 1 MiB: no longer JSON
    good_first, rest = out.lines[:20], out.lines[20:]
    rng.shuffle(rest)
    out.lines = good_first + rest  # (good lines first: the format is also detected, not only forced)
    return out


def report(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", *args, str(path)],
                          capture_output=True, text=True, timeout=120)


def strict(text: str):
    """JSON as a strict reader takes it: NaN and Infinity are refused."""
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-{f.good.__name__}")
def test_every_line_of_a_hostile_corpus_is_counted_as_what_it_is(tmp_path, fmt):
    expected = corpus(fmt, seed=len(fmt.bad))
    log = tmp_path / "corpus.log"
    log.write_bytes(b"\n".join(expected.lines) + b"\n")
    for args in (("--format", fmt.name), ()):
        done = report(log, *args)
        assert done.returncode == 0, done.stderr
        got = strict(done.stdout)
        [source] = got["sources"]
        assert source["format"] == fmt.name
        assert (got["lines"], got["calls"], got["bad_values"], got["unparsed"], got["skipped"], source["truncated"]) == (
            len(expected.lines), expected.calls, expected.bad_values, expected.unparsed, expected.skipped,
            expected.truncated)
        assert source["bad_values"] == expected.bad_values and len(source["bad_value_samples"]) == 5
        assert got["first_ts"] is not None and got["last_ts"] <= START + 400 + 1


def test_a_big_hostile_file_read_in_shares_on_two_cores_counts_the_same(tmp_path):
    """Over 16 MB a native log is cut into two shares, one read by a worker process: their counts add up."""
    [fmt] = [f for f in FORMATS if f.name == "native"]
    expected = corpus(fmt, seed=3, good=135_000)
    log = tmp_path / "big.log"
    log.write_bytes(b"\n".join(expected.lines) + b"\n")
    assert log.stat().st_size > 2 * 8 * 1024 * 1024  # (two shares of 8 MB at least)
    done = report(log, "--jobs", "2")
    assert done.returncode == 0, done.stderr
    got = strict(done.stdout)
    [source] = got["sources"]
    assert (got["lines"], got["calls"], got["bad_values"], got["unparsed"], got["skipped"], source["truncated"]) == (
        len(expected.lines), expected.calls, expected.bad_values, expected.unparsed, expected.skipped,
        expected.truncated)
    assert len(source["bad_value_samples"]) == 5
