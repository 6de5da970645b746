"""How figures read on screen: every one with its unit."""

from __future__ import annotations

import math
import time

from apimon_tui.timeutil import format_duration

WINDOWS: list[tuple[str, float]] = [
    ("1m", 60.0), ("5m", 300.0), ("15m", 900.0), ("1h", 3600.0), ("6h", 21600.0), ("24h", 86400.0),
]


def ms(value: float | None) -> str:
    """`812 ms`, `1.25 s`, or `-` when unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def usd(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if 0 < abs(value) < 0.01 and digits <= 2:
        return f"${value:.4f}"
    return f"${value:,.{digits}f}"


def count(value: int) -> str:
    """`950`, `12.3k`, `4.56M`: short enough for a narrow column."""
    if value < 10_000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.2f}M"


def pct(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.1%}"


def clock_time(ts: float) -> str:
    """Local wall-clock time of an epoch, `HH:MM:SS`."""
    return time.strftime("%H:%M:%S", time.localtime(ts))


def stamp(ts: float) -> str:
    """Local date and time with milliseconds, for the detail screen."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def line_age(seconds: float) -> str:
    """A source's last line: `just now` under 10 s, then in steps of 10 s, then minutes.

    Coarse on purpose: what matters is whether lines flow, and an idle
    screen whose text changes every second redraws every second.
    """
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds) // 10 * 10}s ago"
    return age(seconds)


def age(seconds: float | None) -> str:
    """`4s ago`, `3m ago`, `2h05m ago`; `-` when never."""
    if seconds is None:
        return "-"
    return f"{format_duration(max(0.0, seconds))} ago"
