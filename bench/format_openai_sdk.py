"""How fast `apimon-tui report --json` reads an openai-python debug log, beside its floor and lnav.

Generates (once, cached under --dir) an `OPENAI_LOG=debug` log of N calls
(HTTP attempts) in the line shapes of the real samples in tests/data: runs of
openai 1.x calls (`Request options` dict repr, `Sending HTTP Request`, httpx's
`HTTP Request`, `HTTP Response ... Headers({...})`, `request_id`) and of
openai 3.x calls (metadata only: `Building HTTP request`, `Sending HTTP
Request`, `HTTP Response: POST 200`, `request_id`), streamed and not, chat
and embeddings, with 429/500 answers retried after a traceback, timeouts,
a 401 that is not retried, and a few application lines. Ids, models,
latencies and rate-limit headroom vary; times move on about 100 calls a second.

Then times, in one run, round by round (each round runs every tool once, so
a slow spell of the shared machine hits all of them):

* `apimon-tui report --json --jobs 1 FILE`, pinned with taskset to one core;
* the floor: a Python loop, pinned too, that reads the file in 2 MB blocks,
  decodes and splits each block into lines and applies one compiled regex to
  each line, nothing else: `KIND.search(line)`, which finds the kind of the
  message after the `] ` that ends the logging module's prefix (the parser's
  own, more general message regex is 3-4x slower than this one);
* lnav, which has no format for this log: it reads it as `generic_log`
  (timestamped text lines, tracebacks folded into the line before), and is
  asked to count them.

Prints wall time, CPU time, lines/s, calls/s and the ratio of wall time to the
floor's for each (best and median of the rounds).

    python bench/format_openai_sdk.py [--calls N] [--repeat R] [--dir DIR] [--against OTHER/src]

For changes smaller than the machine's noise, count instructions instead:
`python bench/report_instructions.py FILE --against OTHER/src` reads an
openai-sdk file whole (it is not cut into shares).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import apimon_tui

DEFAULT_DIR = Path("/tmp/apimon-bench")
START = 1_795_700_000.0  # 2026-11-26, as the samples
CHAT_MODELS = ["gpt-4o", "gpt-4o", "gpt-4.1", "gpt-4.1", "gpt-4o-mini"]
EMBED_MODEL = "text-embedding-3-small"
HOST = "https://api.openai.com"
REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}
RUN_CALLS = 500  # calls in a run of one SDK major before the other takes over

FLOOR = r"""
import re, sys
KIND = re.compile(r"\] (Request options|Building HTTP request|Sending HTTP Request|HTTP Request|HTTP Response"
                  r"|request_id|Retrying request|Encountered|Raising)")
search = KIND.search
lines = hits = 0
tail = b""
with open(sys.argv[1], "rb") as f:
    while block := f.read(2 << 20):
        block = tail + block
        cut = block.rfind(b"\n") + 1
        tail = block[cut:]
        for line in block[:cut].decode("utf-8", "replace").split("\n")[:-1]:
            if search(line) is not None:
                hits += 1
        lines += block.count(b"\n", 0, cut)
print(lines, hits)
"""


class Writer:
    """Lines of one log, stamped as the logging module's default format stamps them."""

    def __init__(self, out, rng: random.Random) -> None:
        self.out, self.rng, self.t = out, rng, START
        self._stamp_second, self._stamp = -1, ""

    def line(self, logger: str, lineno: int, level: str, message: str) -> None:
        second = int(self.t)
        if second != self._stamp_second:
            self._stamp_second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        self.out.write(f"[{self._stamp} - {logger}:{lineno} - {level}] {message}\n")

    def text(self, text: str) -> None:
        self.out.write(text + "\n")

    def tick(self, seconds: float) -> None:
        self.t += seconds


def _rid(rng: random.Random) -> str:
    return f"req_{rng.getrandbits(128):032x}"


