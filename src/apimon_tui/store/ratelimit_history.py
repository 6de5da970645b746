"""Rate-limit headroom over the retained span, so that a past window shows the headroom as it was then.

Per model, the last reading of each minute is kept (one small record a
minute, whatever the traffic), for the span the per-minute tier keeps
(`MetricsStore.horizon_s`). Readings arrive in any order (the look-back is
read newest first), so each minute keeps the latest by call time. The store
hands in the latest reading only once a newer minute's replaces it, so the
minute of the latest is answered from the store's latest (`at`). Past
`max_models` models, new ones get no history: their latest reading is still
kept by the store, a past window shows them as unknown.

Bounded: 24 h is 1,440 minutes, some 300 bytes each (the record, its dict
entry and the reading it shares with its call): under 0.5 MB a model, under
25 MB at the cap of 50 models.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from apimon_tui.core.model import RateLimit

MAX_MODELS = 50


@dataclass(slots=True)
class RateLimitSeen:
    model: str
    ts: float
    source: str
    ratelimit: RateLimit


class HeadroomHistory:
    """The last rate-limit reading per model per minute, from `floor` on."""

    def __init__(self, max_models: int = MAX_MODELS) -> None:
        self.max_models = max_models
        self.floor = -math.inf  # readings before this are not kept (older than the retained span)
        self._minutes: dict[str, dict[int, RateLimitSeen]] = {}

    def note(self, seen: RateLimitSeen) -> None:
        if seen.ts < self.floor:
            return
        per_minute = self._minutes.get(seen.model)
        if per_minute is None:
            if len(self._minutes) >= self.max_models:
                return
            per_minute = self._minutes[seen.model] = {}
        minute = int(seen.ts // 60) * 60
        kept = per_minute.get(minute)
        if kept is None or kept.ts <= seen.ts:
            per_minute[minute] = seen

    def prune(self, floor: float) -> None:
        """Forget the minutes that end at or before `floor`."""
        self.floor = max(self.floor, floor)
        for per_minute in self._minutes.values():
            for minute in [m for m in per_minute if m + 60 <= floor]:
                del per_minute[minute]

    def merge(self, other: HeadroomHistory) -> None:
        for per_minute in other._minutes.values():
            for seen in per_minute.values():
                self.note(seen)

    def __len__(self) -> int:
        """How many readings are kept."""
        return sum(len(per_minute) for per_minute in self._minutes.values())

    def at(self, end: float, latest: dict[str, RateLimitSeen]) -> list[RateLimitSeen]:
        """Each model's last reading at or before `end`: its `latest` when that is, else the history's
        (to the minute: a minute whose last reading came after `end` gives way to the minute before it)."""
        out = [seen for seen in latest.values() if seen.ts <= end]
        for model, per_minute in self._minutes.items():
            seen = latest.get(model)
            if seen is not None and seen.ts <= end:
                continue
            minutes = sorted(per_minute)
            i = bisect_right(minutes, end)
            while i > 0:
                seen = per_minute[minutes[i - 1]]
                if seen.ts <= end:
                    out.append(seen)
                    break
                i -= 1
        return out
