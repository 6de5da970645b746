"""How long a `/metrics` scrape of `serve` takes with 1,000 call series.

Fills the agent's own counters (`apimon_tui.commands.exposition.CallMetrics`) with
`--models` models x 4 statuses = 1,000 `apimon_calls_total` series by default
(plus each model's latency histogram, token and cost series), serves them with
`serve`'s HTTP server on 127.0.0.1 and times `--scrapes` scrapes over HTTP.

    python bench/metrics_scrape.py [--models 250] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import httpx
from prometheus_client import CollectorRegistry, disable_created_metrics

from apimon_tui.commands.serve import MetricsServer
from apimon_tui.commands.exposition import CallMetrics
from apimon_tui.core.model import Call

STATUSES = (200, 429, 500, None)


class NoEngine:
    """The health check's view of an engine, for a server without sources."""

    running = True

    def statuses(self) -> list:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=250)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    disable_created_metrics()
    registry = CollectorRegistry()
    metrics = CallMetrics(registry)
    metrics.count_calls([Call(ts=0.0, provider="openai", model=f"model-{m:04d}", status=status, latency_ms=700.0,
                              input_tokens=100, output_tokens=20, cost_usd=0.001, failed=status is None)
                         for m in range(args.models) for status in STATUSES])
    server = MetricsServer(("127.0.0.1", 0), registry, NoEngine())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    times = []
    with httpx.Client() as client:
        for _ in range(args.scrapes):
            start = time.perf_counter()
            body = client.get(url).text
            times.append(time.perf_counter() - start)
    server.shutdown()
    calls = sum(1 for line in body.splitlines() if line.startswith("apimon_calls_total"))
    lines = sum(1 for line in body.splitlines() if not line.startswith("#"))
    print(f"{calls:,} apimon_calls_total series, {lines:,} sample lines, {len(body):,} bytes: "
          f"scrape median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
