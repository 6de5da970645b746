"""How fast `report --json --jobs 1` reads each JSON format and nginx, beside the floor and the peers.

For each format, a file of `--calls` calls is generated once (cached in
`--dir`, default /tmp/apimon-bench-formats) and, round by round over
`--repeat` rounds (each round runs every tool once on every file, so a slow
spell of the shared machine hits all of them), timed:

- `apimon-tui report --json --jobs 1 FILE`, pinned to one core (taskset);
- the floor: a Python loop, pinned alike, that reads the file in 1 MB blocks,
  splits them into lines and decodes each with `orjson.loads`, and the same
  loop with `json.loads` (a pretty-printed file is decoded one object per
  `{` at column 0); for nginx combined, a loop with one regex match a line;
- `jq -c . FILE > /dev/null` for JSON files (Debian's jq);
- lnav (`lnav -n -c ';SELECT count(*) ...'`) where it has a format: only
  nginx combined (`access_log`); it reads none of the JSON formats.

Prints, per format, each tool's best wall time, calls/s and the ratio to the
orjson floor (to the regex floor for nginx combined), and its least CPU time
(user and system) and that ratio. The file is read once before each run
(`warm`): the machine's page cache holds a few GB, so the first tool of a
round used to read a big file from disk, and the tools after it did not.

    python bench/formats.py [--calls N] [--repeat R] [--formats native,otlp,...] [--against OTHER/src]

`--against` times another tree's report beside this one's in the same rounds
(before and after a change: `git archive BASE src | tar -x -C /tmp/base`).

The LiteLLM payloads are the shape of the real ones in tests/data (about
14 KB on one line, 19 KB pretty-printed), so a million of them is 14 GB:
shrink them with `--calls` (`--litellm-calls` sets theirs alone).
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

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, RateLimit

SOURCE = Path(__file__).resolve().parent.parent / "src"
DATA = SOURCE.parent / "tests" / "data"
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "text-embedding-3-small")
STATUSES = [200] * 95 + [429] * 3 + [500, 503]
FORMATS = ("native", "jsonl", "otlp", "litellm", "litellm-pretty", "nginx-json", "nginx-combined")
START_TS = 1_795_700_000.0


def _calls(n: int, seed: int = 42):
    """(time, model, status, latency s, input tokens, output tokens) of `n` calls, 100 a second."""
    rng = random.Random(seed)
    t = START_TS
    for _ in range(n):
        t += rng.expovariate(100.0)
        yield (t, rng.choice(MODELS), rng.choice(STATUSES), rng.lognormvariate(-1.2, 0.9),
               rng.randrange(10, 4000), rng.randrange(0, 800))


def _native(t, model, status, latency, inp, out, rng) -> str:
    call = Call(t, provider="openai", endpoint="/v1/chat/completions", method="POST", model=model, status=status,
                latency_ms=round(latency * 1000, 3), input_tokens=inp, output_tokens=out, cached_tokens=0,
                cost_usd=round(inp * 2.5e-6 + out * 1e-5, 8), request_id=f"req_{rng.getrandbits(64):016x}",
                stream=False, ratelimit=RateLimit(5000, 4999, 4_000_000, 3_998_000, 0.012, 6.0))
    if status >= 400:
        call.error_type, call.error_code, call.error_message = "requests", "rate_limit_exceeded", "Rate limit reached"
    return json.dumps(to_record(call), separators=(",", ":"))


def _jsonl(t, model, status, latency, inp, out, rng) -> str:
    record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z",
              "level": "info", "model": model, "status": status, "latency_ms": round(latency * 1000, 3),
              "endpoint": "/v1/chat/completions", "provider": "openai",
              "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
              "request_id": f"req_{rng.getrandbits(64):016x}"}
    if status >= 400:
        record["error"] = {"code": "rate_limit_exceeded", "message": "Rate limit reached"}
    return json.dumps(record, separators=(",", ":"))


def _otlp(t, model, status, latency, inp, out, rng) -> str:
    def attr(key, kind, value):
        return {"key": key, "value": {kind: value}}
    end = int(t * 1e9)
    span = {"traceId": f"{rng.getrandbits(128):032x}", "spanId": f"{rng.getrandbits(64):016x}", "name": f"chat {model}",
            "kind": 3, "startTimeUnixNano": str(end - int(latency * 1e9)), "endTimeUnixNano": str(end),
            "attributes": [attr("gen_ai.operation.name", "stringValue", "chat"),
                           attr("gen_ai.provider.name", "stringValue", "openai"),
                           attr("gen_ai.request.model", "stringValue", model),
                           attr("gen_ai.response.model", "stringValue", model),
                           attr("gen_ai.response.id", "stringValue", f"chatcmpl-{rng.getrandbits(48):x}"),
                           attr("gen_ai.usage.input_tokens", "intValue", str(inp)),
                           attr("gen_ai.usage.output_tokens", "intValue", str(out)),
                           attr("server.address", "stringValue", "api.openai.com"),
                           attr("server.port", "intValue", "443")],
            "status": {"code": 2, "message": "rate limited"} if status >= 400 else {}}
    if status >= 400:
        span["attributes"].append(attr("error.type", "stringValue", str(status)))
    resource = {"attributes": [attr("service.name", "stringValue", "support-bot"),
                               attr("telemetry.sdk.language", "stringValue", "python")]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [
        {"scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.3b0"}, "spans": [span]}]}]},
        separators=(",", ":"))


def _litellm_samples() -> list[dict]:
    """The payloads of the real LiteLLM sample, a success and a failure among them."""
    objects, lines = [], None
    for line in (DATA / "litellm-1.110.2-payloads.log").read_text().splitlines():
        if line == "{":
            lines = [line]
        elif lines is not None and line.startswith((" ", "}")):
            lines.append(line)
            if line == "}":
                objects.append(json.loads("\n".join(lines)))
                lines = None
    return objects


def _litellm(samples, pretty: bool):
    ok = [o for o in samples if o.get("status") != "failure"]
    failed = [o for o in samples if o.get("status") == "failure"] or ok

    def payload(t, model, status, latency, inp, out, rng) -> str:
        obj = dict(rng.choice(ok if status < 400 else failed))
        obj.update(id=f"chatcmpl-{rng.getrandbits(64):x}", startTime=t - latency, endTime=t,
                   completionStartTime=t - latency * 0.3, model=model, prompt_tokens=inp, completion_tokens=out,
                   total_tokens=inp + out, response_cost=round(inp * 2.5e-6 + out * 1e-5, 8))
        return json.dumps(obj, indent=4) if pretty else json.dumps(obj)
    return payload


def _nginx_json(t, model, status, latency, inp, out, rng) -> str:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
    rid = f"{rng.getrandbits(128):032x}"
    return json.dumps({
        "time": iso, "msec": f"{t:.3f}", "request_id": rid, "remote_addr": "10.0.0.5", "method": "POST",
        "uri": "/v1/chat/completions", "status": str(status), "request_length": "812", "bytes_sent": str(inp),
        "request_time": f"{latency + 0.002:.3f}", "upstream_addr": "162.159.140.245:443",
        "upstream_status": str(status), "upstream_connect_time": "0.001",
        "upstream_header_time": f"{latency * 0.8:.3f}", "upstream_response_time": f"{latency:.3f}",
        "openai_request_id": f"req_{rid}", "openai_processing_ms": str(int(latency * 900)),
        "rl_remaining_requests": "4999", "rl_remaining_tokens": "3999176", "user_agent": "OpenAI/Python 1.109.1",
    }, separators=(",", ":"))


def _nginx_combined(t, model, status, latency, inp, out, rng) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return (f'10.0.0.5 - - [{stamp}] "POST /v1/chat/completions HTTP/1.1" {status} {inp} "-" '
            f'"OpenAI/Python 1.109.1" {latency + 0.002:.3f} {latency:.3f}')


def writers() -> dict:
    samples = _litellm_samples()
    return {"native": _native, "jsonl": _jsonl, "otlp": _otlp, "litellm": _litellm(samples, False),
            "litellm-pretty": _litellm(samples, True), "nginx-json": _nginx_json, "nginx-combined": _nginx_combined}


def generate(directory: Path, fmt: str, calls: int) -> Path:
    """The file of `calls` calls of `fmt`, written once."""
    path = directory / f"{fmt}-{calls}.log"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    write, rng = writers()[fmt], random.Random(7)
    part = path.with_suffix(".part")
    with part.open("w", encoding="utf-8") as f:
        for row in _calls(calls):
            f.write(write(*row, rng) + "\n")
    part.rename(path)
    return path


FLOOR = """
import sys
path, decoder, pretty = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if decoder == "orjson":
    from orjson import loads
