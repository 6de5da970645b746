"""What one poll of a provider's usage and cost API yields, whatever the provider.

Every provider module turns its own response shapes into a `ProviderUsage`; the
poller keeps the last good one and the budget model reads only these records.
Times are epoch seconds (UTC), money is USD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


class ProviderError(Exception):
    """A poll that failed, worded for the user (never holds a key or a traceback)."""


@dataclass(slots=True)
class CostBucket:
    """Billed spend over one provider bucket (a UTC day for every cost API)."""

    start: float
    end: float
    usd: float


@dataclass(slots=True)
class ModelUsage:
    """Tokens, requests and spend of one model; None where the API does not report it."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int | None = None
    usd: float | None = None

    def add(self, input_tokens: int, output_tokens: int, requests: int | None, usd: float | None = None) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        if requests is not None:
            self.requests = (self.requests or 0) + requests
        if usd is not None:
            self.usd = (self.usd or 0.0) + usd


@dataclass(slots=True)
class ScopeUsage:
    """Billed spend of one budget scope (a project, workspace or key) as of the provider's poll.

    Bucketed scopes fill `daily` like a provider does; a LiteLLM key reports a
    running total (its spend since its own budget last reset) with the key's
    `max_budget` as `limit_usd`. `error` says why a scope has no figures while
    its provider answered (a key the proxy does not know, a missing variable).
    """

    name: str
    month_to_date_usd: float = 0.0
    last_bucket_end: float | None = None
    daily: list[CostBucket] = field(default_factory=list)
    partial_usd: float = 0.0
    running_total: bool = False
    limit_usd: float | None = None
    error: str | None = None


@dataclass(slots=True)
class ProviderUsage:
    """One provider's billed figures as of `fetched_at`.

    `month_to_date_usd` counts complete buckets only, from the month's start up to
    `last_bucket_end`; the bucket still running is `partial_usd`. A provider that
    reports a running total instead of buckets (OpenRouter) has `running_total`
    set and `last_bucket_end == fetched_at`. `limit_usd` is a spend limit the
    provider itself enforces (LiteLLM max_budget, OpenRouter key limit).
    """

    provider: str
    fetched_at: float
    month_to_date_usd: float = 0.0
    last_bucket_end: float | None = None
    daily: list[CostBucket] = field(default_factory=list)
    partial_usd: float = 0.0
    running_total: bool = False
    models: dict[str, ModelUsage] = field(default_factory=dict)
    models_since: float | None = None
    limit_usd: float | None = None
    limit_remaining_usd: float | None = None
    notes: list[str] = field(default_factory=list)
    scopes: dict[str, ScopeUsage] = field(default_factory=dict)  # by scope name

    def add_model(self, model: str | None, input_tokens: int, output_tokens: int, requests: int | None,
                  usd: float | None = None) -> None:
        self.models.setdefault(model or "(all models)", ModelUsage()).add(input_tokens, output_tokens, requests, usd)


def number_or_none(value: object) -> float | None:
    """A JSON number as a float; None for null, booleans and anything else."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def iso_z(ts: float) -> str:
    """RFC 3339 with a `Z`, the form the Anthropic Admin API takes and gives."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Epoch seconds from an RFC 3339 time or a bare `YYYY-MM-DD` date (UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def billed_from_buckets(usage: ProviderUsage | ScopeUsage, buckets: list[CostBucket], month_start: float, now: float,
                        complete_until: float | None = None) -> None:
    """Fill the month-to-date figures of `usage` from its daily cost buckets.

    Complete buckets (ending at or before `now`) inside the month are billed; the
    one still running is kept apart as `partial_usd`. `last_bucket_end` is the end
    of the last complete bucket, or `complete_until` for an API that lists only
    the days that had spend.
    """
    buckets = sorted((b for b in buckets if b.end > month_start), key=lambda b: b.start)
    usage.daily = [b for b in buckets if b.end <= now]
    usage.month_to_date_usd = sum(b.usd for b in usage.daily)
    usage.partial_usd = sum(b.usd for b in buckets if b.end > now)
    usage.last_bucket_end = usage.daily[-1].end if usage.daily else None
    if complete_until is not None and complete_until > month_start:
        usage.last_bucket_end = complete_until
