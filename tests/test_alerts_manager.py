"""AlertManager behaviour users see: acknowledge, silence, history (in memory and JSONL), notify commands,
and the rules read from the config with clear errors."""

from __future__ import annotations

import json

import pytest
from alerts_helpers import T0, Sim, custom, every_nth_error, ok, shipped

from apimon_tui.core import config as config_mod
from apimon_tui.alerts import AlertManager, rules_from_config
from apimon_tui.alerts.notify import Notifier
from apimon_tui.core.config import ConfigError


def failing_model_sim(**kw) -> Sim:
    """server_errors with 6 errors on gpt-4o at T0+0.5: a warning at the first evaluation."""
    sim = Sim([shipped("server_errors")], step=1, **kw)
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)])
    return sim


def test_acknowledged_alert_stays_listed_and_goes_quiet():
    sim = failing_model_sim()
    (fire,) = sim.run(1)
    ack = sim.manager.acknowledge(fire.alert.key)
    assert ack.kind == "ack" and ack.alert.acknowledged
    assert sim.manager.acknowledge(fire.alert.key) is None           # only once
    (alert,) = sim.manager.active()
    assert alert.acknowledged
    sim.store.add_many([ok(T0 + 1.5, status=500) for _ in range(6)])  # 12: would escalate to critical
    assert sim.run(1) == []                                            # ...but quietly
    assert sim.manager.active()[0].severity == "critical"
    assert sim.run(600) == []                                          # its resolve is quiet too
    assert sim.manager.active() == []
    kinds = [(e.kind, e.alert.severity) for e in sim.manager.history()]
    assert kinds == [("fire", "warning"), ("ack", "warning"), ("fire", "critical"), ("resolve", "critical")]


def test_silenced_rule_fires_only_when_the_silence_ends():
    sim = Sim([shipped("error_rate")])
    until = sim.manager.silence("error_rate", 15 * 60)
    assert until == T0 + 900 and sim.manager.silenced_until("error_rate") == until
    assert sim.run(895, every_nth_error(10)) == []                     # would have fired at T0+80
    (event,) = sim.run(5, every_nth_error(10))
    assert event.ts == T0 + 900 and sim.manager.silenced_until("error_rate") is None


def test_silence_holds_back_escalation_but_keeps_the_alert_listed():
    sim = failing_model_sim()
    (fire,) = sim.run(1)
    sim.manager.silence(fire.alert.rule, 3600)
    sim.store.add_many([ok(T0 + 1.5, status=500) for _ in range(6)])
    assert sim.run(1) == []
    assert [a.severity for a in sim.manager.active()] == ["critical"]


def test_history_file_gets_fire_ack_resolve_as_json_lines(tmp_path):
    path = tmp_path / "alerts.jsonl"
    sim = failing_model_sim(history_file=str(path))
    (fire,) = sim.run(1)
    sim.manager.acknowledge(fire.alert.key)
    sim.run(600)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["event"], r["rule"], r["scope"]) for r in lines] == [
        ("fire", "server_errors", "gpt-4o"), ("ack", "server_errors", "gpt-4o"), ("resolve", "server_errors", "gpt-4o")]
    assert lines[0]["value"] == 6 and lines[0]["threshold"] == 5.0 and lines[0]["window"] == "1m"
    assert lines[0]["ts"] == T0 + 1


def test_unwritable_history_file_is_reported_not_raised(tmp_path):
    sim = failing_model_sim(history_file=str(tmp_path / "missing-dir" / "alerts.jsonl"))
    assert len(sim.run(1)) == 1
    (problem,) = sim.manager.drain_problems()
    assert problem.startswith("alert history: cannot write ") and "No such file" in problem


