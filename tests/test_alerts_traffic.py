"""Traffic rules on a real MetricsStore with a fixed clock: error_rate, server_errors, rate_limited, latency,
no_traffic, unpriced_model. Each: when it fires (and not before `for`), minimum calls, hysteresis, cooldown."""

from __future__ import annotations

from alerts_helpers import T0, Sim, custom, every_nth_error, ok, shipped

from apimon_tui.core.model import Call, RateLimit


def fires(events):
    return [e for e in events if e.kind == "fire"]


def resolves(events):
    return [e for e in events if e.kind == "resolve"]


# -- error_rate -----------------------------------------------------------------


def test_error_rate_fires_only_after_holding_for_its_for_duration():
    sim = Sim([shipped("error_rate")])
    # 10% errors from the start; 20 calls (the minimum) are in the window at T0+20.
    assert sim.run(79, every_nth_error(10)) == []
    (event,) = sim.run(1, every_nth_error(10))
    assert event.kind == "fire" and event.ts == T0 + 80  # 20 s to reach 20 calls, then `for` = 1m
    alert = event.alert
    assert (alert.rule, alert.severity, alert.scope, alert.threshold, alert.window) == (
        "error_rate", "warning", "gpt-4o", 5.0, 300.0)
    assert alert.message == "WARNING error_rate gpt-4o 10.0% > 5% over 5m (80 calls)"
    assert alert.cause.target == "failed" and alert.cause.model == "gpt-4o"


def test_error_rate_not_below_minimum_calls():
    sim = Sim([shipped("error_rate")])
    half_failing = lambda sec: [ok(sec + 0.5, status=500 if sec % 2 else 200)] if sec < T0 + 19 else []
    assert sim.run(600, half_failing) == []  # 19 calls at 50% errors: never judged


def test_error_rate_critical_and_overall_scope_with_two_models():
    sim = Sim([shipped("error_rate")])

    def plan(sec):  # gpt-4o fails one call in three; claude is fine
        return [ok(sec + 0.5, "gpt-4o", status=500 if sec % 3 == 0 else 200), ok(sec + 0.5, "claude")]

    events = sim.run(120, plan)
    got = {(e.alert.scope, e.alert.severity) for e in fires(events)}
    assert got == {("gpt-4o", "critical"), ("all", "warning")}
    by_scope = {a.scope: a for a in sim.manager.active()}
    assert by_scope["gpt-4o"].message.startswith("CRITICAL error_rate gpt-4o 33.")
    assert by_scope["gpt-4o"].message.endswith("> 20% over 5m (120 calls)")  # kept up to date


def test_error_rate_hysteresis_keeps_it_active_between_clear_and_fire_thresholds():
    sim = Sim([shipped("error_rate")])
    assert len(fires(sim.run(600, every_nth_error(10)))) == 1          # ~10%
    # ~4.5%: under the 5% threshold but above the clear point (0.8 x 5% = 4%): still active.
    assert sim.run(900, every_nth_error(22)) == []
    (alert,) = sim.manager.active()
    assert 4.0 < alert.value < 5.0
    # ~2%: past the clear point; resolves after holding there for `hold` (2m).
    events = sim.run(900, every_nth_error(50))
    (resolved,) = resolves(events)
    assert sim.manager.active() == []
    rate_at = lambda t: (lambda a: a.errors / a.calls * 100)(sim.store.snapshot(300, t).total)
    first_clear = next(t for t in range(int(T0) + 1500, int(resolved.ts), 5) if rate_at(t) < 4.0)
    assert resolved.ts - first_clear >= 120


def test_without_hysteresis_the_same_traffic_resolves_and_flaps():
    sim = Sim([custom(kind="error_rate", name="eager", warning=5.0, window="5m", min_calls=20)])
    sim.run(600, every_nth_error(10))
    events = sim.run(900, every_nth_error(22))
    assert len(resolves(events)) >= 2 and len(fires(events)) >= 1  # what `clear` and `hold` prevent


