"""The live cost of following: the monitor's CPU and lag behind a log another process writes.

A writer process appends LiteLLM StandardLoggingPayload records, one JSON
object a line (built from the real LiteLLM 1.110.2 sample in tests/data, with
chat bodies of a few KB, about 17 KB a line; one call in 50 fails), at a
steady rate, in batches every 20 ms as a proxy does, each record dated the
moment it is written. The real console script follows the file:

- `monitor`: `apimon-tui FILE` in a tmux server of its own (120x40), on its
  main screen, whose Requests panel counts the calls of its 5-minute window
  (every call of a run), read with `tmux capture-pane`;
- `report`: `apimon-tui report --follow --json --interval 1 FILE`, whose
  summaries carry the calls counted so far.

Figures, over the steady part (after a warm-up):

- CPU: the process's utime+stime from /proc/PID/stat, as % of one core;
- lag: at each look at the screen (or summary), how long ago the oldest call
  not yet counted was written (0 when every written call is counted). The
  panels redraw once a second, so the monitor's figure includes up to 1 s of
  the screen's own age: what a user sees, an upper bound of ingestion's;
- the reader thread's CPU per line counted: the figure a busy machine moves
  least (a core that gives the reader 1,000,000 µs a second keeps up with
  1,000,000 / that many lines a second);
- wrote/s: what the writer managed (on a loaded machine it falls short).

    python bench/live_follow.py [--rates 1000,10000] [--seconds 20] [--warmup 5] [--what monitor,report]

The machine is shared: figures move from run to run; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from bisect import bisect_left
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "litellm-1.110.2-payloads.log"
BATCH_S = 0.02
FAIL_EVERY = 50
MARKS = ("@@ID@@", "@@START@@", "@@END@@")


def sample_payload() -> dict:
    """The first whole pretty-printed payload of the real sample (others there have foreign lines inside)."""
    text = SAMPLE.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    for match in re.finditer(r"(?m)^\{$", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and "model_map_information" in obj:
            return obj
    raise SystemExit(f"bench: no whole payload in {SAMPLE}")


def templates() -> tuple[list[str], list[str]]:
    """A success and a failure record as text pieces around the id, start and end marks."""
    obj = sample_payload()
    obj["messages"] = [
        {"role": "system", "content": "You are a careful assistant that answers in short paragraphs. " * 12},
        {"role": "user", "content": "Summarise the following report for a busy reader. " + "The quarter's figures rose steadily. " * 45},
    ]
    obj["response"]["choices"][0]["message"]["content"] = "In short: the figures rose steadily over the quarter. " * 22
    obj.update(id=MARKS[0], litellm_call_id=MARKS[0], startTime=MARKS[1], endTime=MARKS[2], completionStartTime=MARKS[2])
    failed = dict(obj, status="failure", response_cost=0.0, prompt_tokens=0, completion_tokens=0,
                  error_str="litellm.RateLimitError: Rate limit reached for requests",
                  error_information={"error_code": "429", "error_class": "RateLimitError",
                                     "error_message": "Rate limit reached for requests", "llm_provider": "openai"})
    return _pieces(json.dumps(obj)), _pieces(json.dumps(failed))


def _pieces(line: str) -> list[str]:
    for mark in MARKS:
        line = line.replace(f'"{mark}"', f"\0{mark}\0")
    return line.split("\0")


def write(path: str, rate: int, seconds: float, timeline_path: str) -> None:
    """The writer process: `rate` records a second for `seconds`, in 20 ms batches; then the
    timeline of (monotonic time, records written) after each batch, as JSON."""
    ok, failed = templates()
    timeline: list[tuple[float, int]] = []
    written = 0
    with open(path, "a", encoding="utf-8") as out:
        start = time.monotonic()
        tick = start
        while time.monotonic() - start < seconds:
            tick += BATCH_S
            due = int(rate * (time.monotonic() - start))
            lines = []
            now = time.time()
            for k in range(written, due):
                pieces = failed if k % FAIL_EVERY == 7 else ok
                values = {"@@ID@@": f'"chatcmpl-{k}"', "@@START@@": f"{now - 0.2 - k % 700 / 1000:.6f}",
                          "@@END@@": f"{now:.6f}"}
                lines.append("".join(values.get(p, p) for p in pieces))
            if lines:
                out.write("\n".join(lines) + "\n")
                out.flush()
                written = due
                timeline.append((time.monotonic(), written))
            time.sleep(max(0.0, tick - time.monotonic()))
    Path(timeline_path).write_text(json.dumps(timeline), encoding="utf-8")


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """utime+stime of a process (or of one of its threads)."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_seconds(pid: int) -> dict[int, float]:
    """Each thread's CPU seconds so far (threads that ended meanwhile are left out)."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds[int(task.name)] = cpu_seconds(pid, int(task.name))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return seconds


def lag_at(timeline: list[tuple[float, int]], at: float, counted: int) -> float:
    """How long before `at` the oldest record not counted was written (0: all counted)."""
    counts = [n for _, n in timeline]
    i = bisect_left(counts, counted + 1)  # the first batch holding record number counted+1
    if i == len(timeline) or timeline[i][0] > at:
        return 0.0
    return at - timeline[i][0]


def written_between(timeline: list[tuple[float, int]], start: float, end: float) -> int:
    """Records the writer wrote from `start` to `end` (it may fall short of its rate on a busy machine)."""
    def by(at: float) -> int:
        done = [n for t, n in timeline if t <= at]
        return done[-1] if done else 0
    return by(end) - by(start)


class Tmux:
    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"apimon-live-{uuid.uuid4().hex[:8]}"
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", command, env=env)

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              env=env).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "bench")

    def pid(self) -> int:
        return int(self.run("list-panes", "-t", "bench", "-F", "#{pane_pid}").split()[0])

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def counted_on_screen(screen: str) -> int | None:
    """The calls of the Requests panel's window (5 minutes: every call of a run)."""
    found = re.search(r"req/s · ([\d,]+) calls", screen)
    return int(found.group(1).replace(",", "")) if found else None


