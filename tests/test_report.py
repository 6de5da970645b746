"""`apimon-tui report` run as the real console script on real files."""

import json
import random
import subprocess
import sys

import pytest

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, RateLimit


def report(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "report", *args],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def write_native(path, calls, noise=()):
    with open(path, "w") as f:
        for line in noise:
            f.write(line + "\n")
        for c in calls:
            f.write(json.dumps(to_record(c)) + "\n")


@pytest.fixture
def native_log(tmp_path):
    rng = random.Random(5)
    calls = []
    for i in range(500):
        status = rng.choice([200] * 8 + [429, 503])
        calls.append(Call(
            ts=1_795_700_000 + i, provider="openai", model=rng.choice(["gpt-4o", "gpt-4o-mini"]), status=status,
            latency_ms=float(rng.randint(20, 4000)), input_tokens=1000, output_tokens=100 if status == 200 else 0,
            request_id=f"req_{i:032x}", ratelimit=RateLimit(limit_requests=100, remaining_requests=rng.randint(0, 100)),
        ))
    path = tmp_path / "calls.jsonl"
    write_native(path, calls, noise=["INFO app started", "{\"apimon\": 1, \"ts\": \"x\"}"])
    return path, calls


def test_json_figures_are_exact(native_log):
    path, calls = native_log
    out = json.loads(report("--json", str(path)).stdout)
    errors = [c for c in calls if c.status >= 400]
    assert (out["lines"], out["calls"], out["skipped"], out["unparsed"]) == (502, 500, 1, 1)
    assert out["errors"] == len(errors)
    assert out["error_rate"] == pytest.approx(len(errors) / 500)
    assert out["status"] == {s: sum(1 for c in calls if str(c.status) == s) for s in {str(c.status) for c in calls}}
    for model in ("gpt-4o", "gpt-4o-mini"):
        mine = [c for c in calls if c.model == model]
        assert out["models"][model]["calls"] == len(mine)
        assert out["models"][model]["input_tokens"] == 1000 * len(mine)
    latencies = sorted(c.latency_ms for c in calls)
    assert out["latency_ms"]["p50"] == pytest.approx(latencies[249], rel=0.01)
    assert out["latency_ms"]["p99"] == pytest.approx(latencies[494], rel=0.01)
    assert out["latency_ms"]["max"] == latencies[-1]
    assert out["first_ts"] == 1_795_700_000 and out["last_ts"] == 1_795_700_499
    assert out["cost_usd"] > 0 and out["unpriced_models"] == []


def test_table_is_readable(native_log):
    path, _ = native_log
    text = report(str(path)).stdout
    assert "calls 500" in text and "gpt-4o-mini" in text and "p95" in text


@pytest.mark.parametrize("setup, message", [
    (lambda d: d / "missing.log", "no such file"),
    (lambda d: (d / "empty.log").write_text("") or d / "empty.log", "file is empty"),
    (lambda d: d, "is a directory"),
    (lambda d: d / "*.nothing", "no file matches"),
])
def test_bad_paths_are_one_line_errors(tmp_path, setup, message):
    proc = report(str(setup(tmp_path)), check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_binary_garbage_and_huge_lines_do_not_stop_the_stream(tmp_path, native_log):
    path, calls = native_log
    mixed = tmp_path / "mixed.jsonl"
    body = path.read_bytes()
    mixed.write_bytes(b"\xff\xfe\x00garbage\x9c\n" + b"x" * (3 << 20) + b"\n" + body + b"\x80\x81 tail without newline")
    out = json.loads(report("--json", str(mixed)).stdout)
    assert out["calls"] == len(calls)
    assert out["sources"][0]["truncated"] == 1


def test_unknown_model_is_listed_as_unpriced(tmp_path):
    path = tmp_path / "house.jsonl"
    write_native(path, [Call(ts=1_795_700_000, model="house-llm", status=200, input_tokens=5, output_tokens=5)])
    out = json.loads(report("--json", str(path)).stdout)
    assert out["unpriced_models"] == ["house-llm"]
    assert out["models"]["house-llm"]["cost_usd"] is None


def test_since_keeps_only_recent_calls(tmp_path):
    import time
    now = time.time()
    path = tmp_path / "recent.jsonl"
    write_native(path, [Call(ts=now - 7200, model="gpt-4o", status=200), Call(ts=now - 60, model="gpt-4o", status=200)])
    assert json.loads(report("--json", "--since", "1h", str(path)).stdout)["calls"] == 1


def test_follow_prints_a_line_per_interval_and_a_last_one_on_interrupt(tmp_path, native_log):
    import signal
    import time
    path, calls = native_log
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "report", "--follow", "--interval", "0.2", "--json", str(path)],
                            stdout=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())
    deadline = time.monotonic() + 30
    while first["calls"] < len(calls) and time.monotonic() < deadline:
        first = json.loads(proc.stdout.readline())
    assert first["calls"] == len(calls)
    with open(path, "a") as f:
        f.write(json.dumps(to_record(Call(ts=1_795_800_000, model="gpt-4o", status=500))) + "\n")
    latest = first
    while latest["calls"] == len(calls) and time.monotonic() < deadline:
        latest = json.loads(proc.stdout.readline())
    assert latest["calls"] == len(calls) + 1 and latest["status"]["500"] >= 1
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=30)[0].strip().splitlines()
    assert proc.returncode == 0
    assert json.loads(rest[-1])["calls"] == len(calls) + 1
