"""jsonl batches read as columns (`formats/jsonl_columns.py`) against the per-line path.

As tests/test_native_columns.py: the same lines through the engine's sink
with and without its column intake must give the same store, counts and
samples, under several mappings (dotted paths, whole dotted keys, units),
with odd values mixed in among plain calls.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core.config import DEFAULTS
from apimon_tui.core.model import SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.formats import jsonl
from apimon_tui.formats.jsonl_columns import iso_seconds
from apimon_tui.formats.values import MAX_TS
from apimon_tui.ingest.engine import Sink
from apimon_tui.store import MetricsStore
from test_call_columns import state
from test_native_columns import LineByLine
from test_values_properties import JSONL, JSONL_PATHS, PROPERTY, value_texts, with_value

ODD_VALUES = ["null", '""', '"12"', '"200"', '"error"', '"OK"', "NaN", "Infinity", "1e400", "18446744073709551616",
              "-1", "2e9", "true", "[]", "{}", '"x"', "0", "0.0", "-0.0", "1.5", "200.0", "[1, 2]", '{"a": 1}']


def read(lines: list[str], options: dict, sink_type=Sink, batch: int = 400, bulk_failures: bool = False,
         **store_args) -> tuple:
    """As `test_native_columns.read`, for jsonl under `options`."""
    store = MetricsStore(**{"failed_capacity": 50, **store_args})
    sink = sink_type(SourceCounts(label="app.jsonl"), Pricer(), None, bulk_failures=bulk_failures)
    parser = jsonl.JsonlParser(sink, "app.jsonl", options, clock=lambda: 1_795_700_000.5)
    for start in range(0, len(lines), batch):
        parser.feed_many(lines[start:start + batch])
        sink.commit(store)
    c = sink.counts
    return (state(store), c.calls, c.skipped, c.unparsed, c.bad_values,
            [(u.reason, u.text) for u in c.first_unparsed], [(b.field, b.text) for b in c.first_bad_values],
            sorted(sink.pricer.unpriced))


def assert_as_line_by_line(lines: list[str], options: dict, **kwargs) -> None:
    assert read(lines, options, **kwargs) == read(lines, options, LineByLine, **kwargs)


def stamp(ts: float, rng: random.Random, unit: str):
    if unit == "s":
        return rng.choice([ts, int(ts)])
    if unit == "ms":
        return rng.choice([ts * 1000, int(ts * 1000)])
    moment = datetime.fromtimestamp(ts, timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + rng.choice(["", f".{moment.microsecond:06d}",
                                                              f".{moment.microsecond // 1000:03d}", ".5"])
    if unit == "iso":
        return text + rng.choice(["Z", "", "+00:00"])
    return rng.choice([text + "Z", text, ts, int(ts * 1e6), int(ts * 1e3)])


def plain_record(rng: random.Random, ts: float, unit: str, dotted: bool) -> dict:
    usage = {"prompt_tokens": rng.randrange(4000), "completion_tokens": rng.choice([rng.randrange(800), None])}
    record = {"timestamp": stamp(ts, rng, unit), "level": "info",
              "model": rng.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "no-such-model", None]),
              "status": rng.choice([200, 200, 201, None]),
              "latency_ms": rng.choice([round(rng.random() * 900, 3), None]),
              "endpoint": "/v1/chat/completions", "provider": rng.choice(["openai", None]),
              "request_id": rng.choice([f"req_{rng.getrandbits(32):08x}", 12345, None]),
              "cost_usd": rng.choice([None, None, round(rng.random() / 100, 8), 0])}
    if dotted:
        record.update({f"usage.{key}": value for key, value in usage.items()})
    elif rng.random() < 0.95:
        record["usage"] = usage if rng.random() < 0.9 else rng.choice([None, [1, 2], "n/a"])
    return record


def odd_line(rng: random.Random, ts: float, unit: str, dotted: bool) -> str:
    record = plain_record(rng, ts, unit, dotted)
    kind = rng.randrange(6)
    if kind == 0:
        record.update(status=rng.choice([429, 500, "error", "failure"]),
                      error={"code": "rate_limit_exceeded", "message": "slow down sk-proj-abc"})
    elif kind == 1:
        record["error"] = rng.choice([{"message": {"nested": [1]}}, {"code": 500}, {"code": ""}])
    elif kind == 2 and rng.random() < 0.5:
        record["status"] = rng.choice([429, 500])  # failed, with no error object
    elif kind == 2:
        return rng.choice(['{"level": "info", "msg": "no call"}', "plain text", '{"model": "m", "timestamp": "x"}',
                           '{"model": "m"}', '{"status": 200', "[1, 2]",
                           '{"timestamp": "2026-02-30T00:00:00Z", "model": "m"}'])
    else:
        path = rng.choice(JSONL_PATHS[:9])
        return with_value({**record, path[0]: None}, path, rng.choice(ODD_VALUES))
    return json.dumps(record)


def mixed_lines(seed: int, unit: str = "auto", dotted: bool = False, n: int = 2000, odd: float = 0.08) -> list[str]:
    rng = random.Random(seed)
    lines, ts = [], 1_795_700_000.0
    for _ in range(n):
        ts += rng.expovariate(50.0)
        at = round(ts, 6)
        plain = rng.random() >= odd
        lines.append(json.dumps(plain_record(rng, at, unit, dotted)) if plain else odd_line(rng, at, unit, dotted))
    return lines


def options(unit: str = "auto", dotted: bool = False, latency_unit: str = "ms") -> dict:
    return {**DEFAULTS["jsonl"], "ts_unit": unit, "latency_unit": latency_unit}


@pytest.mark.parametrize("unit", ["auto", "iso", "s", "ms"])
@pytest.mark.parametrize("seed", [1, 2])
def test_odd_values_among_plain_calls_read_as_line_by_line(seed, unit):
    assert_as_line_by_line(mixed_lines(seed, unit), options(unit))


def test_whole_dotted_keys_and_seconds_of_latency_read_as_line_by_line():
    assert_as_line_by_line(mixed_lines(3, dotted=True), options(latency_unit="s"))


def test_the_bench_shape_goes_as_columns(monkeypatch):
    handed = []
    original = Sink.columns
    monkeypatch.setattr(Sink, "columns", lambda self, calls: handed.append(len(calls)) or original(self, calls))
    lines = mixed_lines(4, odd=0.0, n=500)
    calls = read(lines, options(), LineByLine)[1]
    read(lines, options())
    assert sum(handed) == calls > 450  # (the others are no call: no model, status nor latency)


def test_iso_times_convert_to_the_floats_datetime_gives():
    rng = random.Random(5)
    texts = [f"{rng.choice([1970, 2000, 2024, 2026, 2199, 2200, 9999, 0]):04d}-{rng.randrange(14):02d}-"
             f"{rng.randrange(33):02d}{rng.choice('T T t')}{rng.randrange(25):02d}:{rng.randrange(61):02d}:"
             f"{rng.randrange(61):02d}{rng.choice(['', '.', '.5', '.123', '.123456', '.1234567', '.12a'])}"
             f"{rng.choice(['', 'Z', 'z', '+00:00', 'ZZ'])}" for _ in range(20_000)]
    texts += ["2024-02-29T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T12:00:00", "2000-02-29T23:59:59.999999Z"]
    seconds, ok = iso_seconds(texts)
    taken = 0
    for text, got, fits in zip(texts, seconds.tolist(), ok.tolist()):
        if fits and 0 <= got <= MAX_TS:
            moment = datetime.fromisoformat(text)
            assert got == (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp(), text
            taken += 1
    assert taken > 500
    assert list(ok[-4:]) == [True, False, False, True]



def test_iso_times_of_one_length_read_as_bytes_give_what_the_text_by_text_path_gives():
    rng = random.Random(7)
    texts = [f"{rng.choice([1970, 2024, 2026, 0]):04d}-{rng.randrange(14):02d}-{rng.randrange(33):02d}T"
             f"{rng.randrange(25):02d}:{rng.randrange(61):02d}:{rng.randrange(61):02d}."
             f"{rng.randrange(10**6):06d}{rng.choice('Zz')}" for _ in range(2000)]
    texts[5] = texts[5][:3] + "\uff12" + texts[5][4:]  # a full-width digit: not ASCII, the same length
    texts[9] = texts[9][:-1] + "\x00"
    one_length = iso_seconds(texts)  # read as bytes, but for the batch holding the full-width digit
    ascii_texts = texts[:5] + texts[6:]
    mixed = iso_seconds([*ascii_texts, "2026"])  # one text shorter: read text by text
    alone = iso_seconds(ascii_texts)
    assert alone[0].tolist() == mixed[0][:-1].tolist() and alone[1].tolist() == mixed[1][:-1].tolist()
    assert one_length[0].tolist() == [*alone[0][:5].tolist(), one_length[0][5], *alone[0][5:].tolist()]
    assert not one_length[1][5] and not one_length[1][9] and 1000 > alone[1].sum() > 100


@PROPERTY
@given(path=st.sampled_from(JSONL_PATHS), text=value_texts, at=st.integers(0, 99),
       unit=st.sampled_from(["auto", "s", "ms", "iso"]))
def test_any_value_in_any_field_among_plain_lines_reads_as_line_by_line(path, text, at, unit):
    lines = mixed_lines(6, unit, n=100, odd=0.0)
    record = {**JSONL, "timestamp": json.loads(lines[at])["timestamp"]}
    lines[at] = with_value(record, path, text)
    assert_as_line_by_line(lines, options(unit), batch=100)
