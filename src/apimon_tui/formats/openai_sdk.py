"""`openai-sdk`: what openai-python logs with `OPENAI_LOG=info|debug`.

Applications choose their own logging format, so each line's *message* is
found by regex wherever it starts (after `[ts - name:lineno - LEVEL] `,
`ts - httpx - INFO - `, `INFO:openai._base_client:` or nothing). A timestamp
`YYYY-MM-DD HH:MM:SS[,.fff][zone]` before the message dates the line; without
a zone it is local time (the logging module's default); a line without one is
dated by the injected clock.

Messages read (reference: formats.md section 3):
* `Request options: {...}` (v1-v3.3): model, stream flag and path of the next
  attempt(s), read from the Python dict repr with a string-aware scanner.
* `Building HTTP request: method=M retries_taken=N` (3.4+): the attempt number.
* `Sending HTTP Request: M URL`: method and URL for an attempt that may fail.
* `HTTP Request: M URL "HTTP/1.1 S R"` (transport logger `httpx`/`httpx2`).
* `HTTP Response: M URL "S R" Headers(...)` (v1-v3.3) or `HTTP Response: M S`
  (3.4+): status, and from the headers the request id, `openai-processing-ms`
  as latency, and `x-ratelimit-*` headroom.
* `request_id: ID`: the request id when the response line had no headers.
* `Retrying request to PATH in X seconds` / `Retrying request in X seconds
  (retry N of M)`: the next attempt is retry n.
* `Encountered httpx.TimeoutException`, `Encountered Exception`, `Encountered
  a timeout exception: E`, `Encountered exception: E`, `Raising timeout
  error`, `Raising connection error`: a failed attempt with no HTTP status.
* Legacy v0.28 logfmt: `message='OpenAI API response' path=... processing_ms=
  ... request_id=... response_code=...`, with the `OpenAI API error received`
  line that may follow it.

One HTTP attempt is one call. The transport line and the SDK's response line
describe the same attempt (transport first): once the SDK is seen logging
responses (`Sending HTTP Request` / `HTTP Response` lines), a transport line
waits for its response line (same method, status and URL) and the two make one
call; a transport line no response claims (within `MAX_WAITING_TRANSPORT`
later ones, or by the end) is another httpx client's request and is skipped.
Otherwise (`OPENAI_LOG=info`, SDK v1.0) a transport line is a call by itself. A
response line without a request id waits one line for `request_id:`.
A `Retrying` line with no failed call before it (info level hides the
`Encountered` lines) stands for an attempt that got no answer: a failed call.

Speed: a batch's calls of the usual shapes (five lines of 1.x, four of
3.4+) are found by one regex over the joined batch (`feed_many`, `_calls()`),
which reads plain `Request options` and `Headers(...)` reprs too, checking
the whole repr and capturing only the fields used, and each match is read
with a few Python steps (one look-up for its prefixes); anything else takes
the line-by-line and token-by-token paths, which read alike. The engine's sink
gets a batch's successful calls as columns, not as a `Call` each.

Line accounting: a line whose data goes into a call reports nothing itself;
the call is reported once when complete. Every other line (tracebacks, SDK
diagnostics that add nothing, application lines) is `skip()`. A line of a
known message whose text cannot be read is `unparsed()`.

Concurrent requests from one process interleave their lines; the model is
then taken from the most recent `Request options`, which may be another
call's. Single-threaded clients (the common case) are attributed exactly.
"""

from __future__ import annotations

import ast
import calendar
import gc
import math
import re
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from apimon_tui.formats import values
from apimon_tui.formats.base import Parser
from apimon_tui.formats.column_batches import COLUMN_LINES
from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call, RateLimit
from apimon_tui.formats.ratelimit import parse_count, parse_reset

NAME = "openai-sdk"
PROVIDER = "openai"
MAX_WAITING_TRANSPORT = 64
MAX_REMEMBERED_LINE = 160  # lines up to this long that hold no message are remembered as such

_SNIFF = re.compile(
    r"HTTP Request: [A-Z]+ \S+ \"HTTP/|HTTP Response: \S+ |Request options: \{|Building HTTP request: method="
    r"|Retrying request (?:to \S+ )?in [\d.]+ seconds|message='(?:OpenAI API response|Request to OpenAI API)'"
)
# A message starts the line or follows a space, `:` or `]` (said as "no other character before it",
# which the regex engine tries quicker than `(?:^|(?<=[\s:\]]))`).
_KIND = re.compile(
    r"(?<![^\s:\]])(Request options: |Building HTTP request: |Sending HTTP Request: |HTTP Request: "
    r"|HTTP Response: |request_id: |Retrying request |Encountered |Raising (?:timeout|connection) error)"
)
_LEGACY = re.compile(r"message='(OpenAI API response|OpenAI API error received|Request to OpenAI API)'")
_TS = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(?: ?(Z|[+-]\d\d:?\d\d))?")

_BUILDING = re.compile(r"method=(\S+) retries_taken=(\d+)")
_SENDING = re.compile(r"(\S+)(?: (\S+))?")
_TRANSPORT = re.compile(r"(\S+) (\S+) \"HTTP/[\d.]+ (\d{3})")
_RESPONSE = re.compile(r"(\S+) (?:(\S+) \"(\d{3})[^\"]*\"(?: (Headers\(.*))?|(\d{3})\s*$)")
_REQUEST_ID = re.compile(r"(\S+)")
_RETRY = re.compile(r"(?:to (\S+) )?in ([\d.]+) seconds(?: \(retry (\d+) of \d+\))?")
_ENCOUNTERED = re.compile(
    r"(?:(?P<timeout>httpx\.TimeoutException|a timeout exception: (?P<texc>\w+))"
    r"|(?P<conn>Exception|exception: (?P<cexc>\w+)))\s*$"
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
_REPR_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[{}\[\]()]")
_LOGFMT = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S*)")

# Plain reprs read by one regex each, which checks the whole text's shape and captures only the
# fields used (`_options_pattern`, `_HEADER_FIELDS`): one C-level pass instead of a Python step per
# string. Strings are the token scanner's strings (but within one line); possessive loops and
# atomic groups keep every match linear, and any text outside the shape takes the careful paths.
# In text where no backslash comes right before a quote (`plain`) a string is any text up to its closing
# quote: a loop over one excluded character, the regex engine's quick one (a class of three costs it 3-4
# times as much), which may run over a line break (`_v1_call` then reads the call line by line).
_BARE = r"""[^'"{}\[\]()\n,]*+"""  # None, True, 12, <function f at 0x...>: no token for the scanner
_OPTIONS_DEPTH = 8  # nesting read by the regex below json_data's keys (tools' JSON schemas, message parts)


def _string(plain: bool, name: str = "") -> str:
    """A string token of the scanner, its inner text captured as `<name>1` (single quotes) or `<name>2`
    (double) when `name` is given."""
    single, double = ("'", '"') if not name else (f"'(?P<{name}1>", f'"(?P<{name}2>')
    inner_end = "" if not name else ")"
    if plain:
        return single + "[^']*+" + inner_end + "'|" + double + '[^"]*+' + inner_end + '"'
    return (single + r"[^'\\\n]*+(?:\\.[^'\\\n]*+)*+" + inner_end + "'|"
            + double + r'[^"\\\n]*+(?:\\.[^"\\\n]*+)*+' + inner_end + '"')


