"""What each kind of rule measures, as `Reading`s: one figure per scope at one moment.

Traffic rules read the metrics store through snapshots; budget and usage rules
read the budget state and the pollers' states handed in as plain values, so
every rule can be evaluated at any `now` with a fixed clock. A scope with too
few calls to judge gives no reading, which counts as the condition not holding.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from apimon_tui.alerts.rules import Cause, Rule
from apimon_tui.store.aggregate import Aggregate
from apimon_tui.store.metrics import CallFilter, MetricsStore, Snapshot
from apimon_tui.core.timeutil import format_duration

ALL = "all"


@dataclass(slots=True)
class Reading:
    scope: str
    value: float
    cause: Cause
    noun: str = ""                # words after the value: "5xx/timeouts", "429s"
    detail: str = ""              # words after the threshold: "over 5m (412 calls)"
    text: str = ""                # replaces "value op threshold detail" when set
    unit: str = ""                # instead of the kind's unit
    below: bool = False           # fires when the value drops under the threshold
    failing: bool = False         # holds whatever the value (a failed poll)
    levels: tuple[tuple[str, float], ...] | None = None  # instead of the rule's


@dataclass
class Inputs:
    """Everything rules read at one evaluation; snapshots are shared between rules."""

    store: MetricsStore | None
    now: float
    budget: Any = None                       # apimon_tui.costs.budget.BudgetState
    usage: list[Any] = field(default_factory=list)  # apimon_tui.costs.usage.poller.ProviderState
    unpriced: Collection[str] = ()
    _snaps: dict[tuple, Snapshot] = field(default_factory=dict)

    def snapshot(self, window_s: float, flt: CallFilter) -> Snapshot:
        key = (window_s, flt.model, flt.source)
        snap = self._snaps.get(key)
        if snap is None:
            snap = self._snaps[key] = self.store.snapshot(window_s, self.now, flt, points=0, failed_limit=1)
        return snap


def _over(rule: Rule) -> str:
    return f"over {format_duration(rule.window_s)}"


def _base_scope(rule: Rule) -> str:
    return rule.model or (f"source {rule.source}" if rule.source else ALL)


def _scoped(rule: Rule, snap: Snapshot) -> list[tuple[str, str, Aggregate]]:
    """(scope, model, figures): overall, then each model when the rule is per model.

    With a single model in the window, its own scope says everything the overall one would.
    """
    models = sorted(snap.by_model.items())
    if not (rule.per_model and not rule.model):
        return [(_base_scope(rule), rule.model, snap.total)]
    out = [(m, m, agg) for m, agg in models]
    return out if len(models) == 1 else [(_base_scope(rule), "", snap.total), *out]


def error_rate(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    snap = inp.snapshot(rule.window_s, rule.call_filter())
    for scope, model, agg in _scoped(rule, snap):
        if agg.calls and agg.calls >= rule.min_calls:
            yield Reading(scope, agg.errors / agg.calls * 100,
                          Cause("failed", model, "", rule.source, rule.window_s),
                          detail=f"{_over(rule)} ({agg.calls:,} calls)")


def latency(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    snap = inp.snapshot(rule.window_s, rule.call_filter())
    for scope, model, agg in _scoped(rule, snap):
        p95 = agg.latency.percentile(95)
        if p95 is not None and agg.latency.count >= rule.min_calls:
            yield Reading(scope, p95, Cause("failed", model, "", rule.source, rule.window_s),
                          noun="p95", detail=f"{_over(rule)} ({agg.latency.count:,} calls)")


def _server_error_count(agg: Aggregate) -> int:
    return sum(n for status, n in agg.status.items() if status.startswith("5") or status == "ERR")


def server_errors(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    snap = inp.snapshot(rule.window_s, rule.call_filter())
    for model, agg in sorted(snap.by_model.items()):
        count = _server_error_count(agg)
        if count:
            yield Reading(model, count, Cause("failed", model, "5xx", rule.source, rule.window_s),
                          noun="5xx/timeouts", detail=f"in {format_duration(rule.window_s)}")


def rate_limited(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    snap = inp.snapshot(rule.window_s, rule.call_filter())
    for model, agg in sorted(snap.by_model.items()):
        count = agg.status.get("429", 0)
        if count:
            yield Reading(model, count, Cause("failed", model, "429", rule.source, rule.window_s),
                          noun="429s", detail=f"in {format_duration(rule.window_s)}")
    headroom = ((rule.lowest, rule.headroom),)
    for seen in snap.ratelimits:  # read in the window: older headroom says nothing about now
        for what, fraction in (("requests", seen.ratelimit.requests_fraction()),
                               ("tokens", seen.ratelimit.tokens_fraction())):
            if fraction is not None:
                yield Reading(f"{seen.model} {what}", fraction * 100,
                              Cause("failed", seen.model, "429", rule.source, rule.window_s),
                              noun="left", detail="of the limit", unit="%", below=True, levels=headroom)


def no_traffic(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    snap = inp.snapshot(rule.window_s, rule.call_filter())
    for source, agg in sorted(snap.by_source.items()):
        if agg.calls >= max(1, rule.min_calls):
            yield Reading(source, max(0.0, inp.now - agg.last_ts), Cause("failed", "", "", source, rule.window_s),
                          noun="without calls",
                          detail=f"({agg.calls:,} calls in {format_duration(rule.window_s)})")


def unpriced_model(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    for model in sorted(inp.unpriced):
        if not rule.model or rule.model == model:
            yield Reading(model, 1.0, Cause("failed", model),
                          text="has no known price: its calls carry no cost (add it under [pricing])")


def budget(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    state = inp.budget
    if state is None:
        return
    if state.budget_usd and not rule.provider:
        yield Reading("monthly", state.spent_pct, Cause("budget"),
                      detail=f"of ${state.budget_usd:,.2f} (${state.spent_usd:,.2f} spent this month)")
    for p in state.providers:
        if p.budget_usd and (not rule.provider or rule.provider == p.name):
            yield Reading(f"provider {p.name}", p.spent_pct, Cause("budget"),
                          detail=f"of ${p.budget_usd:,.2f} (${p.spent_usd:,.2f} billed this month)")
    for scope in state.scopes:
        if scope.spent_pct is not None and (not rule.provider or rule.provider == scope.provider):
            yield Reading(scope.label, scope.spent_pct, Cause("budget"),
                          detail=f"of ${scope.budget_usd:,.2f} ({scope.provider}: ${scope.spent_usd:,.2f} billed)")


def forecast(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    state = inp.budget
    if state is None or not state.budget_usd or state.forecast_usd is None:
        return
    yield Reading("monthly", state.forecast_usd / state.budget_usd * 100, Cause("budget"),
                  noun="of budget",
                  detail=f"(month-end forecast ${state.forecast_usd:,.2f}, budget ${state.budget_usd:,.2f})")


def spend_drift(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    drift = inp.budget.drift if inp.budget is not None else None
    if drift is None or drift.pct is None:
        return
    days = round((drift.end - drift.start) / 86400)
    yield Reading("logs vs billed", abs(drift.pct), Cause("budget"), noun="apart",
                  detail=f"(logs ${drift.logs_usd:,.2f}, billed ${drift.billed_usd:,.2f} over {days} complete days)")


def spend_spike(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    state = inp.budget
    if state is None or not state.burn_1h or not state.burn_24h or state.burn_1h < rule.min_usd:
        return
    yield Reading(ALL, state.burn_1h / state.burn_24h, Cause("budget"), noun="the hourly average",
                  detail=f"(${state.burn_1h:,.2f}/h in the last hour, ${state.burn_24h:,.2f}/h over 24h)")


def usage_stale(rule: Rule, inp: Inputs) -> Iterable[Reading]:
    for state in inp.usage:
        if rule.provider and rule.provider != state.name:
            continue
        since = state.last_success if state.last_success is not None else state.last_attempt
        if since is None:
            continue  # not polled yet
        age = max(0.0, inp.now - since)
        polls = age / state.interval_s if state.interval_s else 0.0
        if state.last_error:
            yield Reading(state.name, polls, Cause("budget"), failing=True,
                          text=f"last poll failed: {state.last_error}")
        else:
            yield Reading(state.name, polls, Cause("budget"), noun="polls old",
                          detail=f"(last good figures {format_duration(age)} ago)")


MEASURES: dict[str, Callable[[Rule, Inputs], Iterable[Reading]]] = {
    "budget": budget,
    "forecast": forecast,
    "error_rate": error_rate,
    "server_errors": server_errors,
    "rate_limited": rate_limited,
    "latency": latency,
    "no_traffic": no_traffic,
    "unpriced_model": unpriced_model,
    "usage_stale": usage_stale,
    "spend_drift": spend_drift,
    "spend_spike": spend_spike,
}


def readings(rule: Rule, inp: Inputs) -> list[Reading]:
    """The rule's readings at `inp.now`; traffic rules give none without a store."""
    if rule.spec.needs_store and inp.store is None:
        return []
    return list(MEASURES[rule.kind](rule, inp))
