"""The budget: month-to-date spend anchored to the bill, burn rate, forecast, run-out date.

Billed figures from the providers lag (cost APIs report complete UTC days), so
month-to-date = billed spend up to the anchor + the logs' live estimate from the
anchor to now. The anchor is the earliest latest-complete-bucket end among the
providers that report buckets; every bucketed provider's bill is cut at that
same point so no span is counted twice. Providers that report a running total
(OpenRouter) add their figure as it stands.

Budget scopes (a project, workspace or key: `[[budget.scopes]]`) count billed
spend only, since log lines rarely say which project or key paid: each is its
own month-to-date up to its latest complete bucket, with a forecast linear on
its last complete billed days.

The logs' side is injected as plain callables, so the budget knows nothing of
the store: `live_cost(start_ts, end_ts)` is the USD the logs estimate between
two epoch times, `live_uncosted(start_ts, end_ts)` how many calls of unknown
cost lie between them (the estimate is then a lower bound), `logs_since()` the
epoch time the logs cover from (None when there are none). Time comes from
the injected `clock`.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from apimon_tui.core.config import ConfigError
from apimon_tui.costs.usage.base import ProviderUsage, ScopeUsage
from apimon_tui.costs.usage.scopes import BudgetScope, parse_scopes

HOUR, DAY = 3600.0, 86400.0
MIN_RATE_SPAN_S = 60.0  # logs must cover at least a minute of a window to give its rate (its span is shown)
SCOPE_RATE_DAYS = 7  # a scope's forecast runs at its average over this many last complete days


def month_bounds(ts: float, start_day: int) -> tuple[float, float]:
    """Start and end (epoch, UTC midnight) of the budget month holding `ts`.

    The month starts on `start_day`, or on the month's last day when it is shorter.
    """
    now = datetime.fromtimestamp(ts, timezone.utc)
    year, month = now.year, now.month
    start = _anchor(year, month, start_day)
    if now < start:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        start = _anchor(year, month, start_day)
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return start.timestamp(), _anchor(next_year, next_month, start_day).timestamp()


def _anchor(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, min(day, calendar.monthrange(year, month)[1]), tzinfo=timezone.utc)


@dataclass(slots=True)
class BudgetConfig:
    monthly_usd: float = 0.0  # 0 means no budget
    month_start_day: int = 1
    providers: dict[str, float] = field(default_factory=dict)
    scopes: list[BudgetScope] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BudgetConfig":
        section = config.get("budget") or {}
        day = int(section.get("month_start_day", 1))
        if not 1 <= day <= 31:
            raise ConfigError(f"config: budget.month_start_day must be 1 to 31, not {day}")
        monthly = float(section.get("monthly_usd", 0.0))
        if monthly < 0:
            raise ConfigError("config: budget.monthly_usd must not be negative")
        providers = {}
        for name, value in (section.get("providers") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"config: budget.providers.{name} must be a number of USD, not {value!r}")
            providers[name] = float(value)
        return cls(monthly, day, providers, parse_scopes(config))


def logs_needed_since(config: BudgetConfig, now: float, billed: bool) -> float:
    """How far back the logs must be read at start for the month-to-date to be whole.

    A provider's bill covers complete UTC days, so with one the logs are needed
    from the start of the day before (within the month); without one the whole
    month is estimated from the logs.
    """
    month_start, _ = month_bounds(now, config.month_start_day)
    return max(month_start, (now // DAY - 1) * DAY) if billed else month_start


@dataclass(slots=True)
class Drift:
    """Billed spend and the logs' estimate over the same complete days."""

    start: float
    end: float
    billed_usd: float
    logs_usd: float

    @property
    def usd(self) -> float:
        return self.logs_usd - self.billed_usd

    @property
    def pct(self) -> float | None:
        return self.usd / self.billed_usd * 100 if self.billed_usd else None


@dataclass(slots=True)
class ProviderBudget:
    name: str
    spent_usd: float
    budget_usd: float | None

    @property
    def spent_pct(self) -> float | None:
        return self.spent_usd / self.budget_usd * 100 if self.budget_usd else None


