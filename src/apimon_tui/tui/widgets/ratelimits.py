"""Rate limits panel: the latest remaining requests and tokens per model, from response headers."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from apimon_tui.store import Snapshot
from apimon_tui.store.metrics import RateLimitSeen
from apimon_tui.terminal_text import identifier
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.keyed_table import KeyedTable

COLUMNS = ["model", "requests left", "tokens left", "seen"]
LOW = 0.1


class RateLimitsPanel(Vertical):
    DEFAULT_CSS = "RateLimitsPanel > KeyedTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Rate limits"

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="ratelimits-table")

    def show(self, snap: Snapshot) -> None:
        rows = [_row(seen, snap.now) for seen in snap.ratelimits]
        self.border_subtitle = "" if rows else "none in these logs"
        self.query_one(KeyedTable).show(rows)


def _headroom(remaining: int | None, limit: int | None, fraction: float | None) -> Text:
    if remaining is None:
        return Text("-", justify="right")
    shown = f"{fmt.count(remaining)}/{fmt.count(limit)}" if limit else fmt.count(remaining)
    if fraction is not None:
        shown += f" {fraction:.0%}"
    return Text(shown, justify="right", style="bold reverse" if fraction is not None and fraction < LOW else "")


def _row(seen: RateLimitSeen, now: float) -> tuple[Text, ...]:
    rl = seen.ratelimit
    return (
        Text(identifier(seen.model)),
        _headroom(rl.remaining_requests, rl.limit_requests, rl.requests_fraction()),
        _headroom(rl.remaining_tokens, rl.limit_tokens, rl.tokens_fraction()),
        Text(fmt.age(now - seen.ts), justify="right"),
    )
