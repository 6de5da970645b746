"""`report` and `check` over a half-open time range: `--since` and `--until`, spans or ISO 8601."""

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from apimon_tui.ingest import parallel
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call
from apimon_tui.core.timeutil import parse_time_bound, parse_time_range

START = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc).timestamp()


def run(command, *args):
    return subprocess.run([sys.executable, "-m", "apimon_tui", command, *args],
                          capture_output=True, text=True, timeout=120)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


@pytest.fixture
def hour_of_calls(tmp_path):
    """One call a second for an hour, every tenth one failed (429)."""
    path = tmp_path / "calls.jsonl"
    with open(path, "w") as f:
        for i in range(3600):
            status = 429 if i % 10 == 0 else 200
            f.write(json.dumps(to_record(Call(ts=START + i, model="gpt-4o", status=status, latency_ms=100.0 + i,
                                              input_tokens=10, output_tokens=5))) + "\n")
    return path


def test_iso_and_span_bounds_read_as_users_write_them():
    assert parse_time_bound("2026-11-30T02:00:00Z", 0) == START
    assert parse_time_bound("2026-11-30T03:00:00+01:00", 0) == START
    assert parse_time_bound("90m", START) == START - 5400
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time_bound("yesterday", 0)
    with pytest.raises(ValueError, match="must be later"):
        parse_time_range("2026-11-30T03:00Z", "2026-11-30T02:00Z", 0)


def test_report_counts_exactly_the_calls_in_the_half_open_range(hour_of_calls):
    since, until = START + 600, START + 1200  # calls 600..1199: 600 calls, 60 of them failed
    proc = run("report", "--json", "--since", iso(since), "--until", iso(until), str(hour_of_calls))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["calls"], out["errors"]) == (600, 60)
    assert out["lines"] == 3000 and out["skipped"] == 2400  # the start was sought, the calls from `until` on skipped
    assert (out["first_ts"], out["last_ts"]) == (since, until - 1)
    assert out["latency_ms"]["max"] == pytest.approx(100.0 + 1199, rel=0.005)


def test_until_alone_and_a_reversed_range(hour_of_calls):
    out = json.loads(run("report", "--json", "--until", iso(START + 10), str(hour_of_calls)).stdout)
    assert (out["calls"], out["errors"]) == (10, 1)
    proc = run("report", "--since", iso(START + 10), "--until", iso(START), str(hour_of_calls))
    assert proc.returncode == 2 and "must be later than --since" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_check_sees_only_the_range(hour_of_calls, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[alerts]\nenabled = true\n", encoding="utf-8")
    whole = run("check", "--json", "--config", str(config), str(hour_of_calls))
    early = run("check", "--json", "--config", str(config), "--until", iso(START + 30), str(hour_of_calls))
    assert whole.returncode in (0, 1, 2) and early.returncode in (0, 1, 2), whole.stderr + early.stderr
    # Every tenth call fails: the error-rate rule fires over the whole hour; in the first
    # 30 s it is held back by its `for` duration, since the replay ends at the newest call kept.
    assert any(a["rule"].startswith("error_rate") for a in json.loads(whole.stdout))
    assert not any(a["rule"].startswith("error_rate") for a in json.loads(early.stdout))


@pytest.mark.parametrize("fixture", ["nginx-1.22-timed-combined.log", "nginx-1.22-json.log"])
def test_bulk_columns_honour_the_range(fixture, tmp_path):
    """nginx lines taken in bulk by the column reader are cut to the range like single calls."""
    sample = open(f"tests/data/{fixture}", encoding="utf-8").read()
    whole = json.loads(run("report", "--json", f"tests/data/{fixture}").stdout)
    first, last = whole["first_ts"], whole["last_ts"]
    middle = first + (last - first) / 2
    before = json.loads(run("report", "--json", "--until", iso(middle), f"tests/data/{fixture}").stdout)
    after = json.loads(run("report", "--json", "--since", iso(middle), f"tests/data/{fixture}").stdout)
    assert before["calls"] + after["calls"] == whole["calls"] and before["calls"] > 0 and after["calls"] > 0
    assert before["errors"] + after["errors"] == whole["errors"]
    assert before["last_ts"] < middle <= after["first_ts"]
    assert sample.count("\n") == whole["lines"]


def test_shares_read_on_several_cores_keep_the_range(hour_of_calls, monkeypatch):
    from apimon_tui.commands.report import read_summary

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 4096)
    since, until = START + 1000, START + 2500
    one = read_summary([str(hour_of_calls)], "auto", {}, 1, since=since, until=until)
    two = read_summary([str(hour_of_calls)], "auto", {}, 2, since=since, until=until)
    assert one["calls"] == two["calls"] == 1500
    assert one["errors"] == two["errors"] == 150
