"""`apimon-tui usage`: poll every enabled provider once and print the budget.

Exit codes: 0 when every provider gave its billed figures, even if one of its
other endpoints failed (that is a warning, printed with them); 3 when any
provider gave none (the others are still printed); 2 for a config problem.
With `--json` the errors and warnings also go to stderr, one line each, and the
JSON is strict: a figure that is not known is null, never NaN. Without logs the
live estimate is 0, so month-to-date is the billed figure and the 24 h burn rate
comes from the last complete billed day.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from typing import Any

from apimon_tui.core import config as config_mod
from apimon_tui.costs.budget import Budget, BudgetConfig, BudgetState, ScopeBudget
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.core.terminal_text import lines as plain_lines
from apimon_tui.core.timeutil import format_duration
from apimon_tui.costs.usage.base import iso_z
from apimon_tui.costs.usage.poller import Poller, ProviderState

EXIT_PROVIDER_FAILED = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("usage", help="poll the providers' usage and cost APIs once and print the budget")
    p.add_argument("--config", help="config file (default: $APIMON_CONFIG or ~/.config/apimon-tui/config.toml)")
    p.add_argument("--json", action="store_true", help="print the budget state as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_mod.load(args.config)
        poller = Poller.from_config(config)
        budget = Budget(BudgetConfig.from_config(config))
    except config_mod.ConfigError as exc:
        print(f"apimon-tui usage: {one_line(str(exc))}", file=sys.stderr)
        return 2
    asyncio.run(_poll(poller))
    state = budget.state(poller.usages())
    if args.json:
        print(json.dumps(strict(to_json(state, poller.states)), indent=2, allow_nan=False))
        for line in problems(poller.states):
            print(f"apimon-tui usage: {line}", file=sys.stderr)
    else:
        print(plain_lines(render(state, poller.states)))
    return EXIT_PROVIDER_FAILED if any(s.last_error for s in poller.states.values()) else 0


def problems(providers: dict[str, ProviderState]) -> list[str]:
    """Each provider's error, or the warnings beside its figures, one line each."""
    out = []
    for name, s in providers.items():
        if s.last_error:
            out.append(f"{name}: error: {s.last_error}")
        elif s.usage:
            out.extend(f"{name}: warning: {w}" for w in s.usage.warnings)
    return out