def run_monitor(script: str, log: Path, env: dict[str, str], seconds: float, warmup: float,
                start_writer) -> tuple[list, int]:
    """Samples from the main screen, and the process id. The writer starts once the screen is up: the
    monitor has opened the file (at its end) by then, so it misses no line."""
    tmux = Tmux(f"exec {script} {log}", env)
    try:
        pid = tmux.pid()
        deadline = time.monotonic() + 30
        while "Requests" not in tmux.screen():
            if time.monotonic() > deadline:
                raise SystemExit("bench: the monitor never drew its main screen:\n" + tmux.screen())
            time.sleep(0.2)
        start_writer()
        return _sample(lambda: counted_on_screen(tmux.screen()), pid, seconds, warmup), pid
    finally:
        tmux.close()


def run_report(script: str, log: Path, env: dict[str, str], seconds: float, warmup: float,
               start_writer) -> tuple[list, int]:
    """Samples of the summaries' calls, and the process id (`--follow` reads from the file's start)."""
    proc = subprocess.Popen([script, "report", "--follow", "--json", "--interval", "1", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    start_writer()
    latest: list[int | None] = [None]

    def read() -> None:
        for line in proc.stdout:
            latest[0] = json.loads(line)["calls"]

    threading.Thread(target=read, daemon=True).start()
    try:
        return _sample(lambda: latest[0], proc.pid, seconds, warmup), proc.pid
    finally:
        proc.terminate()
        proc.wait()


def _sample(counted, pid: int, seconds: float, warmup: float) -> list:
    """(time, calls counted, cpu seconds, per thread) every 0.25 s: the warm-up, then the steady part."""
    samples = []
    start = time.monotonic()
    while time.monotonic() - start < warmup + seconds:
        samples.append((time.monotonic(), counted(), cpu_seconds(pid), thread_seconds(pid)))
        time.sleep(0.25)
    return samples


def thread_split(first: dict[int, float], last: dict[int, float], pid: int, wall: float) -> tuple[float, float]:
    """% of a core of the main thread (the UI's event loop; for `report`, its summaries) and of the
    busiest other thread (reading and parsing)."""
    used = {tid: last[tid] - first.get(tid, 0.0) for tid in last}
    main = used.pop(pid, 0.0)
    return main / wall * 100, max(used.values(), default=0.0) / wall * 100


def measure(what: str, rate: int, args, script: str, work: Path, env: dict[str, str]) -> dict:
    log = work / f"litellm-{what}-{rate}.log"
    log.touch()
    timeline_path = work / f"timeline-{what}-{rate}.json"
    run = run_monitor if what == "monitor" else run_report
    writer = None
    started: list[float] = []

    def start_writer() -> None:
        nonlocal writer
        started.append(time.monotonic())
        writer = subprocess.Popen([sys.executable, __file__, "--write", str(log), str(rate),
                                   str(args.warmup + args.seconds + 1), str(timeline_path)])

    samples, pid = run(script, log, env, args.seconds, args.warmup, start_writer)
    writer.wait()
    timeline = json.loads(timeline_path.read_text())
    steady = [s for s in samples if s[0] >= started[0] + args.warmup]
    wall = steady[-1][0] - steady[0][0]
    cpu = (steady[-1][2] - steady[0][2]) / wall * 100
    main_cpu, reader_cpu = thread_split(steady[0][3], steady[-1][3], pid, wall)
    lags = [lag_at(timeline, t, n) for t, n, _, _ in steady if n is not None]
    counted = [n for _, n, _, _ in steady if n is not None]
    per_line_us = reader_cpu / 100 * wall / max(1, counted[-1] - counted[0]) * 1e6
    log.unlink()
    return {"what": what, "rate": rate, "cpu_pct": cpu, "main_pct": main_cpu, "reader_pct": reader_cpu,
            "lag_median_s": statistics.median(lags), "lag_max_s": max(lags), "looks": len(lags),
            "wrote_per_s": written_between(timeline, steady[0][0], steady[-1][0]) / wall,
            "reader_us_per_line": per_line_us}


def line_bytes() -> int:
    ok, _ = templates()
    return len("".join(p for p in ok if p not in MARKS)) + 60


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        path, rate, seconds, timeline = sys.argv[2:6]
        write(path, int(rate), float(seconds), timeline)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,10000", help="lines per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the steady part")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--what", default="monitor,report", help="monitor, report or both")
    parser.add_argument("--src", default="",
                        help="comma-separated source trees (e.g. OTHER/src) to compare, run by run, with this one")
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the log is written (default /dev/shm: a disk's write-back throttles the writer)")
    args = parser.parse_args()
    script = shutil.which("apimon-tui")
    if script is None or shutil.which("tmux") is None:
        raise SystemExit("bench: needs the apimon-tui console script (pip install -e .) and tmux")
    work = Path(tempfile.mkdtemp(prefix="apimon-live-", dir=args.dir))
    config = work / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 100.0\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TMUX")}
    env.update(TERM="xterm-256color", APIMON_CONFIG=str(config), XDG_STATE_HOME=str(work / "state"))
    trees = [str(Path(__file__).resolve().parent.parent / "src"), *filter(None, args.src.split(","))]
    print(f"LiteLLM payloads of {line_bytes() / 1024:.1f} KB; CPU in % of one core (main thread: the UI, "
          f"reader: the busiest other thread); lag in seconds")
    print(f"{'tree':<28} {'follower':<9} {'lines/s':>8} {'CPU':>6} {'main':>6} {'reader':>7} {'lag med':>8} "
          f"{'lag max':>8} {'looks':>6} {'wrote/s':>8} {'reader µs/line':>15}")
    for rate in (int(r) for r in args.rates.split(",")):
        for what in args.what.split(","):
            for tree in trees:
                r = measure(what, rate, args, script, work, dict(env, PYTHONPATH=tree))
                print(f"{_short(tree):<28} {what:<9} {rate:>8,} {r['cpu_pct']:>6.1f} {r['main_pct']:>6.1f} "
                      f"{r['reader_pct']:>7.1f} {r['lag_median_s']:>8.2f} {r['lag_max_s']:>8.2f} {r['looks']:>6} "
                      f"{r['wrote_per_s']:>8,.0f} {r['reader_us_per_line']:>15.0f}",
                      flush=True)
    shutil.rmtree(work, ignore_errors=True)


def _short(tree: str) -> str:
    return tree if len(tree) <= 28 else "…" + tree[-27:]


if __name__ == "__main__":
    main()
