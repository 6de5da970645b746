"""The openai-sdk parser reads a batch (`feed_many`) as it reads the same lines one by one.

`feed_many` finds the calls of the usual shapes with one regex over the
joined batch and reads plain option and header reprs with one regex each;
the lines around those calls go line by line. The reference
here is the parser fed line by line with every message found by its regex
and every repr read token by token: both are fed the same real and hostile
lines, cut into batches anywhere, and every call, skip, unparsed line and
bad value must match. Through the engine's sink, which takes columns, a
batch's successful calls (and its HTTP errors, for a store that keeps no
call whole) go in as rows, not `Call`s: there every figure of the store
(and every count) must be the one the reference gives.
"""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimon_tui.core.model import SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.formats import openai_sdk
from apimon_tui.ingest.engine import Sink
from apimon_tui.store import MetricsStore
from format_support import Collect
from test_call_columns import state

DATA = Path(__file__).parent / "data"
CLOCK = 1_700_000_000.0
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def careful_headers(text: str) -> dict[str, str]:
    strings = [a if a is not None else b for a, b in openai_sdk._QUOTED.findall(text)]
    return {strings[i].lower(): strings[i + 1] for i in range(0, len(strings) - 1, 2)}


class LineByLine(openai_sdk.OpenAISdkParser):
    """The reference: one line at a time, each message found by regex, each repr read token by token."""

    def feed_many(self, lines) -> None:
        quick, openai_sdk.scan_options = openai_sdk.scan_options, openai_sdk.scan_tokens
        try:
            for line in lines:
                self._feed_careful(line)
        finally:
            openai_sdk.scan_options = quick

    def _apply_header_text(self, call, text: str) -> None:
        self._apply_headers(call, careful_headers(text))


def outcomes(parser_class, batches) -> tuple:
    sink = Collect()
    parser = parser_class(sink, "test", {}, lambda: CLOCK)
    for batch in batches:
        parser.feed_many(batch)
    parser.flush()
    return sink.calls, sink.skipped, sink.bad, repr(sink.bad_values)  # (repr: a bad `nan` equals itself)


