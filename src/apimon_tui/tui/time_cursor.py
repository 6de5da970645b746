"""The time cursor's moves: where a step or a jump to an error burst puts the end of the viewed
window, given the retained span. `None` is live: the window follows the newest data.

Kept apart from the app so the arithmetic of edges is plain to read and test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apimon_tui.store.bursts import Burst
from apimon_tui.core.timeutil import format_duration

SAME_S = 0.5  # ends closer than this are the same place


@dataclass(frozen=True, slots=True)
class Move:
    end: float | None  # the viewed window's new end; None: live
    edge: str = ""     # why it stopped short of where the key asked, said once


def earliest_end(oldest: float, window_s: float, live_end: float) -> float:
    """The earliest end whose window still starts at or after the oldest data (the live end
    when the whole span fits in one window)."""
    return min(live_end, oldest + window_s)


def step(position: float, delta: float, earliest: float, live_end: float) -> Move:
    """The window moved by `delta` seconds, stopping at the oldest data and at live."""
    target = position + delta
    if target >= live_end - SAME_S:
        return Move(None, "live: the newest data")
    if target < earliest:  # (when one window holds the whole span, live is as far back as it goes)
        return Move(None if earliest >= live_end - SAME_S else earliest, "the oldest data kept")
    return Move(target)


def burst_end(burst: Burst, live_end: float) -> float | None:
    """Where a jump to `burst` puts the window's end: just after the burst, or live when it goes on."""
    return None if burst.end >= live_end - SAME_S else burst.end


def jump(bursts: list[Burst], position: float, forward: bool, live_end: float) -> Move:
    """The window ending just after the previous (or next) error burst from `position`."""
    ends = [live_end if (end := burst_end(b, live_end)) is None else end for b in bursts]
    if forward:
        later = [e for e in ends if e > position + SAME_S]
        if not later:
            return Move(None, "no later error burst: live")
        target = min(later)
    else:
        earlier = [e for e in ends if e < position - SAME_S]
        if not earlier:
            return Move(position if position < live_end - SAME_S else None, "no earlier error burst")
        target = max(earlier)
    return Move(None if target >= live_end - SAME_S else target)


def describe_view(start: float, end: float, now: float) -> str:
    """`12:00-12:05 · 2h ago`, in local time, with the date when it is not today's."""
    whole_minutes = start % 60 == 0 and end % 60 == 0
    clock = "%H:%M" if whole_minutes else "%H:%M:%S"
    day = "" if time.localtime(end)[:3] == time.localtime(now)[:3] else time.strftime("%Y-%m-%d ", time.localtime(end))
    span = f"{time.strftime(clock, time.localtime(start))}-{time.strftime(clock, time.localtime(end))}"
    return f"{day}{span} · {format_duration(max(0.0, now - end))} ago"
