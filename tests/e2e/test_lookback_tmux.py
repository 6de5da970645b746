"""The real console script in tmux on an openai-python debug log that went quiet two hours ago."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_lookback_multiline import from_the_start, write_sdk_log
from test_monitor_tmux import SCRIPT, TMUX, _keys, _new_session, _tmux, _wait_for

from apimon_tui.formats import openai_sdk

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_an_sdk_log_quiet_for_two_hours_opens_on_its_last_minutes_then_reads_its_day(tmp_path: Path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 600, end=time.time() - 2 * 3600)  # some 80 minutes of requests
    newest = openai_sdk.time_of_line(lines[-1])
    last_5m = from_the_start(log, newest - 299.5, None)["calls"]
    day = from_the_start(log, None, None)["calls"]
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    session = _new_session(f"{SCRIPT} {log}; echo apimon-exit=$?; sleep 60", config)
    try:
        _wait_for(session, lambda s: "newest call 2h ago" in s and f"{last_5m} calls" in s,
                  "the log's age, and the calls of its last 5 minutes (the window anchored at the newest call)")
        _keys(session, "6")
        _wait_for(session, lambda s: f"{day:,} calls" in s and "loading history" not in s, "the whole day read")
        _keys(session, "q")
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
    finally:
        _tmux(session, "kill-server", capture_output=True)
