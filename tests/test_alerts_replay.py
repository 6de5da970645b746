"""Alerts found in history: the rules replayed over a real log's look-back as it loads, newest first.

Real files, the real engine reading them back by blocks, a fixed clock. The
episodes found as the span grows backwards are those of one replay over the
whole log read at once.
"""

from __future__ import annotations

import json

from apimon_tui.alerts.replay import HistoryReplay
from apimon_tui.alerts.rules import rules_from_config
from apimon_tui.core.config import DEFAULTS
from apimon_tui.ingest.engine import Engine

T0 = 1764201600.0  # 2025-11-27 00:00 UTC
HOUR = 3600.0
FIRST = T0 - 2 * HOUR + 600     # 22:10 the day before: ten minutes of 500s
SECOND = T0 - HOUR + 1200       # 23:20: six minutes of 429s


def record(ts: float, i: int, status: int = 200) -> dict:
    out = {"apimon": 1, "ts": round(ts, 3), "provider": "openai", "model": "gpt-4o", "status": status,
           "latency_ms": 120.0, "request_id": f"req_{i:06d}"}
    if status >= 400:
        out.update(error_code="boom" if status == 500 else "rate_limit_exceeded", error_message=f"failed {i}")
    return out


def write_two_incidents(path) -> list[dict]:
    """Three hours of a call every 2 s up to T0; in each incident 6 of each 10 calls fail."""
    records = []
    for i in range(int(3 * HOUR / 2)):
        ts = T0 - 3 * HOUR + i * 2 + 1
        status = 200
        for start, length, code in ((FIRST, 600, 500), (SECOND, 360, 429)):
            if start <= ts < start + length and i % 10 < 6:
                status = code
        records.append(record(ts, i, status))
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def traffic_rules():
    return [r for r in rules_from_config(DEFAULTS) if r.spec.needs_store]


def summary(episodes) -> list[tuple]:
    return [(a.rule, a.scope, a.severity, a.since - T0, None if a.resolved_at is None else a.resolved_at - T0)
            for a in episodes]


def test_episodes_found_while_the_look_back_loads_newest_first_are_those_of_the_whole_log(tmp_path):
    log = tmp_path / "calls.jsonl"
    write_two_incidents(log)
    engine = Engine([str(log)], since=T0 - 24 * HOUR, recent_s=300.0, clock=lambda: T0)
    engine.history[0].source.block_bytes = 32 * 1024  # many blocks
    engine.read_recent()
    found = HistoryReplay(traffic_rules(), until=T0)
    spans = []
    while True:
        span = found.span_due(engine.store)
        if span is not None:
            spans.append(span)
            found.replay(engine.store, *span)
        if engine.history_progress is None and span is None:
            break
        engine.pump()
    assert spans[0] == (T0 - 300, T0) and spans[-1][1] == T0
    assert all(later[0] < earlier[0] for earlier, later in zip(spans, spans[1:]))  # the span grows back
    assert len(spans) <= 8  # by doubling, not a replay per block: 5m, 10m, 20m, ... 3h
    # server_errors and rate_limited fire at the first minute they count (>= 10 5xx, >= 3 429s in 60 s) and
    # resolve 2m (hold) after the last such minute; error_rate fires a minute (for) after its 5m window is past
    # 20% and resolves 2m after the window has none
    assert summary(found.episodes) == [  # newest first
        ("error_rate", "gpt-4o", "critical", SECOND + 120 - T0, SECOND + 360 + 300 + 120 - T0),
        ("rate_limited", "gpt-4o", "warning", SECOND + 60 - T0, SECOND + 360 + 60 + 120 - T0),
        ("error_rate", "gpt-4o", "critical", FIRST + 120 - T0, FIRST + 600 + 300 + 120 - T0),
        ("server_errors", "gpt-4o", "critical", FIRST + 60 - T0, FIRST + 600 + 60 + 120 - T0),
    ]
    assert all(a.resolved_at is not None and a.state == "resolved" for a in found.episodes)

    whole = Engine([str(log)], since=T0 - 24 * HOUR, follow=False, clock=lambda: T0)
    whole.read_to_end()
    once = HistoryReplay(traffic_rules(), until=T0)
    once.replay(whole.store, *once.span_due(whole.store))
    assert summary(once.episodes) == summary(found.episodes)


def test_an_incident_still_on_at_the_newest_time_is_found_still_firing(tmp_path):
    log = tmp_path / "calls.jsonl"
    records = [record(T0 - HOUR + i * 2, i, 500 if i * 2 >= HOUR - 240 else 200) for i in range(int(HOUR / 2))]
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    engine = Engine([str(log)], since=T0 - 24 * HOUR, follow=False, clock=lambda: T0 + 3 * 86400)
    engine.read_to_end()  # a log that went quiet three days ago: the replay ends at its newest call
    found = HistoryReplay(traffic_rules(), until=T0 + 3 * 86400)
    found.replay(engine.store, *found.span_due(engine.store))
    firing = [(a.rule, a.state, a.since - T0) for a in found.episodes if a.resolved_at is None]
    assert ("server_errors", "firing", -180.0) in firing