def test_notify_command_gets_the_alert_json_redacted_once_per_cooldown(tmp_path):
    out = tmp_path / "payloads"
    notifier = Notifier({"warning": f"cat >> {out}; echo >> {out}"}, timeout_s=10)
    sim = Sim([shipped("usage_stale")], step=1, notifier=notifier)
    state = type("S", (), dict(name="openai", interval_s=300.0, last_success=None, last_attempt=T0,
                               last_error="401 for key sk-proj-abcdefghijklmnopqrstuvwxyz"))()
    assert len(sim.run(1, usage=[state])) == 1
    state.last_error = None
    state.last_success = sim.sec
    sim.run(1, usage=[state])                                          # resolves
    state.last_error = "401 again"
    assert len(sim.run(1, usage=[state])) == 0                         # within the 30m cooldown
    notifier.join()
    (payload,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert payload["rule"] == "usage_stale" and payload["severity"] == "warning"
    assert "abcdefghijklmnop" not in out.read_text() and "sk-proj-…wxyz" in payload["message"]
    assert sim.manager.drain_problems() == []


def test_notify_failures_and_timeouts_become_messages(tmp_path):
    notifier = Notifier({"critical": "echo 'webhook down' >&2; exit 7", "warning": "sleep 30"}, timeout_s=0.2)
    sim = Sim([custom(kind="server_errors", name="se", warning=1.0, critical=2.0, window="1m")], step=1,
              notifier=notifier)
    sim.store.add(ok(T0 + 0.5, status=500))
    sim.run(1)
    sim.store.add(ok(T0 + 1.5, status=500))
    sim.run(1)
    notifier.join()
    problems = sim.manager.drain_problems()
    assert problems == ["notify warning: 'sleep 30' ran longer than 0.2s and was stopped",
                        "notify critical: \"echo 'webhook down' >&2; exit 7\" exited with status 7: webhook down"]


def test_no_notifier_without_commands():
    assert Notifier.from_config(config_mod.DEFAULTS["alerts"]) is None
    assert AlertManager.from_config(config_mod.DEFAULTS).notifier is None


# -- rules from the config ------------------------------------------------------------


def write_config(tmp_path, text: str) -> dict:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return config_mod.load(path)


def test_shipped_rules_can_be_tuned_disabled_and_added_to(tmp_path):
    config = write_config(tmp_path, """
[alerts.latency]
warning = 2500
[alerts.spend_drift]
enabled = false
[[alerts.rules]]
kind = "error_rate"
name = "gpt4o_strict"
model = "gpt-4o"
warning = 1.0
for = "30s"
[[alerts.rules]]
kind = "latency"
critical = 60000
""")
    rules = {r.name: r for r in rules_from_config(config)}
    assert rules["latency"].levels == (("warning", 2500.0),) and rules["latency"].min_calls == 20
    assert rules["spend_drift"].enabled is False
    assert (rules["gpt4o_strict"].model, rules["gpt4o_strict"].for_s) == ("gpt-4o", 30.0)
    assert rules["latency#2"].levels == (("critical", 60000.0),)
    assert len(rules) == 13


@pytest.mark.parametrize("text, message", [
    ('[[alerts.rules]]\nkind = "errors"\nwarning = 1.0',
     "config: alerts.rules[0].kind must be one of budget, forecast, error_rate"),
    ('[[alerts.rules]]\nkind = "latency"\nwarning = 1.0\nthreshold = 5',
     "config: alerts.rules[0] has no option 'threshold'"),
    ('[[alerts.rules]]\nkind = "latency"', "config: alerts.rules[0] needs a threshold"),
    ('[alerts.error_rate]\nfor = "soon"', 'config: alerts.error_rate.for must be a duration like "5m"'),
    ('[alerts.error_rate]\nclear = 1.5', "config: alerts.error_rate.clear must be a fraction"),
    ('[[alerts.rules]]\nkind = "budget"\nname = "latency"\ninfo = 1.0', "config: two alert rules are named 'latency'"),
    ('[[alerts.rules]]\nwarning = 1.0', "config: alerts.rules[0] needs a kind"),
])
def test_bad_rules_get_one_plain_sentence(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        rules_from_config(write_config(tmp_path, text))
    assert str(err.value).startswith(message)


def test_disabled_rule_never_fires():
    rule = shipped("server_errors")
    rule.enabled = False
    sim = Sim([rule], step=1)
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(20)])
    assert sim.run(60) == [] and sim.manager.active() == []

