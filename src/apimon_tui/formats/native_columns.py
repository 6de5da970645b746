"""Native records of a batch read as columns (`CallColumns`), for a sink that takes them.

A batch is read by layout from its bytes (`json_layouts`) when its layouts
cover most of it, else every line is decoded with orjson (`json_columns`);
each field the store or a check needs is taken out and checked for all lines
at once, layout by layout or shape by shape. A plain row is a successful call
whose every field `from_record` would take as it is (no value it would report
or change, no error object, no stream that ended early), or, for a store that
keeps no failed call whole (`Sink.bulk_failures`), a call failed with an HTTP
status and an error object of texts; such rows never become a `Call`. Any other row goes
through the per-line path (`NativeParser.call_of`), which reports what it
reports as always; the calls it makes come whole, in their place among the
plain ones, so the store sees every call in the order it was logged. A
batch where a call of the per-line path carries a time or a latency that
the columns cannot hold as read (an integer, -0.0) is read line by line
instead (`read` returns False), so no figure depends on the path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apimon_tui.core.model import RateLimit
from apimon_tui.formats import json_columns as jc
from apimon_tui.formats.json_layouts import table_of
from apimon_tui.formats.values import (
    MAX_ATTEMPT, MAX_COST_USD, MAX_IDENTIFIER, MAX_MS, MAX_RATELIMIT, MAX_RESET_S, MAX_STATUS, MAX_TOKENS, MAX_TS,
    MIN_STATUS, MIN_TS,
)

SHAPE_ROWS = 8  # a batch with fewer lines than this per shape is read line by line
_TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")
_NUMBERS = (
    ("ts", frozenset({float}), MIN_TS, MAX_TS),
    ("status", jc.INT_KINDS, MIN_STATUS, MAX_STATUS),
    ("latency_ms", jc.FLOAT_KINDS, 0, MAX_MS),
    ("ttft_ms", jc.FLOAT_KINDS, 0, MAX_MS),
    *((key, jc.INT_KINDS, 0, MAX_TOKENS) for key in (*_TOKENS, "cache_write_1h_tokens")),
    ("attempt", jc.INT_KINDS, 0, MAX_ATTEMPT),
    ("cost_usd", jc.NUMBER_KINDS, 0, MAX_COST_USD),
)
_FLAGS = frozenset({bool, jc.NONE})
_TYPED = (
    *((key, jc.TEXT_KINDS) for key in ("provider", "endpoint", "method", "model", "request_id")),
    ("stream", _FLAGS), ("failed", _FLAGS),
    ("stream_ended", frozenset({jc.NONE})),  # else the whole call
    ("ratelimit", frozenset({dict, jc.NONE})), ("tags", frozenset({dict, jc.NONE})),
)
_RATELIMIT_KEYS = RateLimit.__slots__
_TAG_KINDS = (str, bool)


def read(parser, lines: Sequence[str]) -> bool:
    """Hand the calls of `lines` to the parser's sink as columns; False, with nothing handed, when
    the batch must be read line by line (the caller rolls back what was reported by then)."""
    table, ok = table_of(lines)
    if len(table.shapes) > len(lines) // SHAPE_ROWS:
        return False  # hardly two lines alike: line by line is quicker
    for key in ("ts", "latency_ms", "ttft_ms"):
        if int in table.types(key):
            return False  # the columns hold no integer time or latency
    ok &= table.has("apimon")  # the marker, of any value
    for key, kinds in _TYPED:
        ok &= table.typed(key, kinds)
    failures = getattr(parser.sink, "bulk_failures", False)  # a failed call as a row, else whole
    ok &= table.typed("error", frozenset({dict, jc.NONE}) if failures else frozenset({jc.NONE}))
    numbers = {}
    for key, kinds, low, high in _NUMBERS:
        numbers[key], more = table.numbers(key, kinds, low, high)
        ok &= more
    ts, status, latency, ttft, cost = (numbers[key] for key in ("ts", "status", "latency_ms", "ttft_ms", "cost_usd"))
    tokens = [numbers[key] for key in _TOKENS]
    ok &= ~np.isnan(ts)  # no time: no call
    errors = _errors(table, ok, status, cost, tokens) if failures else None
    if not failures:
        ok &= ~(status >= 400)
    ok &= ~(np.isnan(cost) & (tokens[3] > 0))  # cache writes priced by the log only: else the whole call
    for column in (latency, ttft):
        ok &= ~(np.signbit(column) & (column == 0))  # -0.0: the whole call, which the batch then is not
    if bool in table.types("failed"):
        ok &= np.fromiter((v is not True for v in table.values("failed")), dtype=bool, count=len(lines))
    ok &= _plain_ratelimits(table)
    if dict in table.types("tags"):
        ok &= _plain_tags(table.values("tags"))

    whole = jc.whole_calls(parser, lines, ok)
    if whole is None:
        return False
    ratelimits, figures_of = table.later("ratelimit")
    jc.hand(parser, ok, whole, ts, status, latency, ttft, tokens, cost, table.names("model"),
            table.names("provider"), ratelimits, lambda later: _ratelimit(figures_of(later)), errors)
    return True


def _errors(table, ok: np.ndarray, status: np.ndarray, cost: np.ndarray, tokens: list) -> tuple:
    """The error code and message of each row (`names`), for a sink that takes failed calls as rows:
    a failed call is plain with an HTTP status and an error object of texts (or none); `ok` and the
    costs `Pricer.estimate` would give (0 with no output) are set in place."""
    found = {}
    for key in ("type", "code", "message"):
        found[key], _ = table.found(("error", key), dotted=False)
        ok &= jc.typed(table.rows, found[key], jc.TEXT_KINDS)
    ok &= table.typed("error", frozenset({jc.NONE})) | (status >= 400)  # (an error with no failed status: whole)
    failed = status >= 400
    cost[failed & np.isnan(cost) & ~(tokens[1] > 0)] = 0.0
    return jc.names(table.rows, found["code"]), jc.names(table.rows, found["message"])


def _ratelimit(figures: dict) -> RateLimit:
    return RateLimit(*map(figures.get, _RATELIMIT_KEYS))


def _plain_ratelimits(table) -> np.ndarray:
    """Which rows' headroom `_ratelimit` takes as it is: nothing, or an object of figures in bounds
    (a row with something else there is not plain by its type: `_TYPED`)."""
    ok = np.ones(table.rows, dtype=bool)
    for key in _RATELIMIT_KEYS:
        reset = key.startswith("reset")
        segments, _ = table.found(("ratelimit", key), dotted=False)
        ok &= jc.numbers(table.rows, segments, jc.NUMBER_KINDS if reset else jc.INT_KINDS, 0,
                         MAX_RESET_S if reset else MAX_RATELIMIT)[1]
    return ok


def _plain_tags(values: list) -> np.ndarray:
    """Which rows' tags `_tags` takes as they are (none a float, which may be an integer orjson made one)."""
    out = np.ones(len(values), dtype=bool)
    for i, tags in enumerate(values):
        if tags is not None:
            out[i] = type(tags) is dict and all(
                type(v) in _TAG_KINDS or type(v) is int and abs(v) < MAX_IDENTIFIER for v in tags.values())
    return out
