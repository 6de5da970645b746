"""Budget, forecast, spend_spike, spend_drift and usage_stale rules, fed plain budget and poller states
with a fixed clock (the budget model and the poller are not run here)."""

from __future__ import annotations

from alerts_helpers import T0, Sim, custom, shipped

from apimon_tui.costs.budget import BudgetState, Drift, ProviderBudget
from apimon_tui.costs.usage.poller import ProviderState

H, D = 3600.0, 86400.0


def state(spent: float = 10.0, budget: float | None = 100.0, **kw) -> BudgetState:
    """A budget state at T0 with `spent` USD this month (all billed) and 100 h left in the month."""
    fields = dict(now=T0, month_start=T0 - 20 * D, month_end=T0 + 100 * H, budget_usd=budget,
                  billed_usd=spent, anchor=T0, live_usd=0.0, burn_1h=None, burn_24h=None, drift=None,
                  providers=[])
    fields.update(kw)
    return BudgetState(**fields)


def test_budget_levels_escalate_and_name_the_budget():
    sim = Sim([shipped("budget")])
    assert sim.run(5, budget=state(spent=49.99)) == []
    (info,) = sim.run(5, budget=state(spent=50.0))
    assert info.alert.message == "INFO budget monthly 50.0% >= 50% of $100.00 ($50.00 spent this month)"
    (warning,) = sim.run(5, budget=state(spent=80.0))
    assert (warning.kind, warning.alert.severity, warning.alert.key) == ("fire", "warning", info.alert.key)
    (critical,) = sim.run(5, budget=state(spent=100.5))
    assert critical.alert.severity == "critical" and critical.alert.cause.target == "budget"
    # A new budget month: spend starts over, the alert resolves.
    (resolved,) = sim.run(5, budget=state(spent=0.0))
    assert resolved.kind == "resolve"


def test_budget_per_provider_and_a_user_rule_scoped_to_one_provider():
    providers = [ProviderBudget("openai", 45.0, 50.0), ProviderBudget("anthropic", 5.0, 100.0)]
    sim = Sim([shipped("budget"), custom(kind="budget", name="openai_early", provider="openai", info=20.0)])
    events = sim.run(5, budget=state(spent=50.0, budget=None, providers=providers))
    got = sorted((e.alert.rule, e.alert.scope, e.alert.severity) for e in events)
    assert got == [("budget", "provider openai", "warning"), ("openai_early", "provider openai", "info")]


def test_forecast_over_budget_fires_after_for_and_clears_with_hysteresis():
    sim = Sim([shipped("forecast")])
    over = state(spent=50.0, burn_24h=1.0)             # 50 + 1 $/h x 100 h = $150 by month end
    assert sim.run(900, budget=over) == []               # first seen at T0+5; `for` = 15m
    (event,) = sim.run(5, budget=over)
    assert event.ts == T0 + 5 + 900
    assert event.alert.message == ("WARNING forecast monthly 150.0% of budget > 100% "
                                   "(month-end forecast $150.00, budget $100.00)")
    assert sim.run(3600, budget=state(spent=50.0, burn_24h=0.48)) == []   # $98: above 95% of the threshold
    (resolved,) = sim.run(3600, budget=state(spent=50.0, burn_24h=0.2))  # $70
    assert resolved.ts == T0 + 905 + 3600 + 5 + 1800     # after `hold` = 30m


def test_forecast_without_budget_or_burn_rate_says_nothing():
    sim = Sim([shipped("forecast")])
    assert sim.run(1800, budget=state(spent=50.0, budget=None, burn_24h=5.0)) == []
    assert sim.run(1800, budget=state(spent=50.0)) == []


def test_spend_spike_needs_for_and_the_minimum_spend():
    sim = Sim([shipped("spend_spike")])
    assert sim.run(3600, budget=state(burn_1h=0.5, burn_24h=0.1)) == []  # 5x, but under $1/h
    assert sim.run(300, budget=state(burn_1h=5.0, burn_24h=1.0)) == []  # first seen at T0+3605
    (event,) = sim.run(5, budget=state(burn_1h=5.0, burn_24h=1.0))
    assert event.ts == T0 + 3605 + 300
    assert event.alert.message == ("WARNING spend_spike all 5.0x the hourly average > 3x "
                                   "($5.00/h in the last hour, $1.00/h over 24h)")


def test_spend_drift_between_logs_and_bill():
    sim = Sim([shipped("spend_drift")])
    close = Drift(T0 - 3 * D, T0, billed_usd=10.0, logs_usd=10.9)
    assert sim.run(60, budget=state(drift=close)) == []
    far = Drift(T0 - 3 * D, T0, billed_usd=10.0, logs_usd=8.0)
    (event,) = sim.run(5, budget=state(drift=far))
    assert event.alert.message == ("INFO spend_drift logs vs billed 20.0% apart > 10% "
                                   "(logs $8.00, billed $10.00 over 3 complete days)")


def test_usage_stale_after_three_intervals_or_a_failed_poll():
    sim = Sim([shipped("usage_stale")], step=1)
    openai = ProviderState("openai", interval_s=300.0, last_success=T0, last_attempt=T0)
    anthropic = ProviderState("anthropic", interval_s=300.0, last_success=T0, last_attempt=T0)
    assert sim.run(900, usage={"openai": openai, "anthropic": anthropic}) == []   # exactly 3 intervals
    (stale,) = sim.run(1, usage=[openai])
    assert stale.alert.message == "WARNING usage_stale openai 3.0 polls old > 3 (last good figures 15m ago)"
    anthropic.last_attempt, anthropic.last_error = sim.sec, "no key: set sk-ant-admin01-abcdefghijklmnop"
    (failed,) = sim.run(1, usage=[openai, anthropic])
    assert failed.alert.scope == "anthropic"
    assert failed.alert.message == "WARNING usage_stale anthropic last poll failed: no key: set sk-ant-admin01-…mnop"
    openai.last_success = sim.sec                          # a good poll: resolves (hold 0)
    (resolved,) = sim.run(1, usage=[openai, anthropic])
    assert (resolved.kind, resolved.alert.scope) == ("resolve", "openai")
