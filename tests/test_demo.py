"""`apimon-tui demo`: the simulated log as a real subprocess, the demo budget, and the live wiring."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apimon_tui.core import config as config_mod
from apimon_tui.costs.budget import Budget, BudgetConfig
from apimon_tui.commands import demo
from apimon_tui.commands.config_check import validate
from apimon_tui.fakes.simulator import STORY, STORY_SECONDS, Simulator, story_costs
from apimon_tui.formats.native import from_record
from apimon_tui.costs.usage.poller import Poller
from apimon_tui.costs.usage.settings import provider_settings


def apimon(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apimon_tui", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_write_then_report_sees_the_whole_story(tmp_path):
    log = tmp_path / "demo.jsonl"
    speed = 40  # the two-minute story in 3 s
    written = apimon("demo", "--write", str(log), "--duration", f"{STORY_SECONDS / speed:g}s", "--speed", str(speed))
    assert written.returncode == 0, written.stderr
    assert f"writing simulated calls to {log}" in written.stderr
    report = apimon("report", "--json", str(log))
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    assert summary["calls"] > 1000 and summary["unparsed"] == 0
    assert f"wrote {summary['calls']} calls to {log}" in written.stderr
    assert set(summary["models"]) == {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4", "text-embedding-3-small"}
    assert summary["errors"] > 0
    assert summary["status"]["429"] >= 3
    assert sum(n for code, n in summary["status"].items() if code.startswith("5")) >= 5
    assert summary["cost_usd"] > 0 and summary["ttft_ms"]


def test_write_stops_cleanly_on_ctrl_c(tmp_path):
    log = tmp_path / "demo.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "demo", "--write", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and log.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = log.read_text().splitlines()
    assert lines and f"wrote {len(lines)} calls" in err
    assert all(from_record(json.loads(line)).ts > 0 for line in lines)


@pytest.mark.parametrize("args, message", [
    (["--speed", "0"], "--speed must be a number above 0"),
    (["--duration", "5s"], "--duration only applies with --write PATH"),
    (["--write", "x.jsonl", "--duration", "soon"], "--duration: not a duration"),
    (["--write", "/nonexistent-dir/x.jsonl"], "cannot write /nonexistent-dir/x.jsonl"),
])
def test_bad_arguments_get_one_line(tmp_path, args, message):
    result = apimon("demo", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("billed", [0.0, 40.0, 260.0])
def test_spend_crosses_80_percent_of_the_demo_budget_in_the_spend_phase(billed):
    costs = story_costs(seed=demo.SEED, backfill_s=demo.BACKFILL_S)
    budget, surge = demo.demo_budget(billed, costs)
    start = 1_780_000_000.0
    sim = Simulator(seed=demo.SEED, surge_usd=surge, backfill_s=demo.BACKFILL_S, start=start, clock=lambda: start)
    spend_starts = start + STORY_SECONDS - STORY[-1].seconds
    spent_before = billed + sum(c.cost_usd for c in sim.calls_until(spend_starts))
    spent_after = spent_before + sum(c.cost_usd for c in sim.calls_until(start + STORY_SECONDS))
    assert 0.6 < spent_before / budget < 0.8 < spent_after / budget < 1.0


def test_demo_config_is_valid_and_points_at_the_fake(tmp_path):
    config = demo.demo_config(tmp_path / "calls.jsonl", "http://127.0.0.1:9/v1", 355.0, speed=10)
    import tomli_w

    assert validate(tomli_w.dumps(config), mode=0o100600) == []
    assert config["alerts"]["rate_limited"]["window"] == "3s"  # story seconds, told 10 times faster
    [openai] = provider_settings(config_mod.merge(config_mod.DEFAULTS, config))
    assert (openai.base_url, openai.key_env) == ("http://127.0.0.1:9/v1", demo.KEY_ENV)


def test_live_demo_wires_the_real_parts(monkeypatch):
    """Everything the monitor is given works over real files and HTTP: the log fills, the fake bills, the budget fits."""
    seen: dict = {}

    def monitor_main(argv: list[str]) -> int:
        config_path = Path(argv[argv.index("--config") + 1])
        seen["mode"] = stat.S_IMODE(config_path.stat().st_mode)
        config = config_mod.load(config_path)
        seen["problems"] = validate(config_path.read_text(), mode=config_path.stat().st_mode)
        log = Path(config["sources"]["paths"][0])
        seen["tmp"] = log.parent
        seen["key_set"] = bool(os.environ.get(demo.KEY_ENV))
        poller = Poller.from_config(config)

        async def poll():
            try:
                await poller.poll_all()
            finally:
                await poller.aclose()

        asyncio.run(poll())
        state = poller.states["openai"]
        seen["poll_error"] = state.last_error
        calls = [from_record(json.loads(line)) for line in log.read_text().splitlines()]
        seen["calls"] = len(calls)
        budget = Budget(BudgetConfig.from_config(config),
                        live_cost=lambda a, b: sum(c.cost_usd for c in calls if a <= c.ts < b),
                        logs_since=lambda: min(c.ts for c in calls))
        state = budget.state(poller.usages())
        seen["spent_pct"], seen["burn"], seen["forecast"] = state.spent_pct, state.burn_1h, state.forecast_range
        return 0

    monkeypatch.setattr("apimon_tui.commands.monitor.main", monitor_main)
    assert demo.live(speed=1.0) == 0
    assert seen["mode"] == 0o600 and seen["problems"] == []
    assert seen["key_set"] and seen["poll_error"] is None
    assert seen["calls"] > demo.BACKFILL_S * 15  # the history is there before the monitor starts
    assert 40 < seen["spent_pct"] < 80  # below 50 only on a month's first day, with nothing billed yet
    assert seen["burn"] > 0 and seen["forecast"] is not None  # at first paint, any day of the month
    assert not seen["tmp"].exists()  # cleaned up on exit
    assert demo.KEY_ENV not in os.environ


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_the_story_fires_and_resolves_alerts_of_several_kinds(speed):
    """One telling of the story through the real store and alert manager, with the demo's config and a fake clock."""
    from apimon_tui.alerts import AlertManager
    from apimon_tui.costs.budget import DAY, month_bounds
    from apimon_tui.store import MetricsStore
    from apimon_tui.costs.usage.base import CostBucket, ProviderUsage

    start, billed = 1_780_000_000.0, 224.0
    now = [start]
    clock = lambda: now[0]  # noqa: E731
    budget_usd, surge = demo.demo_budget(billed, story_costs(seed=demo.SEED, speed=speed, backfill_s=demo.BACKFILL_S))
    config = config_mod.merge(config_mod.DEFAULTS, demo.demo_config(Path("x"), "http://127.0.0.1:9/v1", budget_usd, speed))
    month_start, _ = month_bounds(start, 1)
    anchor = start // DAY * DAY
    bill = {"openai": ProviderUsage("openai", start, billed, anchor, [CostBucket(month_start, anchor, billed)])}
    sim = Simulator(seed=demo.SEED, speed=speed, surge_usd=surge, backfill_s=demo.BACKFILL_S, start=start, clock=clock)
    store, seen = MetricsStore(), []
    budget = Budget(BudgetConfig.from_config(config), clock=clock,
                    live_cost=lambda a, b: sum(c.cost_usd for c in seen if a <= c.ts < b))
    manager = AlertManager.from_config(config, clock)
    events = []
    for tick in range(int(STORY_SECONDS) + 30):  # the story, and the calm start of its next telling
        now[0] = start + tick / speed
        batch = sim.calls_until(now[0])
        seen.extend(batch)
        with store.lock:
            store.add_many(batch)
        for event in manager.evaluate(store, budget=budget.state(bill), now=now[0]):
            events.append((event.kind, event.alert.kind, event.alert.severity, sim.phase_at(event.ts).name))
    fired = {(kind, phase) for what, kind, _, phase in events if what == "fire"}
    resolved = {kind for what, kind, _, _ in events if what == "resolve"}
    assert {("rate_limited", "rate_limit"), ("server_errors", "server_errors"), ("budget", "spend")} <= fired
    assert {"latency", "error_rate"} <= {kind for kind, _ in fired}
    assert {"rate_limited", "server_errors", "latency", "error_rate"} <= resolved
    assert ("fire", "budget", "warning", "spend") in events
