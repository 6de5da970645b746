"""Where one core's time goes when `report` reads a big nginx log: seconds per phase.

Wraps the phases of the one-share read (`parallel.read_parallel` with one job)
in timers and prints their totals; nested phases (the key check and quote
scan inside the columns) are shown on their own lines too, so the lines do
not add up to the total.

    python bench/report_phases.py bench/out/nginx-json-1000000.log

(The logs come from `bench/report_throughput.py`.)
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from apimon_tui.ingest import parallel
from apimon_tui.formats import byte_lines, nginx, nginx_columns
from apimon_tui.store import metrics

PHASES = [
    (parallel.ByteRangeSource, "read_batches", "reading blocks"),
    (nginx_columns, "combined_calls", "columns (calls read at once)"),
    (nginx_columns, "json_calls", "columns (calls read at once)"),
    (byte_lines.ByteLines, "start_with", "  of which: checking JSON keys"),
    (byte_lines.ByteLines, "positions", "  of which: finding quotes"),
    (byte_lines.ByteLines, "following", "  of which: finding JSON keys (`,\"`)"),
    (nginx_columns, "_layout_quotes_only", "  of which: counting JSON quotes"),
    (nginx_columns, "_decimal_millis", "  of which: decimal texts"),
    (nginx.NginxParser, "_feed_lines", "other lines, one by one"),
    (metrics.MetricsStore, "add_bulk", "storing calls in bulk"),
    (metrics.MetricsStore, "add_many", "storing calls one by one"),
]


def timed(spent: Counter, label: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    args = parser.parse_args()
    spent: Counter = Counter()
    for owner, name, label in PHASES:
        setattr(owner, name, timed(spent, label, getattr(owner, name)))
    start = time.perf_counter()
    jobs = parallel.plan_jobs(args.path, "auto", 1, {}, None)
    if not jobs:
        raise SystemExit(f"bench: {args.path} is not read in shares (under 8 MB, or not a one-line format)")
    parallel.read_parallel(jobs, 1)
    total = time.perf_counter() - start
    for label in dict.fromkeys(label for _, _, label in PHASES):
        print(f"{label:<36} {spent[label]:6.2f} s")
    print(f"{'total':<36} {total:6.2f} s")


if __name__ == "__main__":
    main()
