"""`litellm`: LiteLLM StandardLoggingPayload records, one call each.

Two shapes (reference: formats.md section 4): one JSON object per line, or the
pretty-printed objects `LITELLM_PRINT_STANDARD_LOGGING_PAYLOAD` prints
(`json.dumps(payload, indent=4)`: `{` alone on a line, then indented lines,
then `}`), reassembled here across lines. Containers merge stdout and stderr
line by line, so plain-text lines (warnings, the app's own prints) can fall in
the middle of an object: while an object is open, only lines shaped like
pretty-printed JSON belong to it; any other line is skipped and the object
goes on. Brace depth is counted outside JSON strings (a JSON string never
spans lines, so each line is scanned alone; a pretty-printed line holds at
most one bracket, which the line-shape regex finds).

Broken input never swallows what follows: a line that starts with `{` at
column 0 and does not close on itself always starts a new object (nested
objects are indented), so an unterminated object is reported unparsed there
(a complete one-line object there is read on its own, leaving the open object
be); an object over `MAX_OBJECT_CHARS` is
reported unparsed and its remaining lines are dropped; invalid JSON is
unparsed with the decoder's reason.

Fields: `endTime` dates the call (`startTime` if absent); times are epoch
seconds or date strings (`"2025-01-24 09:20:46.847371"`, UTC unless zoned).
latency = endTime - startTime (for non-streams this equals `response_time`);
for streams `response_time` is the time to first token, so ttft =
completionStartTime - startTime. Cost is `response_cost`; tokens are
`prompt_tokens`/`completion_tokens`, cached tokens from the usage object's
`prompt_tokens_details`; headroom from `hidden_params.additional_headers`;
provider `custom_llm_provider`; endpoint is LiteLLM's `call_type`
(`completion`, `aembedding`, ...). A success is status 200; a failure takes
its status from a numeric `error_information.error_code` and is marked failed
when there is none.

Line accounting: the lines of a record report nothing until the record is
complete, then one `call()`; a broken object is one `unparsed()`; a JSON
object that is not a payload is one `skip()` per line, as is every line
outside an object and every foreign line inside one.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from apimon_tui.formats import values
from apimon_tui.formats.base import DOUBTING, Doubt, Parser, Sink, quick_loads
from apimon_tui.formats.values import MAX_COST_USD, MAX_MS, MAX_STATUS, MIN_STATUS
from apimon_tui.formats.ratelimit import parse_count, parse_reset
from apimon_tui.core.model import Call, RateLimit

NAME = "litellm"
MAX_OBJECT_CHARS = 4 * 1024 * 1024
MAX_RAW_CHARS = 4096

_SNIFF = re.compile(
    r'"(?:litellm_call_id|model_map_information|response_cost_failure_debug_info|standard_built_in_tools_params)"\s*:'
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# One stripped line of `json.dumps(indent=N)` output: [key:] [one value or one bracket] [,]
_PRETTY_LINE = re.compile(
    r'(?:"(?:[^"\\]|\\.)*"\s*:\s*)?'
    r'(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|NaN|-?Infinity'
    r"|\{\}|\[\]|(?P<open>[\[{])|(?P<close>[\]}]))?,?"
)


SHAPES_KEPT = 50_000  # lines whose shape `LiteLLMParser.feed_many` keeps (a few MB)
_FOREIGN = "foreign"


def _bracket(line: str) -> str:
    """What a line inside an object is: `_FOREIGN` (not pretty-printed JSON), or a pretty-printed
    line that opens or closes a bracket ("open", "close") or neither ("")."""
    stripped = line.strip()
    shape = _PRETTY_LINE.fullmatch(stripped) if stripped else None
    if shape is None:
        return _FOREIGN
    return shape.lastgroup or ""  # (at most one of the two groups matches)


def sniff(line: str) -> bool:
    if _SNIFF.search(line):
        return True
    return line.startswith("{") and '"call_type"' in line and '"response_cost"' in line


def _depth_change(line: str) -> int:
    bare = _STRING.sub("", line) if '"' in line else line
    return bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")


def parse_time(value: Any) -> float | None:
    """Epoch seconds from an epoch number or a date string (UTC unless zoned); None when unreadable."""
    if type(value) in (int, float):
        try:
            return float(value)
        except OverflowError:
            return None
    if type(value) is not str:
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


_PRETTY_END_TIME = '    "endTime": '  # a pretty-printed payload's own `endTime` (nested keys are indented deeper)


def time_of_line(line: str) -> float | None:
    """The time on a pretty-printed payload's `endTime` line (the time that dates its call), else None."""
    if not line.startswith(_PRETTY_END_TIME):
        return None
    text = line[len(_PRETTY_END_TIME):].rstrip().removesuffix(",")
    try:
        seconds = parse_time(json.loads(text))
    except (ValueError, RecursionError):
        return None
    return seconds if values.usable_ts(seconds) else None


