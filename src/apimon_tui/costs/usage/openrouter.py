"""OpenRouter: the key's own usage from `/api/v1/key` (USD credits).

OpenRouter reports running totals rather than buckets: `usage_monthly` counts
the current UTC calendar month up to now, so it is the month-to-date as of the
poll (which matches the budget month only when `month_start_day` is 1).
"""

from __future__ import annotations

from datetime import datetime

from apimon_tui.costs.usage.base import ProviderError, ProviderUsage, amount, number_or_none
from apimon_tui.costs.usage.client import ProviderClient

NAME = "openrouter"
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
KEY_OPTION = "key_env"
DEFAULT_KEY_ENV = "OPENROUTER_API_KEY"
KEY_KIND = "API"
KEY = "/key"


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def poll(api: ProviderClient, month_start: datetime, now: datetime) -> ProviderUsage:
    body = await api.get_json(KEY)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ProviderError(f"unexpected answer from {api.base_url}/key: no `data` object")
    fetched = now.timestamp()
    usage = ProviderUsage(NAME, fetched_at=fetched, running_total=True, last_bucket_end=fetched)
    usage.month_to_date_usd = amount(data.get("usage_monthly"), NAME, KEY)
    usage.limit_usd = number_or_none(data.get("limit"))
    usage.limit_remaining_usd = number_or_none(data.get("limit_remaining"))
    if month_start.day != 1:
        usage.notes.append("OpenRouter counts calendar months; month_start_day is not applied")
    byok = amount(data.get("byok_usage_monthly"), NAME, KEY)
    if byok:
        usage.notes.append(f"plus ${byok:.2f} on your own provider keys (BYOK)")
    return usage
