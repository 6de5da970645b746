"""How long the monitor takes to show a big log at start, to read back its last 24 hours, and the memory it holds.

Generates (once, under bench/out/, with the time it ends at beside it) a native log with
`--old-hours` of older traffic at a tenth of `--rate`, then `--hours` of recent traffic at
`--rate` calls a second, and prints side by side, in one run:

- apimon: a fresh process on one core (taskset) that opens the log as the monitor does (`--since`
  the last `--hours`, the newest 5 minutes read first): the seconds from its start until the
  first paint's snapshot (those minutes read, imports included), until the whole span is read
  (the older part backwards by blocks), and its peak RSS with the span held;
- lnav (when installed): `lnav -n` loading the same file headless, seconds and peak RSS;
- a bare Python loop reading the span's bytes line by line (the floor of reading it at all).

The machine's clock is not the log's: the apimon process is given the time the log ends at.

With `--format openai-sdk` the log is an openai-python debug log of `--calls` HTTP attempts
(`format_openai_sdk.py`'s generator: 1.x and 3.x requests, retries, tracebacks; some 100
requests a second); with `--format litellm-pretty` a LiteLLM proxy's pretty-printed payloads
at `--rate` a second over `--hours`. Beside the look-back is timed what the monitor did before
for such a log: read it from its start, the first paint once all of it was read.

    python bench/backfill.py [--hours 24] [--rate 100] [--old-hours 144]
    python bench/backfill.py --format openai-sdk [--calls 300000]
    python bench/backfill.py --format litellm-pretty --hours 2 --rate 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "text-embedding-3-small")
FIRST_PAINT_S = 300.0

APIMON = """
import resource, sys, time
started = time.perf_counter()
from apimon_tui.ingest.engine import Engine
path, since, now, recent_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
engine = Engine([path], since=since, recent_s=recent_s, clock=lambda: now)
engine.read_recent()
snap = engine.store.snapshot(recent_s, now, points=60, failed_limit=200)
print("first", time.perf_counter() - started, snap.total.calls, flush=True)
while engine.history_progress is not None:
    engine.pump()
calls = engine.store.snapshot(None, now, points=0).total.calls
print("all", time.perf_counter() - started, calls, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""

FROM_START = """
import sys, time
started = time.perf_counter()
from apimon_tui.ingest.engine import Engine
engine = Engine([sys.argv[1]], from_start=True, follow=False, clock=lambda: float(sys.argv[2]))
engine.read_to_end()
print(time.perf_counter() - started, engine.store.snapshot(None, float(sys.argv[2]), points=0).total.calls)
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
    """Older traffic at a tenth of the rate, then the recent span at the full rate, ending at `now`."""
    rng = random.Random(7)
    start = now - (hours + old_hours) * 3600
    recent = now - hours * 3600
    line = ('{{"apimon":1,"ts":{ts:.3f},"provider":"openai","model":"{model}","status":{status},'
            '"latency_ms":{latency:.1f},"input_tokens":{input},"output_tokens":{output},'
            '"request_id":"req_{rid:016x}"}}\n')
    with path.open("w", encoding="utf-8") as out:
        ts = start
        rows = []
        while ts < now:
            status = 429 if rng.random() < 0.02 else (500 if rng.random() < 0.005 else 200)
            rows.append(line.format(ts=ts, model=rng.choice(MODELS), status=status,
                                    latency=rng.lognormvariate(6, 0.6), input=rng.randint(50, 4000),
                                    output=rng.randint(0, 800), rid=rng.getrandbits(64)))
            if len(rows) >= 100_000:
                out.writelines(rows)
                rows = []
            ts += rng.expovariate(rate if ts >= recent else rate / 10)
        out.writelines(rows)


def child_rss_mb(run) -> tuple[subprocess.CompletedProcess, float]:
    """Runs `run()` in a fresh launcher so the peak counted is the child's alone."""
    launcher = ("import resource, subprocess, sys\n"
                "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", launcher, *run], capture_output=True, text=True)
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return proc, rss_kib / 1024


def one_core() -> list[str]:
    """`taskset -c N` on the last core this process may use, when taskset is there."""
    cores = sorted(os.sched_getaffinity(0))
    return ["taskset", "-c", str(cores[-1])] if shutil.which("taskset") and cores else []