def call_starts(lines: list[str]) -> Iterator[int]:
    """Indices of the lines where a fresh parser, fed `lines` from there on, finds the calls a
    parser that read every line before finds, in order.

    Among pretty-printed payloads that is the `{` alone at column 0 that opens one
    (it ends any object left open; a foreign line at column 0 may be inside one).
    In a log of one-line payloads (no indented JSON line), every line.
    """
    pretty = False
    for i, line in enumerate(lines):
        if line.rstrip() == "{":
            pretty = True
            yield i
        elif not pretty and line[:1] in (" ", "\t") and line.lstrip()[:1] in ('"', "}", "]"):
            pretty = True
    if not pretty:
        yield from range(len(lines))


def _time(obj: dict[str, Any], key: str) -> tuple[float | None, bool]:
    """(epoch seconds, whether usable) of a time field; absent is (None, usable).

    An epoch float, what LiteLLM writes, is checked here (`parse_time` gives it back as it is).
    """
    value = obj.get(key)
    if value is None:
        return None, True
    if type(value) is float:
        return (value, True) if values.MIN_TS <= value <= values.MAX_TS else (None, False)
    seconds = parse_time(value)
    return (seconds, True) if values.usable_ts(seconds) else (None, False)


def _whole(value: Any) -> int | None:
    """An error code as a whole number (`429`, `"429"`), else None."""
    if type(value) is str and value.isdecimal() and len(value) < 10:
        return int(value)
    return value if type(value) is int else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_payload(obj: Any) -> bool:
    return isinstance(obj, dict) and "model" in obj and ("startTime" in obj or "endTime" in obj)