def _repr_value(depth: int, plain: bool = False) -> str:
    """A dict repr's value with lists and dicts nested at most `depth` deep; nothing captured.

    Below the keys read, only the depth matters to the scanner (any bracket
    counts one level; a key there is no key it reads), so one pattern stands
    for lists and dicts alike and the regex grows by one copy a level.
    """
    string = _string(plain)
    value = f"(?:{string}|{_BARE})"
    for _ in range(depth):
        value = rf"(?>{string}|[\[{{](?:(?:(?:{string}): )?{value}(?:, |(?=[\]}}])))*+[\]}}]|{_BARE})"
    return value


def _keyed(names: tuple[str, ...]) -> str:
    """Any of `names` as a dict key, in either quotes."""
    return "(?:" + "|".join(f"'{n}'|\"{n}\"" for n in names) + "): "


def _options_pattern(plain: bool = False) -> str:
    """`Request options` of the shape `{key: value, ...}`: top-level `url`, and `model` and `stream`
    among `json_data`'s own keys, captured as `scan_tokens` reads them (groups `url1`, `url2`, `model1`,
    `model2`, `stream`: see `_options_of`). (The method is read but not kept: the `Sending HTTP Request`
    line after it gives the one used.)

    A dict repr has each key once, so each capture is that key's only value.
    A key read is tried first (once a look-ahead saw one of them: any other
    key skips their alternatives at once, 30% of the time); the atomic group
    then keeps its reading, and when its value fails there the general pair
    fails on the same text too.
    """
    inner, outer, string = _repr_value(_OPTIONS_DEPTH - 1, plain), _repr_value(_OPTIONS_DEPTH, plain), _string(plain)
    json_pair = (rf"(?>{_key_ahead(('model', 'stream'))}(?:{_keyed(('model',))}(?:{_string(plain, 'model')}|{inner})"
                 rf"|{_keyed(('stream',))}(?P<stream>{inner}))"
                 rf"|(?:{string}): {inner})")
    pair = (rf"(?>{_key_ahead(('method', 'url', 'json_data'))}"
            rf"(?:{_keyed(('method',))}(?:{string}|{outer})"
            rf"|{_keyed(('url',))}(?:{_string(plain, 'url')}|{outer})"
            rf"|{_keyed(('json_data',))}(?:\{{(?:{json_pair}(?:, |(?=\}})))*+\}}|(?!\{{){outer}))"
            rf"|(?:{string}): {outer})")
    return rf"\{{(?:{pair}(?:, |(?=\}})))*+\}}"


def _key_ahead(names: tuple[str, ...]) -> str:
    """A look-ahead for any of `names` between quotes (either kind, as `_keyed` needs)."""
    return "(?=['\"](?:" + "|".join(names) + ")['\"])"

# The headers the parser uses, in this order; any other name must be plain lower-case ASCII (so
# that no name lower-cases to one of these) and every value plain (no quote, no backslash).
HEADERS_USED = (
    "x-request-id", "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "openai-processing-ms",
)


def _header_fields_pattern(group: str = "", plain: bool = False) -> str:
    """A plain `Headers({...})` repr, the values of `HEADERS_USED` captured in that order (as groups
    `<group>0` to `<group>7` where `group` is given). The used names as a trie: each failing branch
    costs a character or two, not a shared prefix again. (A `"` in a value is in it for the careful
    reading too; in `_plain` text, `plain`, a value is any text up to its closing quote.)"""
    values = iter(range(len(HEADERS_USED)))
    text = "[^']*+" if plain else r"""[^'"\\\n]*+"""

    def value() -> str:
        name = f"?P<{group}{next(values)}>" if group else ""
        return rf"""': '({name}{text})'"""

    return (r"Headers\(\{(?:'(?>x-(?:request-id" + value() + r"|ratelimit-(?:limit-(?:requests" + value()
            + r"|tokens" + value() + r")|remaining-(?:requests" + value() + r"|tokens" + value()
            + r")|reset-(?:requests" + value() + r"|tokens" + value() + r")))|openai-processing-ms"
            + value() + r"|[a-z0-9_.-]*+': '" + text + r"')(?:, |(?=\})))*+\}\)")


_HEADER_FIELDS = re.compile(_header_fields_pattern())

# Whole calls of a batch in the usual shapes, each a run of lines of the form `[prefix] message`,
# read by `OpenAISdkParser.feed_many`. The search looks for `] Request options: ` or `] Building
# HTTP request: ` (a literal the regex engine finds quickly), and the call's first prefix is taken
# from the start of that line in Python. A call's prefixes are checked as `feed` checks them
# (`_call_time`, once per distinct run of them), and its transport line against its response line
# by backreferences. The options and header reprs are read by their regexes within this one
# (`_options_pattern`, `_header_fields_pattern`), or taken whole where they are not of that shape.
# The groups, in order: `_V1_GROUPS` then `_V3_GROUPS`.
_V1_GROUPS = ("url1", "url2", "model1", "model2", "stream", "options", "p2", "sending_method", "sending_url",
              "p3", "method", "url", "status", "p4", "response_method", "response_url", "response_status",
              *(f"h{i}" for i in range(8)), "fields", "headers", "p5", "request_id")
_V3_GROUPS = ("retries", "v3_p2", "v3_sending_method", "v3_p3", "v3_method",
              "v3_status", "v3_p4", "v3_request_id")
_P2, _P4 = 1 + _V1_GROUPS.index("p2"), 1 + _V1_GROUPS.index("p4")  # (group numbers: where those lines start)
_V3_AT = len(_V1_GROUPS)  # (`m.groups()[_V3_AT:]`: a 3.4+ call's)


def _prefix(name: str) -> str:
    """A line's prefix up to its first `]`, which may run over a line break (a loop over one excluded
    character is the regex engine's quick one): the call is then sent line by line."""
    return rf"(?P<{name}>\[[^\]]*+\] )"


def _request_id_line(prefix: str) -> str:
    """An optional `request_id` line: groups `<prefix>p<n>` (its prefix) and `<prefix>request_id`.

    No group holds a whole line or repr (a copy of hundreds of characters
    per call): the log text of a call built whole is cut from the batch
    (`_call_text`), and `fields` is empty where the headers were read.
    """
    p = "p5" if not prefix else "v3_p4"
    return rf"(?:\n{_prefix(p)}request_id: (?P<{prefix}request_id>\S+))?$"


_STATUS3 = "[1-5][0-9][0-9]"  # ASCII: a key of `_STATUS_OF`


