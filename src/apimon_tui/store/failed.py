"""The failed calls kept for the error feed and drill-down, ordered by call time, newest kept.

Calls do not arrive in time order: at start the newest minutes are read
first and the older part of the look-back after them, so a failed call may
come in older than every one kept. The ring keeps the newest `capacity` by
call time, whatever the order they came in.

Whole calls (with their log text, which can be a large request body) are
kept only for the newest `whole` of them; older ones are kept as a
`FailedEntry`, small and of bounded size, which the feed lists as it lists
calls. The detail screen re-reads an entry's line from its log (`recall`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from apimon_tui.core.model import Call

MESSAGE_KEPT = 200  # characters of an entry's error message (the feed shows 36, the filter searches them)


class FailedEntry:
    """What the feed shows of an older failed call, and what finds its line again: no log text."""

    __slots__ = ("ts", "source", "model", "status", "failed", "error_code", "error_type", "error_message",
                 "request_id")

    def __init__(self, call: Call) -> None:
        self.ts = call.ts
        self.source = call.source
        self.model = call.model
        self.status = call.status
        self.failed = call.failed
        self.error_code = call.error_code
        self.error_type = call.error_type
        message = call.error_message
        self.error_message = message[:MESSAGE_KEPT] if message else message
        self.request_id = call.request_id

    raw = None  # the line is not kept: `recall` reads it again
    endpoint = None

    @property
    def status_label(self) -> str:
        if self.status is not None:
            return str(self.status)
        return "ERR" if self.failed else "OK"

    def group_key(self) -> tuple[str, str, str]:
        return (self.status_label, self.error_code or "", self.model or "")

    def to_dict(self) -> dict:
        """The fields that have a value, as `Call.to_dict` gives them."""
        out = {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None}
        if not self.failed:
            del out["failed"]
        return out

    def matches(self, call: Call) -> bool:
        """Is `call` (read again from the log) the one this entry was made from?"""
        return (call.ts == self.ts and call.status == self.status and call.model == self.model
                and call.error_code == self.error_code and call.request_id == self.request_id)


Kept = Call | FailedEntry


class FailedRing:
    """The newest `capacity` failed calls by call time; the newest `whole` of them whole."""

    def __init__(self, capacity: int, whole: int) -> None:
        self.capacity = capacity
        self.whole = min(whole, capacity)
        self._kept: list[Kept] = []  # oldest first
        self._times: list[float] = []  # their times, for bisecting

    def add(self, call: Call) -> None:
        kept, times, ts = self._kept, self._times, call.ts
        if not self.capacity or (len(kept) >= self.capacity and ts < times[0]):
            return  # older than every one kept, and no room
        at = len(kept) if not times or ts >= times[-1] else bisect_right(times, ts)
        compact_from = len(kept) - self.whole  # the first whole one, before this call goes in
        if at < compact_from:
            kept.insert(at, FailedEntry(call))
        else:
            kept.insert(at, call)
            if compact_from >= 0:
                kept[compact_from] = _compact(kept[compact_from])
        times.insert(at, ts)
        if len(kept) > self.capacity:
            del kept[0], times[0]

    def between(self, start: float, end: float) -> list[Kept]:
        """The failed calls with `start < ts <= end`, newest first."""
        times = self._times
        low, high = bisect_right(times, start), bisect_right(times, end)
        return self._kept[low:high][::-1]

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self) -> Iterator[Kept]:
        return iter(self._kept)

    def __reversed__(self) -> Iterator[Kept]:
        return reversed(self._kept)

    def __getitem__(self, index: int) -> Kept:
        return self._kept[index]


def _compact(kept: Kept) -> FailedEntry:
    return kept if isinstance(kept, FailedEntry) else FailedEntry(kept)