def _usages(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The usage objects a payload may carry, in the order they are read: LiteLLM's own, its
    hidden copy, the provider's response's."""
    return (_dict(_dict(obj.get("metadata")).get("usage_object")),
            _dict(_dict(obj.get("hidden_params")).get("usage_object")),
            _dict(_dict(obj.get("response")).get("usage")))


def _cache_figures(usages: tuple[dict[str, Any], ...]) -> tuple[Any, Any, Any]:
    """The cached tokens, the cache writes and their 1-hour part as written (unchecked), each from the first
    usage object that has it (the 1-hour part from the one with the writes); all None when none has any.

    One pass: most payloads have none (each usage object looked at once, not once per figure).
    """
    cached = written = in_1h = None
    for usage in usages:
        if not usage:
            continue
        details = _dict(usage.get("prompt_tokens_details"))
        if cached is None:
            cached = details.get("cached_tokens")
        if written is None:
            for written in (details.get("cache_creation_tokens"), details.get("cache_write_tokens"),
                            usage.get("cache_creation_input_tokens")):
                if written is not None:
                    in_1h = _dict(details.get("cache_creation_token_details")).get("ephemeral_1h_input_tokens")
                    break
        if cached is not None and written is not None:
            break
    return cached, written, in_1h


# Each `RateLimit` field in order: how it is read, LiteLLM's own key, then its copy of the provider's header.
_HEADROOM_KEYS = tuple(
    (parse_reset if field.startswith("reset") else parse_count, f"x_ratelimit_{suffix.replace('-', '_')}",
     f"llm_provider-x-ratelimit-{suffix}")
    for field, suffix in (("limit_requests", "limit-requests"), ("remaining_requests", "remaining-requests"),
                          ("limit_tokens", "limit-tokens"), ("remaining_tokens", "remaining-tokens"),
                          ("reset_requests_s", "reset-requests"), ("reset_tokens_s", "reset-tokens"))
)
_NO_HEADROOM = [None] * len(_HEADROOM_KEYS)
HEADER_SETS_KEPT = 256  # sets of header names whose plan is kept
# A headers dict's keys -> for each `RateLimit` field, how it is read and the keys (as spelt there) of
# LiteLLM's figure and of the provider's copy, None where absent.
_plans: dict[tuple[str, ...], tuple[tuple[Any, Any, Any], ...]] = {}


def _plan(names: tuple[str, ...]) -> tuple[tuple[Any, Any, Any], ...]:
    """Where each field is read among `names` (keys in any case: the last spelling of a lower-case name wins)."""
    spelling = {str(k).lower(): k for k in names}
    return tuple((read, spelling.get(own), spelling.get(copy)) for read, own, copy in _HEADROOM_KEYS)


def _ratelimit(obj: dict[str, Any]) -> RateLimit | None:
    """The headroom in `hidden_params.additional_headers` (keys in any case): LiteLLM's `x_ratelimit_*`
    figures, each missing one taken from its `llm_provider-x-ratelimit-*` copy.

    A proxy sends the same header names call after call: which key holds each figure is worked
    out once per set of names, not by lowering every key of every call.
    """
    headers = _dict(_dict(obj.get("hidden_params")).get("additional_headers"))
    if not headers:
        return None
    names = tuple(headers)
    plan = _plans.get(names)
    if plan is None:
        if len(_plans) >= HEADER_SETS_KEPT:
            _plans.clear()
        plan = _plans[names] = _plan(names)
    figures = []
    for read, own, copy in plan:
        figure = None if own is None else read(headers[own])
        if figure is None and copy is not None:
            figure = read(headers[copy])
        figures.append(figure)
    return None if figures == _NO_HEADROOM else RateLimit(*figures)


def to_call(obj: dict[str, Any], source: str, text: str, sink: Sink = values.QUIET) -> Call:
    """The call a payload describes; raises ValueError when it has no usable time.

    Any other value it cannot use is unknown in the call and reported to `sink`.
    """
    start, start_ok = _time(obj, "startTime")
    end, end_ok = _time(obj, "endTime")
    ts = end if end is not None else start
    if ts is None:
        raise values.Unusable("no readable startTime/endTime")
    first, first_ok = _time(obj, "completionStartTime")
    for key, ok in (("startTime", start_ok), ("endTime", end_ok), ("completionStartTime", first_ok)):
        if not ok:
            sink.bad_value(key, obj.get(key))
    stream = obj.get("stream")
    if stream is not None and type(stream) is not bool:
        sink.bad_value("stream", stream)
        stream = None
    latency = None
    if start is not None and end is not None:
        latency = values.measure((end - start) * 1000.0, "latency_ms", sink, MAX_MS)
    ttft = None
    if stream and start is not None and first is not None:
        ttft = values.measure((first - start) * 1000.0, "ttft_ms", sink, MAX_MS)
    cached, written, written_1h = _cache_figures(_usages(obj))
    call = Call(
        ts=ts,
        source=source,
        provider=values.text(obj.get("custom_llm_provider") or None, "custom_llm_provider", sink),
        endpoint=values.text(obj.get("call_type") or None, "call_type", sink),
        model=values.text(obj.get("model") or None, "model", sink),
        latency_ms=latency,
        ttft_ms=ttft,
        input_tokens=values.count(obj.get("prompt_tokens"), "prompt_tokens", sink),
        output_tokens=values.count(obj.get("completion_tokens"), "completion_tokens", sink),
        cached_tokens=values.count(cached, "cached_tokens", sink),
        cost_usd=values.measure(obj.get("response_cost"), "response_cost", sink, MAX_COST_USD),
        request_id=values.identifier(obj.get("id") or obj.get("litellm_call_id") or None, "id", sink),
        stream=stream,
        ratelimit=_ratelimit(obj),
    )
    if written is not None:  # (the 1-hour part is read only with the writes it is part of)
        call.cache_write_tokens = values.count(written, "cache_write_tokens", sink)
        call.cache_write_1h_tokens = values.count(written_1h, "cache_write_1h_tokens", sink)
    if obj.get("status") == "failure":
        info = _dict(obj.get("error_information"))
        code = info.get("error_code")
        status = _whole(code)
        call.status = status if status is not None and MIN_STATUS <= status <= MAX_STATUS else None
        call.failed = call.status is None or call.status < 400
        call.error_code = values.identifier(code if code != "" else None, "error_information.error_code", sink)
        call.error_type = values.text(info.get("error_class") or None, "error_information.error_class", sink)
        message = obj.get("error_str") or info.get("error_message") or None
        call.error_message = values.text(message, "error_str", sink)
        call.raw = text[:MAX_RAW_CHARS]
    else:
        call.status = 200
    return call


MAP_KEY = "model_map_information"
_MAP_AT = f'"{MAP_KEY}": '
MAPS_KEPT = 16
_DECODER = json.JSONDecoder()
LEARN_PAUSE = 1000  # payloads decoded whole after a model map could not be learnt from one
MAP_WORTH_CHARS = 256  # a shorter map (`null`, an unpriced model's) is decoded with its payload: not learnt
# What stands in for a known model map while the rest of a payload is decoded: a string no log
# can hold but by a 1 in 2**128 chance, as it is drawn at random when the monitor starts.
_CUT_MARK = f"apimon-cut-{secrets.token_hex(16)}"
_CUT_TEXT = f'"{_CUT_MARK}"'


class ModelMaps:
    """Decodes payloads without decoding again a model map seen before.

    `model_map_information` (LiteLLM's price-table entry for the model: some
    9 KB and 450 values in 1.110.2, half of what decoding a payload costs) is
    the same in every call to a model, and nothing here reads it. Once a
    map's text has been decoded on its own, a payload holding that text right
    after the key is decoded with a random mark in its place, and the map's
    value put back. The result is what decoding the whole text gives, by
    construction rather than by the payload's key order: the map's text is one
    complete JSON value (orjson decoded it alone), and the mark came back as the
    payload's top-level `model_map_information`, so the cut replaced exactly
    that value (a cut elsewhere, or a later duplicate key, would not return the
    mark). Anything else is decoded whole, as before.

    A map not known yet is learnt from the payload that brings it: `json`
    finds where its value ends (`raw_decode`, once per map), and the proof
    above confirms the cut (where it does not, the payload is decoded whole,
    and learning is tried again after `LEARN_PAUSE` payloads).
    """

    __slots__ = ("_known", "_learn_after", "_at")

    def __init__(self) -> None:
        self._known: list[tuple[str, Any, int]] = []  # (map text, its value, its brackets), newest first
        self._learn_after = 0
        self._at = 0  # where the last payload's map key was: a proxy's payloads often have it at the same place

    def loads(self, text: str) -> Any:
        """`quick_loads(text)`, for less when the payload's model map is a known one.

        The map's key is looked for where the last payload had it before it is searched for (the
        proof of the cut holds wherever the key is found).
        """
        at = self._at if text.startswith(_MAP_AT, self._at) else text.find(_MAP_AT)
        if at < 0:
            return quick_loads(text)
        self._at = at
        at += len(_MAP_AT)
        for known in self._known:
            if text.startswith(known[0], at):
                obj = _decode_around(text, at, known)
                return obj if obj is not None else quick_loads(text)
        return self._learn(text, at)

    def _learn(self, text: str, at: int) -> Any:
        if self._learn_after:
            self._learn_after -= 1
            return quick_loads(text)
        try:
            end = _DECODER.raw_decode(text, at)[1]
        except (ValueError, RecursionError):
            end = at
        if end - at < MAP_WORTH_CHARS:
            return quick_loads(text)
        map_text = text[at:end]
        value = quick_loads(map_text)
        known = (map_text, value, map_text.count("[") + map_text.count("{"))
        obj = _decode_around(text, at, known) if value is not None else None
        if obj is None:
            self._learn_after = LEARN_PAUSE
            return quick_loads(text)
        self._known.insert(0, known)
        del self._known[MAPS_KEPT:]
        return obj


def _decode_around(text: str, at: int, known: tuple[str, Any, int]) -> dict[str, Any] | None:
    """The payload `text` decoded with the map `known`, whose text starts at `at`, cut out and put back as
    its value; None unless the cut is proven to have taken out the top-level map's value (see `ModelMaps`)."""
    map_text, value, brackets = known
    obj = quick_loads(f"{text[:at]}{_CUT_TEXT}{text[at + len(map_text):]}", brackets)
    if type(obj) is dict and obj.get(MAP_KEY) == _CUT_MARK:
        obj[MAP_KEY] = value  # shared by the payloads with this map: nothing reads it
        return obj
    return None


