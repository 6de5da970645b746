"""What `serve` exposes to Prometheus: counters that follow every call the engine stores.

`ExposingStore` is the engine's store with one more step: each batch of calls
it takes also moves the Prometheus counters. They count calls as they are
read, over the life of the process, so they only ever go up: a rotated or
truncated log, or a command source that restarts, adds calls and never takes
any back. Per-source figures (lines, calls, skipped, unparsed, bad values)
are read from the engine at each scrape; they too only grow.

A value a log does not give (tokens, cost, latency) moves no counter: the
calls whose cost is unknown are counted in `apimon_calls_uncosted_total`
instead of being priced at 0. Label values come from logs, so distinct
(provider, model) pairs are capped (`MAX_MODELS`); later ones are counted
under model `_other`.
"""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from apimon_tui.core.model import Call, RateLimit
from apimon_tui.store import MetricsStore

UNKNOWN = "unknown"
OTHER_MODEL = "_other"
MAX_MODELS = 1000
# The GenAI semantic conventions' recommended buckets for operation durations (seconds).
LATENCY_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
SOURCE_FIGURES = (  # SourceCounts field, metric name, help
    ("lines", "apimon_source_lines_total", "Lines read from the source."),
    ("calls", "apimon_source_calls_total", "API calls read from the source."),
    ("skipped", "apimon_source_skipped_total", "Lines that are not calls (or fell outside the time range)."),
    ("unparsed", "apimon_source_unparsed_total", "Lines that looked like the format but could not be read."),
    ("bad_values", "apimon_source_bad_values_total", "Fields a parser could not use (the call was kept)."),
    ("truncated", "apimon_source_truncated_total", "Lines cut at the line-length limit."),
)
RATELIMIT_FIGURES = (  # RateLimit field, metric name, help
    ("remaining_requests", "apimon_ratelimit_remaining_requests", "Requests left, as the provider last reported."),
    ("limit_requests", "apimon_ratelimit_limit_requests", "The request limit, as the provider last reported."),
    ("remaining_tokens", "apimon_ratelimit_remaining_tokens", "Tokens left, as the provider last reported."),
    ("limit_tokens", "apimon_ratelimit_limit_tokens", "The token limit, as the provider last reported."),
)


class CallMetrics:
    """The call counters and latency histogram, in one registry."""

    def __init__(self, registry: CollectorRegistry, max_models: int = MAX_MODELS) -> None:
        self.max_models = max_models
        self._models: set[tuple[str, str]] = set()
        self.calls = Counter("apimon_calls", "API calls read, by status (HTTP code, or OK/ERR without one).",
                             ["provider", "model", "status"], registry=registry)
        self.latency = Histogram("apimon_call_latency_seconds", "Call latency, for calls whose log gives one.",
                                 ["provider", "model"], buckets=LATENCY_BUCKETS, registry=registry)
        self.tokens = Counter("apimon_tokens", "Tokens of calls whose log gives them; kind input, output or "
                              "cached (cached input tokens are also counted as input).",
                              ["provider", "model", "kind"], registry=registry)
        self.cost = Counter("apimon_cost_usd", "Cost in USD of calls whose cost is known or could be priced.",
                            ["provider", "model"], registry=registry)
        self.uncosted = Counter("apimon_calls_uncosted", "Calls of unknown cost (no tokens or no price).",
                                ["provider", "model"], registry=registry)

    def _labels(self, provider: str | None, model: str | None) -> tuple[str, str]:
        pair = (provider or UNKNOWN, model or UNKNOWN)
        if pair not in self._models:
            if len(self._models) >= self.max_models:
                return pair[0], OTHER_MODEL
            self._models.add(pair)
        return pair

    def count_calls(self, calls: Iterable[Call]) -> None:
        """Move the counters for a batch, one `inc` per label set rather than per call."""
        calls_by: Tally = Tally()
        tokens_by: Tally = Tally()
        cost_by: dict[tuple[str, str], float] = {}
        uncosted_by: Tally = Tally()
        for call in calls:
            labels = self._labels(call.provider, call.model)
            calls_by[(*labels, call.status_label)] += 1
            if call.latency_ms is not None and math.isfinite(call.latency_ms):
                self.latency.labels(*labels).observe(call.latency_ms / 1000.0)
            for kind, value in (("input", call.input_tokens), ("output", call.output_tokens),
                                ("cached", call.cached_tokens)):
                if value:
                    tokens_by[(*labels, kind)] += value
            if call.cost_usd is None or not math.isfinite(call.cost_usd):
                uncosted_by[labels] += 1
            else:
                cost_by[labels] = cost_by.get(labels, 0.0) + call.cost_usd
        self._add(calls_by, tokens_by, cost_by, uncosted_by)

    def count_bulk(self, model: str | None, status: int | None, latencies_ms: Sequence[float | None]) -> None:
        """Calls handed over in bulk (no tokens, no provider): successes of unknown cost, failures free."""
        labels = self._labels(None, model)
        count = len(latencies_ms)
        self.calls.labels(*labels, str(status) if status is not None else "OK").inc(count)
        histogram = self.latency.labels(*labels)
        for value in latencies_ms:
            if value is not None and math.isfinite(value):
                histogram.observe(float(value) / 1000.0)
        if status is None or status < 400:
            self.uncosted.labels(*labels).inc(count)

    def _add(self, calls_by: Tally, tokens_by: Tally, cost_by: dict, uncosted_by: Tally) -> None:
        for labels, n in calls_by.items():
            self.calls.labels(*labels).inc(n)
        for labels, n in tokens_by.items():
            self.tokens.labels(*labels).inc(n)
        for labels, usd in cost_by.items():
            self.cost.labels(*labels).inc(usd)
        for labels, n in uncosted_by.items():
            self.uncosted.labels(*labels).inc(n)


