"""`Aggregate`: the mergeable figures of a set of calls.

A per-second bucket, a per-minute bucket, a model's lifetime totals and a
whole report are all the same thing: counts, tokens, cost and two latency
histograms that add up when merged.
"""

from __future__ import annotations

import math
from math import floor, log

from apimon_tui.core.model import Call
from apimon_tui.store.histogram import INV_LOG_GROWTH, ZERO_BIN, Histogram, bin_key


class Aggregate:
    __slots__ = (
        "calls", "errors", "status", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
        "cost_usd", "costed_calls", "uncosted_calls", "latency", "ttft", "first_ts", "last_ts",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.status: dict[str, int] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_tokens = 0
        self.cache_write_tokens = 0
        self.cost_usd = 0.0
        self.costed_calls = 0
        self.uncosted_calls = 0
        self.latency = Histogram()
        self.ttft = Histogram()
        self.first_ts = math.inf
        self.last_ts = -math.inf

    def __getstate__(self) -> tuple:
        """A plain tuple: stores built in worker processes pickle thousands of aggregates."""
        return (self.calls, self.errors, self.status, self.input_tokens, self.output_tokens, self.cached_tokens,
                self.cache_write_tokens, self.cost_usd, self.costed_calls, self.uncosted_calls, self.latency, self.ttft,
                self.first_ts, self.last_ts)

    def __setstate__(self, state: tuple) -> None:
        (self.calls, self.errors, self.status, self.input_tokens, self.output_tokens, self.cached_tokens,
         self.cache_write_tokens, self.cost_usd, self.costed_calls, self.uncosted_calls, self.latency, self.ttft,
         self.first_ts, self.last_ts) = state

    def add_call(self, call: Call, error: bool, status: str) -> None:
        """Count one call; `error` and `status` are computed once by the store."""
        self.calls += 1
        if error:
            self.errors += 1
        st = self.status
        st[status] = st.get(status, 0) + 1
        value = call.latency_ms
        if value is not None:  # Histogram.add, inlined: this runs once per call
            hist = self.latency
            b = floor(log(value) * INV_LOG_GROWTH) if value > 0.0 else ZERO_BIN
            b = bin_key(b, b)  # the shared int of this bin (see `BIN_KEYS`)
            bins = hist.bins
            bins[b] = bins.get(b, 0) + 1
            hist.count += 1
            if value < hist.min:
                hist.min = value
            if value > hist.max:
                hist.max = value
        value = call.ttft_ms
        if value is not None:
            self.ttft.add(value)
        tokens = call.input_tokens
        if tokens:
            self.input_tokens += tokens
        tokens = call.output_tokens
        if tokens:
            self.output_tokens += tokens
        tokens = call.cached_tokens
        if tokens:
            self.cached_tokens += tokens
        tokens = call.cache_write_tokens
        if tokens:
            self.cache_write_tokens += tokens
        cost = call.cost_usd
        if cost is None:
            self.uncosted_calls += 1
        else:
            self.cost_usd += cost
            self.costed_calls += 1
        ts = call.ts
        if ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts

    def add_bulk(self, status: str, stamps: list[float], latencies_ms: list[float | None], failed: bool) -> None:
        """Count calls with no tokens, given as columns (the store's bulk path).

        The figures are those `add_call` gives for the same calls: successes
        of unknown cost, or failed calls that cost 0.
        """
        self._count(status, len(stamps), failed)
        self.latency.add_many(latencies_ms)
        first, last = min(stamps), max(stamps)
        if first < self.first_ts:
            self.first_ts = first
        if last > self.last_ts:
            self.last_ts = last

    def add_run(self, status: str, count: int, first: float, last: float,
                bins: list[int], fastest: float, slowest: float, failed: bool) -> None:
        """`add_bulk` for a run already summed up (`store.second_runs`): `count` calls
        from `first` to `last`, with the latency bins of those that have one."""
        self._count(status, count, failed)
        if bins:
            self.latency.add_binned(bins, fastest, slowest)
        if first < self.first_ts:
            self.first_ts = first
        if last > self.last_ts:
            self.last_ts = last

    def add_folded(self, status: str, count: int, errors: int, input_tokens: int, output_tokens: int,
                   cached_tokens: int, cache_write_tokens: int, costed: int, cost_usd: float,
                   first: float, last: float) -> None:
        """Count calls summed up by the store's column path (`store.call_columns`): `cost_usd` is
        the new total, summed onto this one call by call; the latencies are added apart."""
        self.calls += count
        self.errors += errors
        st = self.status
        st[status] = st.get(status, 0) + count
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cached_tokens += cached_tokens
        self.cache_write_tokens += cache_write_tokens
        self.cost_usd = cost_usd
        self.costed_calls += costed
        self.uncosted_calls += count - costed
        if first < self.first_ts:
            self.first_ts = first
        if last > self.last_ts:
            self.last_ts = last

    def _count(self, status: str, count: int, failed: bool) -> None:
        """Count calls without tokens: successes of unknown cost, or failed calls that cost 0."""
        self.calls += count
        st = self.status
        st[status] = st.get(status, 0) + count
        if failed:
            self.errors += count
            self.costed_calls += count
        else:
            self.uncosted_calls += count

    def merge(self, other: Aggregate) -> None:
        self.calls += other.calls
        self.errors += other.errors
        st = self.status
        for k, n in other.status.items():
            st[k] = st.get(k, 0) + n
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_tokens += other.cached_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cost_usd += other.cost_usd
        self.costed_calls += other.costed_calls
        self.uncosted_calls += other.uncosted_calls
        self.latency.merge(other.latency)
        self.ttft.merge(other.ttft)
        if other.first_ts < self.first_ts:
            self.first_ts = other.first_ts
        if other.last_ts > self.last_ts:
            self.last_ts = other.last_ts

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0