def strict(value: Any) -> Any:
    """`value` with every NaN or infinity as None: strict JSON, where an unknown figure is null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return value


async def _poll(poller: Poller) -> None:
    try:
        await poller.poll_all()
    finally:
        await poller.aclose()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso_z(ts)


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def to_json(state: BudgetState, providers: dict[str, ProviderState]) -> dict[str, Any]:
    forecast_range = state.forecast_range
    drift = state.drift
    per_budget = {p.name: p for p in state.providers}
    return {
        "now": _iso(state.now), "month_start": _iso(state.month_start), "month_end": _iso(state.month_end),
        "budget_usd": state.budget_usd, "spent_usd": _usd(state.spent_usd),
        "spent_pct": None if state.spent_pct is None else round(state.spent_pct, 2),
        "billed_usd": _usd(state.billed_usd), "billed_until": _iso(state.anchor), "live_usd": _usd(state.live_usd),
        "burn_rate_usd_per_hour": _usd(state.burn_24h), "burn_rate_1h_usd_per_hour": _usd(state.burn_1h),
        "forecast_month_end_usd": _usd(state.forecast_usd),
        "forecast_range_usd": None if forecast_range is None else [_usd(v) for v in forecast_range],
        "runs_out_at": _iso(state.run_out),
        "drift": None if drift is None else {"from": _iso(drift.start), "to": _iso(drift.end),
                                             "billed_usd": _usd(drift.billed_usd), "logs_usd": _usd(drift.logs_usd),
                                             "drift_usd": _usd(drift.usd)},
        "providers": {name: _provider_json(s, per_budget.get(name)) for name, s in providers.items()},
        "scopes": [_scope_json(s) for s in state.scopes],
    }


def _scope_json(scope: ScopeBudget) -> dict[str, Any]:
    return {
        "name": scope.name, "provider": scope.provider, "label": scope.label,
        "month_to_date_usd": _usd(scope.spent_usd), "budget_usd": scope.budget_usd,
        "spent_pct": None if scope.spent_pct is None else round(scope.spent_pct, 2),
        "billed_until": _iso(scope.billed_until), "forecast_month_end_usd": _usd(scope.forecast_usd),
        "error": scope.error,
    }


def _provider_json(state: ProviderState, budget: Any) -> dict[str, Any]:
    u = state.usage
    return {
        "month_to_date_usd": _usd(u.month_to_date_usd) if u else None,
        "last_bucket_end": _iso(u.last_bucket_end) if u else None,
        "partial_usd": _usd(u.partial_usd) if u else None,
        "error": state.last_error,
        "last_success": _iso(state.last_success),
        "budget_usd": budget.budget_usd if budget else None,
        "spent_pct": None if not budget or budget.spent_pct is None else round(budget.spent_pct, 2),
        "limit_usd": u.limit_usd if u else None,
        "limit_remaining_usd": _usd(u.limit_remaining_usd) if u else None,
        "models": {m: {"input_tokens": x.input_tokens, "output_tokens": x.output_tokens, "requests": x.requests,
                       "usd": _usd(x.usd)} for m, x in u.models.items()} if u else {},
        "notes": list(u.notes) if u else [],
        "warnings": list(u.warnings) if u and not state.last_error else [],
    }


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _day(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def render(state: BudgetState, providers: dict[str, ProviderState]) -> str:
    lines = []
    month = f"{_day(state.month_start)[:10]} to {_day(state.month_end)[:10]}"
    if state.budget_usd:
        lines.append(f"Budget    {_money(state.budget_usd)} for {month}")
        lines.append(f"Spent     {_money(state.spent_usd)} ({state.spent_pct:.1f}%)")
    else:
        lines.append(f"Budget    none set (budget.monthly_usd) for {month}")
        lines.append(f"Spent     {_money(state.spent_usd)}")
    lines.append(f"          billed {_money(state.billed_usd)} to {_day(state.anchor)}"
                 f" + live estimate {_money(state.live_usd)} from logs")
    rates = [f"{_money(r)}/h over {w}" for r, w in ((state.burn_1h, "1 h"), (state.burn_24h, "24 h")) if r is not None]
    lines.append("Burn      " + (" · ".join(rates) if rates else "unknown (no recent billed day)"))
    if state.forecast_usd is not None and state.forecast_range is not None:
        low, high = state.forecast_range
        spread = f" (range {_money(low)}..{_money(high)})" if round(low, 2) != round(high, 2) else ""
        lines.append(f"Forecast  {_money(state.forecast_usd)} at month end{spread}")
    if state.budget_usd:
        run_out = state.run_out
        lines.append("Runs out  " + ("already spent" if run_out == state.now else
                                      _day(run_out) if run_out else "not before the month ends"))
    if state.drift is not None:
        d = state.drift
        lines.append(f"Drift     logs {_money(d.logs_usd)} vs billed {_money(d.billed_usd)} "
                     f"from {_day(d.start)[:10]} ({'+' if d.usd >= 0 else '-'}{_money(abs(d.usd))})")
    lines.append("Providers")
    budgets = {p.name: p for p in state.providers}
    if not providers:
        lines.append("  none enabled: set enabled = true under [providers.openai] (or anthropic, litellm, openrouter)")
    for name, s in providers.items():
        lines.append("  " + _provider_line(name, s, budgets.get(name), state.now))
    if state.scopes:
        lines.append("Scopes    (billed spend only: logs cannot tell which project or key paid)")
        lines.extend("  " + _scope_line(scope) for scope in state.scopes)
    return "\n".join(lines)


def _scope_line(scope: ScopeBudget) -> str:
    text = f"{identifier(scope.label):<24} {scope.provider:<10}"
    if scope.spent_usd is None:
        return text + (f" error: {one_line(scope.error)}" if scope.error else " no figures yet")
    text += f" {_money(scope.spent_usd):>10}"
    if scope.budget_usd:
        text += f" of {_money(scope.budget_usd)} ({scope.spent_pct:.0f}%)"
    if scope.forecast_usd is not None:
        text += f" · forecast {_money(scope.forecast_usd)}"
    return text


def _provider_line(name: str, s: ProviderState, budget: Any, now: float) -> str:
    u = s.usage
    if u is None:
        return f"{name:<11} error: {one_line(s.last_error or '')}"
    to = "as of" if u.running_total else "billed to"
    text = f"{name:<11} {_money(u.month_to_date_usd):>10} {to} {_day(u.last_bucket_end)}"
    if budget and budget.budget_usd:
        text += f" of {_money(budget.budget_usd)} ({budget.spent_pct:.0f}%)"
    if u.limit_usd is not None:
        text += f" · provider limit {_money(u.limit_usd)}, {_money(u.limit_remaining_usd)} left"
    age = s.age(now)
    text += f" · polled {format_duration(age)} ago" if age is not None else ""
    if s.last_error:
        text += f" · error: {one_line(s.last_error)}"
    return "\n".join([text] + [f"{'':<13}{one_line(note)}" for note in u.notes]
                     + [f"{'':<13}warning: {one_line(warning)}" for warning in u.warnings if not s.last_error])