def cut(lines: list[str], points) -> list[list[str]]:
    """`lines` cut into batches before each of `points` (positions modulo the length)."""
    if not lines:
        return [lines]
    bounds = sorted({p % len(lines) for p in points} | {0}) + [len(lines)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def assert_same(lines: list[str], points=()) -> tuple:
    batched = outcomes(openai_sdk.OpenAISdkParser, cut(lines, points))
    assert batched == outcomes(LineByLine, [lines])
    return batched


class ColumnsSink(Sink):
    """The engine's sink, counting the calls it takes as rows of columns (not whole)."""

    __slots__ = ("rows",)

    def columns(self, calls) -> None:
        self.rows = getattr(self, "rows", 0) + len(calls) - len(calls.calls)
        super().columns(calls)


def stored(parser_class, batches, **store_args) -> tuple:
    """Everything the store and the counts hold after the batches, and how many calls went in as rows."""
    store = MetricsStore(**store_args)
    sink = ColumnsSink(SourceCounts(label="test"), Pricer(), None, bulk_failures=not store.keeps_failed)
    parser = parser_class(sink, "test", {}, lambda: CLOCK)
    for batch in batches:
        parser.feed_many(batch)
        sink.commit(store)
    parser.flush()
    sink.commit(store)
    c = sink.counts
    return (state(store), c.calls, c.skipped, c.unparsed, c.bad_values, [(u.reason, u.text) for u in c.first_unparsed],
            [(b.field, b.text) for b in c.first_bad_values]), getattr(sink, "rows", 0)


STORES = [{"failed_capacity": 0}, {}, {"fine_s": 60, "horizon_s": 600}]


def assert_stored_alike(lines: list[str], points=(), store_args=None) -> int:
    """The store after `lines` in batches (columns from 3 lines on) as after the reference; the rows taken."""
    rows = 0
    for args in [store_args] if store_args is not None else STORES:
        reference, none = stored(LineByLine, [lines], **args)
        assert none == 0
        with mock.patch.object(openai_sdk, "COLUMN_LINES", 3):
            batched, rows = stored(openai_sdk.OpenAISdkParser, cut(lines, points), **args)
        assert batched == reference
    return rows


def test_the_samples_read_alike_whole_and_in_batches():
    for name, calls in (("openai-1.109.1-debug.log", 35), ("openai-3.57.0-debug.log", 30)):
        lines = (DATA / name).read_text().splitlines()
        assert len(assert_same(lines)[0]) == calls
        for step in (1, 2, 3, 5, 7, 64):
            assert_same(lines, range(0, len(lines), step))


def test_the_samples_go_to_the_store_alike_as_rows_and_one_by_one():
    for name, rows, errors in (("openai-1.109.1-debug.log", 30, 5), ("openai-3.57.0-debug.log", 29, 1)):
        lines = (DATA / name).read_text().splitlines()
        assert assert_stored_alike(lines) == rows  # every successful call: no `Call` built for it
        # a store that keeps no call whole takes the HTTP errors as rows too
        assert assert_stored_alike(lines, (), STORES[0]) == rows + errors
        for step in (3, 7, 64):
            assert_stored_alike(lines, range(0, len(lines), step), STORES[0])


def test_the_calls_regex_has_its_groups_in_the_order_they_are_read():
    assert tuple(openai_sdk._calls().groupindex) == openai_sdk._V1_GROUPS + openai_sdk._V3_GROUPS


def test_the_sample_calls_are_found_by_the_batch_regex():
    """The fast path is the one taken: every call of both samples is one match of `_calls()`, its
    options and headers read by the regexes within it."""
    for name, calls in (("openai-1.109.1-debug.log", 35), ("openai-3.57.0-debug.log", 30)):
        matches = list(openai_sdk._calls().finditer((DATA / name).read_text()))
        assert len(matches) == calls
        assert all(m["options"] is None and m["headers"] is None for m in matches)


# One call of each shape, line by line, with places (@@) the strategies below fill.
P = "[2026-11-26 23:26:08 - openai._base_client:482 - DEBUG] "
H = "[2026-11-26 23:26:08 - httpx:1025 - INFO] "
URL = "https://api.openai.com/v1/chat/completions"
V1 = [
    P + "Request options: {'method': 'post', 'url': '/chat/completions', 'files': None, 'json_data': "
        "{'messages': [{'role': 'user', 'content': @@}], 'model': @@, 'stream': @@}}",
    P + f"Sending HTTP Request: POST {URL}",
    H + f'HTTP Request: POST {URL} "HTTP/1.1 @@ OK"',
    P + f"HTTP Response: POST {URL} \"@@ OK\" Headers({{'openai-processing-ms': @@, 'x-request-id': @@, "
        "'x-ratelimit-remaining-requests': @@, @@: '12ms'})",
    P + "request_id: @@",
]
V3 = [
    P + "Building HTTP request: method=POST retries_taken=@@",
    P + "Sending HTTP Request: POST",
    P + "HTTP Response: POST @@",
    P + "request_id: @@",
]
BETWEEN = [
    P + "Encountered httpx.HTTPStatusError", "Traceback (most recent call last):",
    '  File "/srv/app/x.py", line 1, in request', "httpx.HTTPStatusError: Client error '429 Too Many Requests'",
    P + "Retrying due to status code 429", P + "2 retries left",
    P + "Retrying request to /chat/completions in 0.5 seconds",
    P + "Retrying request in 0.5 seconds (retry 1 of 2)", P + "Encountered httpx.TimeoutException",
    P + "Raising timeout error", P + "Encountered a timeout exception: ReadTimeout", "", "app: done",
    H + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"', H + 'HTTP Request: GET https://other/x "HTTP/1.1 200 OK"',
    "message='OpenAI API response' path=/v1/x processing_ms=12 request_id=r response_code=200",
]
PIECES = st.sampled_from([
    "'", '"', "\\", "\\'", "\\\\", "\\n", "] ", "[", "{", "}", "(", ")", ": ", ", ", "'model': ", "'stream': True",
    "HTTP Response: ", "request_id: ", "Encountered ", "200", "None", "'x-request-id'", "'X-Request-ID'",
    "'x-ratelimit-limit-tokens'", "'openai-processing-ms'", "2026-13-45 99:99:99", "nan", "-5", " ",
    "\u0662\u0660\u0660",
    "099", "'gpt-4o'", '"it\'s"', "[{'type': 'text'}]", "<function f at 0x1>", "True", "'12'",
])
fills = st.sampled_from(["'hi'", "'gpt-4o'", "True", "'5'", "'req_1'", "200", "429", "req_1", "0", "None",
                         "'x-ratelimit-reset-tokens'"]) \
    | st.text(max_size=8) | st.lists(PIECES, max_size=5).map("".join)
stamps = st.sampled_from(["2026-11-26 23:26:08", "2026-11-26 23:26:09,123", "2026-13-45 99:99:99",
                          "2026-11-26T23:26:08", "2026-11-26 23:26:60", "\u0662\u0660\u0662\u0666-11-26 23:26:08",
                          "2026-11-26 23:26:08Z", "2026-11-26 23:26:08 +01:00", "2026-11-26 23:26", "2026-11-26 23:26:0x"])
prefixes = st.sampled_from(["[2026-11-26 23:26:08 - HTTP Response: x:1 - DEBUG] ", "[no stamp] ", "[a]b] ", "",
                            "2026-11-26 23:26:08 - httpx - INFO - ", "[2026-11-26 23:26:08 - Encountered x:1 - INFO] "])


def filled(template: str, parts: list[str]) -> str:
    for part in parts:
        template = template.replace("@@", part, 1)
    return template


@st.composite
def logs(draw) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["v1", "v3", "between"]))
        if kind == "between":
            lines += draw(st.lists(st.sampled_from(BETWEEN), max_size=4))
            continue
        call = []
        for template in V1 if kind == "v1" else V3:
            if draw(st.integers(0, 9)) == 0:
                continue  # a line of the call missing
            line = filled(template, draw(st.lists(fills, min_size=5, max_size=5)))
            if draw(st.integers(0, 9)) == 0:
                line = line.replace("2026-11-26 23:26:08", draw(stamps))
            if draw(st.integers(0, 14)) == 0:
                line = draw(prefixes) + line.split("] ", 1)[1]
            call.append(line)
            if draw(st.integers(0, 14)) == 0:
                call.append(draw(st.sampled_from(BETWEEN)))  # something logged between a call's lines
        lines += call
    return lines


