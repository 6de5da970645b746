"""`jsonl`: any JSON-lines log, read through the field mapping in `[jsonl]`.

Each option of the `[jsonl]` config section (see `config.DEFAULTS`) names the
dotted path of one field: `usage.prompt_tokens` reads `{"usage":
{"prompt_tokens": 12}}`, a number steps into a list (`choices.0.x`), and a key
that itself holds dots (`"gen_ai.usage.input_tokens": 12`) is found too. An
empty path leaves the field unread. `latency_unit` is `ms` or `s`; `ts_unit`
is `s`, `ms`, `iso` or `auto`, which takes ISO 8601 text as such (UTC when it
names no zone) and a number by its size (seconds, milliseconds, micro- or
nanoseconds since the epoch).

A line is a call when the mapping finds at least its model, status or
latency; other JSON objects and non-JSON lines are skipped, and a line that
starts like a JSON object but does not decode is unparsed. `status` may be an
HTTP code (number or digits) or a word: `error`, `failure`, `failed` mark the
call failed. A call with no status but an error code or message is failed too.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from apimon_tui.core.config import DEFAULTS
from apimon_tui.formats import values
from apimon_tui.formats.column_batches import ColumnBatches
from apimon_tui.formats.base import DOUBTING, Doubt, Parser, Sink, json_object, quick_loads
from apimon_tui.formats.values import MAX_COST_USD, MAX_MS
from apimon_tui.core.model import Call

NAME = "jsonl"

FIELDS = ("ts", "model", "status", "latency", "endpoint", "provider", "input_tokens", "output_tokens",
          "cost_usd", "request_id", "error_code", "error_message")
FAILED_WORDS = frozenset({"error", "failure", "failed", "fail"})
OK_WORDS = frozenset({"ok", "success", "succeeded", "completed"})
_MISSING = object()
_PLAIN_MESSAGES = (str, type(None))


def _path(spec: str) -> tuple[str, ...]:
    return tuple(spec.split(".")) if spec else ()


def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path, or None; whole dotted keys are tried before stepping in."""
    if not path:
        return None
    for cut in range(len(path), 0, -1):
        key = ".".join(path[:cut])
        if isinstance(obj, dict):
            value = obj.get(key, _MISSING)
        elif isinstance(obj, list) and cut == 1 and key.isdigit() and int(key) < len(obj):
            value = obj[int(key)]
        else:
            value = _MISSING
        if value is not _MISSING:
            return value if cut == len(path) else lookup(value, path[cut:])
    return None


Plan = tuple[tuple[str, "Plan | None", bool], ...]


def plan(path: tuple[str, ...]) -> Plan:
    """`path` made ready for `find`: the keys `lookup` tries, in its order, joined once.

    Each step is (key, the plan of the rest of the path or None at its end, whether the key
    is the path's first part alone, which may also index a list)."""
    return tuple((".".join(path[:cut]), plan(path[cut:]) if cut < len(path) else None, cut == 1)
                 for cut in range(len(path), 0, -1))


def find(obj: Any, steps: Plan) -> Any:
    """`lookup(obj, path)` for a path made ready by `plan`: the same value, for less work a line."""
    for key, rest, first in steps:
        if isinstance(obj, dict):
            value = obj.get(key, _MISSING)
        elif first and isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            value = obj[int(key)]
        else:
            continue
        if value is not _MISSING:
            return value if rest is None else find(value, rest)
    return None


_SNIFF_MODEL = _path(DEFAULTS["jsonl"]["model"])
_SNIFF_STATUS = _path(DEFAULTS["jsonl"]["status"])
_SNIFF_LATENCY = _path(DEFAULTS["jsonl"]["latency"])


def sniff(line: str) -> bool:
    """A JSON object with the default mapping's model and status (or latency)."""
    if not line.startswith("{"):
        return False
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return (isinstance(obj, dict) and lookup(obj, _SNIFF_MODEL) is not None
            and (lookup(obj, _SNIFF_STATUS) is not None or lookup(obj, _SNIFF_LATENCY) is not None))


