"""What a call's fields may hold, and the checks parsers make before a value reaches a `Call`.

A log line is outside text: any field can hold NaN, an infinity, `1e400`, a
negative or fractional count, a list where a name belongs. Such a value is
of no use to any figure, so the parser drops it: the call stands with that
field unknown (None) and the sink counts the value (`Sink.bad_value`). A
line whose time is not usable is no call at all (the parser reports it
unparsed). The bounds are wide enough for any real call and narrow enough
that sums, percentiles and dates never overflow.

The hot paths (native, nginx) check types and bounds inline; the helpers
here serve the formats that convert each field one at a time anyway.
"""

from __future__ import annotations

from typing import Any

MIN_TS = 0.0
MAX_TS = 7_258_118_400.0          # 2200-01-01 UTC: a later time is a unit mistake or garbage
MAX_MS = 1e9                      # 11.6 days, for latency and time to first token (above nginx's six digits of seconds)
MAX_TOKENS = 1_000_000_000        # per call: a thousand times the largest context window
MAX_COST_USD = 1_000_000.0        # per call
MAX_ATTEMPT = 10_000
MAX_RATELIMIT = 10**15            # a limit or remaining count of requests or tokens
MAX_RESET_S = 366 * 86_400.0      # seconds until a limit resets
MIN_STATUS, MAX_STATUS = 100, 599
MAX_IDENTIFIER = 10**30           # a number written as an id or a tag (str() refuses 4,300 digits)

_NUMBER = (int, float)


class Unusable(ValueError):
    """A line's time cannot be used: the line is no call."""


def usable_ts(ts: Any) -> bool:
    """Whether `ts` is epoch seconds a call can carry (NaN fails every comparison)."""
    return type(ts) in _NUMBER and MIN_TS <= ts <= MAX_TS


def checked_ts(ts: Any) -> float:
    """`ts` itself when usable; raises `Unusable` (a ValueError) otherwise."""
    if not usable_ts(ts):
        raise Unusable(f"unusable time {shown(ts)}")
    return ts


def measure(value: Any, field: str, sink, high: float) -> float | None:
    """A non-negative finite number up to `high` (latency, cost, reset), else None, reported."""
    if value is None:
        return None
    if type(value) in _NUMBER and 0 <= value <= high:
        return value
    sink.bad_value(field, value)
    return None


def count(value: Any, field: str, sink, high: int = MAX_TOKENS) -> int | None:
    """A whole number from 0 to `high` (tokens, attempts); a float with no fraction is taken as one."""
    if value is None:
        return None
    kind = type(value)
    if kind is int and 0 <= value <= high:
        return value
    if kind is float and value.is_integer() and 0 <= value <= high:
        return int(value)
    sink.bad_value(field, value)
    return None


def status(value: Any, field: str, sink) -> int | None:
    """An HTTP status, 100 to 599 (a float with no fraction is taken as one)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int and MIN_STATUS <= value <= MAX_STATUS:
        return value
    if kind is float and value.is_integer() and MIN_STATUS <= value <= MAX_STATUS:
        return int(value)
    sink.bad_value(field, value)
    return None


def text(value: Any, field: str, sink) -> str | None:
    """A name (model, provider, endpoint...): a string; anything else is reported."""
    if value is None or type(value) is str:
        return value
    sink.bad_value(field, value)
    return None


def identifier(value: Any, field: str, sink) -> str | None:
    """A request id or error code: a string, or a whole number written as one (`429`)."""
    if value is None or type(value) is str:
        return value
    if type(value) is int and -MAX_IDENTIFIER < value < MAX_IDENTIFIER:
        return str(value)
    sink.bad_value(field, value)
    return None


def shown(value: Any, limit: int = 60) -> str:
    """`value` as a short text for a reason or a sample, even when nested deeper than repr goes."""
    try:
        out = repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deep>"
    return out if len(out) <= limit else out[:limit - 3] + "..."


class _Quiet:
    """A sink that drops bad values: for a check whose caller reports the value itself."""

    @staticmethod
    def bad_value(field: str, value: Any) -> None:
        pass


QUIET = _Quiet()
