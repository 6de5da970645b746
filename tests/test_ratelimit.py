"""Rate-limit headroom from real OpenAI and Anthropic header sets (reference/formats.md §2.1, §5.4)."""

from __future__ import annotations

from datetime import datetime

import httpx

from apimon_tui.formats.ratelimit import parse_ratelimit, reset_seconds

OPENAI = {  # a real capture, 2025-01-14
    "x-ratelimit-limit-requests": "5000",
    "x-ratelimit-limit-tokens": "4000000",
    "x-ratelimit-remaining-requests": "4998",
    "x-ratelimit-remaining-tokens": "3999176",
    "x-ratelimit-reset-requests": "22ms",
    "x-ratelimit-reset-tokens": "6m0s",
}
ANTHROPIC = {  # a real capture, 2025-08-21
    "anthropic-ratelimit-input-tokens-limit": "80000",
    "anthropic-ratelimit-input-tokens-remaining": "80000",
    "anthropic-ratelimit-requests-limit": "1000",
    "anthropic-ratelimit-requests-remaining": "999",
    "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z",
    "anthropic-ratelimit-tokens-limit": "96000",
    "anthropic-ratelimit-tokens-remaining": "96000",
    "anthropic-ratelimit-tokens-reset": "2025-08-21T12:40:59Z",
    "request-id": "req_011CSLsW7mFqvHHnzrKdKjAE",
}
NOW = datetime.fromisoformat("2025-08-21T12:40:29Z").timestamp()


def test_openai_headers_in_any_case():
    limit = parse_ratelimit(httpx.Headers({k.upper(): v for k, v in OPENAI.items()}), NOW)
    assert (limit.limit_requests, limit.remaining_requests) == (5000, 4998)
    assert (limit.limit_tokens, limit.remaining_tokens) == (4000000, 3999176)
    assert (limit.reset_requests_s, limit.reset_tokens_s) == (0.022, 360.0)


def test_anthropic_resets_are_seconds_from_now():
    limit = parse_ratelimit(ANTHROPIC, NOW)
    assert (limit.limit_requests, limit.remaining_requests) == (1000, 999)
    assert (limit.limit_tokens, limit.remaining_tokens) == (96000, 96000)
    assert (limit.reset_requests_s, limit.reset_tokens_s) == (30.0, 30.0)


def test_no_ratelimit_headers_and_unreadable_values():
    assert parse_ratelimit({"content-type": "application/json"}, NOW) is None
    assert reset_seconds("soon", NOW) is None
    assert parse_ratelimit({"x-ratelimit-limit-requests": "many"}, NOW) is None