def epoch_seconds(value: Any, unit: str = "auto") -> float:
    """A timestamp as epoch seconds; raises ValueError when it is not one."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"bad timestamp {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            if unit in ("s", "ms"):
                raise ValueError(f"bad timestamp {value!r} (ts_unit = {unit!r})") from None
            return _iso(text)
    elif isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"bad timestamp {values.shown(value)}") from None
    else:
        raise ValueError(f"bad timestamp {value!r}")
    if unit == "iso":
        raise ValueError(f"bad timestamp {value!r} (ts_unit = 'iso')")
    if unit == "ms":
        return number / 1e3
    if unit == "s":
        return number
    magnitude = abs(number)
    if magnitude >= 1e17:
        return number / 1e9
    if magnitude >= 1e14:
        return number / 1e6
    if magnitude >= 1e11:
        return number / 1e3
    return number


def _iso(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad timestamp {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise ValueError(f"bad timestamp {text!r}") from None


def _numeric(value: Any) -> Any:
    """A number quoted as text (some loggers quote numbers) as a float; any other value as it is."""
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return value
    return value


def _status(value: Any, sink: Sink) -> tuple[int | None, bool]:
    """(HTTP status, failed) from a status field: a code, or a word like `failure`."""
    if value is None or value == "":
        return None, False
    if isinstance(value, str):
        text = value.strip().lower()
        if text in FAILED_WORDS:
            return None, True
        if text in OK_WORDS:
            return None, False
    return values.status(_numeric(value), "status", sink), False


def _name(value: Any, field: str, sink: Sink) -> str | None:
    """A name (model, provider, endpoint): a string."""
    return values.text(None if value == "" else value, field, sink)


def _identifier(value: Any, field: str, sink: Sink) -> str | None:
    return values.identifier(None if value == "" else value, field, sink)


def _message(value: Any, sink: Sink) -> str | None:
    """An error message: a string, or a structured error written as JSON."""
    if value is None or value == "" or type(value) is str:
        return value or None
    try:
        return json.dumps(value)
    except (RecursionError, ValueError):
        sink.bad_value("error_message", value)
        return None


class JsonlParser(ColumnBatches, Parser):
    COLUMNS = "jsonl_columns"
    name = NAME

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mapping = {**DEFAULTS["jsonl"], **self.options}
        paths = self.mapping = {field: _path(str(mapping.get(field) or "")) for field in FIELDS}
        # A one-key path is a plain `get` on the line's object; the others go through `find`.
        self.keys = [(field, path[0]) for field, path in paths.items() if len(path) == 1]
        self.paths = [(field, plan(path)) for field, path in paths.items() if len(path) != 1]
        self.ts_unit = mapping["ts_unit"] if mapping["ts_unit"] in ("auto", "s", "ms", "iso") else "auto"
        self.latency_scale = 1000.0 if mapping["latency_unit"] == "s" else 1.0

    def feed(self, line: str) -> None:
        call = self.call_of(line)
        if call is not None:
            self.sink.call(call)

    def call_of(self, line: str) -> Call | None:
        """The line's call, or None once the sink is told why there is none."""
        if line.startswith("{"):
            obj = quick_loads(line)
            if type(obj) is dict:
                values = self._values(obj)
                if values["model"] is None and values["status"] is None and values["latency"] is None:
                    self.sink.skip()
                    return None
                if type(values["error_message"]) in _PLAIN_MESSAGES:  # (a structured one is written back as JSON)
                    try:
                        return self._call(values, line, DOUBTING)
                    except (Doubt, ValueError):
                        pass  # the careful path below reports it
        return self._call_carefully(line)

    def _call_carefully(self, line: str) -> Call | None:
        obj = json_object(line, self.sink)
        if obj is None:
            return None
        values = self._values(obj)
        if values["model"] is None and values["status"] is None and values["latency"] is None:
            self.sink.skip()
            return None
        try:
            return self._call(values, line, self.sink)
        except ValueError as exc:
            self.sink.unparsed(str(exc), line)
            return None

    def _values(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Each field's value in a line's object, as `lookup` finds it by its path."""
        get = obj.get
        values = {field: get(key) for field, key in self.keys}
        for field, steps in self.paths:
            values[field] = find(obj, steps)
        return values

    def _call(self, v: dict[str, Any], line: str, sink: Sink) -> Call:
        ts = self.clock() if v["ts"] is None else values.checked_ts(epoch_seconds(v["ts"], self.ts_unit))
        status, failed = _status(v["status"], sink)
        error_code, error_message = _identifier(v["error_code"], "error_code", sink), _message(v["error_message"], sink)
        if status is None and (error_code or error_message):
            failed = True
        latency = values.measure(_numeric(v["latency"]), "latency", sink, MAX_MS / self.latency_scale)
        # Read in this order (the order bad values are reported in), then built by position:
        # keywords cost a microsecond a call.
        provider = _name(v["provider"], "provider", sink)
        endpoint = _name(v["endpoint"], "endpoint", sink)
        model = _name(v["model"], "model", sink)
        input_tokens = values.count(_numeric(v["input_tokens"]), "input_tokens", sink)
        output_tokens = values.count(_numeric(v["output_tokens"]), "output_tokens", sink)
        cost = values.measure(_numeric(v["cost_usd"]), "cost_usd", sink, MAX_COST_USD)
        request_id = _identifier(v["request_id"], "request_id", sink)
        return Call(ts, self.source, provider, endpoint, None, model, status,
                    None if latency is None else latency * self.latency_scale, None, input_tokens, output_tokens,
                    None, cost, request_id, None, error_code, error_message, failed, None, None, 0, None, None, line)


PARSER = JsonlParser
