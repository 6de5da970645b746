"""The openai-sdk parser's quick paths give what its careful regex paths give, line for line.

The parser reads the default logging format by its message's first
characters, cuts plain header and option reprs at their quotes and reads
rate-limit figures through caches; the careful paths (a regex for the message,
a token scanner for reprs, `ratelimit_from_headers`) stay as the fallback.
Here both are fed the same lines, real and hostile, and every call, skip,
unparsed line and bad value must match.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimon_tui.formats import openai_sdk
from apimon_tui.formats.ratelimit import ratelimit_from_headers
from format_support import Collect

DATA = Path(__file__).parent / "data"
PROPERTY = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


class CarefulParser(openai_sdk.OpenAISdkParser):
    """The parser with every line found by the message regex, as before the quick dispatch."""

    def feed(self, line: str) -> None:
        self._feed_careful(line)


def outcomes(parser_class, lines) -> tuple:
    sink = Collect()
    parser = parser_class(sink, "test", {}, lambda: 1_700_000_000.0)
    for line in lines:
        parser.feed(line)
    parser.flush()
    return sink.calls, sink.skipped, sink.bad, sink.bad_values


def assert_same(lines) -> None:
    quick, careful = outcomes(openai_sdk.OpenAISdkParser, lines), outcomes(CarefulParser, lines)
    assert quick == careful


def test_the_samples_read_alike_both_ways():
    for name in ("openai-1.109.1-debug.log", "openai-3.57.0-debug.log"):
        lines = (DATA / name).read_text().splitlines()
        assert_same(lines)
        assert len(outcomes(openai_sdk.OpenAISdkParser, lines)[0]) in (35, 30)


# Lines of the default format whose parts (stamp, logger, message start, repr pieces) are varied below.
STAMP = "2026-11-26 23:26:08"
MESSAGES = [
    "Request options: {'method': 'post', 'url': '/chat/completions', 'files': None, 'json_data': "
    "{'messages': [{'role': 'user', 'content': @@}], 'model': @@, 'stream': @@}}",
    "Building HTTP request: method=POST retries_taken=@@",
    "Sending HTTP Request: POST @@",
    'HTTP Request: POST https://api.openai.com/v1/chat/completions "HTTP/1.1 @@ OK"',
    "HTTP Response: POST https://api.openai.com/v1/chat/completions \"@@ OK\" Headers({'openai-processing-ms': @@, "
    "'x-request-id': @@, 'x-ratelimit-remaining-requests': @@, 'x-ratelimit-reset-tokens': '12ms'})",
    "HTTP Response: POST @@",
    "request_id: @@",
    "Retrying request to /chat/completions in @@ seconds",
    "Retrying request in @@ seconds (retry @@ of 2)",
    "Encountered httpx.TimeoutException",
    "Encountered @@",
    "Raising timeout error",
    "Raising connection error",
    "Retrying due to status code @@",
    "2 retries left",
    "@@",
]
PIECES = st.sampled_from(["'", '"', "\\", "\\'", "\\\\", "\\\n", "\n", "] ", "]", "[", "{", "}", "(", ")", ": ", ", ", "'model': ",
                          "'stream': True", "HTTP Response: ", "request_id: ", "Encountered ", "200", "None",
                          "'x-request-id': 'r'", "2026-13-45 99:99:99", "nan", "-5", "1e400", " ", "\u0662\u0660\u0660", "099"])
fills = st.text(max_size=12) | st.lists(PIECES, max_size=6).map("".join)
prefixes = st.sampled_from([
    f"[{STAMP} - openai._base_client:1016 - DEBUG] ", f"[{STAMP} - httpx:1025 - INFO] ",
    "[2026-13-45 99:99:99 - openai._base_client:1 - DEBUG] ", "[no stamp] ", "[] ", "[",
    f"[{STAMP} - HTTP Response: x:1 - DEBUG] ", f"[{STAMP}+02:00 - a:1 - INFO] ", f"[{STAMP},123 - a] b] ",
    f"{STAMP} - httpx - INFO - ", "INFO:openai._base_client:", "", " ",
])


@PROPERTY
@given(lines=st.lists(st.tuples(prefixes, st.sampled_from(MESSAGES), st.lists(fills, min_size=5, max_size=5)),
                      min_size=1, max_size=12))
def test_any_line_reads_alike_both_ways(lines):
    texts = []
    for prefix, message, parts in lines:
        for part in parts:
            message = message.replace("@@", part, 1)
        texts.append(prefix + message)
    assert_same(texts)


repr_texts = st.lists(PIECES | st.sampled_from(["'url'", "'method'", "'json_data': {", "'json_data'", "'post'",
                                                "'/x'", "''", "<function f at 0x1>"]) | st.text(max_size=4),
                      max_size=30).map("".join)


@PROPERTY
@given(text=repr_texts)
def test_options_scanned_piece_by_piece_as_token_by_token(text):
    assert openai_sdk.scan_options(text) == openai_sdk.scan_tokens(text)
    wrapped = "{'method': 'get', 'url': '/v1/x', 'json_data': {" + text + "}}"
    assert openai_sdk.scan_options(wrapped) == openai_sdk.scan_tokens(wrapped)


def test_options_of_the_sample_read_alike_both_ways():
    for line in (DATA / "openai-1.109.1-debug.log").read_text().splitlines():
        if "Request options: " in line:
            text = line.split("Request options: ", 1)[1]
            assert openai_sdk._plain_split(text) is not None  # the quick path is the one taken
            assert openai_sdk.scan_options(text) == openai_sdk.scan_tokens(text)


@PROPERTY
@given(text=repr_texts)
def test_headers_cut_at_quotes_as_found_by_regex(text):
    strings = [a if a is not None else b for a, b in openai_sdk._QUOTED.findall(text)]
    careful = {strings[i].lower(): strings[i + 1] for i in range(0, len(strings) - 1, 2)}
    assert openai_sdk.parse_headers(text) == careful


header_values = st.none() | st.sampled_from(["5000", "0", "-1", "nan", "1e400", "12ms", "6m0s", "1h32m15s", "8.64s",
                                             "", "x", "99999999999999999999"]) | st.text(max_size=6)


@PROPERTY
@given(values=st.lists(header_values, min_size=6, max_size=6))
def test_headroom_through_the_caches_as_ratelimit_from_headers(values):
    names = ["limit-requests", "remaining-requests", "limit-tokens", "remaining-tokens", "reset-requests", "reset-tokens"]
    headers = {f"x-ratelimit-{name}": value for name, value in zip(names, values) if value is not None}
    assert openai_sdk._headroom(headers) == ratelimit_from_headers(headers)


def test_an_empty_method_in_request_options_is_read_not_raised():
    line = f"[{STAMP} - openai._base_client:482 - DEBUG] Request options: {{'method': '', 'url': '/chat/completions'}}"
    assert_same([line, f'[{STAMP} - httpx:1025 - INFO] HTTP Request: POST https://x/v1/chat/completions "HTTP/1.1 200 OK"'])
    assert openai_sdk.scan_tokens("{'method': '', 'url': '/x'}")[:2] == ("", "/x")


def careful_headers(text: str) -> dict[str, str]:
    strings = [a if a is not None else b for a, b in openai_sdk._QUOTED.findall(text)]
    return {strings[i].lower(): strings[i + 1] for i in range(0, len(strings) - 1, 2)}


def test_escapes_that_move_a_string_end_take_the_careful_path():
    """An escaped quote, a backslash before a line break, a double-quoted string: cut at quotes, each would read wrong."""
    for text in ["{'a\\'b': 'c', 'd': 'e'}", "{'a\\\n': 'b', 'c': 'd'}", "{\"it's\": 'x', 'y': 'z'}",
                 "{'a\\\\': 'b', 'c': 'd'}", "{'a\\n': 'b', 'c': 'd'}"]:
        assert openai_sdk.parse_headers(text) == careful_headers(text)
        options = "{'url': '/x', 'json_data': {" + text[1:-1] + ", 'model': 'm'}}"
        assert openai_sdk.scan_options(options) == openai_sdk.scan_tokens(options)
    assert openai_sdk._plain_split("{'a\\n': 'b'}") is not None  # an escape that is no quote keeps the quick path