@PROPERTY
@given(lines=logs(), points=st.lists(st.integers(0, 200), max_size=4))
def test_any_log_reads_alike_in_batches_and_line_by_line(lines, points):
    assert_same(lines, points)


def call_lines(content="'hi'", model="'gpt-4o'", rid="'req_1'", request_id_line="req_1", status="200",
               stream="False") -> list[str]:
    return [filled(t, parts) for t, parts in zip(V1, [
        [content, model, stream], [], [status], [status, "'512'", rid, "'4999'", "'x-ratelimit-reset-tokens'"],
        [request_id_line],
    ])]


def unclean(line: str) -> str:
    """`line` with a prefix holding a message kind: `feed` reads the line from that kind on."""
    return "[2026-11-26 23:26:08 - HTTP Response: x:1 - DEBUG] " + line.split("] ", 1)[1]


def broken(lines: list[str], index: int, text: str, at: int) -> list[str]:
    """`lines` with a line break `at` characters into `text` in `lines[index]`."""
    cut = lines[index].index(text) + at
    return lines[:index] + [lines[index][:cut], lines[index][cut:]] + lines[index + 1:]


def with_backslash(lines: list[str]) -> list[str]:
    """`lines` (from `broken`) with a backslash at the end of the first line that has no prefix's `] `."""
    at = next(i for i, line in enumerate(lines) if "] " not in line) - 1
    return lines[:at] + [lines[at] + "\\"] + lines[at + 1:]