class ExposingStore(MetricsStore):
    """The engine's store, also counting every batch it takes into `CallMetrics`."""

    def __init__(self, metrics: CallMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    def add_many(self, calls: Sequence[Call]) -> None:
        super().add_many(calls)
        self.metrics.count_calls(calls)

    def add_bulk(
        self,
        source: str,
        model: str | None,
        status: int | None,
        stamps: list[float],
        latencies_ms: list[float | None],
        ratelimit: tuple[float, RateLimit] | None = None,
    ) -> None:
        super().add_bulk(source, model, status, stamps, latencies_ms, ratelimit)
        self.metrics.count_bulk(model, status, latencies_ms)


class SourceCollector(Collector):
    """Per-source counters, read from the engine at each scrape."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self):
        statuses = self.engine.statuses()
        for field, name, help_text in SOURCE_FIGURES:
            family = CounterMetricFamily(name.removesuffix("_total"), help_text, labels=["source"])
            for status in statuses:
                family.add_metric([status.label], getattr(status.counts, field))
            yield family
        events = CounterMetricFamily("apimon_source_events", "What a source itself did: an otlp:// receiver's "
                                     "requests, spans taken, ignored, rejected and refused (429), and posts "
                                     "refused as bad, unauthorised, too large or of an unsupported type.",
                                     labels=["source", "event"])
        for reader in self.engine.readers:
            for event, count in reader.source.events().items():
                events.add_metric([reader.source.label, event], count)
        yield events


class StateCollector(Collector):
    """Gauges read at each scrape: rate-limit headroom, the month's spend and the alerts firing.

    `watch` is what `serve` evaluates every second: its `firing` maps
    (rule, severity) to the number of alerts firing (0 for every level of an
    enabled rule), its `budget` is the last `BudgetState` (or None), its
    `usages` the providers' last `ProviderUsage` (None until one answered).
    """

    def __init__(self, store: MetricsStore, watch: Any) -> None:
        self.store = store
        self.watch = watch

    def collect(self):
        with self.store.lock:
            seen = list(self.store.ratelimits.values())
        for field, name, help_text in RATELIMIT_FIGURES:
            family = GaugeMetricFamily(name, help_text, labels=["model", "source"])
            for one in seen:
                value = getattr(one.ratelimit, field)
                if value is not None:
                    family.add_metric([one.model, one.source], value)
            yield family
        firing = GaugeMetricFamily("apimon_alerts_firing", "Alerts firing now, per rule and severity.",
                                   labels=["rule", "severity"])
        for (rule, severity), count in sorted(self.watch.firing.items()):
            firing.add_metric([rule, severity], count)
        yield firing
        yield from _usage_families(self.watch.usages)
        yield from _budget_families(self.watch.budget, any(u is not None for u in self.watch.usages.values()))


def _usage_families(usages: dict[str, Any]):
    """Each polled provider's billed month to date, once it has answered (a provider not heard from has none)."""
    billed = GaugeMetricFamily("apimon_usage_month_to_date_usd", "Billed this budget month, complete buckets, "
                               "as the provider's usage API reports.", labels=["provider"])
    until = GaugeMetricFamily("apimon_usage_last_bucket_end_seconds", "End of the last complete bucket counted "
                              "in apimon_usage_month_to_date_usd (Unix time).", labels=["provider"])
    for name, usage in sorted(usages.items()):
        if usage is not None:
            billed.add_metric([name], usage.month_to_date_usd)
            if usage.last_bucket_end is not None:
                until.add_metric([name], usage.last_bucket_end)
    yield billed
    yield until


def _budget_families(state: Any, billed_known: bool):
    """The month's spend from the logs and billed figures (once a provider answered); drift once both
    cover complete days."""
    if state is None:
        return
    yield GaugeMetricFamily("apimon_budget_spent_usd", "Spend this budget month: billed plus the logs' estimate "
                            "since the last billed figure.", value=state.spent_usd)
    if state.budget_usd is not None:
        yield GaugeMetricFamily("apimon_budget_usd", "The monthly budget configured.", value=state.budget_usd)
    if billed_known:
        yield GaugeMetricFamily("apimon_budget_billed_usd", "Spend the providers' usage APIs report this month.",
                                value=state.billed_usd)
    if state.drift is not None:
        yield GaugeMetricFamily("apimon_budget_drift_usd", "The logs' estimate minus the billed spend over the "
                                "same complete days.", value=state.drift.usd)
