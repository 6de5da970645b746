"""Budget panel: month-to-date spend against the monthly budget, burn rate and forecast.

Spend is the providers' billed figure (when usage polling runs) plus the logs'
live estimate since the bill's last complete bucket; the gauge turns warning
at 80% and error at 100% of the budget, through theme classes.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from apimon_tui.costs.budget import BudgetState
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.core.timeutil import format_duration
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.border import set_border

WARN_PCT = 80.0
MAX_SCOPE_LINES = 3  # per project/key budgets shown; `apimon-tui usage` lists them all


class Gauge(ProgressBar):
    """Textual's progress bar without its timer: once a second it worked out again the ETA, which
    this gauge does not show, and repainted the gauge as that changed (2-3 ms of a refresh's 20)."""

    def update(self, **changes) -> None:
        if changes:  # the timer's call has none
            super().update(**changes)


class BudgetPanel(Vertical, can_focus=True):  # Tab reaches it, `z` zooms it
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    BudgetPanel { height: auto; }
    BudgetPanel ProgressBar { height: 1; }
    BudgetPanel ProgressBar Bar { width: 1fr; }
    BudgetPanel #budget-head { height: 1; }
    BudgetPanel #budget-lines { height: 2; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Budget · month to date"
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="budget-head")
        yield Gauge(total=100, show_eta=False, id="budget-gauge")
        yield Static(id="budget-lines")

    def show(self, state: BudgetState, providers: list, partial: bool = False) -> None:
        """`providers` are the usage poller's `ProviderState`s (empty without polling); `partial`:
        the logs of the month's live part are still being read back."""
        set_border(self, title="Budget · month to date" + (" · partial" if partial else ""))
        head, lines = _head(state), _lines(state, providers)
        level = _level(state.spent_pct)
        key = (head, lines, level, state.spent_pct)
        if key == self._shown:
            return
        self._shown = key
        self.query_one("#budget-head", Static).update(head, layout=False)
        gauge = self.query_one(Gauge)
        gauge.display = state.budget_usd is not None
        gauge.update(progress=min(state.spent_pct or 0.0, 100.0))
        for name in ("-ok", "-warn", "-over"):
            self.set_class(name == level, name)
        body = self.query_one("#budget-lines", Static)
        body.styles.height = len(lines.plain.splitlines())  # a layout only when the count changes
        body.update(lines, layout=False)


def _level(spent_pct: float | None) -> str:
    if spent_pct is None or spent_pct < WARN_PCT:
        return "-ok"
    return "-warn" if spent_pct < 100 else "-over"


def _head(state: BudgetState) -> Text:
    text = Text()
    text.append(_at_least(state) + fmt.usd(state.spent_usd), style="bold")
    if state.budget_usd is not None:
        text.append(f" of {fmt.usd(state.budget_usd)} ({state.spent_pct:.0f}%)")
    else:
        text.append(" spent · no budget set ([budget] monthly_usd)", style="dim")
    return text


def _at_least(state: BudgetState) -> str:
    """`≥ ` when some calls of the live part have no known cost, so the figure is a lower bound."""
    return "≥ " if state.live_uncosted_calls else ""


def _rate(value: float | None, span_s: float | None) -> str:
    """`$4.10/h over 6m`: a rate with the span it was taken over (logs may cover part of the window)."""
    if value is None:
        return "-"
    return f"{fmt.usd(value)}/h" if span_s is None else f"{fmt.usd(value)}/h over {format_duration(span_s)}"


def _forecast(state: BudgetState) -> str:
    """Month-end spend as the range between the two burn rates (one figure when they agree)."""
    span = state.forecast_range
    if span is None:
        return "-"
    low, high = fmt.usd(span[0]), fmt.usd(span[1])
    return low if low == high else f"{low}-{high}"


def _lines(state: BudgetState, providers: list) -> Text:
    text = Text()
    text.append("burn ", style="dim")
    text.append(_rate(state.burn_1h, state.burn_1h_span_s))
    if state.burn_24h is not None and state.burn_24h_span_s != state.burn_1h_span_s:
        text.append(f" · {_rate(state.burn_24h, state.burn_24h_span_s)}")
    text.append("\nforecast ", style="dim")
    text.append(f"{_forecast(state)} at month end")
    run_out = state.run_out
    if run_out is not None:
        text.append(" · runs out ", style="dim")
        text.append(time.strftime("%b %d %H:%M", time.localtime(run_out)), style="bold")
    if providers:
        text.append("\nbilled ", style="dim")
        text.append(f"{fmt.usd(state.billed_usd)} + live {_at_least(state)}{fmt.usd(state.live_usd)}")
        for p in providers:
            text.append(f"\n{p.name} ", style="dim")
            if p.last_error:
                text.append(one_line(p.last_error)[:60])
            else:
                text.append(f"updated {fmt.age(p.age(state.now))}")
            if p.stale(state.now):
                text.append(" (stale)", style="bold")
    for scope in state.scopes[:MAX_SCOPE_LINES]:  # billed spend only: logs cannot tell which project paid
        text.append(f"\n{identifier(scope.label)} ", style="dim")
        if scope.spent_usd is None:
            text.append(one_line(scope.error or "no figures yet")[:60])
        else:
            text.append(fmt.usd(scope.spent_usd))
            if scope.budget_usd:
                text.append(f" of {fmt.usd(scope.budget_usd)} ({scope.spent_pct:.0f}%)")
    return text