@dataclass(slots=True)
class ScopeBudget:
    """One budget scope's billed month-to-date against its own budget; `spent_usd` None without figures."""

    name: str
    provider: str
    label: str                    # `project search-team`: how alerts and panels name it
    budget_usd: float | None
    spent_usd: float | None
    billed_until: float | None = None
    forecast_usd: float | None = None
    error: str | None = None

    @property
    def spent_pct(self) -> float | None:
        if not self.budget_usd or self.spent_usd is None:
            return None
        return self.spent_usd / self.budget_usd * 100


@dataclass(slots=True)
class BudgetState:
    """Everything the Budget panel and `apimon-tui usage` show, at time `now`."""

    now: float
    month_start: float
    month_end: float
    budget_usd: float | None
    billed_usd: float
    anchor: float
    live_usd: float
    burn_1h: float | None
    burn_24h: float | None
    drift: Drift | None
    providers: list[ProviderBudget]
    scopes: list[ScopeBudget] = field(default_factory=list)
    burn_1h_span_s: float | None = None   # how much time each rate was taken over: a window the logs
    burn_24h_span_s: float | None = None  # cover only in part gives a rate over that part
    live_uncosted_calls: int = 0  # calls in the live part with no known cost: spent is at least `spent_usd`

    @property
    def spent_usd(self) -> float:
        return self.billed_usd + self.live_usd

    @property
    def spent_pct(self) -> float | None:
        return self.spent_usd / self.budget_usd * 100 if self.budget_usd else None

    @property
    def hours_left(self) -> float:
        return max(0.0, self.month_end - self.now) / HOUR

    @property
    def forecast_usd(self) -> float | None:
        """Month-end spend if the 24 h burn rate holds."""
        return None if self.burn_24h is None else self.spent_usd + self.burn_24h * self.hours_left

    @property
    def forecast_range(self) -> tuple[float, float] | None:
        """Month-end spend at the lower and the higher of the two burn rates."""
        rates = [r for r in (self.burn_1h, self.burn_24h) if r is not None]
        if not rates:
            return None
        return self.spent_usd + min(rates) * self.hours_left, self.spent_usd + max(rates) * self.hours_left

    @property
    def run_out(self) -> float | None:
        """When the budget runs out at the 24 h rate: `now` if spent, None if not this month."""
        if not self.budget_usd:
            return None
        left = self.budget_usd - self.spent_usd
        if left <= 0:
            return self.now
        if not self.burn_24h:
            return None
        when = self.now + left / self.burn_24h * HOUR
        return when if when < self.month_end else None


def _no_logs(start: float, end: float) -> float:
    return 0.0


def _no_uncosted(start: float, end: float) -> int:
    return 0


