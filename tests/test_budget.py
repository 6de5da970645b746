"""Budget arithmetic with a fixed clock: anchor + live estimate, burn rates, forecast, run-out, month bounds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from apimon_tui.costs.budget import Budget, BudgetConfig, month_bounds
from apimon_tui.core.config import ConfigError
from apimon_tui.costs.usage.base import CostBucket, ProviderUsage

H, D = 3600.0, 86400.0


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


NOW = ts(2025, 5, 20, 12)
MAY_1, JUN_1 = ts(2025, 5, 1), ts(2025, 6, 1)


def bucketed(name: str, first: float, last_end: float, usd_per_day: float) -> ProviderUsage:
    """A provider billed `usd_per_day` for every complete day from `first` to `last_end`."""
    days = [CostBucket(t, t + D, usd_per_day) for t in range(int(first), int(last_end), int(D))]
    return ProviderUsage(name, fetched_at=NOW, month_to_date_usd=sum(b.usd for b in days if b.start >= MAY_1),
                         last_bucket_end=last_end, daily=days)


class Logs:
    """The logs' side: spend events (ts, usd) summed over a window, and where they start."""

    def __init__(self, events: list[tuple[float, float]], since: float | None):
        self.events, self.since, self.calls = events, since, []

    def live_cost(self, start: float, end: float) -> float:
        self.calls.append((start, end))
        return sum(usd for t, usd in self.events if start <= t < end)

    def logs_since(self) -> float | None:
        return self.since


def hourly(usd: float, hours: int, end: float = NOW) -> list[tuple[float, float]]:
    """`usd` spent at the start of each of the `hours` hours before `end`."""
    return [(end - (i + 1) * H, usd) for i in range(hours)]


def budget(logs: Logs | None = None, monthly: float = 0.0, day: int = 1, providers=None, now: float = NOW) -> Budget:
    kwargs = {"live_cost": logs.live_cost, "logs_since": logs.logs_since} if logs else {}
    return Budget(BudgetConfig(monthly, day, providers or {}), clock=lambda: now, **kwargs)


@pytest.mark.parametrize("now, day, start, end", [
    (NOW, 1, MAY_1, JUN_1),
    (NOW, 15, ts(2025, 5, 15), ts(2025, 6, 15)),
    (ts(2025, 5, 10), 15, ts(2025, 4, 15), ts(2025, 5, 15)),
    (ts(2025, 5, 15), 15, ts(2025, 5, 15), ts(2025, 6, 15)),  # the start day itself belongs to the new month
    (ts(2025, 12, 20), 1, ts(2025, 12, 1), ts(2026, 1, 1)),
    (ts(2026, 1, 10), 15, ts(2025, 12, 15), ts(2026, 1, 15)),
    (ts(2025, 2, 28, 12), 31, ts(2025, 2, 28), ts(2025, 3, 31)),  # short months start on their last day
    (ts(2025, 2, 27), 31, ts(2025, 1, 31), ts(2025, 2, 28)),
    (ts(2024, 2, 29, 1), 30, ts(2024, 2, 29), ts(2024, 3, 30)),
])
def test_month_bounds(now, day, start, end):
    assert month_bounds(now, day) == (start, end)


def test_month_to_date_is_the_bill_to_the_earliest_complete_bucket_plus_the_logs_after():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)       # billed to May 20 00:00
    anthropic = bucketed("anthropic", MAY_1, ts(2025, 5, 19), 4.0)  # lags a day more
    logs = Logs(hourly(1.0, 48), since=NOW - 48 * H)
    state = budget(logs).state({"openai": openai, "anthropic": anthropic})
    assert state.anchor == ts(2025, 5, 19)
    assert state.billed_usd == pytest.approx(18 * 10.0 + 18 * 4.0)  # both cut at May 19: nothing counted twice
    assert (ts(2025, 5, 19), NOW) in logs.calls
    assert state.live_usd == pytest.approx(36.0)  # May 19 00:00 to May 20 12:00, $1 an hour
    assert state.spent_usd == pytest.approx(252.0 + 36.0)


