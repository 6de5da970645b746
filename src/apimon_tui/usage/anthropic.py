"""Anthropic Admin API: billed spend from `cost_report`, tokens from `usage_report/messages`.

Cost amounts are decimal strings in cents. Token usage has no request count, so
per-model `requests` stays None; total input counts uncached, cache-write and
cache-read tokens, as the Anthropic cookbook does. With workspace budget scopes,
the cost report is grouped by `workspace_id` (null for the default workspace):
the groups add up to the total, and each scope sums its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from apimon_tui.usage.base import CostBucket, ProviderUsage, ScopeUsage, billed_from_buckets, iso_z, parse_iso
from apimon_tui.usage.client import ProviderClient
from apimon_tui.usage.scopes import DEFAULT_WORKSPACE, BudgetScope

NAME = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_OPTION = "admin_key_env"
DEFAULT_KEY_ENV = "ANTHROPIC_ADMIN_KEY"
KEY_KIND = "admin"
API_VERSION = "2023-06-01"


def headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": API_VERSION}


async def poll(api: ProviderClient, month_start: datetime, now: datetime,
               scopes: Sequence[BudgetScope] = ()) -> ProviderUsage:
    start, end = month_start.timestamp(), now.timestamp()
    usage = ProviderUsage(NAME, fetched_at=end)
    window = [("starting_at", iso_z(start)), ("ending_at", iso_z(end)), ("bucket_width", "1d"), ("limit", 31)]
    group_by = [("group_by[]", "workspace_id")] if scopes else []
    buckets = await api.pages("/v1/organizations/cost_report", window + group_by)
    billed_from_buckets(usage, [_cost_bucket(b) for b in buckets], start, end)
    for scope in scopes:
        usage.scopes[scope.name] = ScopeUsage(scope.name)
        billed_from_buckets(usage.scopes[scope.name], [_cost_bucket(b, scope.value) for b in buckets], start, end)
    usage.models_since = start
    days = await api.pages("/v1/organizations/usage_report/messages", window + [("group_by[]", "model")])
    for bucket in days:
        for result in bucket.get("results") or []:
            usage.add_model(result.get("model"), _input_tokens(result), int(result.get("output_tokens") or 0), None)
    return usage


def _cost_bucket(bucket: dict, workspace: str | None = None) -> CostBucket:
    """The bucket's spend: every result, or only those of `workspace`."""
    cents = sum(Decimal(str(r.get("amount") or "0")) for r in bucket.get("results") or []
                if workspace is None or (r.get("workspace_id") or DEFAULT_WORKSPACE) == workspace)
    return CostBucket(parse_iso(bucket["starting_at"]), parse_iso(bucket["ending_at"]), float(cents / 100))


def _input_tokens(result: dict) -> int:
    cache_creation = result.get("cache_creation") or {}
    return (int(result.get("uncached_input_tokens") or 0) + int(result.get("cache_read_input_tokens") or 0)
            + sum(int(v or 0) for v in cache_creation.values()))