class Budget:
    """Combines the providers' last figures with the logs' live estimate."""

    def __init__(
        self,
        config: BudgetConfig,
        *,
        clock: Callable[[], float] = time.time,
        live_cost: Callable[[float, float], float] = _no_logs,
        logs_since: Callable[[], float | None] = lambda: None,
        live_uncosted: Callable[[float, float], int] = _no_uncosted,
    ):
        self.config = config
        self.clock = clock
        self.live_cost = live_cost
        self.live_uncosted = live_uncosted
        self.logs_since = logs_since

    def month(self, now: float | None = None) -> tuple[float, float]:
        return month_bounds(self.clock() if now is None else now, self.config.month_start_day)

    def state(self, usages: dict[str, ProviderUsage | None]) -> BudgetState:
        now = self.clock()
        start, end = self.month(now)
        known = {n: u for n, u in usages.items() if u is not None}
        bucketed = [u for u in known.values() if not u.running_total]
        totals = [u for u in known.values() if u.running_total]
        anchor = self._anchor(start, now, bucketed, totals)
        billed = sum(b.usd for u in bucketed for b in u.daily if b.start >= start and b.end <= anchor)
        billed += sum(u.month_to_date_usd for u in totals)
        live = self.live_cost(anchor, now) if anchor < now else 0.0
        burn_1h, span_1h = self._log_rate(now, HOUR)
        burn_24h, span_24h = self._log_rate(now, DAY)
        if burn_24h is None:
            burn_24h = self._billed_rate(bucketed, anchor)
            span_24h = None if burn_24h is None else DAY
        return BudgetState(
            now=now, month_start=start, month_end=end,
            budget_usd=self.config.monthly_usd or None,
            billed_usd=billed, anchor=anchor, live_usd=live,
            burn_1h=burn_1h,
            burn_24h=burn_24h,
            drift=self._drift(bucketed, start, anchor),
            providers=[ProviderBudget(n, u.month_to_date_usd if u else 0.0, self.config.providers.get(n))
                       for n, u in usages.items()],
            scopes=[self._scope(s, usages, end) for s in self.config.scopes],
            burn_1h_span_s=span_1h,
            burn_24h_span_s=span_24h,
            live_uncosted_calls=self.live_uncosted(anchor, now) if anchor < now else 0,
        )

    @staticmethod
    def _scope(scope: BudgetScope, usages: dict[str, ProviderUsage | None], month_end: float) -> ScopeBudget:
        """A scope's figures from its provider's last poll (a LiteLLM key's own max_budget when none is set)."""
        usage = usages.get(scope.provider)
        found = usage.scopes.get(scope.name) if usage is not None else None
        if found is None:
            error = None if scope.provider in usages else f"[providers.{scope.provider}] is not enabled"
            return ScopeBudget(scope.name, scope.provider, scope.label, scope.monthly_usd, None, error=error)
        return ScopeBudget(
            scope.name, scope.provider, scope.label,
            scope.monthly_usd if scope.monthly_usd is not None else found.limit_usd,
            None if found.error else found.month_to_date_usd, found.last_bucket_end,
            None if found.running_total or found.error else _scope_forecast(found, month_end), found.error,
        )

    @staticmethod
    def _anchor(start: float, now: float, bucketed: list[ProviderUsage], totals: list[ProviderUsage]) -> float:
        if bucketed:
            return min(max(start, u.last_bucket_end or start) for u in bucketed)
        if totals:
            return min(u.fetched_at for u in totals)
        return start

    def _log_rate(self, now: float, window: float) -> tuple[float | None, float | None]:
        """USD per hour the logs show over the last `window`, or the part of it they cover, and that span."""
        since = self.logs_since()
        if since is None:
            return None, None
        begin = max(now - window, since)
        if now - begin < min(window, MIN_RATE_SPAN_S):
            return None, None
        return self.live_cost(begin, now) / ((now - begin) / HOUR), now - begin

    @staticmethod
    def _billed_rate(bucketed: list[ProviderUsage], anchor: float) -> float | None:
        """USD per hour over the last complete billed day, when the logs cannot tell."""
        days = [b for u in bucketed for b in u.daily if b.end <= anchor and b.end > anchor - DAY]
        return sum(b.usd for b in days) / 24 if days else None

    def _drift(self, bucketed: list[ProviderUsage], start: float, anchor: float) -> Drift | None:
        since = self.logs_since()
        if since is None or not bucketed:
            return None
        days = [b for u in bucketed for b in u.daily if b.start >= max(start, since) and b.end <= anchor]
        if not days:
            return None
        first = min(b.start for b in days)
        return Drift(first, anchor, sum(b.usd for b in days), self.live_cost(first, anchor))


def _scope_forecast(usage: ScopeUsage, month_end: float) -> float | None:
    """Month-end spend if the scope keeps its average over its last complete billed days."""
    days = usage.daily[-SCOPE_RATE_DAYS:]
    if not days or usage.last_bucket_end is None:
        return None
    per_hour = sum(b.usd for b in days) / (sum(b.end - b.start for b in days) / HOUR)
    return usage.month_to_date_usd + per_hour * max(0.0, month_end - usage.last_bucket_end) / HOUR
