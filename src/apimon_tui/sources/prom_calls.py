"""Aggregates read from Prometheus turned into the calls they count, for the one store every panel reads.

Prometheus gives increases per step: so many requests, so many failures by
status, so many latencies in each histogram bucket, so many tokens, so
much spend. `StepFolder` turns one step of one series (a proxy or host and a
model) into that many synthetic `Call`s, spread evenly over the step, so that
every figure the store and `report --json` give (counts, error rate, rate,
percentiles, tokens, spend, headroom) is the metrics' own:

- counts are whole: the fraction Prometheus's extrapolation leaves is carried
  to the next step of the series (or rounded, on a last step);
- latencies are spread evenly inside their bucket, as `histogram_quantile`
  interpolates, so percentiles agree with Prometheus within one bucket (a
  histogram cannot say more); the `+Inf` bucket gets the highest finite bound;
- tokens and spend are split over the calls whose cost is known (spend
  known: every success; apimon's own `apimon_calls_uncosted_total` calls stay
  of unknown cost), and carried while a step has no such call;
- headroom rides on the step's last call.

Failed calls say where they came from and where their detail is: single
calls are not in metrics. A summary's store keeps none whole; the monitor's
ring keeps them like any failure, with that message in place of a provider's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from apimon_tui.core.model import Call, RateLimit

NOT_SINGLE_CALLS = ("counted from Prometheus metrics: single calls are not available from metrics; "
                    "add a logs source (a file, cmd:ssh HOST tail -F ..., or otlp://) to see each call")
TAGS_KIND = "prometheus aggregate"
ALMOST_ONE = 1e-6  # a count of 2.9999999 from float sums is 3

Status = int | None  # an HTTP code, or None: no code (OK, or ERR when failed)


@dataclass(slots=True)
class Figures:
    """One step (or the carry) of one series: what Prometheus counted, as increases."""

    ok: dict[Status, float] = field(default_factory=dict)
    failed: dict[tuple[Status, str], float] = field(default_factory=dict)  # (status, error code)
    failed_total: float = 0.0  # failures without a status breakdown (LiteLLM's counter), taken out of `ok`
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound (s) -> cumulative count
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cached_tokens: float = 0.0
    cost_usd: float | None = None  # None: no spend series at all
    uncosted: float = 0.0
    headroom: RateLimit | None = None
    provider: str | None = None


@dataclass(slots=True)
class _Carry:
    """What a series has counted but not yet turned into calls (fractions, tokens and spend waiting for a call)."""

    ok: dict[Status, float] = field(default_factory=dict)
    failed: dict[tuple[Status, str], float] = field(default_factory=dict)
    bins: dict[tuple[float, float], float] = field(default_factory=dict)  # (low, high] -> count
    uncosted: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cached_tokens: float = 0.0
    cost_usd: float = 0.0
    cost_known: bool = False
    headroom: RateLimit | None = None
    had_calls: bool = False


def scaled(figures: Figures, factor: float, *, last: bool) -> Figures:
    """A share of a step's figures (every increase times `factor`); the headroom goes with the `last` share."""
    return Figures(
        ok={k: v * factor for k, v in figures.ok.items()},
        failed={k: v * factor for k, v in figures.failed.items()},
        failed_total=figures.failed_total * factor,
        buckets={k: v * factor for k, v in figures.buckets.items()},
        input_tokens=figures.input_tokens * factor,
        output_tokens=figures.output_tokens * factor,
        cached_tokens=figures.cached_tokens * factor,
        cost_usd=None if figures.cost_usd is None else figures.cost_usd * factor,
        uncosted=figures.uncosted * factor,
        headroom=figures.headroom if last else None,
        provider=figures.provider,
    )


