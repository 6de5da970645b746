"""`CallColumns`: the calls of one batch of one source as columns, in the order they were logged.

A one-line parser that decodes a batch at once hands its calls this way
instead of as a `Call` each (`Sink.columns`, `MetricsStore.add_columns`):
the store then folds them in with numpy, by bucket and series, and builds
no object per call. Every figure is the one the same calls give one by one
(tests/test_call_columns.py). The columns are numpy arrays, made by the
parser (this module imports no numpy itself: it sits with the `Call`).

Each call that failed comes whole as well (`calls`), since the store keeps
failed calls and counts them in their error groups, unless the store keeps
none whole (a summary's: then a failed call may come as a row, its error
code and message as indexes, counted in its group by the store); so does a call whose
stream ended early or that wrote to the prompt cache without a cost in the
log, since pricing it needs the whole call (`Sink.columns`). Calls that had
to be read one by one (an odd value) may come whole too. The headroom of the
calls is kept as the parser read it (`ratelimits`) and turned into a
`RateLimit` only for the call the store keeps (the newest per model).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apimon_tui.core.model import Call, RateLimit


@dataclass(slots=True)
class CallColumns:
    """Per call (a row): numbers as float64 arrays with NaN for unknown, names as indexes into lists.

    `ts` holds floats only (a time written as an integer goes into a `Call`
    one by one: the store keeps a time as it was read). Latencies are floats
    too, never -0.0, for the same reason (a histogram keeps its extremes as
    read). Token counts are whole numbers held as floats (exact below 2**53).
    """

    source: str
    ts: Any                    # float64 epoch seconds
    model: Any                 # int64, an index into `models`
    models: list[str | None]
    status: Any                # int64 HTTP status, 0: none
    latency_ms: Any            # float64, NaN: none
    ttft_ms: Any               # float64, NaN: none
    input_tokens: Any          # float64, NaN: none
    output_tokens: Any
    cached_tokens: Any
    cache_write_tokens: Any
    cost_usd: Any              # float64, NaN: unknown (not priced yet, or no price)
    failed: Any = None         # bool per call (None: none failed without a status)
    code: Any = None           # int64, an index into `codes` (None: no error code at all)
    codes: list[str] = field(default_factory=list)
    provider: Any = None       # int64, an index into `providers` (None: no provider at all)
    providers: list[str | None] = field(default_factory=list)
    ratelimits: list[Any] | None = None  # per call: None, a RateLimit, or what `make_ratelimit` reads
    make_ratelimit: Callable[[Any], RateLimit] | None = None
    calls: list[tuple[int, Call]] = field(default_factory=list)  # (row, call) given whole, by row
    message: Any = None        # int64, an index into `messages`: the error message of a failed row not given
    messages: list[str] = field(default_factory=list)  # whole (`Sink.bulk_failures`), "" for none

    def __len__(self) -> int:
        return len(self.ts)

    def ratelimit(self, row: int) -> RateLimit | None:
        value = self.ratelimits[row] if self.ratelimits is not None else None
        if value is None or type(value) is RateLimit:
            return value
        return self.make_ratelimit(value)

    def part(self, start: int, end: int) -> CallColumns:
        """Rows [start, end), sharing the lists of names."""
        cut = slice(start, end)
        return self._with_rows(
            cut,
            None if self.ratelimits is None else self.ratelimits[cut],
            [(row - start, call) for row, call in self.calls[bisect_left(self.calls, start, key=_row):
                                                              bisect_left(self.calls, end, key=_row)]],
        )

    def take(self, keep) -> CallColumns:
        """The rows where the bool array `keep` is true."""
        import numpy as np

        rows = np.flatnonzero(keep)
        new_row = np.cumsum(keep) - 1
        ratelimits = self.ratelimits
        return self._with_rows(
            rows,
            None if ratelimits is None else [ratelimits[i] for i in rows.tolist()],
            [(int(new_row[row]), call) for row, call in self.calls if keep[row]],
        )

    def _with_rows(self, rows, ratelimits, calls) -> CallColumns:
        def pick(column):
            return None if column is None else column[rows]

        return CallColumns(
            self.source, self.ts[rows], self.model[rows], self.models, self.status[rows], self.latency_ms[rows],
            self.ttft_ms[rows], self.input_tokens[rows], self.output_tokens[rows], self.cached_tokens[rows],
            self.cache_write_tokens[rows], self.cost_usd[rows], pick(self.failed), pick(self.code), self.codes,
            pick(self.provider), self.providers, ratelimits, self.make_ratelimit, calls, pick(self.message),
            self.messages,
        )


def _row(pair: tuple[int, Call]) -> int:
    return pair[0]