def test_nothing_is_replayed_before_the_look_back_holds_data_or_without_traffic_rules(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text("", encoding="utf-8")
    engine = Engine([str(log)], since=T0 - 24 * HOUR, recent_s=300.0, clock=lambda: T0)
    engine.read_recent()
    assert HistoryReplay(traffic_rules(), until=T0).span_due(engine.store) is None
    write_two_incidents(log)
    whole = Engine([str(log)], since=T0 - 24 * HOUR, follow=False, clock=lambda: T0)
    whole.read_to_end()
    budget_only = [r for r in rules_from_config(DEFAULTS) if not r.spec.needs_store]
    assert HistoryReplay(budget_only, until=T0).span_due(whole.store) is None


def test_a_log_read_forward_is_replayed_again_as_its_span_reaches_further(tmp_path):
    from apimon_tui.core.model import Call
    from apimon_tui.store import MetricsStore

    records = write_two_incidents(tmp_path / "calls.jsonl")
    calls = [Call(ts=r["ts"], source="calls.jsonl", model=r["model"], status=r["status"], latency_ms=120.0,
                  error_code=r.get("error_code")) for r in records]
    store = MetricsStore()  # a file that cannot be searched by time: read oldest first, all of it "loaded"
    found = HistoryReplay(traffic_rules(), until=T0)
    store.add_many([c for c in calls if c.ts < FIRST + 1800])
    found.replay(store, *found.span_due(store))
    assert [a.rule for a in found.episodes] == ["error_rate", "server_errors"]
    assert found.span_due(store) is None  # nothing new
    store.add_many([c for c in calls if c.ts >= FIRST + 1800])
    found.replay(store, *found.span_due(store))
    assert [a.rule for a in found.episodes] == ["error_rate", "rate_limited", "error_rate", "server_errors"]
    assert found.span_due(store) is None


def test_headroom_is_judged_as_it_was_at_each_step_not_as_it_is_now():
    from apimon_tui.core.model import Call, RateLimit
    from apimon_tui.store import MetricsStore

    store = MetricsStore()
    low_from, low_to = T0 - 2 * HOUR, T0 - 2 * HOUR + 600  # ten minutes with 5% of the requests left
    stamps = [T0 - 3 * HOUR + i * 10 for i in range(int(3 * HOUR / 10))]
    store.add_many([Call(ts=ts, source="a.log", model="gpt-4o", status=200, latency_ms=100.0,
                         ratelimit=RateLimit(limit_requests=100, remaining_requests=5 if low_from <= ts < low_to else 90))
                    for ts in stamps])
    found = HistoryReplay(traffic_rules(), until=T0)
    found.replay(store, *found.span_due(store))
    assert summary(found.episodes) == [
        ("rate_limited", "gpt-4o requests", "warning", low_from + 60 - T0, low_to + 60 + 120 - T0)]


def test_an_incident_going_on_into_the_run_is_the_live_alert_which_notes_when_it_began(tmp_path):
    from apimon_tui.alerts import AlertManager

    log = tmp_path / "calls.jsonl"
    records = [record(T0 - HOUR + i * 2 + 1, i, 500 if (i * 2 >= HOUR - 1200 and i % 10 < 6) else 200)
               for i in range(int(HOUR / 2))]  # the last 20 minutes fail, up to the start of the run
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    engine = Engine([str(log)], since=T0 - 24 * HOUR, follow=False, clock=lambda: T0)
    engine.read_to_end()
    live = AlertManager(traffic_rules(), clock=lambda: T0)
    live.evaluate(engine.store, now=T0)
    live.evaluate(engine.store, now=T0 + 60)  # error_rate holds its `for` (1m) live too
    found = HistoryReplay(traffic_rules(), until=T0)
    found.replay(engine.store, *found.span_due(engine.store))
    going_on = {a.key: a.since for a in found.episodes if a.resolved_at is None}
    assert going_on == {"server_errors|gpt-4o": T0 - 1200 + 60, "error_rate|gpt-4o": T0 - 1200 + 120}
    found.carry_over(live)
    assert {a.key: a.began for a in live.active()} == going_on  # Enter on them shows where they began
    assert found.listed() == []                                 # and they are not listed twice

    quiet_since = HistoryReplay(traffic_rules(), until=T0 + 3 * 86400)  # the log went quiet days ago
    quiet_since.replay(engine.store, *quiet_since.span_due(engine.store))
    other = AlertManager(traffic_rules(), clock=lambda: T0)
    other.evaluate(engine.store, now=T0)
    quiet_since.carry_over(other)
    assert all(a.began is None for a in other.active()) and len(quiet_since.listed()) == 2
