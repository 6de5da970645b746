"""How figures read on screen: every one with its unit."""

from __future__ import annotations

import math
import time

from apimon_tui.core.timeutil import format_duration

WINDOWS: list[tuple[str, float]] = [
    ("1m", 60.0), ("5m", 300.0), ("15m", 900.0), ("1h", 3600.0), ("6h", 21600.0), ("24h", 86400.0),
]


def ms(value: float | None) -> str:
    """`812 ms`, `1.25 s`, or `-` when unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def usd(value: float | None, digits: int = 2) -> str:
    """`$1,234.56` in every panel; `$0.0035` under a cent (a small cost is not nothing); `-` when unknown.

    `digits` above 2 is for the drill-down, where one call's cost is shown whole."""
    if value is None or not math.isfinite(value):
        return "-"
    if 0 < abs(value) < 0.01 and digits <= 2:
        return f"${value:.4f}"
    return f"${value:,.{digits}f}"


def count(value: int) -> str:
    """`950`, `3.9k`, `12k`, `9.9M`, `10M`: short enough for a narrow column, the same in every panel.

    Rounded down, so that headroom is never shown larger than it is (3,999 of 4,000 is `3.9k/4k`,
    not `4k/4k`)."""
    if value < 0:
        return f"-{count(-value)}"
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            tenths = int(value) * 10 // size
            return f"{tenths / 10:g}{suffix}" if tenths < 100 else f"{tenths // 10}{suffix}"
    return str(int(value))


def size(n: int) -> str:
    """`512 B`, `800 KB`, `12.3 MB`, `1.2 GB` (powers of 1,024)."""
    for shift, unit in ((30, "GB"), (20, "MB"), (10, "KB")):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} B"


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