@lru_cache(maxsize=2)
def _calls(plain: bool = False) -> re.Pattern[str]:
    """The calls regex (`plain`: for text that is `_plain`), compiled at first use (about 30 ms):
    format detection imports every format."""
    return re.compile(
        r"\] (?:"
        # openai 1.x-3.3: options, sending, [transport,] response with headers, [request_id]
        rf"Request options: (?>{_options_pattern(plain)}(?=\n)|(?P<options>[^\n]*))\n"
        rf"{_prefix('p2')}Sending HTTP Request: (?P<sending_method>[A-Z]+) (?P<sending_url>\S+)\n"
        rf"(?:{_prefix('p3')}HTTP Request: (?P<method>[A-Z]+) (?P<url>\S+) "
        rf"\"HTTP/[\d.]+ (?P<status>{_STATUS3})[^\n]*\n)?"
        # (a transport line's method, URL and status are the response's: the two lines are one call)
        rf"{_prefix('p4')}HTTP Response: (?(p3)(?P=method) (?P=url) \"(?P=status)"
        rf"|(?P<response_method>[A-Z]+) (?P<response_url>\S+) \"(?P<response_status>{_STATUS3}))[^\"\n]*\""
        rf"(?: (?>{_header_fields_pattern('h', plain)}(?P<fields>)$|(?P<headers>Headers\([^\n]*)))?"
        rf"{_request_id_line('')}"
        # openai 3.4+: building, sending, response, [request_id]
        rf"|Building HTTP request: method=\S+ retries_taken=(?P<retries>\d+)\n"  # (the method: the next line's)
        rf"{_prefix('v3_p2')}Sending HTTP Request: (?P<v3_sending_method>[A-Z]+)\n"
        rf"{_prefix('v3_p3')}HTTP Response: (?P<v3_method>[A-Z]+) (?P<v3_status>{_STATUS3})"
        rf"{_request_id_line('v3_')})",
        re.MULTILINE,
    )


def _plain(text: str) -> bool:
    """Whether no backslash in `text` comes right before a quote: then no escape in a string hides its
    closing quote, and the first quote of its kind after its start ends it, as the token scanner reads it
    (a backslash before a line break: the `plain` string runs over it, and its call is read line by line)."""
    return "\\" not in text or ("\\'" not in text and '\\"' not in text)


def sniff(line: str) -> bool:
    return _SNIFF.search(line) is not None


def parse_time(text: str) -> float | None:
    """Epoch seconds of the first `YYYY-MM-DD HH:MM:SS` in `text` (local time unless zoned).

    None when there is none; raises `values.Unusable` (a ValueError) for a
    stamp that is no time (month 13, hour 99) or outside `values.MAX_TS`.
    """
    m = _TS.search(text)
    return None if m is None else _stamp_epoch(m.group(0))


@lru_cache(maxsize=256)
def _stamp_epoch(stamp: str) -> float:
    """Consecutive lines share their stamp (no sub-seconds by default): convert each once."""
    m = _TS.match(stamp)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        raise values.Unusable(f"unusable time {stamp!r}")
    try:
        return values.checked_ts(_epoch(m, y, mo, d, h, mi, s))
    except (OverflowError, ValueError):
        raise values.Unusable(f"unusable time {stamp!r}") from None


def _epoch(m: re.Match[str], y: int, mo: int, d: int, h: int, mi: int, s: int) -> float:
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    zone = m.group(8)
    if zone is None:
        return time.mktime((y, mo, d, h, mi, s, 0, 0, -1)) + frac
    epoch = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) + frac
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch


def parse_headers(text: str) -> dict[str, str]:
    """Lower-case header names to values from an httpx `Headers({...})` or `Headers([(k, v), ...])` repr."""
    parts = _plain_split(text)
    if parts is not None:  # names and values at every other string
        return dict(zip(_lower_case(parts[1::4]), parts[3::4]))
    strings = [a if a is not None else b for a, b in _QUOTED.findall(text)]
    return dict(zip(_lower_case(strings[0::2]), strings[1::2]))


def _lower_case(names: list[str]):
    """`map(str.lower, names)`, or `names` when all are ASCII lower case already (httpx logs them so).

    One test on the joined names costs less than a `str.lower` call per name.
    """
    joined = "".join(names)
    return names if joined.isascii() and joined.lower() == joined else map(str.lower, names)


def _plain_split(text: str) -> list[str] | None:
    """`text` cut at its quotes when every string in it is `'...'` and closed, else None.

    Then the pieces alternate outside, string, outside, ... exactly as the
    token regexes see them: with no `"` every string is single-quoted, and a
    quote ends its string unless a backslash is right before it (`\\'`); a
    backslash before a line break would end the token early. Header values
    and most request options are such text, so the common line needs no regex
    scan token by token.
    """
    if '"' in text or ("\\" in text and ("\\'" in text or "\\\n" in text)):  # one-character tests are the quick ones
        return None
    parts = text.split("'")
    return parts if len(parts) % 2 else None


def scan_options(text: str) -> tuple[str | None, str | None, str | None, bool | None]:
    """(method, url path, model, stream) from a `Request options` dict repr.

    Not `ast.literal_eval`: the repr may hold objects (`<function ...>`). The
    scanner skips whole string tokens, so a message that mentions `'model'`
    cannot fool it: only `json_data`'s own keys count. Text whose strings
    are all plain (`_plain_split`) is read piece by piece; any other the
    careful way, token by token. (In a batch, a repr of the usual shape is
    read by the calls regex: `_options_pattern`, `_options_of`.)
    """
    parts = _plain_split(text)
    return scan_tokens(text) if parts is None else _scan_pieces(parts)


def _options_of(url1: str | None, url2: str | None, model1: str | None, model2: str | None,
                stream: str | None) -> tuple[str | None, str | None, bool | None]:
    """`scan_tokens`'s answer but the method from the captures of `_options_pattern()`: strings as
    written between their quotes."""
    return (url1 or url2 or None, model1 if model1 is not None else model2,
            None if stream is None else stream.startswith("True"))


def _scan_pieces(parts: list[str]) -> tuple[str | None, str | None, str | None, bool | None]:
    """`scan_tokens` over text cut at its quotes: strings at odd places, brackets only between them."""
    depth, top_key = 0, None
    method = url = model = None
    stream = None
    last = len(parts) - 1
    for i in range(1, last, 2):
        before = parts[i - 1]
        if before != ", " and before != ": ":
            depth += _net_brackets(before)
        after = parts[i + 1]
        if not after.startswith(": "):
            continue  # a value, not a key
        value = parts[i + 2] if after == ": " and i + 1 < last else None  # a string right after `: `
        key = parts[i]
        if depth == 1:
            top_key = key
            if value is not None:
                if key == "url":
                    url = value or None
                elif key == "method":
                    method = value.upper()
        elif depth == 2 and top_key == "json_data":
            if key == "model":
                if value is not None:
                    model = value
            elif key == "stream":
                stream = after.startswith(": True")
    return method, url, model, stream


@lru_cache(maxsize=4096)
def _net_brackets(text: str) -> int:
    """Brackets opened less those closed in text between strings (`: [{`, `}], `): the same few pieces recur."""
    return (text.count("{") + text.count("[") + text.count("(")
            - text.count("}") - text.count("]") - text.count(")"))


