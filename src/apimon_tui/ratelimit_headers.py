"""Rate-limit headroom from a provider's response headers.

OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with
resets as Go-style durations (`22ms`, `6m0s`); Anthropic sends
`anthropic-ratelimit-{requests,tokens,input-tokens}-{limit,remaining,reset}`
with resets as RFC 3339 timestamps (reference/formats.md §2.1, §5.4). Both
become one `RateLimit`, resets in seconds from `now`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping

from apimon_tui.model import RateLimit
from apimon_tui.timeutil import parse_duration

_Get = Callable[[str], "str | None"]


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def reset_seconds(value: str | None, now: float) -> float | None:
    """Seconds until a limit resets, from a duration (`1s`, `6m0s`) or an RFC 3339 time."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        pass
    try:
        return max(0.0, round(datetime.fromisoformat(value.strip()).timestamp() - now, 3))
    except ValueError:
        return None


def _openai(get: _Get, now: float) -> RateLimit:
    return RateLimit(
        limit_requests=_int(get("x-ratelimit-limit-requests")),
        remaining_requests=_int(get("x-ratelimit-remaining-requests")),
        limit_tokens=_int(get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(get("x-ratelimit-remaining-tokens")),
        reset_requests_s=reset_seconds(get("x-ratelimit-reset-requests"), now),
        reset_tokens_s=reset_seconds(get("x-ratelimit-reset-tokens"), now),
    )


def _anthropic(get: _Get, now: float) -> RateLimit:
    tokens = "tokens" if get("anthropic-ratelimit-tokens-limit") is not None else "input-tokens"
    return RateLimit(
        limit_requests=_int(get("anthropic-ratelimit-requests-limit")),
        remaining_requests=_int(get("anthropic-ratelimit-requests-remaining")),
        limit_tokens=_int(get(f"anthropic-ratelimit-{tokens}-limit")),
        remaining_tokens=_int(get(f"anthropic-ratelimit-{tokens}-remaining")),
        reset_requests_s=reset_seconds(get("anthropic-ratelimit-requests-reset"), now),
        reset_tokens_s=reset_seconds(get(f"anthropic-ratelimit-{tokens}-reset"), now),
    )


def parse_ratelimit(headers: Mapping[str, str], now: float) -> RateLimit | None:
    """The headroom the headers report, or None when they carry no rate-limit header.

    `headers` is a case-insensitive mapping (httpx `Headers`) or a dict with lower-case keys.
    """
    get = headers.get
    for parse in (_openai, _anthropic):
        limit = parse(get, now)
        if not limit.is_empty():
            return limit
    return None
