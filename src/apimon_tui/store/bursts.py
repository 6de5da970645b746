"""Error bursts: the runs of time with failures worth jumping to in the time cursor.

A slice counts when some of its calls failed and they are at least a small
share of its calls (one failure among ten thousand calls is not an incident);
slices that count are merged into one burst while the quiet gap between them
is shorter than `gap_s` (a window's width: a burst the window cannot separate
is one burst to the eye).
"""

from __future__ import annotations

from dataclasses import dataclass

from apimon_tui.store.metrics import Interval

MIN_SHARE = 0.02  # of a slice's calls


@dataclass(slots=True)
class Burst:
    start: float  # the first failing slice's start
    end: float    # the last failing slice's end
    calls: int
    errors: int


def error_bursts(intervals: list[Interval], step_s: float, gap_s: float,
                 min_share: float = MIN_SHARE) -> list[Burst]:
    """The bursts in `intervals` (slices of `step_s`, oldest first), oldest first."""
    bursts: list[Burst] = []
    for piece in intervals:
        if piece.errors <= 0 or piece.errors < min_share * piece.calls:
            continue
        last = bursts[-1] if bursts else None
        if last is not None and piece.start - last.end < gap_s:
            last.end = piece.start + step_s
            last.calls += piece.calls
            last.errors += piece.errors
        else:
            bursts.append(Burst(piece.start, piece.start + step_s, piece.calls, piece.errors))
    return bursts
