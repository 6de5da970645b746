"""Rate-limit headroom from a provider's response headers, as a `RateLimit`.

OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with
resets as relative durations in Go `time.Duration` style (`12ms`, `6m0s`,
`1h32m15s`, `8.64s`; a bare number is seconds); Anthropic sends
`anthropic-ratelimit-{requests,tokens,input-tokens}-{limit,remaining,reset}`
with resets as RFC 3339 timestamps (reference/formats.md §2.1, §5.4). Shared by
the formats whose logs carry headers and by the capture hook.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from apimon_tui.formats.values import MAX_RATELIMIT, MAX_RESET_S
from apimon_tui.core.model import RateLimit

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|h|m|s)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

# RateLimit field -> header suffix after `x-ratelimit-` (or `x_ratelimit_`).
_FIELDS = {
    "limit_requests": "limit-requests",
    "limit_tokens": "limit-tokens",
    "remaining_requests": "remaining-requests",
    "remaining_tokens": "remaining-tokens",
    "reset_requests_s": "reset-requests",
    "reset_tokens_s": "reset-tokens",
}


_RESETS_KEPT = 4096
_resets: dict[str, float | None] = {}  # reset text -> seconds: a busy log repeats a few hundred texts


def parse_reset(value: Any) -> float | None:
    """Seconds in a reset value (`6m0s` -> 360.0); None when unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _seconds(value)
    if not isinstance(value, str):
        return None
    try:
        return _resets[value]
    except KeyError:
        pass
    if len(_resets) >= _RESETS_KEPT:
        _resets.clear()
    seconds = _resets[value] = _parse_reset_text(value)
    return seconds


def _parse_reset_text(value: str) -> float | None:
    text = value.strip()
    if not text[-1:].isalpha():
        try:
            return _seconds(float(text))
        except ValueError:
            return None
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    return _seconds(round(total, 9)) if pos == len(text) and pos else None


def _seconds(value: float) -> float | None:
    """A reset in seconds: a finite, non-negative number (NaN fails the comparison)."""
    return float(value) if 0 <= value <= MAX_RESET_S else None


def parse_count(value: Any) -> int | None:
    """A limit or remaining count: a finite, non-negative number, else None.

    A whole number, or a text of at most 15 decimal digits (below `MAX_RATELIMIT`, and what
    `float` reads of it is exact), is the count itself: what headers hold, call after call.
    """
    kind = type(value)
    if kind is int and 0 <= value <= MAX_RATELIMIT or kind is str and len(value) < 16 and value.isdecimal():
        return int(value)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if 0 <= number <= MAX_RATELIMIT else None


def ratelimit_from_headers(headers: Mapping[str, Any], prefix: str = "x-ratelimit-") -> RateLimit | None:
    """The headroom in `headers` (keys lower-case), or None when there is none.

    `prefix` lets callers read variants such as LiteLLM's `x_ratelimit_` keys
    (with `_` for `-`) or its `llm_provider-x-ratelimit-` copies.
    """
    sep = "_" if prefix.endswith("_") else "-"
    values: dict[str, Any] = {}
    for field, suffix in _FIELDS.items():
        raw = headers.get(prefix + suffix.replace("-", sep))
        values[field] = parse_reset(raw) if field.startswith("reset") else parse_count(raw)
    limit = RateLimit(**values)
    return None if limit.is_empty() else limit


def reset_seconds(value: str | None, now: float) -> float | None:
    """Seconds until a limit resets, from a duration (`1s`, `6m0s`) or an RFC 3339 time."""
    seconds = parse_reset(value)
    if seconds is not None or value is None:
        return seconds
    try:
        return max(0.0, round(datetime.fromisoformat(value.strip()).timestamp() - now, 3))
    except ValueError:
        return None


def _anthropic(get: Callable[[str], Any], now: float) -> RateLimit | None:
    tokens = "tokens" if get("anthropic-ratelimit-tokens-limit") is not None else "input-tokens"
    limit = RateLimit(
        limit_requests=parse_count(get("anthropic-ratelimit-requests-limit")),
        remaining_requests=parse_count(get("anthropic-ratelimit-requests-remaining")),
        limit_tokens=parse_count(get(f"anthropic-ratelimit-{tokens}-limit")),
        remaining_tokens=parse_count(get(f"anthropic-ratelimit-{tokens}-remaining")),
        reset_requests_s=reset_seconds(get("anthropic-ratelimit-requests-reset"), now),
        reset_tokens_s=reset_seconds(get(f"anthropic-ratelimit-{tokens}-reset"), now),
    )
    return None if limit.is_empty() else limit


def parse_ratelimit(headers: Mapping[str, str], now: float) -> RateLimit | None:
    """The headroom any provider's headers report (OpenAI style, then Anthropic), or None.

    `headers` is a case-insensitive mapping (httpx `Headers`) or a dict with lower-case keys.
    """
    return ratelimit_from_headers(headers) or _anthropic(headers.get, now)