elif decoder == "json":
    from json import loads
else:
    import re
    loads = re.compile(rb'(\\S+) \\S+ \\S+ \\[([^\\]]+)\\] "([^"]*)" (\\d{3}) (\\d+) "[^"]*" "[^"]*" (\\S+) (\\S+)').match
n, rest, held = 0, b"", []
with open(path, "rb") as f:
    while block := f.read(1 << 20):
        lines = (rest + block).split(b"\\n")
        rest = lines.pop()
        if pretty:
            for line in lines:
                if line == b"{" and held:
                    loads(b"\\n".join(held)); n += 1; held = []
                held.append(line)
        else:
            for line in lines:
                loads(line)
            n += len(lines)
if held:
    loads(b"\\n".join(held)); n += 1
print(n)
"""


def tools(path: Path, fmt: str, core: str, against: Path | None) -> list[tuple[str, list[str] | None]]:
    pin = ["taskset", "-c", core] if shutil.which("taskset") else []
    pretty = "1" if fmt == "litellm-pretty" else "0"
    report = [sys.executable, "-m", "apimon_tui", "report", "--json", "--jobs", "1", str(path)]
    out = [("apimon-tui report --jobs 1", pin + ["env", f"PYTHONPATH={SOURCE}"] + report)]
    if against is not None:
        out.append(("the same, --against tree", pin + ["env", f"PYTHONPATH={against}"] + report))
    if fmt == "nginx-combined":
        out.append(("floor: one regex a line", pin + [sys.executable, "-c", FLOOR, str(path), "regex", "0"]))
        out.append(("lnav", ["lnav", "-n", "-c", ";SELECT count(*), avg(sc_status), sum(sc_bytes) FROM access_log",
                             str(path)] if shutil.which("lnav") else None))
        return out
    out.append(("floor: orjson.loads a line", pin + [sys.executable, "-c", FLOOR, str(path), "orjson", pretty]))
    out.append(("floor: json.loads a line", pin + [sys.executable, "-c", FLOOR, str(path), "json", pretty]))
    out.append(("jq -c .", ["sh", "-c", 'exec jq -c . "$0" > /dev/null', str(path)] if shutil.which("jq") else None))
    return out


def warm(path: Path) -> None:
    """Read `path` once, so each tool starts on a file as much in the page cache as the one before
    it: the machine caches a few GB, and the first tool of a round read its file from disk."""
    with path.open("rb") as f:
        while f.read(8 << 20):
            pass


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Wall s, CPU s (user+sys) and exit code of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--litellm-calls", type=int, help="calls of the LiteLLM files (default: --calls)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated, of {', '.join(FORMATS)}")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/apimon-bench-formats"))
    parser.add_argument("--core", default="0", help="the core apimon and the floors are pinned to")
    parser.add_argument("--against", type=Path, help="another tree's src/ whose report is timed beside this one's")
    args = parser.parse_args()
    chosen = [f for f in args.formats.split(",") if f]
    if unknown := set(chosen) - set(FORMATS):
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    files = {}
    for fmt in chosen:
        calls = args.litellm_calls or args.calls if fmt.startswith("litellm") else args.calls
        files[fmt] = (generate(args.dir, fmt, calls), calls)
    # Time the app as installed, with its bytecode compiled, even where PYTHONDONTWRITEBYTECODE is set.
    for tree in [SOURCE] + ([args.against] if args.against else []):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "apimon_tui")], check=True)
    plans = {fmt: tools(path, fmt, args.core, args.against) for fmt, (path, _) in files.items()}
    runs: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    for _ in range(args.repeat):
        for fmt, plan in plans.items():
            for name, cmd in plan:
                if cmd is not None:
                    warm(files[fmt][0])
                    runs.setdefault((fmt, name), []).append(run(cmd))
    print(f"{'format':<15} {'tool (best of ' + str(args.repeat) + ')':<28} {'best s':>8} {'median s':>9} "
          f"{'calls/s':>11} {'x floor':>8} {'cpu s':>7} {'cpu x':>6}")
    for fmt, plan in plans.items():
        calls = files[fmt][1]
        best = {name: min(runs[fmt, name]) for name, cmd in plan if cmd is not None}
        least_cpu = {name: min(r[1] for r in runs[fmt, name]) for name in best}
        floor = next(name for name in best if name.startswith("floor"))
        for name, cmd in plan:
            if cmd is None:
                print(f"{fmt:<15} {name:<28} not installed, skipped")
                continue
            wall, _, code = best[name]
            median = statistics.median(r[0] for r in runs[fmt, name])
            note = "" if code == 0 else f"  (exit {code})"
            cpu = least_cpu[name]
            print(f"{fmt:<15} {name:<28} {wall:>8.2f} {median:>9.2f} {calls / wall:>11,.0f} "
                  f"{wall / best[floor][0]:>8.2f} {cpu:>7.2f} {cpu / least_cpu[floor]:>6.2f}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
