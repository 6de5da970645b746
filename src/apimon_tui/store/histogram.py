"""A mergeable latency histogram with bounded relative error.

Values fall into logarithmic bins of ratio `GROWTH`; a percentile is answered
with the middle of its bin, clamped to the smallest and largest values seen,
so it is within half a bin (0.5%) of the exact nearest-rank value. Merging two
histograms adds their bins, which is what lets the store answer any window by
merging per-second buckets instead of keeping every call.
"""

from __future__ import annotations

import math
from collections import _count_elements  # C-level `counts[x] += 1` over an iterable (Counter.update uses it)

GROWTH = 1.01
INV_LOG_GROWTH = 1.0 / math.log(GROWTH)
ZERO_BIN = -(10**9)  # the bin for values <= 0
# The bins of values seen lately: latencies are logged to a fixed precision, so
# the same few thousand values repeat and each is binned once (by `add_many`).
_BINS: dict[float, int] = {}
_BINS_LIMIT = 100_000
# One int object per bin index, shared by every histogram (a few thousand at most: bins
# grow by 1%). A day of per-minute buckets holds some two million bin keys, and one int
# of its own each (28 bytes) was over a third of their memory.
BIN_KEYS: dict[int, int] = {ZERO_BIN: ZERO_BIN}
bin_key = BIN_KEYS.setdefault


def bin_of(value: float) -> int:
    if value <= 0.0:
        return ZERO_BIN
    b = math.floor(math.log(value) * INV_LOG_GROWTH)
    return bin_key(b, b)


def bin_middle(index: int) -> float:
    if index == ZERO_BIN:
        return 0.0
    low = GROWTH**index
    return low * (1.0 + GROWTH) / 2.0


class Histogram:
    __slots__ = ("bins", "count", "min", "max")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def __getstate__(self) -> tuple:
        """A plain tuple: stores built in worker processes pickle thousands of histograms."""
        return (self.bins, self.count, self.min, self.max)

    def __setstate__(self, state: tuple) -> None:
        self.bins, self.count, self.min, self.max = state

    def add(self, value: float) -> None:
        b = bin_of(value)
        bins = self.bins
        bins[b] = bins.get(b, 0) + 1
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def add_many(self, values: list[float | None]) -> None:
        """`add` for each value that is not None (a call without a latency), in one pass."""
        try:
            low, high = min(values), max(values)
        except (TypeError, ValueError):
            low = None
        if low is None:  # no values, or some None among them
            values = [v for v in values if v is not None]
            if not values:
                return
            low, high = min(values), max(values)
        try:
            found = list(map(_BINS.__getitem__, values))
        except KeyError:
            if len(_BINS) > _BINS_LIMIT:
                _BINS.clear()
            for v in values:
                if v not in _BINS:
                    _BINS[v] = bin_of(v)
            found = list(map(_BINS.__getitem__, values))
        self.add_binned(found, low, high)

    def add_binned(self, bins: list[int], low: float, high: float) -> None:
        """Count values already binned (`bins`, one per value), whose lowest and highest are `low` and `high`."""
        _count_elements(self.bins, bins)
        self.count += len(bins)
        if low < self.min:
            self.min = low
        if high > self.max:
            self.max = high

    def merge(self, other: Histogram) -> None:
        if not other.count:
            return
        bins = self.bins
        for b, n in other.bins.items():
            bins[b] = bins.get(b, 0) + n
        self.count += other.count
        if other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile for q in [0, 100], or None when empty."""
        return self.percentiles((q,))[0]

    def percentiles(self, qs: tuple[float, ...]) -> list[float | None]:
        if not self.count:
            return [None for _ in qs]
        ranks = [max(1, math.ceil(q / 100.0 * self.count)) for q in qs]
        order = sorted(range(len(qs)), key=lambda i: ranks[i])
        out: list[float | None] = [None] * len(qs)
        seen = 0
        k = 0
        for b in sorted(self.bins):
            seen += self.bins[b]
            while k < len(order) and ranks[order[k]] <= seen:
                value = bin_middle(b)
                out[order[k]] = min(max(value, self.min), self.max)
                k += 1
            if k == len(order):
                break
        return out
