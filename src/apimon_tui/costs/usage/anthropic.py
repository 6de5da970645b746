"""Anthropic Admin API: billed spend from `cost_report`, tokens from `usage_report/messages`.

Cost amounts are decimal strings in cents. Token usage has no request count, so
per-model `requests` stays None; total input counts uncached, cache-write and
cache-read tokens, as the Anthropic cookbook does. With workspace budget scopes,
the cost report is grouped by `workspace_id` (null for the default workspace):
the groups add up to the total, and each scope sums its own. The billed costs
are the poll's result: a usage report that fails is a warning beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import math

from apimon_tui.costs.usage.base import (CostBucket, ProviderUsage, ScopeUsage, amount, billed_from_buckets, iso_z,
                                   model_name, parse_iso, secondary)
from apimon_tui.costs.usage.client import ProviderClient
from apimon_tui.costs.usage.scopes import DEFAULT_WORKSPACE, BudgetScope

NAME = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_OPTION = "admin_key_env"
DEFAULT_KEY_ENV = "ANTHROPIC_ADMIN_KEY"
KEY_KIND = "admin"
API_VERSION = "2023-06-01"
COSTS = "/v1/organizations/cost_report"
MESSAGES = "/v1/organizations/usage_report/messages"


def headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": API_VERSION}


async def poll(api: ProviderClient, month_start: datetime, now: datetime,
               scopes: Sequence[BudgetScope] = ()) -> ProviderUsage:
    start, end = month_start.timestamp(), now.timestamp()
    usage = ProviderUsage(NAME, fetched_at=end)
    window = [("starting_at", iso_z(start)), ("ending_at", iso_z(end)), ("bucket_width", "1d"), ("limit", 31)]
    group_by = [("group_by[]", "workspace_id")] if scopes else []
    buckets = await api.pages(COSTS, window + group_by)
    billed_from_buckets(usage, [_cost_bucket(b) for b in buckets], start, end)
    for scope in scopes:
        usage.scopes[scope.name] = ScopeUsage(scope.name)
        billed_from_buckets(usage.scopes[scope.name], [_cost_bucket(b, scope.value) for b in buckets], start, end)
    usage.models_since = start
    with secondary(usage, "tokens per model", api.base_url + MESSAGES):
        days = await api.pages(MESSAGES, window + [("group_by[]", "model")])
        rows = [(model_name(r.get("model")), _input_tokens(r), int(r.get("output_tokens") or 0))
                for bucket in days for r in bucket.get("results") or []]
        for model, input_tokens, output_tokens in rows:
            usage.add_model(model, input_tokens, output_tokens, None)
    return usage


def _cost_bucket(bucket: dict, workspace: str | None = None) -> CostBucket:
    """The bucket's spend: every result, or only those of `workspace`."""
    cents = math.fsum(amount(r.get("amount"), NAME, COSTS) for r in bucket.get("results") or []
                      if workspace is None or (r.get("workspace_id") or DEFAULT_WORKSPACE) == workspace)
    return CostBucket(parse_iso(bucket["starting_at"]), parse_iso(bucket["ending_at"]), cents / 100)


def _input_tokens(result: dict) -> int:
    cache_creation = result.get("cache_creation") or {}
    return (int(result.get("uncached_input_tokens") or 0) + int(result.get("cache_read_input_tokens") or 0)
            + sum(int(v or 0) for v in cache_creation.values()))
