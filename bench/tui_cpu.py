"""CPU use and responsiveness of the running monitor, measured from outside.

Starts the real `apimon-tui` console script on a pseudo-terminal (120x40,
TERM=xterm-256color, no COLORTERM) following a native log, and prints:

- first paint: seconds from start until the main screen's panels are drawn;
- CPU while the log grows by 1,000 lines/s (default refresh), as % of one core;
- CPU while the log is idle;
- key answer: time from pressing `?` to the help screen being drawn, and from
  `p` to the status line saying so, while the log grows by 10,000 lines/s.

    python bench/tui_cpu.py [--seconds 10] [--refresh 1] [--presses 20]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import apimon_tui


class Screen:
    """Drains the pty (a terminal that is never read blocks the app) and waits for text."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.seen += chunk
                del self.seen[:-200_000]

    def mark(self) -> None:
        with self.lock:
            self.seen.clear()

    def wait_for(self, text: str, limit_s: float = 30.0) -> float:
        start = time.perf_counter()
        needle = text.encode()
        while time.perf_counter() - start < limit_s:
            with self.lock:
                if needle in self.seen:
                    return time.perf_counter() - start
            time.sleep(0.005)
        raise SystemExit(f"bench: never saw {text!r} on the screen")


ERROR_EVERY = 50  # one call in 50 fails: 20 failed calls/s at 1,000 lines/s


class Writer:
    """Appends native records to the log at a steady rate, in 10 ms batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rate = 0
        self.written = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            tick = time.perf_counter()
            while not self._stop.is_set():
                tick += 0.01
                n = self.rate // 100
                if n:
                    now = time.time()
                    lines = []
                    for i in range(n):
                        k = self.written + i
                        rec = {"apimon": 1, "ts": now, "model": ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4")[k % 3],
                               "status": 429 if k % ERROR_EVERY == 7 else 200, "latency_ms": 200 + k % 700,
                               "input_tokens": 100, "output_tokens": 20, "request_id": f"req_{k}"}
                        lines.append(json.dumps(rec))
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    self.written += n
                time.sleep(max(0.0, tick - time.perf_counter()))

    def stop(self) -> None:
        self._stop.set()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_percent(pid: int, seconds: float) -> float:
    before, start = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - start) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each CPU measurement")
    parser.add_argument("--refresh", type=float, default=1.0)
    parser.add_argument("--presses", type=int, default=20, help="presses of each key measured")
    args = parser.parse_args()
    script = shutil.which("apimon-tui")
    if script is None:
        raise SystemExit("bench: the apimon-tui console script is not installed (pip install -e .)")
    # Time the app as installed, with its bytecode compiled, even where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(apimon_tui.__file__).parent)], check=True)
    work = Path(tempfile.mkdtemp(prefix="apimon-bench-"))
    log = work / "calls.jsonl"
    log.touch()
    config = work / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 100.0\n", encoding="utf-8")

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    started = time.perf_counter()
    proc = subprocess.Popen([script, "--config", str(config), "--refresh", str(args.refresh), str(log)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    screen = Screen(master)
    writer = Writer(log)
    try:
        screen.wait_for("Rate limits")
        first_paint = time.perf_counter() - started
        time.sleep(2)
        writer.rate = 1000
        time.sleep(12)  # settle: detection, and the error feed filled to its bound (steady state)
        busy = cpu_percent(proc.pid, args.seconds)
        writer.rate = 0
        time.sleep(3)
        idle = cpu_percent(proc.pid, args.seconds)
        writer.rate = 10_000
        time.sleep(3)
        answers = {"? (help screen)": [], "p (pause)": []}
        pauses = random.Random(1)  # presses at varied moments of the refresh cycle
        for _ in range(args.presses):
            screen.mark()
            os.write(master, b"?")
            answers["? (help screen)"].append(screen.wait_for("Esc to close"))
            os.write(master, b"\x1b")
            time.sleep(pauses.uniform(0.4, 0.9))
            screen.mark()
            os.write(master, b"p")
            answers["p (pause)"].append(screen.wait_for("PAUSED"))
            os.write(master, b"p")
            time.sleep(pauses.uniform(0.4, 0.9))
        writer.rate = 0
        ingested = writer.written
    finally:
        writer.stop()
        proc.terminate()
        proc.wait(timeout=10)
        os.close(master)
        shutil.rmtree(work, ignore_errors=True)
    print(f"first paint          {first_paint:.2f} s (target < 1 s)")
    print(f"CPU at 1,000 lines/s {busy:.1f}% of one core at refresh {args.refresh:g} s (target <= 15%)")
    print(f"CPU idle             {idle:.1f}% of one core (target <= 2%)")
    for key, times in answers.items():
        ms = sorted(t * 1000 for t in times)
        print(f"key {key:<18} at 10,000 lines/s: median {ms[len(ms) // 2]:.0f} ms, "
              f"90th percentile {ms[int(len(ms) * 0.9)]:.0f} ms, worst {ms[-1]:.0f} ms over {len(ms)} presses "
              f"(target < 100 ms)")
    print(f"lines written        {ingested:,}")


if __name__ == "__main__":
    main()
