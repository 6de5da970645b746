"""Rate limits panel: each model's last headroom in the window from response headers, the least first.

Each row: requests and tokens left of the limit (`3.9k/4k`, `9.9M/10M`), a bar
of the headroom that is smallest of the two, when that limit resets, and how
old the reading is. A reading is what the provider said on its last response:
after its reset time the real headroom is likely larger, so that is said too.
A model read at other times but not in the window (a past one, or live with
its last reading older than the window) shows its headroom as unknown, with
how long before the window's end it was last read: never a figure from
another time.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from apimon_tui.store import Snapshot
from apimon_tui.store.metrics import RateLimitSeen
from apimon_tui.core.terminal_text import identifier
from apimon_tui.core.timeutil import format_duration
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.border import set_border
from apimon_tui.tui.widgets.line_table import LineTable

# The figures first: at 120 columns the panel is 44 wide, room for the model and both figures whole.
COLUMNS = ["model", "requests", "tokens", "headroom", "resets", "seen"]
LOW = 0.1
BAR_CELLS = 4
EIGHTHS = " ▏▎▍▌▋▊▉█"


class RateLimitsPanel(Vertical):
    ALLOW_MAXIMIZE = True  # `z` zooms it
    # No horizontal scrollbar: its row would push a vertical one in and cut the figures at 120 columns
    # (the columns past them are a `z` away).
    DEFAULT_CSS = "RateLimitsPanel > LineTable { height: 1fr; scrollbar-size-horizontal: 0; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Rate limits"

    def compose(self) -> ComposeResult:
        yield LineTable(COLUMNS, id="ratelimits-table")

    def show(self, snap: Snapshot) -> None:
        ranked = sorted(snap.ratelimits, key=_rank)
        unknown = snap.ratelimits_unknown
        set_border(self, subtitle="" if ranked or unknown else "none in these logs")
        rows = [(seen.model, _row(seen, snap.now)) for seen in ranked]
        rows += [(model, _unknown_row(model, last, snap.now)) for model, last in unknown.items()]
        self.query_one(LineTable).set_rows(rows, keep_cursor=True)


def _rank(seen: RateLimitSeen) -> tuple[float, str]:
    """Least headroom first; readings with no known fraction last."""
    tightest = _tightest(seen)
    return (tightest[0] if tightest else math.inf, seen.model)


def _tightest(seen: RateLimitSeen) -> tuple[float, float | None] | None:
    """The smaller known headroom fraction and its reset (seconds after the reading), or None."""
    rl = seen.ratelimit
    known = [(f, reset) for f, reset in ((rl.requests_fraction(), rl.reset_requests_s),
                                         (rl.tokens_fraction(), rl.reset_tokens_s)) if f is not None]
    return min(known, key=lambda pair: pair[0]) if known else None


def _left(remaining: int | None, limit: int | None) -> Text:
    if remaining is None:
        return Text("-", justify="right")
    return Text(f"{fmt.count(remaining)}/{fmt.count(limit)}" if limit else fmt.count(remaining), justify="right")


def headroom_bar(fraction: float) -> str:
    """`██▊   71%`: the share of the limit left, in eighths of a cell; the percent rounded down."""
    eighths = round(max(0.0, min(1.0, fraction)) * BAR_CELLS * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[part] if part else "")
    return f"{bar:<{BAR_CELLS}} {math.floor(fraction * 100):>3d}%"


def _resets(reset_s: float | None, seen_ts: float, now: float) -> str:
    if reset_s is None:
        return "-"
    left = seen_ts + reset_s - now
    return f"in {format_duration(left)}" if left > 0 else "passed"


def _unknown_row(model: str, last: float | None, now: float) -> tuple[Text, ...]:
    """A model with no reading in the window: its headroom then is not known (`last`: its last reading before)."""
    return (
        Text(identifier(model)), Text("-", justify="right"), Text("-", justify="right"),
        Text("unknown", justify="right"), Text("-", justify="right"),
        Text(fmt.age(None if last is None else now - last), justify="right"),
    )


def _row(seen: RateLimitSeen, now: float) -> tuple[Text, ...]:
    rl = seen.ratelimit
    tightest = _tightest(seen)
    if tightest is None:
        bar, reset = Text("?", justify="right"), "-"
    else:
        fraction, reset_s = tightest
        bar = Text(headroom_bar(fraction), style="bold reverse" if fraction < LOW else "")
        reset = _resets(reset_s, seen.ts, now)
    return (
        Text(identifier(seen.model)),
        _left(rl.remaining_requests, rl.limit_requests),
        _left(rl.remaining_tokens, rl.limit_tokens),
        bar,
        Text(reset, justify="right"),
        Text(fmt.age(now - seen.ts), justify="right"),
    )
