"""How fast `apimon-tui report --json` reads big nginx logs, beside the usual tools.

Generates 1,000,000-line logs (nginx `combined` + timings, and the nginx JSON
format of the reference) once into bench/out/, then runs in one go, on the same
files: `apimon-tui report --json`, GoAccess, lnav, and a bare Python loop that
only reads and splits lines. Prints wall time, CPU time, lines/s, peak memory
and the ratio to lnav for each.

    python bench/report_throughput.py [--lines N] [--repeat R]

GoAccess and lnav come from Debian (`apt-get install goaccess lnav`); a tool
that is missing is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import apimon_tui

OUT = Path(__file__).resolve().parent / "out"
MODELS_PATHS = ["/v1/chat/completions"] * 8 + ["/v1/embeddings", "/v1/responses"]
STATUSES = [200] * 95 + [429] * 3 + [500, 503]


def _rows(n: int, seed: int = 42):
    rng = random.Random(seed)
    t = 1_795_700_000.0
    for _ in range(n):
        t += rng.expovariate(100.0)
        status = rng.choice(STATUSES)
        upstream = rng.lognormvariate(-1.2, 0.9)
        yield t, status, rng.choice(MODELS_PATHS), upstream, upstream + rng.uniform(0.0005, 0.004), rng.randrange(200, 4000)


def generate(n: int) -> tuple[Path, Path]:
    OUT.mkdir(exist_ok=True)
    combined, js = OUT / f"nginx-combined-{n}.log", OUT / f"nginx-json-{n}.log"
    if combined.exists() and js.exists():
        return combined, js
    with combined.open("w") as fc, js.open("w") as fj:
        for t, status, path, up, req, size in _rows(n):
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
            fc.write(f'10.0.0.5 - - [{stamp}] "POST {path} HTTP/1.1" {status} {size} "-" "OpenAI/Python 1.109.1" {req:.3f} {up:.3f}\n')
            iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
            rid = f"{random.getrandbits(128):032x}"
            fj.write(json.dumps({
                "time": iso, "msec": f"{t:.3f}", "request_id": rid, "remote_addr": "10.0.0.5", "method": "POST",
                "uri": path, "status": str(status), "request_length": "812", "bytes_sent": str(size),
                "request_time": f"{req:.3f}", "upstream_addr": "162.159.140.245:443", "upstream_status": str(status),
                "upstream_connect_time": "0.001", "upstream_header_time": f"{up * 0.8:.3f}",
                "upstream_response_time": f"{up:.3f}", "openai_request_id": f"req_{rid}",
                "openai_processing_ms": str(int(up * 900)), "rl_remaining_requests": "4999",
                "rl_remaining_tokens": "3999176", "user_agent": "OpenAI/Python 1.109.1",
            }, separators=(",", ":")) + "\n")
    return combined, js


def run(cmd: list[str]) -> tuple[float, float, float, int]:
    """Wall s, CPU s (user+sys), peak RSS MB and exit code of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


BARE_LOOP = """
import sys
n = 0
with open(sys.argv[1], 'rb') as f:
    while chunk := f.read(1 << 20):
        n += len(chunk.split(b'\\n')) - 1
print(n)
"""

GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T %^'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of runs of every tool (best and median wall time shown)")
    args = parser.parse_args()
    combined, js = generate(args.lines)
    # Time the app as installed, with its bytecode compiled, even where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(apimon_tui.__file__).parent)], check=True)
    apimon = [sys.executable, "-m", "apimon_tui", "report", "--json"]
    tools: list[tuple[str, list[str] | None]] = [
        ("apimon-tui report (combined)", apimon + [str(combined)]),
        ("apimon-tui report (json)", apimon + [str(js)]),
        ("apimon-tui report 1 core (combined)", apimon + ["--jobs", "1", str(combined)]),
        ("apimon-tui report 1 core (json)", apimon + ["--jobs", "1", str(js)]),
        ("goaccess 1.7 (combined)", ["goaccess", str(combined), "--log-format", GOACCESS_FORMAT, "--date-format", "%d/%b/%Y",
                                     "--time-format", "%H:%M:%S", "-o", str(OUT / "goaccess.json")] if shutil.which("goaccess") else None),
        ("lnav 0.11 (combined)", ["lnav", "-n", "-c", ";SELECT count(*), avg(sc_status), sum(sc_bytes) FROM access_log", str(combined)]
         if shutil.which("lnav") else None),
        ("bare Python split loop", [sys.executable, "-c", BARE_LOOP, str(combined)]),
    ]
    results, medians = {}, {}
    for name, cmd in tools:
        if cmd is None:
            print(f"{name:<38} not installed, skipped")
    # Round by round, every tool once a round: a slow spell of the machine hits all of them alike.
    runs: dict[str, list] = {name: [] for name, cmd in tools if cmd is not None}
    for _ in range(args.repeat):
        for name, cmd in tools:
            if cmd is not None:
                runs[name].append(run(cmd))
    print(f"{'tool (best run)':<38} {'wall s':>8} {'cpu s':>8} {'lines/s':>11} {'peak MB':>8} {'median s':>9}")
    for name, measured in runs.items():
        wall, cpu, rss, code = min(measured, key=lambda r: r[0])
        results[name] = wall
        medians[name] = statistics.median(r[0] for r in measured)
        note = "" if code == 0 else f"  (exit {code})"
        print(f"{name:<38} {wall:>8.2f} {cpu:>8.2f} {args.lines / wall:>11,.0f} {rss:>8.0f} {medians[name]:>9.2f}{note}")
    for label, walls in (("best runs", results), ("median runs", medians)):
        ratio = walls["apimon-tui report 1 core (combined)"] / walls["apimon-tui report 1 core (json)"]
        print(f"\none core, {label}: JSON lines/s over combined lines/s {ratio:.2f}", end="")
    print()
    lnav = results.get("lnav 0.11 (combined)")
    if lnav:
        print("\nwall time relative to lnav (lower is faster):")
        for name, wall in results.items():
            print(f"  {name:<38} {wall / lnav:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
