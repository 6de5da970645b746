"""LiteLLM proxy: spend from its admin endpoints (a master key, or a key allowed spend routes).

`/global/spend` gives the proxy's spend over the last 30 days against its
`max_budget`; `/global/spend/logs` gives the same spend per day (the
`MonthlyGlobalSpend` view: `date`, `spend`, days with spend only), from which
the month-to-date is summed, every day before today counting as complete; `/key/info` without a `key` parameter describes the caller's own key
(spend, budget, spend per model) and is skipped where the proxy has no record
of it (a master key from the config file, for instance). Each budget scope is
one more `/key/info?key=<token hash>`: the key's spend since its own budget last
reset (LiteLLM keeps no per-day figures for a key), against its `max_budget`.
The spend per day is the poll's result: when `/global/spend` or `/key/info`
fails it stands, with a warning naming the endpoint; a scope that fails is that
scope's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from apimon_tui.costs.usage.base import (CostBucket, ProviderError, ProviderUsage, ScopeUsage, amount, billed_from_buckets,
                                   number_or_none, parse_iso, secondary)
from apimon_tui.costs.usage.client import ProviderClient
from apimon_tui.costs.usage.scopes import BudgetScope

NAME = "litellm"
DEFAULT_BASE_URL = ""  # no default: the proxy is wherever it was deployed
KEY_OPTION = "key_env"
DEFAULT_KEY_ENV = "LITELLM_MASTER_KEY"
KEY_KIND = "master"
DAY = 86400
TOTAL = "/global/spend"
DAYS = "/global/spend/logs"
KEY_INFO = "/key/info"


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def poll(api: ProviderClient, month_start: datetime, now: datetime,
               scopes: Sequence[BudgetScope] = ()) -> ProviderUsage:
    start, end = month_start.timestamp(), now.timestamp()
    usage = ProviderUsage(NAME, fetched_at=end)
    rows = await api.get_json(DAYS)
    if not isinstance(rows, list):
        raise ProviderError(f"unexpected answer from {api.base_url}{DAYS}: not a list of days")
    days = [CostBucket(parse_iso(str(r["date"])[:10]), parse_iso(str(r["date"])[:10]) + DAY,
                       amount(r.get("spend"), NAME, DAYS)) for r in rows]
    billed_from_buckets(usage, days, start, end, complete_until=end // DAY * DAY)
    with secondary(usage, "the proxy's budget", api.base_url + TOTAL):
        _add_total(usage, await api.get_json(TOTAL), api.base_url)
    with secondary(usage, "this key's spend", api.base_url + KEY_INFO):
        key = await api.get_json(KEY_INFO, tolerate=(400, 403, 404))
        info = key.get("info") if isinstance(key, dict) else None
        if isinstance(info, dict):
            _add_key_info(usage, info)
    for scope in scopes:
        usage.scopes[scope.name] = await _scope_usage(api, scope, end)
    return usage


def _add_total(usage: ProviderUsage, total: object, base_url: str) -> None:
    if not isinstance(total, dict):
        raise ProviderError(f"unexpected answer from {base_url}{TOTAL}")
    limit = number_or_none(total.get("max_budget"))
    if limit is not None:
        usage.limit_usd, usage.limit_remaining_usd = limit, limit - amount(total.get("spend"), NAME, TOTAL)


async def _scope_usage(api: ProviderClient, scope: BudgetScope, now: float) -> ScopeUsage:
    """One virtual key's spend; a key the proxy does not know (or will not show), or a failed request,
    is the scope's error."""
    out = ScopeUsage(scope.name, last_bucket_end=now, running_total=True)
    try:
        token = scope.litellm_token()
        body = await api.get_json(KEY_INFO, [("key", token)], tolerate=(400, 403, 404))
        info = body.get("info") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            out.error = (f"the proxy does not know this key, or may not show it - "
                         f"check {scope.selector} of {scope.label}")
            return out
        out.month_to_date_usd = amount(info.get("spend"), NAME, KEY_INFO)
    except ProviderError as exc:
        out.error = str(exc)
        return out
    out.limit_usd = number_or_none(info.get("max_budget"))
    return out


def _add_key_info(usage: ProviderUsage, info: dict) -> None:
    name = info.get("key_alias") or info.get("key_name") or "this key"
    spend, budget = amount(info.get("spend"), NAME, KEY_INFO), number_or_none(info.get("max_budget"))
    model_spend = {model: amount(usd, NAME, KEY_INFO) for model, usd in (info.get("model_spend") or {}).items()}
    usage.notes.append(f"key {name}: ${spend:.2f} spent" + (f" of ${budget:.2f}" if budget is not None else ""))
    for model, usd in model_spend.items():
        usage.add_model(model, 0, 0, None, usd)
    if usage.limit_usd is None and budget is not None:
        usage.limit_usd, usage.limit_remaining_usd = budget, budget - spend