def test_hostile_values_read_alike_and_the_plain_call_takes_the_batch_regex():
    plain = call_lines()
    assert len(list(openai_sdk._calls().finditer("\n".join(plain)))) == 1
    calls = assert_same(plain * 3)[0]
    assert [(c.model, c.status, c.request_id, c.latency_ms) for c in calls] == [("gpt-4o", 200, "req_1", 512.0)] * 3
    for variant in [
        call_lines(content='"it\'s"'), call_lines(content="'a\\'b'"), call_lines(content="'a\\\\'"),
        call_lines(model="'gpt\\'4'"), call_lines(model="None"), call_lines(rid="''"), call_lines(rid="'a\"b'"),
        call_lines(rid="'r\\\\x'"), call_lines(request_id_line="None"), call_lines(status="099"),
        call_lines(content="[{'type': 'text', 'text': 'x'}, {'type': 'image_url', 'image_url': {'url': 'u'}}]"),
        call_lines(content="{'model': 'not this one'}"), call_lines(content="'x'}, 'model': 'fooled'"),
        call_lines(stream="True"), call_lines(stream="Tru"), call_lines(stream="'True'"), call_lines(stream="Truely"),
        call_lines(rid="''")[:4],  # waits for a request_id line that never comes
        call_lines()[:4] + [unclean(call_lines()[4])],
        call_lines()[:2] + [call_lines()[2].replace(" https://api.openai.com/v1/chat", " https://other/v1/chat")]
        + call_lines()[3:],  # a transport line of another URL
        [line.replace("'x-request-id'", "'X-Request-Id'") for line in call_lines()],
        [line.replace("'openai-processing-ms': '512', 'x-request-id': 'req_1'",
                      "'x-request-id': 'req_1', 'openai-processing-ms': '512'") for line in call_lines()],
        [line.replace("Headers({", "Headers([(").replace("})", ")])") for line in call_lines()],
        [line.replace("'json_data': {", "'json_data': {'model': 'first', ") for line in call_lines()],
        call_lines()[:2] + call_lines()[3:],  # no transport line
        call_lines()[:4],  # no request_id line
        call_lines()[:2] + [call_lines()[2].replace("POST", "GET")] + call_lines()[3:],  # another request's transport
        call_lines()[:2] + [call_lines()[2].replace(" 200 ", " 500 ")] + call_lines()[3:],  # another status
        call_lines()[:2] + [call_lines()[2].replace("/completions", "/completions/x")] + call_lines()[3:],  # (URL)
        call_lines()[:2] + [call_lines()[2].replace("POST", "POS")] + call_lines()[3:],  # a shorter method
        call_lines()[:3] + ["Traceback (most recent call last):"] + call_lines()[3:],
        [" " + call_lines()[0]] + call_lines()[1:], ["x " + call_lines()[0]] + call_lines()[1:],
        ["[a] b" + call_lines()[0]] + call_lines()[1:], ["[a]b" + call_lines()[0]] + call_lines()[1:],
        [P + "Encountered " + call_lines()[0]] + call_lines()[1:],
        call_lines()[:1] + ["[2026-11-26 23:26:08 no bracket", "x] " + call_lines()[1].split("] ", 1)[1]]
        + call_lines()[2:],  # a prefix the calls regex takes over a line break
        call_lines()[:3] + ["[x", "y] " + call_lines()[3].split("] ", 1)[1]] + call_lines()[4:],
        [call_lines()[0] + "\n" + call_lines()[1]] + call_lines()[2:],  # a "line" holding a line break
        [call_lines()[0].replace("23:26:08", "99:26:08")] + call_lines()[1:],
        # prefixes of the logging module's layout read as stamp and rest (`_head`): odd stamps, a kind in the rest
        [line.replace("23:26:08 - ", "23:26:99 - ") for line in call_lines()],
        [line.replace("23:26:08 - ", "23:26:60 - ") for line in call_lines()],
        [line.replace("2026-11-26 ", "\u0662\u0660\u0662\u0666-11-26 ") for line in call_lines()],
        [line.replace("23:26:08 - ", "23:26:08 - Retrying request ") for line in call_lines()],
        call_lines()[:3] + [call_lines()[3].replace(" - openai", " - :HTTP Response: openai")] + call_lines()[4:],
        # (no backslash in these batches: `_calls(plain=True)`, whose strings run up to their closing quote)
        # a string of the options or of the headers that runs over a line break
        broken(call_lines(), 0, "'gpt-4o'", 4), broken(call_lines(), 3, "'req_1'", 4),
        broken(call_lines(), 0, "'hi'", 2), broken(call_lines(), 3, "'12ms'", 3),  # (in values not captured)
        call_lines(content="'it\"s'", rid="'a\"b'"),  # a `"` in a string between single quotes
        call_lines(content='"it\'s"'),  # a `'` in a string between double quotes
        call_lines(rid="'a\\', 'openai-processing-ms': '5'"),  # an escaped quote (`_calls(plain=False)`)
        call_lines(content="'a\\', 'model': 'fooled', 'b': 'c'"),
        call_lines(content='"{\\"'),  # (a string its escaped quote leaves open, a bracket after it)
        # backslashes before no quote (`_plain`): escapes read raw alike; one before a line break
        call_lines(content="'line 1\\nline 2'", rid="'a\\b'", model="'gpt\\\\4o'"),
        with_backslash(broken(call_lines(), 0, "'hi'", 2)), with_backslash(broken(call_lines(), 3, "'req_1'", 4)),
    ]:
        for points in ((), (1,), (2,), (3,), (4,)):
            assert_same(plain + variant + plain, points)
            assert_stored_alike(plain + variant + plain, points, STORES[1])


