"""What one poll of a provider's usage and cost API yields, whatever the provider.

Every provider module turns its own response shapes into a `ProviderUsage`; the
poller keeps the last good one and the budget model reads only these records.
Times are epoch seconds (UTC), money is USD.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

MB = 1024 * 1024
DEFAULT_MAX_BODY_MB = 4.0  # a month of daily cost buckets is tens of KB; 4 MB of JSON, parsed, stays under 100 MB


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
    warnings: list[str] = field(default_factory=list)

    def add_model(self, model: str | None, input_tokens: int, output_tokens: int, requests: int | None,
                  usd: float | None = None) -> None:
        self.models.setdefault(model or "(all models)", ModelUsage()).add(input_tokens, output_tokens, requests, usd)


def number_or_none(value: object) -> float | None:
    """A finite JSON number as a float; None for null, booleans, NaN, infinities and anything else."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def model_name(value: object) -> str | None:
    """A model as the API named it; a name that is not a string (a number, a list) is shown as text."""
    return value if value is None or isinstance(value, str) else str(value)[:100]


def amount(value: object, provider: str, where: str) -> float:
    """A billed amount (a JSON number or a decimal string); null is nothing spent.

    NaN, infinities, negative amounts and anything that is not a number are
    refused with a `ProviderError` naming the provider: one bad figure must not
    become a total, a forecast or a NaN in `--json`.
    """
    if value is None:
        return 0.0
    number = None
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            pass
    if number is None or not math.isfinite(number) or number < 0:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ProviderError(f"{provider} sent an amount of {shown} in {where}: "
                            "not a finite, non-negative number, so its figures are not used")
    return number


def check_figures(usage: ProviderUsage) -> None:
    """Refuse a poll whose totals are not finite (amounts that add up past what a float holds)."""
    figures = [usage.month_to_date_usd, usage.partial_usd, usage.limit_usd, usage.limit_remaining_usd,
               *(m.usd for m in usage.models.values()),
               *(f for s in usage.scopes.values() for f in (s.month_to_date_usd, s.partial_usd, s.limit_usd))]
    if not all(math.isfinite(f) for f in figures if f is not None):
        raise ProviderError(f"{usage.provider} sent amounts too large to add up, so its figures are not used")


@contextmanager
def secondary(usage: ProviderUsage, what: str, url: str) -> Iterator[None]:
    """A step after the billed figures are in: if it fails, they stand and the failure becomes a warning.

    `what` says what is missing because of it, `url` the endpoint the step reads.
    """
    try:
        yield
    except ProviderError as exc:
        usage.warnings.append(f"{what} not shown: {exc}")
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        usage.warnings.append(f"{what} not shown: unexpected answer from {url} ({type(exc).__name__})")


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
