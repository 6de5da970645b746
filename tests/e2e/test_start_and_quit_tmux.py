"""The console script in tmux as a user types it: Ctrl-C quits, a missing file is one line and exit 2."""

from __future__ import annotations

import json
import time

import pytest
from test_monitor_tmux import SCRIPT, TMUX, _keys, _new_session, _tmux, _wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)"),
]


def _start(tmp_path, *args: str) -> str:
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    return _new_session(f"{SCRIPT} {' '.join(args)}; echo apimon-exit=$?; sleep 60", config, (100, 30))


def test_ctrl_c_quits_the_monitor_with_the_terminal_put_back(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps({"apimon": 1, "ts": time.time(), "model": "gpt-4o", "status": 200}) + "\n")
    session = _start(tmp_path, str(log))
    try:
        _wait_for(session, lambda s: "Requests" in s, "the main screen")
        _keys(session, "C-c")
        screen = _wait_for(session, lambda s: "apimon-exit=" in s, "the monitor ending")
        assert "apimon-exit=0" in screen
        modes = _tmux(session, "display", "-p", "-t", session, "#{alternate_on} #{cursor_flag}",
                      capture_output=True, text=True).stdout.split()
        assert modes == ["0", "1"]  # the normal screen, with the cursor shown
    finally:
        _tmux(session, "kill-server", capture_output=True)


def test_a_missing_file_is_one_line_and_exit_2_without_a_screen(tmp_path):
    session = _start(tmp_path, str(tmp_path / "nope.log"))
    try:
        screen = _wait_for(session, lambda s: "apimon-exit=" in s, "the monitor refusing")
        text = "".join(screen.split("\n"))  # the one line wraps at the pane's width
        assert (f"apimon-tui: {tmp_path / 'nope.log'}: no such file (--wait waits for it to appear, as tail -F does)"
                "apimon-exit=2") in text
        assert "Requests" not in screen
    finally:
        _tmux(session, "kill-server", capture_output=True)