def test_running_totals_add_as_they_stand_and_anchor_alone_at_the_poll():
    openrouter = ProviderUsage("openrouter", fetched_at=NOW - 600, month_to_date_usd=25.0, running_total=True,
                               last_bucket_end=NOW - 600)
    logs = Logs([(NOW - 900, 5.0), (NOW - 300, 0.4)], since=NOW - 48 * H)
    state = budget(logs).state({"openrouter": openrouter})
    assert state.anchor == NOW - 600 and state.billed_usd == 25.0
    assert state.live_usd == pytest.approx(0.4)
    assert state.spent_usd == pytest.approx(25.4)


def test_running_totals_beside_buckets_keep_the_bucket_anchor():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    openrouter = ProviderUsage("openrouter", fetched_at=NOW, month_to_date_usd=25.0, running_total=True,
                               last_bucket_end=NOW)
    state = budget().state({"openai": openai, "openrouter": openrouter})
    assert state.anchor == ts(2025, 5, 20)
    assert state.billed_usd == pytest.approx(190.0 + 25.0)


def test_without_providers_the_logs_carry_the_whole_month():
    logs = Logs([(MAY_1 - 60, 99.0), (MAY_1 + 60, 3.0), (NOW - 60, 2.0)], since=MAY_1 - D)
    state = budget(logs).state({})
    assert state.anchor == MAY_1 and state.billed_usd == 0.0
    assert state.spent_usd == pytest.approx(5.0)  # April's $99 is last month


def test_a_failed_provider_without_figures_is_left_out():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    state = budget(monthly=400.0, providers={"anthropic": 50.0}).state({"openai": openai, "anthropic": None})
    assert state.billed_usd == pytest.approx(190.0)
    assert [(p.name, p.spent_usd, p.budget_usd, p.spent_pct) for p in state.providers] == [
        ("openai", 190.0, None, None), ("anthropic", 0.0, 50.0, 0.0)]


def test_the_configured_start_day_cuts_the_bill():
    openai = bucketed("openai", ts(2025, 4, 20), ts(2025, 5, 20), 10.0)
    state = budget(day=15).state({"openai": openai})
    assert state.month_start == ts(2025, 5, 15) and state.month_end == ts(2025, 6, 15)
    assert state.billed_usd == pytest.approx(5 * 10.0)  # May 15..19


def test_burn_rates_over_the_last_hour_and_day():
    events = hourly(1.0, 48) + [(NOW - 10 * 60, 5.0)]  # $1 an hour, and $5 in the last hour
    state = budget(Logs(events, since=NOW - 48 * H)).state({})
    assert state.burn_1h == pytest.approx(6.0)
    assert state.burn_24h == pytest.approx((24 + 5) / 24)


def test_burn_rate_over_the_part_of_the_window_the_logs_cover():
    state = budget(Logs(hourly(2.0, 3), since=NOW - 3 * H)).state({})
    assert state.burn_1h == pytest.approx(2.0)
    assert state.burn_24h == pytest.approx(2.0)  # 3 h of logs at $2/h, not $6 spread over 24 h
    assert (state.burn_1h_span_s, state.burn_24h_span_s) == (H, 3 * H)


def test_a_fresh_start_gives_a_burn_rate_after_a_minute_with_its_span():
    state = budget(Logs([(NOW - 5 * 60, 0.5), (NOW - 60, 0.2)], since=NOW - 6 * 60)).state({})
    assert state.burn_1h == state.burn_24h == pytest.approx(0.7 * 10)  # $0.70 over 6 minutes
    assert state.burn_1h_span_s == state.burn_24h_span_s == 6 * 60
    assert state.forecast_range is not None


def test_too_little_log_gives_no_rate_and_the_day_rate_falls_back_to_the_bill():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 12.0)
    state = budget(Logs([(NOW - 20, 1.0)], since=NOW - 30)).state({"openai": openai})
    assert state.burn_1h is None
    assert state.burn_24h == pytest.approx(12.0 / 24)  # the last complete billed day