def test_a_call_cut_by_a_batch_boundary_reads_alike():
    lines = call_lines() + [filled(t, [part]) for t, part in zip(V3, ["0", "", "200", "req_3"])] + call_lines()
    for point in range(len(lines)):
        calls = assert_same(lines, (point,))[0]
        assert [c.request_id for c in calls] == ["req_1", "req_3", "req_1"]


def test_a_waiting_transport_line_of_another_client_sends_the_call_line_by_line():
    other = H + f'HTTP Request: POST {URL} "HTTP/1.1 200 OK"'
    calls = assert_same(call_lines() + [other] + call_lines()[:2] + call_lines()[3:])[0]
    assert len(calls) == 2


def test_runs_of_lines_without_a_message_are_skips():
    lines = call_lines() + ["Traceback (most recent call last):", '  File "x.py", line 1', P + "2 retries left",
                            "app: done"] + call_lines()
    calls, skipped, bad, bad_values = assert_same(lines)
    assert (len(calls), skipped, bad, bad_values) == (2, 2 + 4, [], "[]")


# Reprs as Python writes them (any text in strings, nesting, objects), which the options regex must read as the
# token scanner does; those deeper than the regex follows go to the scanner, which gives the same answer.
KEYS = ["model", "stream", "method", "url", "json_data", "messages", "it's", 'say "hi"', "a\\b", "Model", "ｍodel"]
strings = st.sampled_from(KEYS) | st.text(max_size=8)
atoms = strings.map(repr) | st.sampled_from(["None", "True", "False", "12", "-1.5", "<function f.<locals>.g at 0x1>"])
values = st.recursive(
    atoms,
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
    | st.lists(st.tuples(strings.map(repr), inner), max_size=3).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
    max_leaves=10,
)


@PROPERTY
@given(pairs=st.lists(st.tuples(strings.map(repr), values), max_size=6), json_pairs=st.lists(
    st.tuples(strings.map(repr), values), max_size=6))
def test_options_of_any_shape_read_by_the_regex_as_by_the_scanner(pairs, json_pairs):
    json_data = "{" + ", ".join(f"{k}: {v}" for k, v in json_pairs) + "}"
    text = "{" + ", ".join(f"{k}: {v}" for k, v in [*pairs, ("'json_data'", json_data)]) + "}"
    assert_options_read_as_by_the_scanner(text)


OPTIONS = re.compile(openai_sdk._options_pattern())


def assert_options_read_as_by_the_scanner(text: str) -> bool:
    """`text` read alike by the options regex (alone and within the calls regex), the pieces and the
    tokens; whether the regex took it."""
    expected = openai_sdk.scan_tokens(text)
    assert openai_sdk.scan_options(text) == expected
    m = OPTIONS.fullmatch(text)
    if m is not None:
        assert openai_sdk._options_of(*m.groups()) == expected[1:]  # (the method is not kept)
    lines = [P + "Request options: " + text, *call_lines()[1:]]
    assert_same(lines)
    assert_stored_alike(lines, (), STORES[0])
    return m is not None


