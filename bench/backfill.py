"""How long the monitor takes to read back the last 24 hours of a big log at start, and the memory it holds.

Generates (once, under bench/out/) a native log with `--old-hours` of older traffic and then
`--hours` of recent traffic at `--rate` calls a second, ending now, and prints side by side, in
one run:

- apimon: a fresh process that opens the log as the monitor does (`--since` the last `--hours`:
  binary search to the start of the span, then every line read into the store), the seconds until
  it has caught up with the end and its peak RSS;
- lnav (when installed): `lnav -n` loading the same file headless, seconds and peak RSS;
- a bare Python loop reading the same span's bytes line by line (the floor of reading it at all).

    python bench/backfill.py [--hours 24] [--rate 100] [--old-hours 48]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "text-embedding-3-small")

APIMON = """
import resource, sys, time
from apimon_tui.ingest.engine import Engine
path, since = sys.argv[1], float(sys.argv[2])
started = time.perf_counter()
engine = Engine([path], since=since, follow=False)
engine.read_to_end()
seconds = time.perf_counter() - started
calls = engine.store.snapshot(None, points=0).total.calls
print(seconds, calls, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

FLOOR = """
import sys, time
path, offset = sys.argv[1], int(sys.argv[2])
started = time.perf_counter()
lines = 0
with open(path, "rb") as f:
    f.seek(offset)
    for _ in f:
        lines += 1
print(time.perf_counter() - started, lines)
"""


def generate(path: Path, hours: float, old_hours: float, rate: float, now: float) -> None:
    """Older traffic at a tenth of the rate, then the recent span at the full rate."""
    rng = random.Random(7)
    start = now - (hours + old_hours) * 3600
    recent = now - hours * 3600
    with path.open("w", encoding="utf-8") as out:
        ts = start
        while ts < now:
            status = 429 if rng.random() < 0.02 else (500 if rng.random() < 0.005 else 200)
            record = {"apimon": 1, "ts": round(ts, 3), "provider": "openai", "model": rng.choice(MODELS),
                      "status": status, "latency_ms": round(rng.lognormvariate(6, 0.6), 1),
                      "input_tokens": rng.randint(50, 4000), "output_tokens": rng.randint(0, 800),
                      "request_id": f"req_{rng.getrandbits(64):016x}"}
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            ts += rng.expovariate(rate if ts >= recent else rate / 10)


def child_rss_mb(run) -> tuple[subprocess.CompletedProcess, float]:
    """Runs `run()` in a fresh launcher so the peak counted is the child's alone."""
    launcher = ("import resource, subprocess, sys\n"
                "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", launcher, *run], capture_output=True, text=True)
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return proc, rss_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--old-hours", type=float, default=48.0)
    parser.add_argument("--rate", type=float, default=100.0, help="calls a second in the recent span")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    now = time.time()
    path = OUT / f"backfill-{args.hours:g}h-{args.rate:g}ps.jsonl"
    if not path.exists() or path.stat().st_mtime < now - 3600:  # the span must end about now
        print(f"writing {path} ...", file=sys.stderr)
        generate(path, args.hours, args.old_hours, args.rate, now)
    since = time.time() - args.hours * 3600
    from apimon_tui.ingest.engine import since_offset

    offset = since_offset(str(path), since, "native", {})
    size_mb = path.stat().st_size / 2**20
    span_mb = (path.stat().st_size - offset) / 2**20
    print(f"log: {size_mb:,.0f} MB, of which the last {args.hours:g} h: {span_mb:,.0f} MB")
    print(f"{'tool':<28}{'seconds':>9}{'lines or calls':>16}{'peak MB':>9}")
    proc, rss = child_rss_mb([sys.executable, "-c", APIMON, str(path), str(since)])
    seconds, calls, _ = proc.stdout.split()
    print(f"{'apimon backfill':<28}{float(seconds):>9.2f}{int(calls):>16,}{rss:>9.0f}")
    proc, rss = child_rss_mb([sys.executable, "-c", FLOOR, str(path), str(offset)])
    seconds, lines = proc.stdout.split()
    print(f"{'bare read of the span':<28}{float(seconds):>9.2f}{int(lines):>16,}{rss:>9.0f}")
    lnav = shutil.which("lnav")
    if lnav is None:
        print("lnav: not installed (apt-get install lnav)")
        return
    started = time.perf_counter()
    proc, rss = child_rss_mb([lnav, "-n", "-c", ":quit", str(path)])
    print(f"{'lnav -n (whole file)':<28}{time.perf_counter() - started:>9.2f}{'':>16}{rss:>9.0f}")


if __name__ == "__main__":
    main()