def scan_tokens(text: str) -> tuple[str | None, str | None, str | None, bool | None]:
    """`scan_options` the careful way: a regex finds every string and bracket token in turn."""
    depth, top_key = 0, None
    method = url = model = None
    stream = None
    for m in _REPR_TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[(":
            depth += 1
            continue
        if tok in "}])":
            depth -= 1
            continue
        end = m.end()
        if not text.startswith(": ", end):
            continue  # a value, not a key
        key = tok[1:-1]
        if depth == 1:
            top_key = key
            if key in ("url", "method"):
                value = _QUOTED.match(text, end + 2)
                if value:
                    if key == "url":
                        url = value.group(1) or value.group(2)
                    else:
                        method = (value.group(1) or value.group(2) or "").upper()
        elif depth == 2 and top_key == "json_data":
            if key == "model":
                value = _QUOTED.match(text, end + 2)
                if value:
                    model = value.group(1) if value.group(1) is not None else value.group(2)
            elif key == "stream":
                stream = text.startswith("True", end + 2)
    return method, url, model, stream


@lru_cache(maxsize=1024)
def _path(url: str | None) -> str | None:
    """The path of a URL; a client calls the same few URLs over and over."""
    if not url:
        return None
    return urlsplit(url).path or url


def _logfmt(text: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, raw in _LOGFMT.findall(text):
        if raw[:1] in ("'", '"'):
            try:
                raw = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                raw = raw[1:-1]
        out[key] = None if raw in ("None", "") else raw
    return out


def _number(text: str | None, kind: type) -> int | float | None:
    try:
        return kind(text) if text is not None else None
    except ValueError:
        return None


def _latency(text: str | None, field: str, sink) -> float | None:
    """Milliseconds as the API reports them; text that is no usable figure (`nan`, `-5`, `abc`) is reported."""
    if text is None:
        return None
    number = _number(text, float)
    return values.measure(text if number is None else number, field, sink, values.MAX_MS)


_STATUS_OF = {str(code): code for code in range(values.MIN_STATUS, values.MAX_STATUS + 1)}


def _status(digits: str, sink) -> int | None:
    """A three-digit status as logged; one outside 100-599 (`000`) is reported as written."""
    code = _STATUS_OF.get(digits)
    if code is None:  # not written in ASCII digits 100-599 (`\d` takes any script's digits)
        code = int(digits)
        if not values.MIN_STATUS <= code <= values.MAX_STATUS:
            sink.bad_value("status", digits)
            return None
    return code


@lru_cache(maxsize=4096)
def _plain_ms(text: str) -> float | None:
    """`_latency(text)` where that reports nothing (latencies repeat: each text is read once), else None."""
    number = _number(text, float)
    return number if number is not None and 0 <= number <= values.MAX_MS else None


_SMALL_ATTEMPTS = {str(n): n for n in range(100)}  # `_attempt` of the usual retry numbers


def _attempt(digits: str, sink) -> int:
    """A retry number; one beyond `values.MAX_ATTEMPT` is reported and taken as unknown (0)."""
    number = int(digits) if len(digits) <= 6 else None
    return values.count(digits if number is None else number, "attempt", sink, values.MAX_ATTEMPT) or 0


class OpenAISdkParser(Parser):
    name = NAME

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # From the latest `Request options`: applies to every attempt until the next one.
        self._method: str | None = None
        self._options_path: str | None = None
        self._model: str | None = None
        self._stream: bool | None = None
        self._sending_url: str | None = None
        self._attempt = 0  # attempt number of the next call
        self._last_attempt = 0
        self._last_call: Call | None = None  # last call of the current attempt chain
        self._sdk_logs_responses = False
        self._waiting: list[tuple[Call, str]] = []  # transport calls waiting for their response line
        self._open: Call | None = None  # response call waiting one line for `request_id:`
        self._rows: _Rows | None = None  # the calls of the batch `feed_many` hands as columns
        self._heads: tuple[str | None, ...] = ()  # the prefixes of the last call `feed_many` found, and
        self._heads_time: float | None = None  # their `_call_time`

    # -- line dispatch -----------------------------------------------------

    def feed(self, line: str) -> None:
        """A line of the SDK's own format, `[stamp - logger:lineno - LEVEL] message`, by the first
        characters of its message; any other line by regex (`_feed_careful`).

        What the regex would find is decided once per distinct prefix (`_head`):
        a prefix holding no message kind leaves the first one at the message's
        start, if there is one there.
        """
        if line[:1] == "[":
            start = line.find("] ") + 2
            if start > 1:
                clean, ts, error = _head(line[:start])
                if clean:
                    kind = _KIND_BY_HEAD.get(line[start:start + 9])
                    if kind is None or not line.startswith(kind, start):
                        self._feed_careful(line, start)
                    elif kind == "request_id: ":
                        self._request_id(line, line[start + 12:])
                    else:  # `_message`, inlined: most lines come this way
                        self._close_open()
                        if error is not None:
                            self.sink.unparsed(error, line)
                        else:
                            _HANDLERS[kind](self, line, line[start + len(kind):], self.clock() if ts is None else ts)
                    return
        self._feed_careful(line)

    def feed_many(self, lines: Sequence[str]) -> None:
        """A batch: its calls of the usual shapes found at once by `_calls()` over the joined text, the
        lines around them fed one by one, in order.

        A found call is read from the regex's captures, the parser's state left
        as `feed` line by line would leave it. One with a line `feed` would
        read otherwise (a stamp that is no time or none at all, a message kind
        in the prefix), or whose response an earlier transport line could
        claim, is fed line by line instead: what is read never depends on the
        path. A line around the calls that was a skip whatever came before it
        is one again on sight (`_feed_each`).

        For a sink that takes columns (the engine's), a big batch's calls go to
        it as one `CallColumns`, in log order: a closed successful call with
        plain headers as a row of figures, with no `Call` built, any other
        whole (`_Rows`).

        The cyclic garbage collector is held off meanwhile: run every few
        hundred new containers (a match's groups, a row), it went over the
        store's objects again and again (12% of a `report`'s time), and
        reading a batch makes no cycles for it to find.
        """
        text_of = getattr(lines, "text", None)  # a `LineBlock` (no line of it holds a line break)
        if len(lines) < 3 or (text_of is None and "\n" in "".join(lines)):  # (`in`: the quick search)
            super().feed_many(lines)
            return
        if text_of is not None:
            from apimon_tui.core import heap  # (ctypes: only for a big file)

            heap.keep_freed_blocks()  # (a few MB of text a block, block after block)
        text = "\n".join(lines) if text_of is None else text_of()
        if len(lines) >= COLUMN_LINES and getattr(self.sink, "columns", None) is not None:
            self._rows = _Rows(self.sink, self.source)
        collecting = gc.isenabled()
        gc.disable()  # (see above)
        try:
            self._feed_text(text)
            rows, self._rows = self._rows, None
            if rows is not None:
                rows.hand()
        finally:
            self._rows = None
            if collecting:
                gc.enable()

    def _feed_text(self, text: str) -> None:
        """Lines joined by line breaks: calls of the usual shapes by `_calls()`, the lines around them one by one.

        A match where a prefix up to its first `]`, or a string of the `plain`
        regex, ran over a line break is fed line by line (`_v1_call`, `_v3_call`).
        """
        pos = 0
        for m in _calls(_plain(text)).finditer(text):
            kind_at, end = m.span()  # (from the `] ` that ends the first line's prefix)
            start = text.rfind("\n", 0, kind_at) + 1
            if start > pos:
                self._feed_each(text[pos:start - 1])
            pos = end + 1
            if m.lastindex <= _V3_AT:  # (the last group set is one of the 1.x call's)
                self._v1_call(text, start, kind_at, end, m)
            else:
                self._v3_call(text, start, kind_at, end, m)
        if pos <= len(text):
            self._feed_each(text[pos:])

    def _feed_each(self, text: str) -> None:
        """Lines (joined by line breaks) fed one by one; one seen to be a skip whatever came before it
        (`_SKIPPED_LINES`: traceback lines, `2 retries left`) is one again at once."""
        feed, skip = self.feed, self.sink.skip
        for line in text.split("\n"):
            if line in _SKIPPED_LINES:
                if self._open is not None:
                    self._close_open()
                skip()
            else:
                feed(line)

    def _v1_call(self, text: str, start: int, kind_at: int, end: int, m: re.Match[str]) -> None:
        """`Request options`, `Sending HTTP Request`, [`HTTP Request`,] `HTTP Response`, [`request_id`]:
        the call at `text[start:end]`, its first line's prefix ending at `kind_at`, from its captures
        (`_V1_GROUPS`)."""
        (url1, url2, model1, model2, stream, options, p2, sending_method, sending_url, p3, method, url, digits,
         p4, response_method, response_url, response_status, h0, h1, h2, h3, h4, h5, h6, h7, fields, headers,
         p5, request_id) = m.groups()[:_V3_AT]
        heads = (p4, text[start:kind_at + 2], p2, p3, p5)
        if heads != self._heads:  # (a call's lines of one second share their prefixes with the call before)
            self._heads, self._heads_time = heads, _call_time(*heads)
        ts = self._heads_time
        if (ts is None or self._waiting
                # a string of the `plain` regex that ran over a line break, in the options or the headers
                # (the response line ends before `\n{p5}request_id: {request_id}`)
                or text.find("\n", kind_at, m.start(_P2) - 1) >= 0
                or text.find("\n", m.start(_P4), end if p5 is None else end - len(p5) - len(request_id) - 13) >= 0):
            self._feed_each(text[start:end])
            return
        if self._open is not None:  # (most have none: no call for it)
            self._close_open()
        if options is None:  # (`_options_of`, inlined)
            self._options_path = url1 or url2 or None
            self._model = model1 if model1 is not None else model2
            self._stream = None if stream is None else stream.startswith("True")
        else:
            _, self._options_path, self._model, self._stream = scan_options(options)
        self._sdk_logs_responses = True
        self._method, self._sending_url, self._last_call = sending_method, sending_url, None
        if p3 is None:  # (with a transport line, its captures are the response's)
            method, url, digits = response_method, response_url, response_status
        status = _STATUS_OF[digits]
        if self._rows is not None and (status < 400 or self._rows.errors) and headers is None:
            if fields is None:
                if p5 is not None:
                    self._add_row(ts, status, None, None)
                    return
            elif (h0 or p5 is not None) and (h7 is None or h7[:1] != "-"):
                # closed (a request id in its headers or a `request_id` line after it), and no latency
                # of -0.0, which columns cannot hold
                latency = None if h7 is None else _plain_ms(h7)
                if latency is None and h7 is not None:
                    latency = _latency(h7, "openai-processing-ms", self.sink)  # reported
                # the headroom left as its texts (built by `_built_headroom` only for the reading the store
                # keeps) where a usable request limit makes sure it is one, not None
                self._add_row(ts, status, latency, (h1, h3, h2, h4, h5, h6) if _count(h1) is not None
                              else _headroom_of(h1, h3, h2, h4, h5, h6))
                if h0 and p5 is not None:
                    self.sink.skip()  # the id is already known from the response's headers
                return
        raw, id_line = _call_text(text, start, end, p5 is not None)
        call = Call(ts=ts, source=self.source, provider=PROVIDER, endpoint=_path(url),
                    method=method, model=self._model, status=status, stream=self._stream, raw=raw)
        if fields is not None:
            self._apply_header_fields(call, h0, h1, h2, h3, h4, h5, h6, h7)
        elif headers is not None:
            self._apply_header_text(call, headers)
        self._close_call(call, id_line, request_id)

    def _v3_call(self, text: str, start: int, kind_at: int, end: int, m: re.Match[str]) -> None:
        """`Building HTTP request`, `Sending HTTP Request`, `HTTP Response: M S`, [`request_id`]: the call
        at `text[start:end]`, its first line's prefix ending at `kind_at`, from its captures (`_V3_GROUPS`)."""
        retries, p2, sending_method, p3, method, digits, p4, request_id = m.groups()[_V3_AT:]
        heads = (p3, text[start:kind_at + 2], p2, p4)
        if heads != self._heads:
            self._heads, self._heads_time = heads, _call_time(*heads)
        ts = self._heads_time
        if ts is None or self._waiting:
            self._feed_each(text[start:end])
            return
        if self._open is not None:  # (most have none: no call for it)
            self._close_open()
        attempt = _SMALL_ATTEMPTS.get(retries)
        self._attempt = _attempt(retries, self.sink) if attempt is None else attempt
        if not self._attempt:  # as `_building`: a new request's options are not the last ones seen
            self._options_path = self._model = self._stream = None
        self._sdk_logs_responses = True
        self._method, self._sending_url, self._last_call = sending_method, None, None
        status = _STATUS_OF[digits]
        if self._rows is not None and (status < 400 or self._rows.errors) and p4 is not None:
            self._add_row(ts, status, None, None)
            return
        raw, id_line = _call_text(text, start, end, p4 is not None)
        call = self._new_call(ts, method, None, status, raw)
        self._close_call(call, id_line, request_id)

    def _add_row(self, ts: float, status: int, latency: float | None, headroom) -> None:
        """`_emit` for a call handed as a row of the batch's columns: no `Call` built, its request id,
        endpoint, method and log text (which the store never reads of a successful call, nor of an
        error in a store that keeps none whole) not read, its headroom left as texts where it is sure
        to be one. (`_retrying` and `_raising` read only whether the last call
        was an error or failed: a call that is no error as none.)"""
        self._last_attempt = self._attempt
        self._attempt = 0
        if status >= 400:
            self._last_call = _ERROR_ROW
        self._rows.rows.append((ts, self._model, status, latency, headroom))

    def _close_call(self, call: Call, id_line: str | None, request_id: str | None) -> None:
        """A response's call with the `request_id` line after it (`id_line`), if any, as `_request_id` reads it."""
        if call.request_id is not None:
            self._emit(call)
            if id_line is not None:
                self.sink.skip()  # the id is already known from the response's headers
        elif id_line is not None:
            if request_id != "None":
                call.request_id = request_id
                call.raw = f"{call.raw}\n{id_line}"
            self._emit(call)
        else:
            self._open = call  # the next line may be its `request_id`

    def _feed_careful(self, line: str, pos: int = 0) -> None:
        """A line whose first message kind (at or after `pos`, none being before it) the regex finds."""
        m = None if line[:1] in (" ", "\t") or _kind_free(line, pos) else _KIND.search(line, pos)
        if m is None:
            legacy = _LEGACY.search(line) if "OpenAI API" in line else None
            if legacy is None:
                self._close_open()
                self.sink.skip()
                _remember_skip(line)  # no message kind in it, whatever `pos` (none is before it)
            else:
                self._legacy(line, legacy)
            return
        ts, error = _time_of(line[: m.start()]) if m.start() else (None, None)
        self._message(line, m.group(1), m.end(), ts, error)

    def _message(self, line: str, kind: str, end: int, ts: float | None, error: str | None) -> None:
        """The message of kind `kind` ending at `end`; `ts` (or `error`) the time before it."""
        rest = line[end:]
        if kind == "request_id: ":
            self._request_id(line, rest)
            return
        self._close_open()
        if error is not None:
            self.sink.unparsed(error, line)
            return
        if ts is None:
            ts = self.clock()
        _HANDLERS[kind](self, line, rest, ts)

    def flush(self) -> None:
        self._close_open()
        for _ in self._waiting:
            self.sink.skip()  # never claimed by an SDK response: another client's request
        self._waiting = []

    # -- messages ------------------------------------------------------------

    def _options(self, line: str, rest: str, ts: float) -> None:
        self._method, self._options_path, self._model, self._stream = scan_options(rest)
        self._sending_url = None
        self._last_call = None

    def _building(self, line: str, rest: str, ts: float) -> None:
        m = _BUILDING.match(rest)
        if m is None:
            self.sink.unparsed("unreadable 'Building HTTP request' line", line)
            return
        self._method = m.group(1)
        self._attempt = _attempt(m.group(2), self.sink)
        self._last_call = None
        if not self._attempt:  # a new request, whose options these SDKs do not log: not the last ones seen
            self._options_path = self._model = self._stream = self._sending_url = None

    def _sending(self, line: str, rest: str, ts: float) -> None:
        m = _SENDING.match(rest)
        if m is None:
            self.sink.unparsed("unreadable 'Sending HTTP Request' line", line)
            return
        self._sdk_logs_responses = True
        self._method = m.group(1)
        self._sending_url = m.group(2)
        self._last_call = None

    def _transport(self, line: str, rest: str, ts: float) -> None:
        m = _TRANSPORT.match(rest)
        if m is None:
            self.sink.unparsed("unreadable 'HTTP Request' line", line)
            return
        method, url, digits = m.groups()
        call = self._new_call(ts, method, url, _status(digits, self.sink), line)
        if not self._sdk_logs_responses:
            self._emit(call)
            return
        self._waiting.append((call, url))
        if len(self._waiting) > MAX_WAITING_TRANSPORT:
            del self._waiting[0]
            self.sink.skip()  # never claimed by an SDK response: another client's request

    def _response(self, line: str, rest: str, ts: float) -> None:
        m = _RESPONSE.match(rest)
        if m is None:
            self.sink.unparsed("unreadable 'HTTP Response' line", line)
            return
        self._sdk_logs_responses = True
        method, url, digits, headers, bare_digits = m.groups()
        status = _status(digits or bare_digits, self.sink)
        call = self._take_waiting(method, url, status)
        if call is None:
            call = self._new_call(ts, method, url, status, line)
        else:
            call.ts = ts
            call.raw = f"{call.raw}\n{line}"
            if url:
                call.endpoint = _path(url)
        if headers:
            self._apply_header_text(call, headers)
        if call.request_id is None:
            self._open = call
        else:
            self._emit(call)

    def _request_id(self, line: str, rest: str) -> None:
        call, self._open = self._open, None
        if call is None:
            self.sink.skip()  # the id is already known from the response's headers
            return
        m = _REQUEST_ID.match(rest)
        if m and m.group(1) != "None":
            call.request_id = m.group(1)
            call.raw = f"{call.raw}\n{line}"
        self._emit(call)

    def _retrying(self, line: str, rest: str, ts: float) -> None:
        m = _RETRY.match(rest)
        if m is None:
            self.sink.unparsed("unreadable 'Retrying request' line", line)
            return
        if self._last_call is None or not self._last_call.is_error:
            # Nothing logged this attempt's failure (info level): it got no answer.
            self._emit(self._failed_call(ts, "transport", None, line, path=m.group(1)))
        self._attempt = _attempt(m.group(3), self.sink) if m.group(3) else self._last_attempt + 1
        self._last_call = None

    def _encountered(self, line: str, rest: str, ts: float) -> None:
        m = _ENCOUNTERED.match(rest)
        if m is None:
            self.sink.skip()  # `Encountered httpx.HTTPStatusError`: the response line counted it
            _remember_skip(line)  # (wherever its message is found, its kind is this one: `_message`)
            return
        if m.group("timeout"):
            self._emit(self._failed_call(ts, "timeout", m.group("texc"), line))
        else:
            self._emit(self._failed_call(ts, "connection", m.group("cexc"), line))

    def _raising_timeout(self, line: str, rest: str, ts: float) -> None:
        self._raising("timeout", line, ts)

    def _raising_connection(self, line: str, rest: str, ts: float) -> None:
        self._raising("connection", line, ts)

    def _raising(self, kind: str, line: str, ts: float) -> None:
        if self._last_call is not None and self._last_call.failed:
            return  # the `Encountered ...` line before it already made the failed call
        self._emit(self._failed_call(ts, kind, None, line))

    def _legacy(self, line: str, m: re.Match[str]) -> None:
        fields = _logfmt(line)
        message = m.group(1)
        if message == "OpenAI API error received":
            self._legacy_error(line, fields)
            return
        self._close_open()
        if message == "Request to OpenAI API":
            self._method = (fields.get("method") or "").upper() or None
            self._sending_url = fields.get("path")
            self._last_call = None
            return
        status = _number(fields.get("response_code"), int)
        if status is None:
            self.sink.unparsed("legacy 'OpenAI API response' line without a response_code", line)
            return
        try:
            ts = parse_time(line[: m.start()]) or self.clock()
        except values.Unusable as exc:
            self.sink.unparsed(str(exc), line)
            return
        status = values.status(status, "response_code", self.sink)
        call = self._new_call(ts, self._method, fields.get("path"), status, line)
        call.latency_ms = _latency(fields.get("processing_ms"), "processing_ms", self.sink)
        call.request_id = fields.get("request_id")
        self._open = call  # an `OpenAI API error received` line may follow

    def _legacy_error(self, line: str, fields: dict[str, str | None]) -> None:
        call, self._open = self._open, None
        if call is None:
            self.sink.skip()
            return
        call.error_code = fields.get("error_code")
        call.error_type = fields.get("error_type")
        call.error_message = fields.get("error_message")
        call.raw = f"{call.raw}\n{line}"
        self._emit(call)

    # -- building calls ------------------------------------------------------

    def _new_call(self, ts: float, method: str | None, url: str | None, status: int | None, line: str) -> Call:
        return Call(
            ts=ts,
            source=self.source,
            provider=PROVIDER,
            endpoint=_path(url) or _path(self._sending_url) or self._options_path,
            method=method,
            model=self._model,
            status=status,
            stream=self._stream,
            raw=line,
        )

    def _failed_call(self, ts: float, kind: str, exc_name: str | None, line: str, path: str | None = None) -> Call:
        call = self._new_call(ts, self._method, self._sending_url or path, None, line)
        call.failed = True
        call.error_type = kind
        call.error_message = exc_name
        return call

    def _apply_header_text(self, call: Call, text: str) -> None:
        """The used headers of a `Headers(...)` repr: only those captured when it is plain, else all read."""
        m = _HEADER_FIELDS.fullmatch(text)
        if m is None:
            self._apply_headers(call, parse_headers(text))
        else:
            self._apply_header_fields(call, *m.groups())

    def _apply_header_fields(self, call: Call, request_id: str | None, limit_requests: str | None,
                             limit_tokens: str | None, remaining_requests: str | None, remaining_tokens: str | None,
                             reset_requests: str | None, reset_tokens: str | None,
                             processing_ms: str | None) -> None:
        """The values of `HEADERS_USED` (None: not sent), in that order, as captured from a plain repr."""
        call.request_id = request_id or call.request_id
        call.latency_ms = _latency(processing_ms, "openai-processing-ms", self.sink)
        call.ratelimit = _headroom_of(limit_requests, remaining_requests, limit_tokens, remaining_tokens,
                                      reset_requests, reset_tokens)

    def _apply_headers(self, call: Call, headers: dict[str, str]) -> None:
        call.request_id = headers.get("x-request-id") or call.request_id
        call.latency_ms = _latency(headers.get("openai-processing-ms"), "openai-processing-ms", self.sink)
        call.ratelimit = _headroom(headers)

    def _take_waiting(self, method: str, url: str | None, status: int) -> Call | None:
        for i, (call, t_url) in enumerate(self._waiting):
            if call.method == method and call.status == status and (url is None or url == t_url):
                del self._waiting[i]
                return call
        return None

    def _close_open(self) -> None:
        if self._open is not None:
            call, self._open = self._open, None
            self._emit(call)

    def _emit(self, call: Call) -> None:
        call.attempt = self._attempt
        self._last_attempt = self._attempt
        self._attempt = 0
        self._last_call = call
        if self._rows is None:
            self.sink.call(call)
        else:
            self._rows.add_call(call)


# Lines seen to be skips whatever the parser's state: no message kind (nor a legacy one) in them, or
# an `Encountered` message that is no failure. The lines around calls (traceback lines, `2 retries
# left` of one second) repeat word for word; `_feed_each` skips them on sight.
_SKIPPED_LINES: set[str] = set()
_SKIPPED_KEPT = 4096


def _remember_skip(line: str) -> None:
    if len(line) <= MAX_REMEMBERED_LINE:
        if len(_SKIPPED_LINES) >= _SKIPPED_KEPT:
            _SKIPPED_LINES.clear()
        _SKIPPED_LINES.add(line)


@lru_cache(maxsize=1024)
def _time_of(prefix: str) -> tuple[float | None, str | None]:
    """(time, None) of the text before a message, or (None, why) when its stamp is no time.

    Lines of one second share their prefix but for the logger's line number:
    each distinct one is read once.
    """
    try:
        return parse_time(prefix), None
    except values.Unusable as exc:
        return None, str(exc)


def _kind_free(line: str, pos: int) -> bool:
    """Whether a short line (or message from `pos`) surely holds no message kind, the answer kept per text.

    The lines around a call's (`2 retries left`, `Retrying due to status code
    429`, traceback lines) repeat word for word. From `pos`, which follows a
    space, the regex finds in `line[pos:]` what it finds in `line` from `pos`.
    """
    return len(line) - pos <= MAX_REMEMBERED_LINE and _kind_free_text(line[pos:] if pos else line)


@lru_cache(maxsize=4096)
def _kind_free_text(text: str) -> bool:
    return _KIND.search(text) is None


@lru_cache(maxsize=1024)
def _head(prefix: str) -> tuple[bool, float | None, str | None]:
    """Whether `prefix` holds no message kind (the regex would look past it), and its `_time_of`.

    Each logging call's line of each second has a prefix of its own, so most
    are new: one of the logging module's default layout, `[YYYY-MM-DD HH:MM:SS
    - logger:lineno - LEVEL] `, is read as its stamp and the rest, each seen
    before: no message kind starts in `[` and a stamp, and ` - ` after the
    stamp leaves `_TS` no fraction or zone to read.
    """
    if prefix[20:23] == " - " and prefix[:1] == "[":
        stamp = _plain_stamp(prefix[1:20])
        if stamp is not None:
            return (_kind_free_text(prefix[20:]), *stamp)
    return (_KIND.search(prefix) is None, *_time_of(prefix))


_PLAIN_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")  # `_TS` without its optional parts


@lru_cache(maxsize=256)
def _plain_stamp(stamp: str) -> tuple[float | None, str | None] | None:
    """`_time_of` of a prefix that starts with `[stamp - `, None when `stamp` is no `_PLAIN_STAMP`."""
    if _PLAIN_STAMP.fullmatch(stamp) is None:
        return None
    try:
        return _stamp_epoch(stamp), None
    except values.Unusable as exc:
        return None, str(exc)


def _call_text(text: str, start: int, end: int, id_line: bool) -> tuple[str, str | None]:
    """The log text of the call at `text[start:end]` (its third line up to its response line), and its
    `request_id` line, if it has one (`id_line`): what `feed` keeps of those lines."""
    first_end = text.find("\n", start)
    response_end = text.rfind("\n", start, end) if id_line else end
    return (text[text.find("\n", first_end + 1) + 1:response_end],
            text[response_end + 1:end] if id_line else None)


@lru_cache(maxsize=1024)
def _call_time(dated: str, *prefixes: str | None) -> float | None:
    """`_line_time(dated)` where every other line's prefix of a call (None: no such line) is read
    alike too, else None: one look-up a call (its lines of one second share their prefixes)."""
    for prefix in prefixes:
        if prefix is not None and _line_time(prefix) is None:
            return None
    return _line_time(dated)


@lru_cache(maxsize=1024)
def _line_time(prefix: str) -> float | None:
    """The time of a call's line with `prefix`, where `feed` reads its message as its first characters
    say and dates it so; None for a call to read line by line (no time, or one that is no time, a kind
    in the prefix, a prefix the calls regex took over a line break, or a first line's that is no `[...] `:
    one starting with a space is no message, other prefixes are read as `feed` reads them)."""
    clean, ts, _ = _head(prefix)
    return ts if clean and prefix[:1] == "[" and "\n" not in prefix else None


# Rate-limit figures repeat from response to response (limits, resets such as `12ms`): each
# distinct text is read once.
_count = lru_cache(maxsize=4096)(parse_count)
_reset = lru_cache(maxsize=4096)(parse_reset)


def _headroom(headers: dict[str, str]) -> RateLimit | None:
    """`ratelimit_from_headers(headers)`, its figures read through the caches above."""
    get = headers.get
    return _headroom_of(get("x-ratelimit-limit-requests"), get("x-ratelimit-remaining-requests"),
                        get("x-ratelimit-limit-tokens"), get("x-ratelimit-remaining-tokens"),
                        get("x-ratelimit-reset-requests"), get("x-ratelimit-reset-tokens"))


def _headroom_of(limit_requests: str | None, remaining_requests: str | None, limit_tokens: str | None,
                 remaining_tokens: str | None, reset_requests: str | None,
                 reset_tokens: str | None) -> RateLimit | None:
    """`_headroom` of the six header texts (None: not sent)."""
    figures = (
        _count(limit_requests), _count(remaining_requests), _count(limit_tokens), _count(remaining_tokens),
        _reset(reset_requests), _reset(reset_tokens),
    )
    if figures == _NO_HEADROOM:
        return None
    return RateLimit(*figures)  # limit, remaining (requests, tokens), then the resets: the field order


_NO_HEADROOM = (None,) * 6


def _built_headroom(texts: tuple[str | None, ...]) -> RateLimit:
    return _headroom_of(*texts)


# What `_last_call` holds after an error handed as a row: only its `is_error` and `failed` are read.
_ERROR_ROW = Call(ts=0.0, status=500)


class _Rows:
    """The calls of one batch for `Sink.columns`, in log order: successful calls read from the batch
    regex's captures as rows (time, model, status, latency, headroom), the others whole at their row.

    A whole call that columns cannot hold as read (a time that is no finite
    float, a latency of -0.0) goes to `Sink.call` after the rows before it,
    as would one with tokens (this log has none). Where the store keeps no
    call whole (`Sink.bulk_failures`: a summary's), errors (an HTTP status
    of 400 or more, no error message) are rows too (`errors`), priced at 0
    as `Pricer.estimate` prices them, counted in their error groups by the
    store from the rows.
    """

    __slots__ = ("sink", "source", "rows", "whole", "errors")

    def __init__(self, sink, source: str) -> None:
        self.sink = sink
        self.source = source
        self.rows: list[tuple] = []
        self.whole: list[tuple[int, Call]] = []
        self.errors = bool(getattr(sink, "bulk_failures", False))

    def add_call(self, call: Call) -> None:
        ts, latency = call.ts, call.latency_ms
        if (type(ts) is float and math.isfinite(ts) and call.ttft_ms is None
                and (latency is None or (type(latency) is float and math.copysign(1.0, latency) > 0))
                and call.input_tokens is None and call.output_tokens is None and call.cached_tokens is None
                and call.cache_write_tokens is None):
            self.whole.append((len(self.rows), call))
            self.rows.append((ts, call.model, call.status or 0, latency, call.ratelimit))
            return
        self.hand()
        self.sink.call(call)

    def hand(self) -> None:
        """The rows collected so far to the sink as one `CallColumns`."""
        rows, whole = self.rows, self.whole
        if not rows:
            return
        self.rows, self.whole = [], []
        import numpy as np

        ts, models, status, latency, headroom = zip(*rows)
        count = len(rows)
        names = list(dict.fromkeys(models))
        model = np.fromiter(map({name: i for i, name in enumerate(names)}.__getitem__, models), np.int64, count)
        unknown = np.full(count, np.nan)
        tokens = [unknown.copy() for _ in range(4)]
        status = np.array(status, dtype=np.int64)
        cost, message, messages = unknown, None, [""]
        if self.errors:  # errors as rows: no output tokens, so they cost 0 (whole calls are priced by the sink)
            cost, message = np.where(status >= 400, 0.0, np.nan), np.zeros(count, dtype=np.int64)
            for row, _ in whole:
                cost[row] = np.nan
        failed = code = None
        codes = [""]
        if whole:
            at = [row for row, _ in whole]
            failed, code, place = np.zeros(count, dtype=bool), np.zeros(count, dtype=np.int64), {"": 0}
            failed[at] = [call.failed for _, call in whole]
            code[at] = [place.setdefault(call.error_code or "", len(place)) for _, call in whole]
            codes = list(place)
        self.sink.columns(CallColumns(
            self.source, np.array(ts, dtype=np.float64), model, names, status,
            np.array(latency, dtype=np.float64), unknown.copy(), *tokens, cost, failed, code, codes,
            np.zeros(count, dtype=np.int64), [PROVIDER], list(headroom), _built_headroom, whole, message, messages,
        ))


# -- where a reader may start ------------------------------------------------

_FIRST_BUILDING = re.compile(r"method=\S+ retries_taken=0\b")
_DEBUG_KINDS = ("Request options: ", "Building HTTP request: ", "Sending HTTP Request: ", "HTTP Response: ")


def call_starts(lines: list[str]) -> Iterator[int]:
    """Indices of the lines where a fresh parser, fed `lines` from there on, finds the calls a
    parser that read every line before finds: the first line of a request (not of a retry).

    In a debug log that is a `Request options` line (v1-v3.3), a `Building HTTP request`
    line of a first attempt (3.4+) or a legacy `Request to OpenAI API` line. In an info
    log (no SDK debug line among `lines`) each transport line (or legacy response line)
    is a call by itself, and where one starts. A `Request options` or transport line
    right after a `Retrying request` line is a retry's (whose attempt number that line
    gives), and the first message of `lines` follows an unknown one: neither is a start.
    A `Retrying` line never is (whether it is a failed call depends on the line before it).

    Lazily, in order: a debug log's first start is known from the lines before it; an
    info log's once every line is seen to hold no debug message.
    """
    debug, before = False, None
    info_starts = []
    for i, line in enumerate(lines):
        kind = _start_kind(line)
        if kind is None:
            continue
        if kind in _DEBUG_KINDS or kind == "legacy request":
            debug = True
            if (kind == "Request options: " and before is not None and before != "Retrying request "
                    or kind == "Building HTTP request: " and _FIRST_BUILDING.search(line)
                    or kind == "legacy request"):
                yield i
        elif not debug and kind in ("HTTP Request: ", "legacy response") and before is not None \
                and before != "Retrying request ":
            info_starts.append(i)
        before = kind
    if not debug:
        yield from info_starts


def _start_kind(line: str) -> str | None:
    """The message kind of a line (`_KIND`'s, or `legacy request`/`legacy response`), None for other lines."""
    if line[:1] in (" ", "\t") or _kind_free(line, 0):
        m = None
    else:
        m = _KIND.search(line)
    if m is not None:
        return m.group(1)
    legacy = _LEGACY.search(line) if "OpenAI API" in line else None
    if legacy is None:
        return None
    return _LEGACY_KINDS.get(legacy.group(1), "legacy")


_LEGACY_KINDS = {"Request to OpenAI API": "legacy request", "OpenAI API response": "legacy response"}


def call_time_of_line(line: str) -> float | None:
    """The time of the call `line` makes whatever lines come before and after it; None when not sure.

    Only a dated `HTTP Response` line is sure: it is its attempt's call,
    whether a transport line waited for it or not (`_response`), closed by
    whatever follows. The last one in a file gives a time that a store
    reading the file reaches (`parallel.newest_hint`).
    """
    m = None if line[:1] in (" ", "\t") else _KIND.search(line)
    if m is None or m.group(1) != "HTTP Response: " or not m.start():
        return None
    ts, error = _time_of(line[:m.start()])
    return ts if error is None and _RESPONSE.match(line[m.end():]) is not None else None


def time_of_line(line: str) -> float | None:
    """The time a line is stamped with (before its message), None for an undated one (a traceback's)."""
    m = None if line[:1] in (" ", "\t") else _KIND.search(line)
    try:
        return parse_time(line[: m.start()] if m is not None else line[:64])
    except values.Unusable:
        return None


_HANDLERS = {
    "Request options: ": OpenAISdkParser._options,
    "Building HTTP request: ": OpenAISdkParser._building,
    "Sending HTTP Request: ": OpenAISdkParser._sending,
    "HTTP Request: ": OpenAISdkParser._transport,
    "HTTP Response: ": OpenAISdkParser._response,
    "Retrying request ": OpenAISdkParser._retrying,
    "Encountered ": OpenAISdkParser._encountered,
    "Raising timeout error": OpenAISdkParser._raising_timeout,
    "Raising connection error": OpenAISdkParser._raising_connection,
}
_KIND_BY_HEAD = {kind[:9]: kind for kind in _HANDLERS}  # the kinds differ in their first 9 characters

PARSER = OpenAISdkParser
