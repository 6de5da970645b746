"""Native batches read as columns (`formats/native_columns.py`) against the per-line path.

The same lines go through the engine's sink twice: once as it is (big
batches go to the store as columns) and once with its column intake taken
away (every line read one by one, as before). Every figure of the store,
every count of the source and every sample of an unparsed line or bad
value must come out the same, with odd values mixed in among the plain
calls: nulls, strings in number fields, NaN and Infinity, integers past 64
bits, missing keys, tags, rate-limit objects, failed calls, error objects,
streams that ended early, lines that are no JSON or no native record.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core.model import SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.formats import native
from apimon_tui.ingest.engine import Sink
from apimon_tui.store import MetricsStore
from test_call_columns import state
from test_values_properties import NATIVE, NATIVE_PATHS, PROPERTY, value_texts, with_value

ODD_VALUES = ["null", '"12"', "NaN", "Infinity", "-Infinity", "1e400", "18446744073709551616", "-1",
              "9223372036854775807", "2e9", "true", "[]", "{}", '"x"', "0", "0.0", "-0.0", "1.5"]


class LineByLine(Sink):
    """The engine's sink without its column intake: the parser reads every line one by one."""

    __slots__ = ()
    columns = None


def read(lines: list[str], sink_type=Sink, batch: int = 400, bulk_failures: bool = False, **store_args) -> tuple:
    """What the store and the source's counts hold after `lines` are read in batches of `batch`
    (`bulk_failures`: failed calls as rows, for a store that keeps none whole)."""
    store = MetricsStore(**store_args)
    sink = sink_type(SourceCounts(label="app.log"), Pricer(), None, bulk_failures=bulk_failures)
    parser = native.NativeParser(sink, "app.log")
    for start in range(0, len(lines), batch):
        parser.feed_many(lines[start:start + batch])
        sink.commit(store)
    c = sink.counts
    return (state(store), c.calls, c.skipped, c.unparsed, c.bad_values,
            [(u.reason, u.text) for u in c.first_unparsed], [(b.field, b.text) for b in c.first_bad_values],
            sorted(sink.pricer.unpriced))


def assert_as_line_by_line(lines: list[str], **kwargs) -> None:
    assert read(lines, **kwargs) == read(lines, LineByLine, **kwargs)


def plain_record(rng: random.Random, ts: float) -> dict:
    record = {"apimon": 1, "ts": ts, "provider": rng.choice(["openai", "anthropic", None]),
              "endpoint": "/v1/chat/completions", "method": "POST",
              "model": rng.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "no-such-model", None]),
              "status": rng.choice([200, 200, 200, 201, None]),
              "latency_ms": rng.choice([round(rng.lognormvariate(6, 1), 3), None, 0.0]),
              "input_tokens": rng.randrange(4000), "output_tokens": rng.choice([rng.randrange(800), None]),
              "cached_tokens": rng.choice([0, rng.randrange(50), None]),
              "cost_usd": rng.choice([round(rng.random() / 50, 8), None, 0, None]),
              "request_id": f"req_{rng.getrandbits(32):08x}", "stream": rng.choice([False, True, None])}
    if rng.random() < 0.5:
        record["ttft_ms"] = round(rng.lognormvariate(4, 1), 3)
    if rng.random() < 0.5:
        record["ratelimit"] = {"limit_requests": 5000, "remaining_requests": rng.randrange(5000),
                               "reset_tokens_s": rng.choice([6.0, 0.5, 1])}
    if rng.random() < 0.1:
        record["tags"] = {"host": rng.choice(["api-1", "api-2"]), "n": rng.choice([1, True])}
    if rng.random() < 0.1:
        del record["status"]
    return record


def odd_line(rng: random.Random, ts: float) -> str:
    """A line the columns must leave to the per-line path, or one that is no call."""
    record = plain_record(rng, ts)
    kind = rng.randrange(10)
    if kind == 0:
        record.update(status=rng.choice([429, 500, 503]),
                      error={"type": "requests", "code": "rate_limit_exceeded", "message": "slow down sk-proj-abc"})
    elif kind == 1:
        record.update(failed=True, status=None, stream_ended=rng.choice(["broken", "abandoned", "nope"]))
    elif kind == 2:
        record["tags"] = {"weight": 1.5}
    elif kind == 3 and rng.random() < 0.5:
        record["status"] = 500  # failed, with no error object
    elif kind == 3:
        record["ratelimit"] = rng.choice([{"limit_requests": -1}, [1], {"reset_tokens_s": "6s"}])
    elif kind == 4:
        return rng.choice(['{"level": "info", "msg": "no call"}', "plain text", '{"apimon": 1, "ts": "x"}',
                           '{"apimon": 1, "model": "gpt-4o"}', '{"apimon": 1, "ts": null}',
                           '{"apimon": 1', "[1, 2]",
                           '{"apimon": 1, "ts": ' + str(ts) + ', "x": ' + "[" * 600 + "]" * 600 + "}"])
    else:
        path = rng.choice(NATIVE_PATHS[:17])
        return with_value(record if path[0] in record else {**record, path[0]: None}, path, rng.choice(ODD_VALUES))
    return json.dumps(record)


def mixed_lines(seed: int, n: int = 3000, odd: float = 0.08, spread: float = 0.02) -> list[str]:
    rng = random.Random(seed)
    lines, ts = [], 1_795_700_000.0
    for _ in range(n):
        ts += rng.expovariate(1 / spread)
        at = round(ts - (rng.random() * 30 if rng.random() < 0.05 else 0), 6)
        lines.append(odd_line(rng, at) if rng.random() < odd else json.dumps(plain_record(rng, at)))
    return lines


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_odd_values_among_plain_calls_read_as_line_by_line(seed):
    assert_as_line_by_line(mixed_lines(seed))


def test_a_summary_store_and_prunes_read_as_line_by_line():
    lines = mixed_lines(4, spread=2.0)
    assert_as_line_by_line(lines, failed_capacity=0, fine_s=300, horizon_s=1800, max_series=5)


def test_plain_batches_go_as_columns_and_odd_ones_line_by_line(monkeypatch):
    """The column path is taken (the test above compares something), and left where it must be."""
    handed = []
    original = Sink.columns
    monkeypatch.setattr(Sink, "columns", lambda self, calls: handed.append(len(calls)) or original(self, calls))
    lines = mixed_lines(5, n=800, odd=0.0)
    failed = {**json.loads(lines[10]), "status": 500, "error": {"code": "server_error"}}
    lines[10] = json.dumps(failed)
    read(lines)
    assert sum(handed) == 800  # the failed call whole among them
    with_int_latency = [*lines[:400], json.dumps({**json.loads(lines[0]), "latency_ms": 812}), *lines[401:]]
    assert_as_line_by_line(with_int_latency)
    handed.clear()
    read(with_int_latency)
    assert sum(handed) == 400  # the batch with an integer latency went line by line


@PROPERTY
@given(path=st.sampled_from(NATIVE_PATHS), text=value_texts, at=st.integers(0, 99))
def test_any_value_in_any_field_among_plain_lines_reads_as_line_by_line(path, text, at):
    lines = mixed_lines(6, n=100, odd=0.0)
    plain = json.loads(lines[at])
    record = {**NATIVE, "ts": plain["ts"]}
    lines[at] = with_value(record, path, text)
    assert_as_line_by_line(lines, batch=100)
