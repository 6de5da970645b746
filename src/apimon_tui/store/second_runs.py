"""Calls given in bulk as numpy columns, cut into runs of one second for the store.

The column reader (`formats.nginx_columns`) hands the store thousands of
calls as arrays. Cutting them into per-second runs, and finding each run's
first and last time and its latency bins, is then done with numpy for all
of them at once; the store's Python loop runs once per run (a second of one
series), not once per call. Imported only with numpy, by the store's
column path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apimon_tui.store.histogram import INV_LOG_GROWTH, ZERO_BIN, bin_of

EDGE_MARGIN = 1e-9  # in bins: far above the error numpy's log can make, far below a bin
_BIN_OBJECTS: dict[int, int] = {}


@dataclass(slots=True)
class SecondRuns:
    """Per run (calls of the same second, in order): its second, its calls and their figures."""

    ts: np.ndarray              # every call's time, for the rare run that must replay them one by one
    second: list[int]
    start: list[int]            # the run's calls are ts[start:end]
    end: list[int]
    first: list[float]          # earliest and latest time in the run
    last: list[float]
    bins: list[int]             # latency bin of each call that has a latency, in call order
    bins_end: list[int]         # the run's bins are bins[bins_end of the run before:bins_end]
    fastest: list[float]        # lowest and highest latency in the run (NaN: none has one)
    slowest: list[float]


def second_runs(ts: np.ndarray, latency_ms: np.ndarray) -> SecondRuns:
    """`ts` (epoch s) and `latency_ms` (NaN for a call without one) cut into runs of one second."""
    seconds = ts.astype(np.int64)  # int() of a positive time, as the per-call path takes it
    starts = np.flatnonzero(np.diff(seconds)) + 1
    starts = np.concatenate(([0], starts))
    ends = np.append(starts[1:], len(ts))
    timed = ~np.isnan(latency_ms)
    with np.errstate(invalid="ignore"):  # a run with no latency at all gives NaN, reported as such
        fastest = np.fmin.reduceat(latency_ms, starts)
        slowest = np.fmax.reduceat(latency_ms, starts)
    return SecondRuns(
        ts=ts,
        second=seconds[starts].tolist(),
        start=starts.tolist(),
        end=ends.tolist(),
        first=np.minimum.reduceat(ts, starts).tolist(),
        last=np.maximum.reduceat(ts, starts).tolist(),
        bins=_shared(latency_bins(latency_ms[timed]).tolist()),
        bins_end=np.cumsum(timed)[ends - 1].tolist(),
        fastest=fastest.tolist(),
        slowest=slowest.tolist(),
    )


def _shared(bins: list[int]) -> list[int]:
    """The same bins as one int object each: histograms hold them as keys by the hundred thousand.

    (`tolist` makes a new int per value; keeping those cost 10 MB of peak
    memory on a million lines.)
    """
    if len(_BIN_OBJECTS) > 100_000:
        _BIN_OBJECTS.clear()
    return list(map(_BIN_OBJECTS.setdefault, bins, bins))


def latency_bins(values: np.ndarray) -> np.ndarray:
    """`histogram.bin_of` of each value, exactly.

    numpy's log may differ from the C library's by an ulp, which moves a
    value across a bin edge only when it lies within about 1e-12 of one:
    values that near an edge are binned again by `bin_of` itself.
    """
    out = np.full(len(values), ZERO_BIN, dtype=np.int64)
    positive = values > 0.0
    scaled = np.log(values[positive]) * INV_LOG_GROWTH
    bins = np.floor(scaled)
    near_edge = np.flatnonzero((scaled - bins < EDGE_MARGIN) | (bins + 1.0 - scaled < EDGE_MARGIN))
    bins = bins.astype(np.int64)
    if len(near_edge):
        exact = values[positive][near_edge]
        bins[near_edge] = [bin_of(v) for v in exact.tolist()]
    out[positive] = bins
    return out