class StepFolder:
    """Turns steps of series into calls, carrying what a step leaves over to the next one of its series."""

    def __init__(self) -> None:
        self._carry: dict[tuple[str, str, str | None], _Carry] = {}

    def calls(self, family: str, group: str, model: str | None, end: float, width_s: float,
              figures: Figures, *, last: bool = False) -> list[Call]:
        """The calls one step of a series counts, stamped inside (end - width_s, end).

        `last`: no later step comes (a report), so fractions are rounded rather than carried.
        """
        carry = self._carry.setdefault((family, group, model), _Carry())
        take = round if last else _whole
        oks = _take_counts(carry.ok, _ok_counts(figures), take)
        fails = _take_counts(carry.failed, figures.failed, take)
        latencies = _take_latencies(carry.bins, figures.buckets, take)
        _add_money(carry, figures)
        count = sum(oks.values()) + sum(fails.values())
        carry.uncosted += figures.uncosted
        if not count:
            return []
        carry.had_calls = True
        successes = sum(oks.values())
        uncosted = min(max(0, take(carry.uncosted)), successes)
        carry.uncosted = max(0.0, carry.uncosted - uncosted)
        calls = [Call(0.0, model=model, provider=figures.provider, status=status) for status, n in oks.items()
                 for _ in range(n)]
        for (status, code), n in fails.items():
            calls += [Call(0.0, model=model, provider=figures.provider, status=status, failed=True,
                           error_code=code or None, error_message=NOT_SINGLE_CALLS,
                           cost_usd=0.0 if carry.cost_known else None) for _ in range(n)]
        _spread(calls, end, width_s)
        for call, latency_s in zip(calls, latencies):
            call.latency_ms = latency_s * 1000.0
        # Tokens and spend go to the successes of known cost, else to the failures (which count
        # tokens too); the calls of unknown cost get neither (their cost stays unknown, not 0).
        _share_money(carry, calls[uncosted:successes] or calls[successes:], take)
        if carry.headroom is not None:
            calls[-1].ratelimit, carry.headroom = carry.headroom, None
        tags = {"from": TAGS_KIND, "group": group}
        for call in calls:
            call.tags = tags
        return calls


    def without_calls(self) -> tuple[list[str], float, int]:
        """Models whose spend or tokens never met a request count (their labels differ from the
        counters'), with that spend and those tokens: not shown as calls, so said instead."""
        models, cost, tokens = [], 0.0, 0
        for (_, _, model), carry in self._carry.items():
            held = carry.input_tokens + carry.output_tokens
            if not carry.had_calls and (carry.cost_usd > 0 or held >= 1):
                models.append(model or "(no model)")
                cost += carry.cost_usd
                tokens += int(held)
        return sorted(models), cost, tokens


def _whole(value: float) -> int:
    return int(math.floor(value + ALMOST_ONE))


def _ok_counts(figures: Figures) -> dict[Status, float]:
    """Successes per status; a failure count without statuses is taken out of the no-status successes."""
    ok = dict(figures.ok)
    if figures.failed_total:
        ok[None] = max(0.0, ok.get(None, 0.0) - figures.failed_total)
    return ok


def _take_counts(carry: dict, step: dict, take) -> dict:
    """Add a step's counts to the carry and take out the whole calls they make."""
    out = {}
    for key, value in step.items():
        carry[key] = carry.get(key, 0.0) + max(0.0, value)
    for key, value in carry.items():
        n = max(0, take(value))
        if n:
            out[key] = n
            carry[key] = value - n
    return out


def _take_latencies(carry: dict[tuple[float, float], float], buckets: dict[float, float], take) -> list[float]:
    """Latencies (s) spread evenly inside their buckets, interleaved so any prefix has the step's spread."""
    bounds = sorted(buckets)
    low, below = 0.0, 0.0
    finite = [b for b in bounds if math.isfinite(b)]
    for high in bounds:
        cumulative = buckets[high]
        span = (low, high) if math.isfinite(high) else ((finite[-1], finite[-1]) if finite else (0.0, 0.0))
        carry[span] = carry.get(span, 0.0) + max(0.0, cumulative - below)
        below = max(below, cumulative)
        low = high if math.isfinite(high) else low
    values = []
    for (lo, hi), value in sorted(carry.items()):
        n = max(0, take(value))
        if n:
            carry[(lo, hi)] = value - n
            values += [lo + (hi - lo) * (j + 0.5) / n for j in range(n)]
    return _interleave(values)


def _interleave(values: list[float]) -> list[float]:
    """Sorted values reordered by a stride coprime with their count, so any prefix spans the whole range."""
    n = len(values)
    if n < 3:
        return values
    stride = next(s for s in range(int(n * 0.618) or 1, n) if math.gcd(s, n) == 1)
    return [values[(i * stride) % n] for i in range(n)]


def _add_money(carry: _Carry, figures: Figures) -> None:
    carry.input_tokens += max(0.0, figures.input_tokens)
    carry.output_tokens += max(0.0, figures.output_tokens)
    carry.cached_tokens += max(0.0, figures.cached_tokens)
    if figures.cost_usd is not None:
        carry.cost_known = True
        carry.cost_usd += max(0.0, figures.cost_usd)
    if figures.headroom is not None:
        carry.headroom = figures.headroom


def _share_money(carry: _Carry, calls: list[Call], take) -> None:
    """Split the carried tokens and spend over `calls` (whole tokens; the fraction stays carried).

    Nothing is split over no calls: it waits for the series' next step with one.
    """
    if not calls:
        return
    for name in ("input_tokens", "output_tokens", "cached_tokens"):
        total = max(0, take(getattr(carry, name)))
        setattr(carry, name, getattr(carry, name) - total)
        if total:
            base, extra = divmod(total, len(calls))
            for i, call in enumerate(calls):
                setattr(call, name, (getattr(call, name) or 0) + base + (1 if i < extra else 0))
    if carry.cost_known:
        share = carry.cost_usd / len(calls)
        for call in calls:
            call.cost_usd = (call.cost_usd or 0.0) + share
        carry.cost_usd = 0.0


def _spread(calls: list[Call], end: float, width_s: float) -> None:
    """Stamp calls evenly over (end - width_s, end): the rate over any part of the step is the step's."""
    n = len(calls)
    start = end - width_s
    for i, call in enumerate(calls):
        call.ts = start + width_s * (i + 0.5) / n