def _headers(rng: random.Random, w: Writer, status: int, rid: str, stream: bool, n: int) -> str:
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(w.t))
    pairs = [("server", "cloudflare"), ("date", date), ("openai-organization", "org-abc"),
             ("openai-processing-ms", str(int(rng.lognormvariate(5.7, 0.6)))), ("openai-version", "2020-10-01"),
             ("x-request-id", rid), ("x-ratelimit-limit-requests", "5000"), ("x-ratelimit-limit-tokens", "4000000"),
             ("x-ratelimit-remaining-requests", str(4999 - n % 4999)),
             ("x-ratelimit-remaining-tokens", str(4_000_000 - rng.randrange(500, 40_000))),
             ("x-ratelimit-reset-requests", f"{rng.randrange(6, 60)}ms"), ("x-ratelimit-reset-tokens", f"{rng.randrange(1, 900)}ms")]
    if status == 429:
        pairs.append(("retry-after-ms", str(rng.randrange(5, 400))))
    if stream:
        pairs += [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")]
    else:
        pairs += [("content-type", "application/json"), ("content-length", str(rng.randrange(230, 900)))]
    return "Headers({" + ", ".join(f"'{k}': '{v}'" for k, v in pairs) + "})"


def _traceback(w: Writer, status: int | None, url: str) -> None:
    w.text("Traceback (most recent call last):")
    if status is None:
        w.text('  File "/srv/app/.venv/lib/python3.11/site-packages/httpx/_transports/default.py", line 101, in map_httpcore_exceptions')
        w.text("    yield")
        w.text('  File "/srv/app/.venv/lib/python3.11/site-packages/httpx/_transports/default.py", line 250, in handle_request')
        w.text("    resp = self._pool.handle_request(req)")
        w.text("httpx.ReadTimeout: The read operation timed out")
        return
    w.text('  File "/srv/app/.venv/lib/python3.11/site-packages/openai/_base_client.py", line 1027, in request')
    w.text("    response.raise_for_status()")
    w.text('  File "/srv/app/.venv/lib/python3.11/site-packages/httpx/_models.py", line 829, in raise_for_status')
    w.text("    raise HTTPStatusError(message, request=request, response=self)")
    side = "Client" if status < 500 else "Server"
    w.text(f"httpx.HTTPStatusError: {side} error '{status} {REASONS[status]}' for url '{url}'")
    w.text(f"For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}")


def _outcomes(rng: random.Random) -> list[int | None]:
    """The statuses of one request's attempts (None: timed out), retried at most twice as the SDK does."""
    roll = rng.random()
    if roll < 0.88:
        return [200]
    if roll < 0.93:
        return [429, 200] if rng.random() < 0.8 else [429, 429, 200]
    if roll < 0.96:
        return [500, 200] if rng.random() < 0.7 else [500, 500, 500]
    if roll < 0.98:
        return [None, 200] if rng.random() < 0.7 else [None, None, None]
    return [401]


def _v1_request(w: Writer, rng: random.Random, n: int) -> int:
    """One request as openai 1.109.1 logs it at debug; returns the attempts made."""
    embed = rng.random() < 0.1
    stream = not embed and rng.random() < 0.3
    path = "/embeddings" if embed else "/chat/completions"
    url = HOST + "/v1" + path
    key = f"stainless-python-retry-{uuid.UUID(int=rng.getrandbits(128))}"
    if embed:
        options = (f"{{'method': 'post', 'url': '{path}', 'files': None, 'idempotency_key': '{key}', 'post_parser': "
                   f"<function Embeddings.create.<locals>.parser at 0x7f7af50fb7e0>, 'json_data': {{'input': 'hello {n}', "
                   f"'model': '{EMBED_MODEL}', 'encoding_format': 'base64'}}}}")
    else:
        extra = ", 'stream': True, 'stream_options': {'include_usage': True}" if stream else ""
        options = (f"{{'method': 'post', 'url': '{path}', 'files': None, 'idempotency_key': '{key}', 'json_data': "
                   f"{{'messages': [{{'role': 'user', 'content': 'hi {n}'}}], 'model': '{rng.choice(CHAT_MODELS)}'{extra}}}}}")
    outcomes = _outcomes(rng)
    for i, status in enumerate(outcomes):
        w.line("openai._base_client", 482, "DEBUG", f"Request options: {options}")
        w.line("openai._base_client", 978, "DEBUG", f"Sending HTTP Request: POST {url}")
        w.tick(rng.uniform(0.003, 0.02))
        left = len(outcomes) - 1 - i if status != 200 else 0
        if status is None:
            w.line("openai._base_client", 1010, "DEBUG", "Encountered httpx.TimeoutException")
            _traceback(w, None, url)
        else:
            reason = REASONS[status]
            rid = _rid(rng)
            w.line("httpx", 1025, "INFO", f'HTTP Request: POST {url} "HTTP/1.1 {status} {reason}"')
            w.line("openai._base_client", 1016, "DEBUG",
                   f'HTTP Response: POST {url} "{status} {reason}" {_headers(rng, w, status, rid, stream, n)}')
            w.line("openai._base_client", 1024, "DEBUG", f"request_id: {rid}")
            if status == 200:
                break
            w.line("openai._base_client", 1029, "DEBUG", "Encountered httpx.HTTPStatusError")
            _traceback(w, status, url)
            if status == 401:
                w.line("openai._base_client", 786, "DEBUG", "Not retrying")
                w.line("openai._base_client", 1040, "DEBUG", "Re-raising status error")
                w.text("app: AuthenticationError, giving up")
                break
            if i < len(outcomes) - 1:
                w.line("openai._base_client", 774, "DEBUG", f"Retrying due to status code {status}")
        if i == len(outcomes) - 1:
            w.line("openai._base_client", 1018 if status is None else 1040, "DEBUG",
                   "Raising timeout error" if status is None else "Re-raising status error")
            break
        w.line("openai._base_client", 1066 if left == 1 else 1068, "DEBUG", "1 retry left" if left == 1 else f"{left} retries left")
        w.line("openai._base_client", 1071, "INFO", f"Retrying request to {path} in {rng.uniform(0.3, 0.9):.6f} seconds")
    return len(outcomes)


def _v3_request(w: Writer, rng: random.Random, n: int) -> int:
    """One request as openai 3.57.0 logs it at debug (metadata only); returns the attempts made."""
    outcomes = _outcomes(rng)
    for i, status in enumerate(outcomes):
        w.line("openai._base_client", 606, "DEBUG", f"Building HTTP request: method=POST retries_taken={i}")
        w.line("openai._base_client", 1179, "DEBUG", "Sending HTTP Request: POST")
        w.tick(rng.uniform(0.003, 0.02))
        if status is None:
            w.line("openai._base_client", 1196, "DEBUG", "Encountered a timeout exception: ReadTimeout")
        else:
            w.line("openai._base_client", 1220, "DEBUG", f"HTTP Response: POST {status}")
            w.line("openai._base_client", 1225, "DEBUG", f"request_id: {_rid(rng)}")
            if status == 200:
                break
            w.line("openai._base_client", 1230, "DEBUG", f"Encountered an HTTP status error: {status}")
            if status == 401:
                w.line("openai._base_client", 963, "DEBUG", "Not retrying")
                w.line("openai._base_client", 1247, "DEBUG", "Re-raising status error")
                w.text("app caught: AuthenticationError")
                break
            if i < len(outcomes) - 1:
                w.line("openai._base_client", 960, "DEBUG", f"Retrying due to status code {status}")
        if i == len(outcomes) - 1:
            w.line("openai._base_client", 1200 if status is None else 1247, "DEBUG",
                   "Raising timeout error" if status is None else "Re-raising status error")
            break
        left = len(outcomes) - 1 - i
        w.line("openai._base_client", 1269, "DEBUG", "1 retry left" if left == 1 else f"{left} retries left")
        w.line("openai._base_client", 1272, "INFO",
               f"Retrying request in {rng.uniform(0.3, 0.9):.6f} seconds (retry {i + 1} of 2)")
    return len(outcomes)


def generate(calls: int, directory: Path, seed: int = 20) -> Path:
    """An openai-python debug log of at least `calls` HTTP attempts, cached by size."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"openai-sdk-{calls}.log"
    if path.exists():
        return path
    rng = random.Random(seed)
    partial = path.with_suffix(".part")
    with partial.open("w", buffering=1 << 20) as out:
        w = Writer(out, rng)
        made = 0
        while made < calls:
            request = _v1_request if (made // RUN_CALLS) % 2 == 0 else _v3_request
            made += request(w, rng, made)
            w.tick(rng.expovariate(100.0))
    partial.rename(path)
    return path


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall s, CPU s (user+sys) and exit code of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 22), b""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000, help="HTTP attempts in the generated log (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of runs of every tool (best and median shown)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where generated logs are cached")
    parser.add_argument("--core", type=int, default=1, help="the core the pinned runs use")
    parser.add_argument("--against", type=Path, help="another tree's src/ whose report runs beside this one's")
    args = parser.parse_args()
    path = generate(args.calls, args.dir)
    lines = count_lines(path)
    print(f"{path}: {args.calls:,} calls, {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB")
    # Time the app as installed, with its bytecode compiled, even where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(apimon_tui.__file__).parent)], check=True)
    pin = ["taskset", "-c", str(args.core)] if shutil.which("taskset") else []
    report = pin + [sys.executable, "-m", "apimon_tui", "report", "--json", "--jobs", "1", str(path)]
    tools = {"apimon-tui report --jobs 1": report}
    envs: dict[str, dict[str, str]] = {}
    if args.against:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.against / "apimon_tui")], check=True)
        tools["--against: report --jobs 1"] = report
        envs["--against: report --jobs 1"] = {**os.environ, "PYTHONPATH": str(args.against)}
    tools["floor: one regex per line"] = pin + [sys.executable, "-c", FLOOR, str(path)]
    if shutil.which("lnav"):
        tools["lnav (generic_log), count"] = pin + ["lnav", "-n", "-c", ";SELECT count(*) FROM all_logs", str(path)]
    else:
        print("lnav is not installed, skipped")
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in tools}
    for _ in range(args.repeat):
        for name, cmd in tools.items():
            runs[name].append(run(cmd, envs.get(name)))
    floor_runs = runs["floor: one regex per line"]
    floor, floor_median = min(r[0] for r in floor_runs), statistics.median(r[0] for r in floor_runs)
    floor_cpu = min(r[1] for r in floor_runs)
    print(f"{'tool (best run)':<30} {'wall s':>8} {'cpu s':>8} {'lines/s':>11} {'calls/s':>10} {'median s':>9}"
          f" {'x floor':>8} {'median x':>9} {'cpu x':>6}")
    for name, measured in runs.items():
        wall, cpu, code = min(measured, key=lambda r: r[0])
        median = statistics.median(r[0] for r in measured)
        least_cpu = min(r[1] for r in measured)
        note = "" if code == 0 else f"  (exit {code})"
        print(f"{name:<30} {wall:>8.2f} {cpu:>8.2f} {lines / wall:>11,.0f} {args.calls / wall:>10,.0f} {median:>9.2f}"
              f" {wall / floor:>8.2f} {median / floor_median:>9.2f} {least_cpu / floor_cpu:>6.2f}{note}")
    print("x floor: best wall time over the floor's best; median x: medians; cpu x: least CPU time over the floor's"
          " (on a shared machine a pinned run's wall time includes waiting for its core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