def apimon(path: Path, since: float, now: float) -> tuple[float, int, float, int, float]:
    """(seconds to the first paint, its calls, seconds to the whole span, its calls, peak MB) of a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen([*one_core(), sys.executable, "-c", APIMON, str(path), str(since), str(now),
                             str(FIRST_PAINT_S)], stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline().split()
    first_s = time.perf_counter() - started
    done = proc.stdout.readline().split()
    all_s = time.perf_counter() - started
    proc.wait()
    return first_s, int(first[2]), all_s, int(done[2]), int(done[3]) / 1024


def native_log(args: argparse.Namespace) -> tuple[Path, float]:
    """The generated native log and the time it ends at."""
    path = OUT / f"backfill-{args.hours:g}h-{args.rate:g}ps-{args.old_hours:g}old.jsonl"
    ends_at = path.with_suffix(".now")
    if not (path.exists() and ends_at.exists()):
        now = time.time()
        print(f"writing {path} ...", file=sys.stderr)
        generate(path, args.hours, args.old_hours, args.rate, now)
        ends_at.write_text(repr(now))
    return path, float(ends_at.read_text())


def pretty_litellm_log(args: argparse.Namespace) -> tuple[Path, float]:
    """A LiteLLM proxy's stdout of pretty-printed payloads (the real samples, re-dated) at `--rate`
    a second over `--hours`, ending now, and the time it ends at."""
    path = OUT / f"backfill-{args.hours:g}h-{args.rate:g}ps.litellm-pretty.log"
    ends_at = path.with_suffix(".now")
    if not (path.exists() and ends_at.exists()):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from formats import _litellm_samples

        now, rng = time.time(), random.Random(7)
        samples = _litellm_samples()
        print(f"writing {path} ...", file=sys.stderr)
        with path.open("w", encoding="utf-8") as out:
            ts = now - args.hours * 3600
            while ts < now:
                payload = dict(rng.choice(samples), id=f"chatcmpl-{rng.getrandbits(64):x}", model=rng.choice(MODELS),
                               startTime=ts - 0.8, endTime=ts, completionStartTime=ts - 0.5)
                out.write(json.dumps(payload, indent=4) + "\n")
                ts += rng.expovariate(args.rate)
        ends_at.write_text(repr(now))
    return path, float(ends_at.read_text())


def sdk_log(args: argparse.Namespace) -> tuple[Path, float]:
    """The generated openai-python debug log and the time of its last line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from format_openai_sdk import generate as generate_sdk

    from apimon_tui.formats import line_time
    from apimon_tui.sources.seek import last_line_time

    path = generate_sdk(args.calls, OUT)
    return path, last_line_time(str(path), line_time("openai-sdk")) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--old-hours", type=float, default=144.0)
    parser.add_argument("--rate", type=float, default=100.0, help="calls a second in the recent span")
    parser.add_argument("--format", choices=["native", "openai-sdk", "litellm-pretty"], default="native")
    parser.add_argument("--calls", type=int, default=300_000, help="HTTP attempts of the openai-sdk log")
    parser.add_argument("--no-lnav", action="store_true", help="leave lnav out (it indexes the whole file)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    logs = {"native": native_log, "openai-sdk": sdk_log, "litellm-pretty": pretty_litellm_log}
    path, now = logs[args.format](args)
    since = now - args.hours * 3600
    from apimon_tui.ingest.engine import since_offset

    offset = since_offset(str(path), since, args.format.removesuffix("-pretty"), {})
    size_mb = path.stat().st_size / 2**20
    span_mb = (path.stat().st_size - offset) / 2**20
    print(f"log: {size_mb:,.0f} MB, of which the last {args.hours:g} h: {span_mb:,.0f} MB")
    print(f"{'tool':<34}{'seconds':>9}{'lines or calls':>16}{'peak MB':>9}")
    first_s, first_calls, all_s, calls, rss = apimon(path, since, now)
    print(f"{'apimon first paint (newest 5m)':<34}{first_s:>9.2f}{first_calls:>16,}")
    print(f"{'apimon whole span read':<34}{all_s:>9.2f}{calls:>16,}{rss:>9.0f}")
    if args.format != "native":
        proc, rss = child_rss_mb([*one_core(), sys.executable, "-c", FROM_START, str(path), str(now)])
        seconds, calls = proc.stdout.split()
        print(f"{'from its start (before: 1st paint)':<34}{float(seconds):>9.2f}{int(calls):>16,}{rss:>9.0f}")
    proc, rss = child_rss_mb([*one_core(), sys.executable, "-c", FLOOR, str(path), str(offset)])
    seconds, lines = proc.stdout.split()
    print(f"{'bare read of the span':<34}{float(seconds):>9.2f}{int(lines):>16,}{rss:>9.0f}")
    lnav = shutil.which("lnav")
    if args.no_lnav:
        return
    if lnav is None:
        print("lnav: not installed (apt-get install lnav)")
        return
    started = time.perf_counter()
    proc, rss = child_rss_mb([*one_core(), lnav, "-n", "-c", ":quit", str(path)])
    print(f"{'lnav -n (whole file)':<34}{time.perf_counter() - started:>9.2f}{'':>16}{rss:>9.0f}")


if __name__ == "__main__":
    main()
