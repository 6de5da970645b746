"""The budget remembers: a monitor (re)started mid-month reads back the logs the bill does not cover."""

from __future__ import annotations

import json

import pytest
from usage_fixtures import MAY_1, MAY_20, NOW, clock, ledger, poller_for, set_keys

from apimon_tui.costs.budget import Budget, BudgetConfig
from apimon_tui.commands.monitor import backfill_since
from apimon_tui.ingest.engine import Engine
from apimon_tui.fakes.provider_server import FakeProviderServer
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call

HOUR = 3600.0
CALL_USD = 0.25


@pytest.fixture
def log(tmp_path):
    """A call worth $0.25 every hour from April 25 until just before now (May 20, 12:00 UTC)."""
    path = tmp_path / "calls.jsonl"
    first = MAY_1 - 6 * 24 * HOUR
    with path.open("w", encoding="utf-8") as out:
        ts = first
        while ts < NOW:
            out.write(json.dumps(to_record(Call(ts=ts, model="gpt-4o", status=200, latency_ms=300.0,
                                                input_tokens=100, output_tokens=10, cost_usd=CALL_USD))) + "\n")
            ts += HOUR
    return path


def month_to_date(log, usages: dict, *, billed: bool) -> float:
    """What a monitor started at NOW shows as spent: the engine reads from where the monitor would start."""
    config = BudgetConfig(monthly_usd=500.0)
    since = backfill_since(None, config, NOW, billed=billed)
    engine = Engine([str(log)], since=since, follow=False, clock=clock)
    engine.read_to_end()
    store = engine.store
    return Budget(config, clock=clock, live_cost=store.cost_between, logs_since=store.logs_since).state(usages).spent_usd


async def test_billed_spend_plus_the_calls_logged_after_it_survive_a_restart(log, monkeypatch):
    set_keys(monkeypatch)
    with FakeProviderServer(now=clock, ledger=ledger()) as srv:
        poller = poller_for(srv, "openai")
        await poller.poll_all()
        await poller.aclose()
        usages = poller.usages()
    billed = 19 * 1.25  # May 1-19: $1.25 a day in the fake's ledger, complete days only
    logged_today = 12 * CALL_USD  # the calls from May 20 00:00 (the bill's end) to 12:00
    first = month_to_date(log, usages, billed=True)
    assert first == pytest.approx(billed + logged_today)
    assert month_to_date(log, usages, billed=True) == pytest.approx(first)  # restarted: the same month


def test_without_a_provider_the_month_is_estimated_from_the_logs_on_disk(log):
    hours_this_month = (NOW - MAY_1) / HOUR
    assert month_to_date(log, {}, billed=False) == pytest.approx(hours_this_month * CALL_USD)


def test_the_backfill_covers_the_longest_window_and_since_wins():
    config = BudgetConfig()
    assert backfill_since(None, config, NOW, billed=True) == MAY_20 - 24 * HOUR  # the day before the bill's end
    assert backfill_since(None, config, MAY_1 + 2 * HOUR, billed=True) == MAY_1 + 2 * HOUR - 24 * HOUR
    assert backfill_since(None, config, NOW, billed=False) == MAY_1
    assert backfill_since(600.0, config, NOW, billed=False) == NOW - 600.0
