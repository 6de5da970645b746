"""The summary object `report --json` prints, built from a snapshot.

Key names are a contract with scripts: add keys, never rename them. The
JSON is strict (`strict_json`): a figure that cannot be known is `null`,
never NaN or Infinity.
"""

from __future__ import annotations

import json
import math
from typing import Any

from apimon_tui.ingest.engine import SourceStatus
from apimon_tui.store import Aggregate, Snapshot
from apimon_tui.store.metrics import NO_MODEL

PERCENTILES = (50, 90, 95, 99)


def latency_figures(agg: Aggregate, which: str = "latency") -> dict[str, float | None]:
    hist = getattr(agg, which)
    p50, p90, p95, p99 = hist.percentiles(PERCENTILES)
    top = hist.max if hist.count else None
    return {"p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": top}


def known_cost(agg: Aggregate) -> float | None:
    """The cost of the calls with a known cost, or None when no call has a price
    (no tokens, an unpriced model, only free errors). Partial when `agg.uncosted_calls`."""
    if not agg.costed_calls or (agg.uncosted_calls and not agg.cost_usd):
        return None
    return round(agg.cost_usd, 10)


def _ts(value: float) -> float | None:
    return value if math.isfinite(value) else None


def summarize(snap: Snapshot, statuses: list[SourceStatus], unpriced: set[str]) -> dict[str, Any]:
    total = snap.total
    models = {
        name: {
            "calls": agg.calls,
            "errors": agg.errors,
            "input_tokens": agg.input_tokens,
            "output_tokens": agg.output_tokens,
            "cached_tokens": agg.cached_tokens,
            "cache_write_tokens": agg.cache_write_tokens,
            "cost_usd": known_cost(agg),
            "uncosted_calls": agg.uncosted_calls,
            "p95_ms": agg.latency.percentile(95),
        }
        for name, agg in sorted(snap.by_model.items())
        if name != NO_MODEL
    }
    return {
        "lines": sum(s.counts.lines for s in statuses),
        "calls": total.calls,
        "skipped": sum(s.counts.skipped for s in statuses),
        "unparsed": sum(s.counts.unparsed for s in statuses),
        "bad_values": sum(s.counts.bad_values for s in statuses),
        "errors": total.errors,
        "error_rate": round(total.error_rate, 6) if total.calls else None,
        "latency_ms": latency_figures(total),
        "ttft_ms": latency_figures(total, "ttft"),
        "status": dict(sorted(total.status.items())),
        "models": models,
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "cached_tokens": total.cached_tokens,
        "cache_write_tokens": total.cache_write_tokens,
        "cost_usd": round(total.cost_usd, 10),
        "uncosted_calls": total.uncosted_calls,
        "unpriced_models": sorted(unpriced),
        "first_ts": _ts(total.first_ts),
        "last_ts": _ts(total.last_ts),
        "sources": [
            {
                "source": s.label,
                "format": s.format,
                "lines": s.counts.lines,
                "calls": s.counts.calls,
                "skipped": s.counts.skipped,
                "unparsed": s.counts.unparsed,
                "truncated": s.counts.truncated,
                "error": s.error,
                "unparsed_samples": [
                    {"reason": u.reason, "text": u.text} for u in s.counts.first_unparsed[:5]
                ],
                "bad_values": s.counts.bad_values,
                "bad_value_samples": [
                    {"field": b.field, "value": b.text} for b in s.counts.first_bad_values[:5]
                ],
                "reader_failures": s.counts.failures,  # times its reader raised and was restarted
                "reader_failure": s.counts.failure,  # the latest reason, or None
            }
            for s in statuses
        ],
    }


def strict_json(value: Any) -> str:
    """`value` as strict JSON: a float that is not finite becomes null.

    The figures are finite by construction (parsers drop non-finite
    values); this keeps a script's JSON reader working whatever slips by.
    """
    return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