def test_no_logs_and_no_bill_give_no_rate_and_no_forecast():
    state = budget(monthly=100.0).state({})
    assert state.burn_1h is None and state.burn_24h is None
    assert state.forecast_usd is None and state.forecast_range is None and state.run_out is None


def test_forecast_is_linear_on_the_day_rate_with_a_range_from_both_rates():
    events = hourly(1.0, 48) + [(NOW - 10 * 60, 5.0)]
    state = budget(Logs(events, since=NOW - 48 * H)).state({})
    hours_left = (JUN_1 - NOW) / H
    assert hours_left == 11.5 * 24
    spent = state.spent_usd
    assert state.forecast_usd == pytest.approx(spent + 29 / 24 * hours_left)
    assert state.forecast_range == pytest.approx((spent + 29 / 24 * hours_left, spent + 6.0 * hours_left))


def test_run_out_date_at_the_day_rate():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)  # $190 billed, $10 a day
    state = budget(monthly=250.0).state({"openai": openai})
    assert state.spent_pct == pytest.approx(76.0)
    assert state.run_out == pytest.approx(NOW + 60.0 / (10.0 / 24) * H)  # $60 left at $10/day: 6 days


def test_budget_that_lasts_the_month_does_not_run_out():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    assert budget(monthly=1000.0).state({"openai": openai}).run_out is None


def test_spent_budget_ran_out_now():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    state = budget(monthly=150.0).state({"openai": openai})
    assert state.run_out == NOW and state.spent_pct > 100


def test_no_budget_means_no_percentage_and_no_run_out():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    state = budget().state({"openai": openai})
    assert state.budget_usd is None and state.spent_pct is None and state.run_out is None


def test_drift_compares_the_bill_and_the_logs_over_the_same_complete_days():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    logs = Logs(hourly(0.5, 24 * 4), since=ts(2025, 5, 16, 6))  # logs from May 16 06:00, $12 a day
    state = budget(logs).state({"openai": openai})
    drift = state.drift
    assert (drift.start, drift.end) == (ts(2025, 5, 17), ts(2025, 5, 20))  # May 16 is only partly in the logs
    assert drift.billed_usd == pytest.approx(30.0) and drift.logs_usd == pytest.approx(36.0)
    assert drift.usd == pytest.approx(6.0) and drift.pct == pytest.approx(20.0)


def test_no_drift_without_logs_or_without_complete_days_in_them():
    openai = bucketed("openai", MAY_1, ts(2025, 5, 20), 10.0)
    assert budget().state({"openai": openai}).drift is None
    assert budget(Logs([], since=NOW - H)).state({"openai": openai}).drift is None


def test_first_day_of_the_month_before_any_complete_bucket():
    now = ts(2025, 6, 1, 6)
    may = bucketed("openai", MAY_1, JUN_1, 10.0)  # May is complete, June has no complete day yet
    logs = Logs([(ts(2025, 5, 31, 23), 4.0), (ts(2025, 6, 1, 5), 2.0)], since=MAY_1)
    state = budget(logs, now=now).state({"openai": may})
    assert state.month_start == JUN_1 and state.anchor == JUN_1
    assert state.billed_usd == 0.0 and state.spent_usd == pytest.approx(2.0)


@pytest.mark.parametrize("section, message", [
    ({"month_start_day": 0}, "budget.month_start_day must be 1 to 31, not 0"),
    ({"monthly_usd": -5.0}, "budget.monthly_usd must not be negative"),
    ({"providers": {"openai": "lots"}}, "budget.providers.openai must be a number of USD, not 'lots'"),
])
def test_bad_budget_config_is_one_clear_sentence(section, message):
    with pytest.raises(ConfigError, match=message):
        BudgetConfig.from_config({"budget": section})


def test_budget_config_defaults_and_per_provider_budgets():
    config = BudgetConfig.from_config({"budget": {"monthly_usd": 500, "month_start_day": 3,
                                                  "providers": {"openai": 200}}})
    assert (config.monthly_usd, config.month_start_day, config.providers) == (500.0, 3, {"openai": 200.0})
    assert BudgetConfig.from_config({}) == BudgetConfig(0.0, 1, {})