def test_plain_options_take_the_regex():
    text = ("{'method': 'post', 'url': '/chat/completions', 'post_parser': <function f.<locals>.g at 0x1>, "
            "'json_data': {'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': \"it's\\n\"}]}], "
            "'model': 'gpt-4o', 'stream': True, 'tools': [{'function': {'parameters': {'properties': {}}}}]}}")
    assert assert_options_read_as_by_the_scanner(text)
    m = openai_sdk._calls().search("\n".join([P + "Request options: " + text, *call_lines()[1:]]))
    assert m["options"] is None and (m["model1"], m["stream"]) == ("gpt-4o", "True")
    assert openai_sdk.scan_tokens(text) == ("POST", "/chat/completions", "gpt-4o", True)


header_names = st.sampled_from([*openai_sdk.HEADERS_USED, "X-Request-ID", "x-ratelimit-limit-to\u212aens", "date",
                                "openai-processing-ms2", "x-request-i"]) | st.text(max_size=6)
header_values = st.sampled_from(["5000", "12ms", "req_1", "", "nan", "-5", "a\"b", "it's", "a\\b"]) \
    | st.text(max_size=6)


@PROPERTY
@given(pairs=st.lists(st.tuples(header_names, header_values), max_size=10))
def test_headers_of_any_order_and_case_read_as_the_careful_way(pairs):
    text = f"Headers({dict(pairs)!r})"
    call_quick, call_careful = openai_sdk.Call(ts=0.0), openai_sdk.Call(ts=0.0)
    quick, careful = Collect(), Collect()
    openai_sdk.OpenAISdkParser(quick)._apply_header_text(call_quick, text)
    LineByLine(careful)._apply_header_text(call_careful, text)
    assert (call_quick, repr(quick.bad_values)) == (call_careful, repr(careful.bad_values))


@PROPERTY
@given(lines=logs(), points=st.lists(st.integers(0, 200), max_size=4), store=st.sampled_from(range(len(STORES))))
def test_any_log_goes_to_the_store_alike_as_rows_and_one_by_one(lines, points, store):
    assert_stored_alike(lines, points, STORES[store])


def timed_calls(seconds: int, headers: str) -> list[str]:
    """A 1.x call in each of `seconds` consecutive seconds from 23:26:08, its `Headers(...)` repr as given."""
    lines = []
    for i in range(seconds):
        stamp = f"2026-11-26 23:{26 + (8 + i) // 60:02d}:{(8 + i) % 60:02d}"
        lines += [line.replace("2026-11-26 23:26:08", stamp) for line in call_lines()[:3]]
        lines += [P.replace("2026-11-26 23:26:08", stamp) + f'HTTP Response: POST {URL} "200 OK" {headers}',
                  P.replace("2026-11-26 23:26:08", stamp) + f"request_id: req_{i}"]
    return lines


@pytest.mark.parametrize("headers", [
    "Headers({'x-ratelimit-limit-requests': '5000', 'x-ratelimit-remaining-requests': '4999', "
    "'openai-processing-ms': '12'})",
    "Headers({'x-ratelimit-limit-requests': 'abc', 'x-ratelimit-remaining-tokens': '12'})",  # built at once
    "Headers({'x-ratelimit-limit-requests': '-5', 'x-ratelimit-reset-tokens': 'soon'})",  # no headroom at all
    "Headers({'openai-processing-ms': '-0'})",  # -0.0 ms: whole, not a row
    "Headers({'openai-processing-ms': '0'})", "Headers({'openai-processing-ms': 'nan'})",
    "Headers({'x-request-id': '', 'openai-processing-ms': '1e400'})", "Headers({})",
    "Headers({'X-Request-ID': 'req_9'})",  # not plain: read whole
])
def test_headroom_and_latency_of_rows_reach_the_store_as_read_one_by_one(headers):
    """Three minutes of calls: each minute's newest headroom and the latest per model as the reference keeps them."""
    lines = timed_calls(150, headers) + [filled(t, [part]) for t, part in zip(V3, ["0", "", "200", "req_3"])]
    rows = assert_stored_alike(lines, (97, 300, 301))  # two calls cut by a batch's end: read line by line
    assert rows == (1 if "X-Request" in headers or "'-0'" in headers else 149)  # (the 3.x call at the end)


