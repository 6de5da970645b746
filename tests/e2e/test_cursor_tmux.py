"""The time cursor in the real console script under tmux: a log with two incidents hours apart
opens live, `{` lands on each incident with its failed calls and its time range, `L` returns."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from test_monitor_tmux import SCRIPT, TMUX, _capture, _keys, _new_session, _tmux, _wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)"),
]
HOUR = 3600


def _write_log(path: Path, now: float) -> None:
    """A call every 30 s for four hours; incidents `a` (3 h ago) and `b` (1 h ago) of five minutes
    with two 500s every 10 s."""
    records = [{"apimon": 1, "ts": now - 4 * HOUR + i * 30, "model": "gpt-4o", "status": 200,
                "latency_ms": 300.0, "request_id": f"req_ok_{i}"} for i in range(4 * HOUR // 30)]
    for name, start in (("a", now - 3 * HOUR), ("b", now - HOUR)):
        records += [{"apimon": 1, "ts": start + i * 5, "model": "gpt-4o", "status": 500, "latency_ms": 80.0,
                     "request_id": f"req_{name}_{i}", "error": {"type": "server_error", "code": "boom"}}
                    for i in range(60)]
    with path.open("w", encoding="utf-8") as out:
        for record in sorted(records, key=lambda r: r["ts"]):
            out.write(json.dumps(record) + "\n")


def _first_jump(session: str, landed, first) -> str:
    """`{` until it lands: the look-back loads the incidents' hours after the first paint, and a press
    before they are in finds no burst and stays live (pressed again only while the screen is live)."""
    for _ in range(10):
        _keys(session, "{")
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            screen = _capture(session)
            if landed(screen):
                return screen
            if "L: live" in first(screen):
                return _wait_for(session, landed, "the newer incident")
            time.sleep(0.3)
    return _wait_for(session, landed, "the newer incident")


def test_the_burst_keys_land_on_each_incident_and_l_returns_to_live(tmp_path):
    log = tmp_path / "calls.jsonl"
    _write_log(log, time.time())
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    session = _new_session(f"{SCRIPT} {log}; echo apimon-exit=$?; sleep 60", config)
    try:
        first = lambda s: s.splitlines()[0] if s else ""  # noqa: E731  the status line
        screen = _wait_for(session, lambda s: "Requests" in s and "req/s" in s, "the main screen, live")
        assert "L: live" not in first(screen) and "req_b_" not in screen

        screen = _first_jump(session, lambda s: "req_b_" in s and "L: live" in first(s), first)
        # it ended 55 minutes ago (its last minute, a little less)
        assert re.search(r" · (\d{4}-\d\d-\d\d )?\d\d:\d\d-\d\d:\d\d · 5[45]m ago · L: live", first(screen))
        assert "req_a_" not in screen

        _keys(session, "{")
        screen = _wait_for(session, lambda s: "req_a_" in s, "the older incident")
        assert re.search(r" · (\d{4}-\d\d-\d\d )?\d\d:\d\d-\d\d:\d\d · 2h5[45]m ago · L: live", first(screen))

        _keys(session, "L")
        screen = _wait_for(session, lambda s: "L: live" not in first(s) and "req_a_" not in s, "live again")

        _keys(session, "q")
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
    finally:
        _tmux(session, "kill-server", capture_output=True)
