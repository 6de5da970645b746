"""OpenAI: billed spend from `/organization/costs`, tokens from `/organization/usage/*`.

Costs come in daily buckets with `amount.value` in USD. Tokens and requests per
model come from the completions and embeddings usage endpoints, hourly over the
last 24 hours (the usage API is rate-limited; cost data is daily and lags).
With budget scopes, the same costs request is grouped by `project_id` and/or
`api_key_id`: the groups add up to the total, and each scope sums its own.
The billed costs are the poll's result: a usage endpoint that fails (a key
without that scope, an org without that product) is a warning beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from apimon_tui.costs.usage.base import (CostBucket, ProviderUsage, ScopeUsage, amount, billed_from_buckets, model_name,
                                   secondary)
from apimon_tui.costs.usage.client import ProviderClient
from apimon_tui.costs.usage.scopes import BudgetScope

NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_OPTION = "admin_key_env"
DEFAULT_KEY_ENV = "OPENAI_ADMIN_KEY"
KEY_KIND = "admin"
COSTS = "/organization/costs"
USAGE_ENDPOINTS = ("completions", "embeddings")
USAGE_WINDOW_S = 24 * 3600


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def poll(api: ProviderClient, month_start: datetime, now: datetime,
               scopes: Sequence[BudgetScope] = ()) -> ProviderUsage:
    start, end = int(month_start.timestamp()), int(now.timestamp())
    usage = ProviderUsage(NAME, fetched_at=now.timestamp())
    group_by = [("group_by", g) for g in sorted({s.selector for s in scopes})]
    buckets = await api.pages(COSTS, [
        ("start_time", start), ("end_time", end), ("bucket_width", "1d"), ("limit", 31), *group_by])
    billed_from_buckets(usage, [_cost_bucket(b) for b in buckets], start, end)
    for scope in scopes:
        usage.scopes[scope.name] = ScopeUsage(scope.name)
        billed_from_buckets(usage.scopes[scope.name],
                            [_cost_bucket(b, scope.selector, scope.value) for b in buckets], start, end)
    since = max(start, end - USAGE_WINDOW_S)
    usage.models_since = float(since)
    for endpoint in USAGE_ENDPOINTS:
        path = f"/organization/usage/{endpoint}"
        with secondary(usage, f"{endpoint} tokens per model", api.base_url + path):
            hours = await api.pages(path, [("start_time", since), ("end_time", end), ("bucket_width", "1h"),
                                           ("group_by", "model"), ("limit", 24)])
            for model, *counts in [_model_counts(r) for bucket in hours for r in bucket.get("results") or []]:
                usage.add_model(model, *counts)
    return usage


def _model_counts(result: dict) -> tuple[str | None, int, int, int]:
    return (model_name(result.get("model")), int(result.get("input_tokens") or 0),
            int(result.get("output_tokens") or 0), int(result.get("num_model_requests") or 0))


def _cost_bucket(bucket: dict, group: str | None = None, value: str | None = None) -> CostBucket:
    """The bucket's spend: every result, or only those whose `group` field is `value`."""
    usd = sum(amount((r.get("amount") or {}).get("value"), NAME, COSTS) for r in bucket.get("results") or []
              if group is None or r.get(group) == value)
    return CostBucket(float(bucket["start_time"]), float(bucket["end_time"]), usd)
