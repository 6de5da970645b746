"""`apimon-tui check` run as a real process on native logs written to disk: exit codes 0-3 and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call

T0 = 1_700_000_000.0


def write_log(path, plan, seconds: int = 600) -> str:
    """One priced gpt-4o call a second for `seconds`; `plan(s)` gives the status of second s."""
    with open(path, "w") as f:
        for s in range(seconds):
            call = Call(ts=T0 + s + 0.25, model="gpt-4o", provider="openai", status=plan(s), latency_ms=700.0,
                        input_tokens=100, output_tokens=20, cost_usd=0.001)
            f.write(json.dumps(to_record(call)) + "\n")
    return str(path)


def check(tmp_path, *args: str, config: str = "") -> subprocess.CompletedProcess:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADMIN_KEY") and k != "APIMON_CONFIG"}
    return subprocess.run([sys.executable, "-m", "apimon_tui", "check", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_exit_0_when_no_rule_fires(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 200)
    out = check(tmp_path, log)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""


def test_exit_1_for_a_warning(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 400 if s % 10 == 0 else 200)   # 10% errors
    out = check(tmp_path, log)
    assert out.returncode == 1, out.stderr
    assert out.stdout == "WARNING error_rate gpt-4o 10.0% > 5% over 5m (300 calls)\n"


def test_a_big_log_read_on_every_core_gives_the_same_alert(tmp_path):
    from apimon_tui.ingest.parallel import MIN_BYTES_PER_JOB

    log = write_log(tmp_path / "calls.jsonl", lambda s: 400 if s % 10 == 0 else 200, seconds=100_000)
    assert os.path.getsize(log) > 2 * MIN_BYTES_PER_JOB  # read in shares, as report does
    out = check(tmp_path, log)
    assert out.returncode == 1, out.stderr
    assert out.stdout == "WARNING error_rate gpt-4o 10.0% > 5% over 5m (300 calls)\n"


def test_exit_2_for_a_critical_with_every_firing_alert_on_its_own_line(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 500 if s % 4 == 0 else 200)     # 25% 5xx
    out = check(tmp_path, log)
    assert out.returncode == 2, out.stderr
    assert out.stdout.splitlines() == [
        "CRITICAL server_errors gpt-4o 15 5xx/timeouts >= 10 in 1m",
        "CRITICAL error_rate gpt-4o 25.0% > 20% over 5m (300 calls)",
    ]


def test_json_lists_the_firing_alerts(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 500 if s % 4 == 0 else 200)
    out = check(tmp_path, "--json", log)
    assert out.returncode == 2
    alerts = json.loads(out.stdout)
    picked = [{k: a[k] for k in ("rule", "severity", "scope", "value", "threshold", "window")} for a in alerts]
    assert picked == [
        {"rule": "server_errors", "severity": "critical", "scope": "gpt-4o", "value": 15, "threshold": 10.0,
         "window": "1m"},
        {"rule": "error_rate", "severity": "critical", "scope": "gpt-4o", "value": 25.0, "threshold": 20.0,
         "window": "5m"},
    ]
    assert json.loads(check(tmp_path, "--json", write_log(tmp_path / "ok.jsonl", lambda s: 200)).stdout) == []


def test_for_duration_is_honoured_a_burst_shorter_than_for_does_not_fire(tmp_path):
    # 400s only in the last 40 s: over the 5m window the rate passes 5% for well under `for` (1m).
    log = write_log(tmp_path / "calls.jsonl", lambda s: 400 if s >= 560 else 200)
    out = check(tmp_path, log)
    assert (out.returncode, out.stdout) == (0, "")
    out = check(tmp_path, log, config='[alerts.error_rate]\nfor = "0s"\n')
    assert (out.returncode, out.stdout) == (1, "WARNING error_rate gpt-4o 13.3% > 5% over 5m (300 calls)\n")


def test_unpriced_model_is_info_and_exits_1(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(to_record(Call(ts=T0, model="mystery-9000", status=200, input_tokens=10,
                                              output_tokens=10))) + "\n")
    out = check(tmp_path, str(path))
    assert out.returncode == 1
    assert out.stdout.startswith("INFO unpriced_model mystery-9000 has no known price")


def test_provider_whose_poll_fails_is_a_usage_stale_warning(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 200)
    out = check(tmp_path, log, config="[providers.openai]\nenabled = true\n")
    assert out.returncode == 1, out.stderr
    assert out.stdout == "WARNING usage_stale openai last poll failed: no key: set OPENAI_ADMIN_KEY " \
                         "(or key_file in [providers.openai])\n"


def test_budget_from_the_logs_spend(tmp_path):
    log = write_log(tmp_path / "calls.jsonl", lambda s: 200)         # 600 calls x $0.001 = $0.60
    out = check(tmp_path, log, config="[budget]\nmonthly_usd = 1.0\n[alerts.forecast]\nenabled = false\n")
    assert (out.returncode, out.stdout) == (1, "INFO budget monthly 60.0% >= 50% of $1.00 ($0.60 spent this month)\n")


@pytest.mark.parametrize("config, args, message", [
    ("[alerts.error_rate]\nwarning = \"high\"\n", [], "apimon-tui check: config: alerts.error_rate.warning must be"),
    ("[[alerts.rules]]\nkind = \"nope\"\nwarning = 1.0\n", [], "apimon-tui check: config: alerts.rules[0].kind must"),
    ("[alerts\n", [], "apimon-tui check: config: "),
    ("", ["MISSING"], "apimon-tui check: {tmp}/missing.jsonl: no such file"),
    ("", ["GARBAGE"], "apimon-tui check: {tmp}/garbage.log: no API calls recognised in 3 lines"),
    ("", [], "apimon-tui check: nothing to check: name log files"),
    ("", ["--since", "soon", "OK"], "apimon-tui check: --since: not a time"),
])
def test_exit_3_when_it_cannot_check(tmp_path, config, args, message):
    (tmp_path / "garbage.log").write_text("hello\nworld\nnot a log\n")
    ok = write_log(tmp_path / "ok.jsonl", lambda s: 200, seconds=5)
    names = {"MISSING": str(tmp_path / "missing.jsonl"), "GARBAGE": str(tmp_path / "garbage.log"), "OK": ok}
    out = check(tmp_path, *[names.get(a, a) for a in args] or [ok] * bool(config), config=config)
    assert out.returncode == 3
    assert out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert line.startswith(message.format(tmp=tmp_path))