def test_error_rate_respects_cooldown_before_firing_again():
    rule = custom(kind="error_rate", name="quick", warning=5.0, window="5m", min_calls=20, cooldown="10m")
    sim = Sim([rule])
    (first,) = fires(sim.run(100, every_nth_error(10)))
    assert first.ts == T0 + 20
    assert len(resolves(sim.run(200, every_nth_error(0)))) == 1        # errors stop: resolves
    events = sim.run(600, every_nth_error(10))                           # errors are back at T0+300
    (second,) = fires(events)
    assert second.ts == T0 + 20 + 600                                   # not before the cooldown ends


# -- server_errors ----------------------------------------------------------------


def test_server_errors_fire_at_five_escalate_at_ten_and_resolve_after_hold():
    sim = Sim([shipped("server_errors")], step=1)
    sim.run(10)
    sim.store.add_many([ok(T0 + 10.5, status=503) for _ in range(4)] + [ok(T0 + 10.5, "claude", status=500)])
    assert sim.run(1) == []                                             # 4 for gpt-4o, 1 for claude
    sim.store.add(Call(ts=T0 + 11.5, source="app.log", model="gpt-4o", failed=True, error_type="timeout"))
    (event,) = sim.run(1)
    assert event.alert.message == "WARNING server_errors gpt-4o 5 5xx/timeouts >= 5 in 1m"
    sim.store.add_many([ok(T0 + 12.5, status=502) for _ in range(5)])
    (up,) = sim.run(1)
    assert (up.kind, up.alert.severity, up.alert.key) == ("fire", "critical", event.alert.key)
    # At T0+71 the 4 errors of T0+10 leave the 60 s window (6 left: still past critical's clear
    # point, 0.6 x 10); the last leave at T0+72; resolved 2m (hold) later.
    events = sim.run(300)
    (resolved,) = resolves(events)
    assert resolved.ts == T0 + 72 + 120
    assert resolved.alert.cause.status == "5xx"


def test_server_errors_below_five_never_fire():
    sim = Sim([shipped("server_errors")])
    plan = lambda sec: [ok(sec + 0.5, status=500 if sec % 15 == 0 else 200)]  # 4 a minute
    assert sim.run(900, plan) == []


# -- rate_limited -------------------------------------------------------------------


def test_rate_limited_three_429s_in_a_minute():
    sim = Sim([shipped("rate_limited")], step=1)
    sim.store.add_many([ok(T0 + 0.5, status=429), ok(T0 + 1.5, status=429)])
    assert sim.run(5) == []
    sim.store.add(ok(T0 + 5.5, status=429))
    (event,) = sim.run(1)
    assert event.alert.message == "WARNING rate_limited gpt-4o 3 429s >= 3 in 1m"
    assert event.alert.cause.status == "429"


def test_rate_limited_headroom_below_ten_percent():
    sim = Sim([shipped("rate_limited")], step=1)
    sim.store.add(ok(T0 + 0.5, ratelimit=RateLimit(limit_requests=100, remaining_requests=11)))
    assert sim.run(2) == []
    sim.store.add(ok(T0 + 2.5, ratelimit=RateLimit(limit_requests=100, remaining_requests=9,
                                                 limit_tokens=1000, remaining_tokens=900)))
    (event,) = sim.run(1)
    assert event.alert.message == "WARNING rate_limited gpt-4o requests 9.0% left < 10% of the limit"
    # No newer headroom: after the 60 s window it says nothing about now, and resolves after hold.
    (resolved,) = resolves(sim.run(300))
    assert resolved.ts == T0 + 63 + 120


# -- latency ---------------------------------------------------------------------------


def test_latency_p95_over_threshold_after_for():
    sim = Sim([shipped("latency")])
    slow = lambda sec: [ok(sec + 0.5, latency_ms=14_000.0)]
    assert sim.run(79, slow) == []
    (event,) = sim.run(1, slow)
    assert event.ts == T0 + 80
    assert event.alert.message.startswith("WARNING latency all 1")
    assert " ms p95 > 10,000 ms over 5m (80 calls)" in event.alert.message