def test_a_broken_fast_path_is_caught():
    """The comparison above fails when a row is read otherwise than its call would be (deliberate breaks)."""
    add_row = openai_sdk.OpenAISdkParser._add_row
    lines = timed_calls(3, "Headers({'x-ratelimit-limit-requests': '5000', 'openai-processing-ms': '12'})")
    for name, broken in [
        ("_add_row", lambda self, ts, status, latency, headroom: add_row(self, ts, status, 13.0, headroom)),
        ("_add_row", lambda self, ts, status, latency, headroom: add_row(self, ts, status, latency, None)),
    ]:
        with mock.patch.object(openai_sdk.OpenAISdkParser, name, broken), pytest.raises(AssertionError):
            assert_stored_alike(lines, (), STORES[0])
    with mock.patch.object(openai_sdk, "_built_headroom", lambda texts: None), pytest.raises(AssertionError):
        assert_stored_alike(lines, (), STORES[0])


def test_whole_calls_columns_cannot_hold_go_to_the_sink_one_by_one_in_order():
    """A latency of -0.0 or tokens go by `Sink.call`, after the rows collected before them."""
    def made():
        return [openai_sdk.Call(ts=CLOCK + 1, source="test", model="gpt-4o", status=500),
                openai_sdk.Call(ts=CLOCK + 2, source="test", model="gpt-4o", status=200, latency_ms=-0.0),
                openai_sdk.Call(ts=CLOCK + 3, source="test", model="gpt-4o", status=200, input_tokens=5, output_tokens=2),
                openai_sdk.Call(ts=CLOCK + 4, source="test", model="gpt-4o", status=429, latency_ms=3.0)]

    stores = []
    for as_rows in (False, True):
        store = MetricsStore()
        sink = ColumnsSink(SourceCounts(label="test"), Pricer(), None)
        rows = openai_sdk._Rows(sink, "test")
        for call in made():
            rows.add_call(call) if as_rows else sink.call(call)
        rows.hand()
        sink.commit(store)
        stores.append((state(store), sink.counts.calls))
        if as_rows:
            assert [c.latency_ms for c in store.failed] == [None, 3.0]
    assert stores[0] == stores[1]


@PROPERTY
@given(lines=logs())
def test_a_line_sure_of_its_call_names_the_time_of_a_call_the_parser_makes(lines):
    """`call_time_of_line`, whose newest time in a file a store is moved on to before reading it
    (`parallel.newest_hint`), never names a time no call of the log has, however hostile the lines.
    Each line's stamp is made its own second, so a call's time says which line dated it."""
    lines = [line.replace("23:26:08", f"23:{i // 60 % 60:02d}:{i % 60:02d}") for i, line in enumerate(lines)]
    times = {call.ts for call in outcomes(openai_sdk.OpenAISdkParser, [lines])[0]}
    for line in lines:
        ts = openai_sdk.call_time_of_line(line)
        assert ts is None or ts in times


def test_only_dated_readable_response_lines_are_sure_of_their_call():
    for name in ("openai-1.109.1-debug.log", "openai-3.57.0-debug.log"):
        lines = (DATA / name).read_text().splitlines()
        calls = outcomes(openai_sdk.OpenAISdkParser, [lines])[0]
        sure = [openai_sdk.call_time_of_line(line) for line in lines]
        assert sum(ts is not None for ts in sure) == sum("] HTTP Response: " in line for line in lines) > 20
        assert max(ts for ts in sure if ts is not None) == max(call.ts for call in calls)
    response = '[2026-11-26 23:26:08 - openai._base_client:1016 - DEBUG] HTTP Response: POST 200'
    assert openai_sdk.call_time_of_line(response) == openai_sdk.time_of_line(response) is not None
    for line in (response.replace("2026-11-26", "2026-13-26"),  # a stamp that is no time: unparsed
                 response.split("] ", 1)[1],                     # undated: the reader's clock
                 response.replace(" 200", " two hundred"),        # unreadable: unparsed
                 "  " + response,                                 # a traceback's line
                 response.replace("HTTP Response", "HTTP Request"),
                 response.replace("- DEBUG]", "- Request options: DEBUG]")):  # another kind first
        assert openai_sdk.call_time_of_line(line) is None, line
