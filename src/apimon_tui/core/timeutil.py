"""Durations and times as users write them: `90s`, `5m`, `1h30m`, `7d`, `2026-12-03T02:40Z`."""

from __future__ import annotations

import re
from datetime import datetime

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`; a bare number is seconds. Raises ValueError when unreadable."""
    text = text.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h, 7d)")
    return total


def format_duration(seconds: float) -> str:
    """Short human form: `45s`, `12m`, `3h05m`, `1h`, `2d04h`, `3d`."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        minutes = (s % 3600) // 60
        return f"{s // 3600}h{minutes:02d}m" if minutes else f"{s // 3600}h"
    hours = (s % 86400) // 3600
    return f"{s // 86400}d{hours:02d}h" if hours else f"{s // 86400}d"


def parse_time_bound(text: str, now: float) -> float:
    """Epoch seconds for `--since`/`--until`: a span back from `now` (`90m`) or an ISO 8601 time.

    An ISO time without an offset is local time, as `date` and lnav read
    one; `Z` or `+02:00` pin it. Raises ValueError naming both forms.
    """
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use a span back from now such as 1h, or ISO 8601 such as 2026-12-03T02:40:00Z)"
        ) from None


def parse_time_range(since: str | None, until: str | None, now: float) -> tuple[float | None, float | None]:
    """The half-open range [since, until) of `--since`/`--until` (None for an open end)."""
    bounds = []
    for option, text in (("--since", since), ("--until", until)):
        try:
            bounds.append(parse_time_bound(text, now) if text else None)
        except ValueError as exc:
            raise ValueError(f"{option}: {exc}") from None
    start, end = bounds
    if start is not None and end is not None and end <= start:
        raise ValueError(f"--until ({until}) must be later than --since ({since})")
    return start, end
