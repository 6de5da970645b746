"""The metrics store: buckets, histograms, failed calls and snapshots."""

from apimon_tui.store.aggregate import Aggregate
from apimon_tui.store.histogram import Histogram
from apimon_tui.store.metrics import CallFilter, ErrorGroup, MetricsStore, Point, RateLimitSeen, Snapshot

__all__ = ["Aggregate", "CallFilter", "ErrorGroup", "Histogram", "MetricsStore", "Point", "RateLimitSeen", "Snapshot"]