class LiteLLMParser(Parser):
    name = NAME

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lines: list[str] | None = None  # the open object's lines (None: no object open)
        self._depth = 0
        self._chars = 0
        self._dropping = False  # the open object overflowed: its lines are dropped
        self._shapes: dict[str, str] = {}  # line -> `_bracket(line)`, for `feed_many`
        self._maps = ModelMaps()

    def feed(self, line: str) -> None:
        if line.startswith("{"):
            obj = self._maps.loads(line)
            # A line that decodes is a one-line object (its brackets balance: no need to count
            # them outside its strings, which takes longer than decoding it).
            change = 0 if obj is not None else _depth_change(line)
            if change <= 0:
                self._complete([line], obj)  # a one-line object; an open object goes on around it
                return
            if self._lines is not None:
                self._broken("unterminated JSON object (a new record started)")
            self._open(line, change)
            return
        if self._lines is None and not self._dropping:
            if line.lstrip().startswith("{"):
                self._open(line, _depth_change(line))
            else:
                self.sink.skip()
            return
        bracket = _bracket(line)
        if bracket is _FOREIGN:
            self.sink.skip()  # a foreign line (stderr, an app's print) inside the object
            return
        if bracket:  # a pretty-printed line holds at most one bracket, outside any string
            self._depth += 1 if bracket == "open" else -1
        if self._dropping:
            self._dropping = self._depth > 0
            return
        self._lines.append(line)
        self._chars += len(line) + 1
        if self._depth <= 0:
            lines, self._lines = self._lines, None
            self._complete(lines)
        elif self._chars > MAX_OBJECT_CHARS:
            self._overflow()

    def _overflow(self) -> None:
        depth = self._depth
        self._broken(f"JSON object longer than {MAX_OBJECT_CHARS:,} characters")
        self._depth, self._dropping = depth, True  # drop its lines up to its closing brace

    def feed_many(self, lines: list[str]) -> None:
        """`feed` for each line, with the lines inside an open object inlined: a pretty-printed
        payload is some 400 lines, one call, and most of them are the same in every payload
        (the model's price fields, the metadata's nulls), so each line's shape is kept."""
        feed, skip, shapes = self.feed, self.sink.skip, self._shapes
        for line in lines:
            body = self._lines
            if body is None or self._dropping or line.startswith("{"):
                feed(line)
                continue
            bracket = shapes.get(line)
            if bracket is None:
                if len(shapes) >= SHAPES_KEPT:
                    shapes.clear()
                bracket = shapes[line] = _bracket(line)
            if bracket is _FOREIGN:
                skip()  # a foreign line (stderr, an app's print) inside the object
                continue
            if bracket:
                self._depth += 1 if bracket == "open" else -1
            body.append(line)
            self._chars += len(line) + 1
            if self._depth <= 0:
                self._lines = None
                self._complete(body)
            elif self._chars > MAX_OBJECT_CHARS:
                self._overflow()

    def flush(self) -> None:
        if self._lines is not None:
            self._broken("unterminated JSON object at end of input")
        self._dropping = False

    def _open(self, line: str, depth: int) -> None:
        if depth <= 0:
            self._complete([line])
            return
        self._lines = [line]
        self._chars = len(line) + 1
        self._depth = depth
        self._dropping = False

    def _broken(self, reason: str) -> None:
        lines, self._lines = self._lines, None
        self._depth = 0
        self.sink.unparsed(reason, "\n".join(lines[:20]))

    def _complete(self, lines: list[str], obj: Any = None) -> None:
        """Report the object of `lines` (`obj`: orjson's reading of it, when already made)."""
        text = "\n".join(lines)
        if obj is None:
            obj = self._maps.loads(text)
        if obj is not None:
            if not is_payload(obj):
                for _ in lines:
                    self.sink.skip()
                return
            try:
                call = to_call(obj, self.source, text, DOUBTING)
            except (Doubt, values.Unusable):
                pass  # the careful path below reports it
            else:
                self.sink.call(call)
                return
        self._complete_carefully(lines, text)

    def _complete_carefully(self, lines: list[str], text: str) -> None:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            self.sink.unparsed(f"invalid JSON: {exc}", text)
            return
        except RecursionError:
            self.sink.unparsed("invalid JSON: nested too deep", text)
            return
        if not is_payload(obj):
            for _ in lines:
                self.sink.skip()
            return
        try:
            call = to_call(obj, self.source, text, self.sink)
        except values.Unusable as exc:
            self.sink.unparsed(f"bad LiteLLM payload: {exc}", text)
            return
        self.sink.call(call)


PARSER = LiteLLMParser
