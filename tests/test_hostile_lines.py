"""One hostile line of each kind the issue names, in a native log of good calls, through the real
`report --json` and `check --json`: the same exit code as the clean log, strict JSON, the line counted.

Before, each of these ended `report` and `check` in a traceback (OverflowError, RecursionError,
TypeError: unhashable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call

T0 = 1_795_735_579.0
GOOD = 300

# kind -> (the line, what it adds: calls, unparsed, bad values, the field reported)
HOSTILE = {
    "NaN latency": ('{"apimon": 1, "ts": %s, "model": "gpt-4o", "status": 200, "latency_ms": NaN}' % (T0 + 10),
                    1, 0, 1, "latency_ms"),
    "Infinity ts": ('{"apimon": 1, "ts": Infinity, "model": "gpt-4o", "status": 200}', 0, 1, 0, None),
    "1e400 tokens": ('{"apimon": 1, "ts": %s, "model": "gpt-4o", "status": 200, "input_tokens": 1e400}' % (T0 + 10),
                     1, 0, 1, "input_tokens"),
    "model is a number": ('{"apimon": 1, "ts": %s, "model": 5, "status": 200, "input_tokens": 9}' % (T0 + 10),
                          1, 0, 1, "model"),
    "model is a list": ('{"apimon": 1, "ts": %s, "model": ["x"], "status": 200, "input_tokens": 9}' % (T0 + 10),
                        1, 0, 1, "model"),
    "100,000 nested brackets": ('{"apimon": 1, "ts": %s, "model": %s}' % (T0 + 10, "[" * 100_000 + "]" * 100_000),
                                0, 1, 0, None),
}


def write_log(path, hostile: str | None = None) -> str:
    """GOOD priced gpt-4o calls a second apart, with `hostile` in the middle."""
    lines = [json.dumps(to_record(Call(ts=T0 + s, model="gpt-4o", provider="openai", status=200, latency_ms=700.0,
                                       input_tokens=100, output_tokens=20)))
             for s in range(GOOD)]
    if hostile is not None:
        lines.insert(GOOD // 2, hostile)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(tmp_path, command: str, log: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADMIN_KEY") and k != "APIMON_CONFIG"}
    return subprocess.run([sys.executable, "-m", "apimon_tui", command, "--json", "--config", str(config), log],
                          capture_output=True, text=True, env=env, timeout=120)


def strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("kind", HOSTILE)
def test_one_hostile_line_is_counted_and_changes_nothing_else(tmp_path, kind):
    line, calls, unparsed, bad_values, field = HOSTILE[kind]
    clean_log = write_log(tmp_path / "clean.jsonl")
    log = write_log(tmp_path / "hostile.jsonl", line)

    clean, got = run(tmp_path, "report", clean_log), run(tmp_path, "report", log)
    assert (got.returncode, got.stderr) == (clean.returncode, "") == (0, "")
    before, after = strict(clean.stdout), strict(got.stdout)
    assert (after["lines"], after["calls"], after["unparsed"], after["bad_values"]) == (
        GOOD + 1, GOOD + calls, unparsed, bad_values)
    assert [s["field"] for s in after["sources"][0]["bad_value_samples"]] == ([field] if field else [])
    assert after["cost_usd"] == pytest.approx(before["cost_usd"], rel=0.01)  # the hostile call adds no cost
    assert after["latency_ms"] == before["latency_ms"]

    clean, got = run(tmp_path, "check", clean_log), run(tmp_path, "check", log)
    assert (got.returncode, got.stderr) == (clean.returncode, clean.stderr)
    assert strict(got.stdout) == strict(clean.stdout)


def test_check_still_fires_on_the_good_calls_around_every_hostile_line(tmp_path):
    """The hostile lines are counted without hiding what the good lines say: 10% server errors still warn."""
    lines = [json.dumps(to_record(Call(ts=T0 + s, model="gpt-4o", status=500 if s % 10 == 0 else 200,
                                       latency_ms=700.0))) for s in range(GOOD)]
    clean_log = tmp_path / "clean.jsonl"
    clean_log.write_text("\n".join(lines) + "\n")
    lines[150:150] = [line for line, *_ in HOSTILE.values()]
    log = tmp_path / "hostile.jsonl"
    log.write_text("\n".join(lines) + "\n")
    clean, got = run(tmp_path, "check", str(clean_log)), run(tmp_path, "check", str(log))
    assert got.returncode == clean.returncode == 1, got.stderr
    fired = {(a["rule"], a["severity"]) for a in strict(got.stdout)}
    assert fired == {(a["rule"], a["severity"]) for a in strict(clean.stdout)} == {
        ("error_rate", "warning"), ("server_errors", "warning")}


def test_report_follow_prints_strict_json_and_counts_hostile_lines_as_they_come(tmp_path):
    """Before any call the error rate is unknown (null); after the hostile lines, each is counted."""
    import signal
    import time

    log = tmp_path / "follow.jsonl"
    log.write_text("an application starting up\n")
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "report", "--follow", "--interval", "0.2", "--json",
                             "--format", "native", str(log)], stdout=subprocess.PIPE, text=True)
    first = strict(proc.stdout.readline())
    assert (first["calls"], first["error_rate"]) == (0, None)
    write_log(tmp_path / "more.jsonl", None)
    with open(log, "a") as out:
        out.write("\n".join(line for line, *_ in HOSTILE.values()) + "\n")
        out.write((tmp_path / "more.jsonl").read_text())
    calls = GOOD + sum(calls for _, calls, *_ in HOSTILE.values())
    latest = first
    deadline = time.monotonic() + 60
    while latest["calls"] < calls and time.monotonic() < deadline:
        latest = strict(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    last = strict(proc.communicate(timeout=30)[0].strip().splitlines()[-1])
    assert (last["calls"], last["unparsed"], last["bad_values"], last["error_rate"]) == (
        calls, sum(unparsed for _, _, unparsed, *_ in HOSTILE.values()),
        sum(bad for _, _, _, bad, _ in HOSTILE.values()), 0.0)


def test_the_report_table_names_each_source_s_bad_values(tmp_path):
    log = write_log(tmp_path / "hostile.jsonl", HOSTILE["model is a list"][0])
    done = subprocess.run([sys.executable, "-m", "apimon_tui", "report", log], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{log}: 1 bad values (unknown in their calls), first ones:\n  model: ['x']" in done.stdout


async def test_the_status_line_shows_a_source_s_bad_values(tmp_path, monkeypatch):
    from apimon_tui.core import config as config_mod
    from apimon_tui.ingest.engine import Engine
    from apimon_tui.tui.app import MonitorApp
    from tui_support import screen_text

    monkeypatch.chdir(tmp_path)
    write_log(tmp_path / "log", "\n".join(HOSTILE[kind][0] for kind in ("NaN latency", "model is a list")))
    config_path = tmp_path / "config.toml"
    config_path.write_text("")
    clock = lambda: T0 + GOOD  # noqa: E731
    engine = Engine(["log"], from_start=True, follow=False, config=config_mod.load(config_path), clock=clock)
    engine.read_to_end()
    app = MonitorApp(engine, config_mod.load(config_path), clock=clock, start_engine=False, config_path=config_path)
    async with app.run_test(size=(220, 40)) as pilot:
        app.tick()
        await pilot.pause()
        status_line = next(line for line in screen_text(app).splitlines() if "│ log native" in line)
        assert "· 2 bad values ·" in status_line
