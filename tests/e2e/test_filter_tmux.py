"""The filter in the real console script under tmux: typed at full speed or pasted right after `/`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_monitor_tmux import SCRIPT, TMUX, _capture, _keys, _new_session, _tmux, _wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)"),
]


def _write_log(path: Path) -> None:
    now = time.time()
    with path.open("w", encoding="utf-8") as out:
        for i in range(200):
            model = "gpt-4o" if i % 2 else "claude-sonnet-4"
            status = 429 if i % 10 == 3 else 200
            out.write(json.dumps({"apimon": 1, "ts": now - 200 + i, "model": model, "status": status,
                                  "latency_ms": 300.0, "request_id": f"req_{i}"}) + "\n")


@pytest.fixture
def session(tmp_path):
    log = tmp_path / "calls.jsonl"
    _write_log(log)
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    name = _new_session(f"{SCRIPT} {log}; echo apimon-exit=$?; sleep 60", config)
    try:
        _wait_for(name, lambda s: "Requests" in s and "req_193" in s, "the main screen with its calls")
        yield name
    finally:
        _tmux(name, "kill-server", capture_output=True)


def test_a_filter_typed_at_full_speed_after_the_slash_loses_nothing(session):
    _keys(session, "/", "model:claude-sonnet-4", "Enter")  # one burst, as a fast typist sends it
    screen = _wait_for(session, lambda s: "filter:" in s, "the filter applied")
    assert "filter: model:claude-sonnet-4 " in screen
    assert "req/s · 100 calls · 0.0% errors" in screen  # only the chosen model's calls (no 429s)
    _keys(session, "/", "Escape")
    _wait_for(session, lambda s: "filter:" not in s.splitlines()[0], "Esc clearing the filter")


def test_a_paste_right_after_the_slash_is_taken_whole(session):
    _tmux(session, "set-buffer", "-b", "f", "status:429\ncode:none", check=True)
    _keys(session, "/")
    _tmux(session, "paste-buffer", "-p", "-b", "f", "-t", session, check=True)  # bracketed, as terminals paste
    _keys(session, "Enter")
    screen = _wait_for(session, lambda s: "filter:" in s, "the pasted filter applied")
    assert "filter: status:429 code:none" in screen, _capture(session)
    _keys(session, "q")
    _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
