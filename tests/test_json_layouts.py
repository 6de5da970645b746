"""JSON lines read by layout from their bytes (`formats/json_layouts.py`) against orjson.

Every value the layout reader gives for a line it covers must be the value
orjson decodes from that line, of the same type; a line it cannot read so
must be left uncovered, never read wrong. Then the native and jsonl readers,
which take a batch by layout when its layouts cover it, must leave the store
and the counts exactly as reading every line one by one does.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.formats import json_columns as jc
from apimon_tui.formats import json_layouts
from apimon_tui.formats.byte_lines import ByteLines
from apimon_tui.formats.json_layouts import LayoutTable, read_numbers, table_of
from test_values_properties import JSONL, JSONL_PATHS, NATIVE, NATIVE_PATHS, PROPERTY, value_texts, with_value

MISSING = object()


def decoded_at(obj, path):
    for step in path:
        if type(obj) is not dict or step not in obj:
            return MISSING
        obj = obj[step]
    return obj


def steps_into_other(obj, path) -> bool:
    """Whether following `path` meets something other than an object or null before its end."""
    for step in path[:-1]:
        obj = obj.get(step)
        if obj is None:
            return False
        if type(obj) is not dict:
            return True
    return False


def paths_of(obj, path=()):
    """Every path of `obj` through objects (arrays are values of their own)."""
    for key, value in obj.items():
        yield (*path, key)
        if type(value) is dict:
            yield from paths_of(value, (*path, key))


def same(a, b) -> bool:
    """Equal and of the same types throughout (1 is not 1.0, nor True; -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b and np.signbit(a) == np.signbit(b)
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def assert_read_as_orjson(lines: list[str]) -> LayoutTable:
    """Every path of every covered line reads as orjson reads it, through the table's answers."""
    table = LayoutTable(lines)
    objects = [orjson.loads(line) if table.covered[i] else None for i, line in enumerate(lines)]
    paths = {path for obj in objects if obj is not None for path in paths_of(obj)}
    for path in paths:
        segments, odd = table.found(path, dotted=False)
        got = jc.values(len(lines), segments)
        stepped_into = np.zeros(len(lines), dtype=bool)
        for rows in odd:
            stepped_into[rows] = True
        for i, obj in enumerate(objects):
            if obj is None:
                continue
            want = decoded_at(obj, path)
            assert stepped_into[i] == steps_into_other(obj, path), (path, lines[i])
            if want is MISSING:
                assert got[i] is None, (path, lines[i])
            else:
                assert same(got[i], want), (path, lines[i], got[i], want)
    for key in {path[0] for path in paths}:
        kinds = {type(obj.get(key)) if key in obj else type(None) for obj in objects if obj is not None}
        assert table.types(key) == kinds
    return table


def test_a_log_of_one_writer_is_read_by_layout_to_the_value():
    rng = random.Random(7)
    lines = []
    for i in range(500):
        record = {"apimon": 1, "ts": round(1_795_700_000 + i * 0.37, rng.choice([0, 3, 6])),
                  "model": rng.choice(["gpt-4o", "gpt-4o-mini", "", "o3"]), "status": rng.choice([200, 200, 429]),
                  "latency_ms": rng.choice([12.5, 0.0, -0.0, 1e-05, 9.5e-05, 123456.789, 3, 0]),
                  "cost_usd": rng.choice([0.0046425, 2.5e-07, 0, 1.5e3]), "stream": rng.choice([True, False]),
                  "ratelimit": {"limit_requests": 5000, "reset_tokens_s": rng.choice([6.0, 0.5, 1])},
                  "tags": {"host": "api-1"}, "empty": {}, "list": [1, "a", None], "none": None}
        lines.append(json.dumps(record, separators=rng.choice([(",", ":"), (", ", ": ")])))
    table = assert_read_as_orjson(lines)
    assert table.covered.all()
    assert len(table.shapes) <= 16  # few layouts: separators, literals, where a number is written as text


AWKWARD = [
    '{"a":1,"b":"x"}',
    ' {"a" : 1 , "b" : "x" } ',           # spaces wherever JSON allows them
    '{"a":"1","b":"x"}',                   # a string where the layout has a number
    '{"a":1,"b":"x","c":null}',
    '{"b":"x","a":1}',                     # the same keys in another order
    '{"a":"b","b":"a"}',                   # values that are the other's key
    '{"a":"","b":""}',
    '{"a":1,"a":2}',                       # a key twice: orjson keeps the last
    '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":-}', '{"a":1e}', '{"a":+1}', '{"a":0x1}',
    '{"a":1e5}', '{"a":1E-5}', '{"a":-0}', '{"a":-0.0}', '{"a":12345678901234567890}', '{"a":9007199254740993}',
    '{"a":1.7976931348623157e308}', '{"a":1e400}', '{"a":NaN}', '{"a":Infinity}',
    '{"a":[1,2]}', '{"a":[]}', '{"a":{}}', '{"a":{"b":{"c":[{"d":1}]}}}',
    '{"a":"x\\"y"}', '{"a":"\\u00e9"}', '{"a":"é"}', '{"a":"tab\there"}',  # escapes, non-ASCII, a control byte
    '{"a":true}', '{"a":false}', '{"a":nul}', '{"a":tru}', '{"a":1}x', '{"a":1', '{"a":1}}', '[1,2]', '"a"', "{}",
    '{"a":1,}', '{,"a":1}', '{"a"1}', '{"a"::1}',
]


@pytest.mark.parametrize("line", AWKWARD)
def test_an_awkward_line_among_plain_ones_is_read_as_orjson_or_left_out(line):
    plain = ['{"a":%d,"b":"x%d"}' % (i, i) for i in range(60)]
    lines = [*plain[:30], line, *plain[30:], line]
    table = assert_read_as_orjson(lines)
    try:
        fine = type(orjson.loads(line)) is dict
    except orjson.JSONDecodeError:
        fine = False
    if not fine:
        assert not table.covered[30] and not table.covered[-1]
    assert table.covered[:30].all()


TWINS = [  # lines with as many quotes as each other, of other layouts
    ('{"a":"s"}', '{"b":"t"}'),
    ('{"a":true}', '{"a":false}', '{"a":null}', '{"b":true}'),
    ('{"a":1,"b":2}', '{"a":[1],"b":2}', '{"a":{},"b":2}', '{"a":1 ,"b":2}', '{"a":12,"b":-2}'),
    ('{"a":{"b":1}}', '{"a":{"c":1}}', '{"b":{"a":1}}', '{"a":[{"b":1}]}'),
    ('{"ab":"c"}', '{"a":"bc"}'),
    ('{"a":"x","b":1}', '{"a":"x,\"b\":1"}'),
]


@pytest.mark.parametrize("twins", TWINS)
def test_lines_with_as_many_quotes_but_other_layouts_are_told_apart(twins):
    lines = [twins[i % len(twins)] for i in range(120)]
    assert_read_as_orjson(lines)


json_leaves = (st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(st.characters(codec="ascii", exclude_characters='"\\'), max_size=8)
               | st.text(max_size=4))
json_objects = st.recursive(
    st.dictionaries(st.text(st.characters(codec="ascii", exclude_characters='"\\'), max_size=6), json_leaves, max_size=6),
    lambda inner: st.dictionaries(st.text(max_size=3), inner | st.lists(inner | json_leaves, max_size=3), max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(first=json_objects, others=st.lists(json_objects, min_size=1, max_size=4), spaced=st.booleans(),
       seed=st.integers(0, 2**16))
def test_any_objects_read_as_orjson_reads_them(first, others, spaced, seed):
    """Lines of a few shapes, each written many times with other values of the same kinds."""
    rng = random.Random(seed)
    separators = (", ", ": ") if spaced else (",", ":")
    lines = []
    for _ in range(40):
        base = rng.choice([first, *others])
        lines.append(json.dumps(_varied(base, rng), separators=separators, ensure_ascii=rng.random() < 0.8))
    assert_read_as_orjson(lines)


def _varied(value, rng: random.Random):
    """`value` with each number and string changed for another of its kind (the layout stays)."""
    if type(value) is dict:
        return {key: _varied(item, rng) for key, item in value.items()}
    if type(value) is list:
        return [_varied(item, rng) for item in value]
    if type(value) is int and type(value) is not bool:
        return rng.choice([value, -value, rng.randrange(10**rng.randrange(1, 18))])
    if type(value) is float:
        return rng.choice([value, -value, rng.random() * 10 ** rng.randrange(-30, 30), round(rng.random() * 1000, 3)])
    if type(value) is str:
        return rng.choice([value, value + "x", ""])
    return value


numbers = (st.integers(-2**63, 2**64).map(str) | st.floats(allow_nan=False, allow_infinity=False).map(repr)
           | st.text(st.sampled_from("0123456789.-+eE"), min_size=1, max_size=20)
           | st.builds(lambda m, e, s: f"{m}e{s}{e}", st.integers(0, 10**17), st.integers(0, 400), st.sampled_from(["", "+", "-"])))


@PROPERTY
@given(texts=st.lists(numbers, min_size=1, max_size=40), columns=st.integers(1, 3))
def test_numbers_read_from_bytes_are_orjsons_or_not_read(texts, columns):
    texts = texts[: len(texts) // columns * columns] or texts[:1] * columns
    line = " " * 24 + "|".join(texts)
    start = np.cumsum([24] + [len(text) + 1 for text in texts[:-1]]).reshape(-1, columns)
    length = np.array([len(text) for text in texts]).reshape(-1, columns)
    value, whole, read = read_numbers(ByteLines([line]), start, length)
    for text, got, integer, ok in zip(texts, value.ravel(), whole.ravel(), read.ravel()):
        try:
            want = orjson.loads(text)
        except orjson.JSONDecodeError:
            want = None
        if want is None or type(want) not in (int, float):
            assert not ok, text
        elif ok:
            assert type(want) is (int if integer else float), text
            assert float(got) == want and np.signbit(got) == np.signbit(float(want)), (text, got, want)
        else:  # only what cannot be read exactly so is left out
            number, _, power = text.lower().partition("e")
            decimals = len(number.partition(".")[2])
            mantissa = int(number.replace("-", "").replace(".", ""))
            assert len(text) > 18 or mantissa >= 2**53 or len(power.lstrip("+-")) > 3 or abs(int(power or 0) - decimals) > 22, text


def test_a_batch_its_layouts_mostly_miss_is_decoded():
    many = [json.dumps({f"k{i}": i, "v": None if i % 2 else 1}) for i in range(80)]
    table, ok = table_of(many)
    assert type(table) is jc.Table and ok.all()
    one = ['{"a":%d}' % i for i in range(80)]
    table, ok = table_of(one)
    assert type(table) is LayoutTable and ok.all()


def test_a_layout_is_learnt_only_from_a_line_it_reads_exactly():
    for line in ['{"a":[1,2]}', '{"a":1,"a":2}', '{"a":"x\\"y"}', "[1]", '{"a":1}x']:
        with pytest.raises(json_layouts.Unlearnable):
            json_layouts.learn(line)


# -- the formats' readers, by layout, against reading every line one by one

def steady_native(rng: random.Random, ts: float) -> dict:
    """A native record as one writer (the capture hook) writes them: the same keys every time."""
    return {"apimon": 1, "ts": ts, "provider": "openai", "endpoint": "/v1/chat/completions", "method": "POST",
            "model": rng.choice(["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]), "status": 200,
            "latency_ms": rng.choice([round(rng.lognormvariate(6, 1), 3), 0.0, 7.0]), "stream": False,
            "input_tokens": rng.randrange(4000), "output_tokens": rng.randrange(800), "cached_tokens": 0,
            "cost_usd": rng.choice([round(rng.random() / 50, 8), 9.5e-05, 2e-06, 0.0]),
            "request_id": f"req_{rng.getrandbits(64):016x}", "attempt": 0,
            "ratelimit": {"limit_requests": 5000, "remaining_requests": rng.randrange(5000),
                          "limit_tokens": 4000000, "remaining_tokens": rng.randrange(4000000),
                          "reset_requests_s": 0.012, "reset_tokens_s": rng.choice([6.0, 0.5])}}


def times(rng: random.Random, n: int):
    """`n` times of calls logged 50 a second, rounded to the microsecond as writers do."""
    ts = 1_795_700_000.0
    for _ in range(n):
        ts += rng.expovariate(50.0)
        yield round(ts, 6)


def steady_native_lines(seed: int, n: int, odd: float) -> list[str]:
    from test_native_columns import odd_line

    rng = random.Random(seed)
    return [odd_line(rng, at) if rng.random() < odd else json.dumps(steady_native(rng, at), separators=(",", ":"))
            for at in times(rng, n)]


def taken_by_layout(monkeypatch) -> list[int]:
    """The number of lines of each batch read by layout, as batches are read."""
    taken: list[int] = []
    original = json_layouts.table_of

    def spy(lines):
        table, ok = original(lines)
        taken.append(int(ok.sum()) if type(table) is LayoutTable else 0)
        return table, ok

    for module in ("native_columns", "jsonl_columns"):
        monkeypatch.setattr(f"apimon_tui.formats.{module}.table_of", spy)
    return taken


@pytest.mark.parametrize("seed", [1, 2])
def test_native_lines_of_one_writer_read_by_layout_as_line_by_line(seed, monkeypatch):
    from test_native_columns import assert_as_line_by_line

    taken = taken_by_layout(monkeypatch)
    lines = steady_native_lines(seed, 3000, odd=0.05)
    assert_as_line_by_line(lines)
    assert_as_line_by_line(lines, failed_capacity=0, fine_s=300, horizon_s=1800)  # a summary's store
    assert sum(taken) > 0.9 * 2 * len(lines)


@PROPERTY
@given(path=st.sampled_from(NATIVE_PATHS), text=value_texts, at=st.integers(0, 99))
def test_any_value_in_any_native_field_among_layout_lines_reads_as_line_by_line(path, text, at):
    from test_native_columns import assert_as_line_by_line

    lines = steady_native_lines(6, n=100, odd=0.0)
    record = {**NATIVE, "ts": json.loads(lines[at])["ts"]}
    lines[at] = with_value(record, path, text)
    assert_as_line_by_line(lines, batch=100)


def steady_jsonl_lines(seed: int, n: int, odd: float) -> list[str]:
    from test_jsonl_columns import odd_line

    rng = random.Random(seed)
    lines = []
    for at in times(rng, n):
        if rng.random() < odd:
            lines.append(odd_line(rng, at, "auto", False))
            continue
        record = {"timestamp": datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                  "level": "info", "model": rng.choice(["gpt-4o", "gpt-4o-mini"]), "status": rng.choice([200, 201]),
                  "latency_ms": rng.choice([round(rng.random() * 900, 3), 12.0, 5e-05]),
                  "endpoint": "/v1/chat/completions", "provider": "openai",
                  "usage": {"prompt_tokens": rng.randrange(4000), "completion_tokens": rng.randrange(800)},
                  "request_id": f"req_{rng.getrandbits(32):08x}"}
        lines.append(json.dumps(record, separators=(",", ":")))
    return lines


@pytest.mark.parametrize("seed", [1, 2])
def test_jsonl_lines_of_one_writer_read_by_layout_as_line_by_line(seed, monkeypatch):
    from test_jsonl_columns import assert_as_line_by_line, options

    taken = taken_by_layout(monkeypatch)
    lines = steady_jsonl_lines(seed, 3000, odd=0.05)
    assert_as_line_by_line(lines, options())
    assert sum(taken) > 0.9 * len(lines)


@PROPERTY
@given(path=st.sampled_from(JSONL_PATHS), text=value_texts, at=st.integers(0, 99))
def test_any_value_in_any_jsonl_field_among_layout_lines_reads_as_line_by_line(path, text, at):
    from test_jsonl_columns import assert_as_line_by_line, options

    lines = steady_jsonl_lines(6, n=100, odd=0.0)
    record = {**JSONL, "timestamp": json.loads(lines[at])["timestamp"]}
    lines[at] = with_value(record, path, text)
    assert_as_line_by_line(lines, options(), batch=100)


def failing_jsonl_lines(seed: int, n: int) -> list[str]:
    """Lines of one writer, a tenth of them failed calls with an error code and message (some with
    a key in them, which the store redacts), some followed by another of their group at the same
    time with another message (the later one is the group's last)."""
    rng = random.Random(seed)
    lines = steady_jsonl_lines(seed, n, odd=0.03)
    for i in range(0, n - 1, 10):
        if not lines[i].startswith('{"timestamp"'):
            continue
        record = json.loads(lines[i])
        if type(record.get("usage")) is not dict:
            continue
        record["status"] = rng.choice([429, 500, 503])
        record["error"] = {"code": rng.choice(["rate_limit_exceeded", "server_error", ""]),
                           "message": rng.choice(["Rate limit reached", "", "key sk-proj-abcdefghijklmnopqrstuv leaked"])}
        if rng.random() < 0.3:
            record["usage"]["completion_tokens"] = 0
        lines[i] = json.dumps(record, separators=(",", ":"))
        if rng.random() < 0.4:
            record["error"] = {**record["error"], "message": f"the same moment, told again {i}"}
            lines[i + 1] = json.dumps(record, separators=(",", ":"))
    return lines


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failed_jsonl_calls_as_rows_leave_a_summary_as_one_by_one(seed, monkeypatch):
    from test_jsonl_columns import LineByLine, options, read

    from apimon_tui.ingest.engine import Sink

    handed = []
    original = Sink.columns
    monkeypatch.setattr(Sink, "columns", lambda self, calls: handed.append(calls.message is not None) or original(self, calls))
    lines = failing_jsonl_lines(seed, 3000)
    for max_groups in (1000, 3):  # (3: groups are dropped as they come)
        summary = read(lines, options(), Sink, bulk_failures=True, failed_capacity=0, max_groups=max_groups)
        assert summary == read(lines, options(), LineByLine, bulk_failures=True, failed_capacity=0,
                               max_groups=max_groups)
        assert summary[0]["groups"]
    assert any(handed)


def failing_native_lines(seed: int, n: int) -> list[str]:
    """As `failing_jsonl_lines`, for native records with error objects."""
    rng = random.Random(seed)
    lines = steady_native_lines(seed, n, odd=0.03)
    for i in range(0, n - 1, 10):
        if not lines[i].startswith('{"apimon":1,'):
            continue
        record = json.loads(lines[i])
        record["status"] = rng.choice([429, 500, 503])
        record["error"] = {"type": rng.choice(["requests", None]), "code": rng.choice(["rate_limit_exceeded", "", None]),
                           "message": rng.choice(["Rate limit reached", "", "key sk-proj-abcdefghijklmnopqrstuv leaked"])}
        if rng.random() < 0.3:
            record.update(output_tokens=0, cost_usd=None)
        lines[i] = json.dumps(record, separators=(",", ":"))
        if rng.random() < 0.4:
            record["error"] = {**record["error"], "message": f"the same moment, told again {i}"}
            lines[i + 1] = json.dumps(record, separators=(",", ":"))
    return lines


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failed_native_calls_as_rows_leave_a_summary_as_one_by_one(seed):
    from test_native_columns import LineByLine, read

    from apimon_tui.ingest.engine import Sink

    lines = failing_native_lines(seed, 3000)
    for max_groups in (1000, 3):
        summary = read(lines, Sink, bulk_failures=True, failed_capacity=0, max_groups=max_groups)
        assert summary == read(lines, LineByLine, bulk_failures=True, failed_capacity=0, max_groups=max_groups)
        assert summary[0]["groups"]


def test_a_batch_of_many_small_layouts_is_given_up_on_after_few_tries():
    """Each try matches every line left: a batch whose first layouts are small stops trying (and is
    decoded), instead of learning a layout for every few lines."""
    from test_native_columns import mixed_lines

    lines = mixed_lines(1, n=2000)
    table = LayoutTable(lines, needed=1750)
    assert len(table.shapes) <= 3 and table.covered.sum() < 1750
    assert len(LayoutTable(lines).shapes) > 3  # (asked for no share, it tries as often as it may)