def test_latency_not_below_minimum_calls():
    sim = Sim([shipped("latency")])
    assert sim.run(900, lambda sec: [ok(sec + 0.5, latency_ms=30_000.0)] if sec % 20 == 0 else []) == []


# -- no_traffic --------------------------------------------------------------------------


def test_no_traffic_fires_when_a_busy_source_goes_quiet_and_resolves_when_it_speaks():
    sim = Sim([shipped("no_traffic")], step=1)
    sim.run(30, lambda sec: [ok(sec + 0.5, source="busy.log")] + ([ok(sec + 0.5, source="rare.log")]
                                                                     if sec < T0 + 3 else []))
    assert sim.run(899) == []                                           # last call at T0+29.5
    (event,) = sim.run(2)
    assert event.ts == T0 + 29.5 + 900 + 0.5 and event.alert.scope == "busy.log"
    assert event.alert.message.startswith("WARNING no_traffic busy.log 15m without calls > 15m")
    sim.store.add(ok(sim.sec + 0.5, source="busy.log"))
    (resolved,) = sim.run(1)
    assert resolved.kind == "resolve"


def test_no_traffic_is_off_by_default():
    assert next(r for r in __import__("apimon_tui.alerts", fromlist=["x"]).rules_from_config(
        __import__("apimon_tui.core.config", fromlist=["x"]).DEFAULTS) if r.kind == "no_traffic").enabled is False


# -- unpriced_model --------------------------------------------------------------------------


def test_unpriced_model_fires_once_per_model():
    sim = Sim([shipped("unpriced_model")])
    (event,) = sim.run(5, unpriced={"mystery-1"})
    assert event.alert.severity == "info" and event.alert.scope == "mystery-1"
    assert sim.run(3600, unpriced={"mystery-1"}) == []
    (second,) = sim.run(5, unpriced={"mystery-1", "mystery-2"})
    assert second.alert.scope == "mystery-2"
    assert len(sim.manager.active()) == 2


def test_user_rule_scoped_to_one_model_with_its_own_threshold():
    rule = custom(kind="error_rate", name="gpt4o_strict", model="gpt-4o", warning=1.0, window="10m",
                  min_calls=5)
    sim = Sim([rule])

    def plan(sec):
        return [ok(sec + 0.5, "gpt-4o", status=500 if sec % 50 == 0 else 200),
                ok(sec + 0.5, "claude", status=500 if sec % 2 == 0 else 200)]

    (event,) = sim.run(60, plan)
    assert event.alert.rule == "gpt4o_strict" and event.alert.scope == "gpt-4o"
    assert event.alert.window == 600.0


def test_an_alert_back_under_its_threshold_says_holding_then_clearing_never_a_false_sum():
    sim = Sim([shipped("server_errors")], step=1)   # fires at >= 5 in 1m, clears under 0.6 x 5 = 3, hold 2m
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)] + [ok(T0 + 30.5, status=500)] * 3
                       + [ok(T0 + 70.5, status=500)])
    sim.run(1)
    (alert,) = sim.manager.active()
    assert (alert.state, alert.message) == ("firing", "WARNING server_errors gpt-4o 6 5xx/timeouts >= 5 in 1m")
    sim.run(59)                                      # T0+60: the first 6 left the window, 3 remain
    (alert,) = sim.manager.active()
    assert alert.state == "holding"
    assert alert.message == "WARNING server_errors gpt-4o 3 5xx/timeouts holding: fired >= 5, clears at < 3"
    sim.run(30)                                      # T0+90: 1 left, under the clear point
    (alert,) = sim.manager.active()
    assert alert.state == "clearing"
    assert alert.message == "WARNING server_errors gpt-4o 1 5xx/timeouts clearing: resolves in 2m unless back >= 3"
    sim.run(70)                                      # T0+160: none left
    assert sim.manager.active()[0].message == "WARNING server_errors gpt-4o clearing: no reading now, resolves in 50s"
    (resolved,) = resolves(sim.run(50))
    assert (resolved.ts, resolved.alert.state) == (T0 + 210, "resolved")
    assert resolved.alert.message == "WARNING server_errors gpt-4o resolved after 3m"
    assert sim.manager.active() == []
