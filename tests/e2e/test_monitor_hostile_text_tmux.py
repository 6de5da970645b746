"""The real `apimon-tui` in tmux while a log line carrying terminal escapes is appended: nothing it holds
reaches the terminal. tmux is told to take OSC 52 from programs (`set-clipboard on`), so a clipboard
write would show as a paste buffer, and an OSC 2 as the pane's title; the test shows both would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_monitor_tmux import SCRIPT, TMUX, _new_session, _tmux, _wait_for

pytestmark = pytest.mark.e2e

E = "\x1b"
CLIPBOARD = f"{E}]52;c;cm0gLXJmIH4=\x07"  # "rm -rf ~"
TITLE = f"{E}]2;owned-title\x07"
CLEAR = f"{E}[2J{E}[H"
EIGHT_BIT = "\x9b2J"


def _record(i: int, **fields) -> str:
    record = {"apimon": 1, "ts": time.time(), "model": "gpt-4o", "status": 200, "latency_ms": 300.0,
              "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001, "request_id": f"req_ok_{i}"}
    record.update(fields)
    return json.dumps(record) + "\n"


def _append(log: Path, text: str) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(text)


def _buffers(session: str) -> str:
    return _tmux(session, "list-buffers", capture_output=True, text=True).stdout


def _title(session: str) -> str:
    return _tmux(session, "display", "-p", "-t", session, "#{pane_title}", capture_output=True, text=True).stdout


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_a_hostile_log_line_sets_no_clipboard_no_title_and_clears_nothing(tmp_path: Path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    tmux_conf = tmp_path / "tmux.conf"
    tmux_conf.write_text("set -g set-clipboard on\n", encoding="utf-8")
    # After the monitor, the same sequences printed as they are: proof that tmux here would show them.
    proof = "".join(f"\\{ord(c):03o}" if not c.isprintable() else c for c in CLIPBOARD + TITLE)
    command = f"{SCRIPT} {log}; echo apimon-exit=$?; printf '{proof}'; sleep 60"
    session = _new_session(command, config, (180, 40), str(tmux_conf))
    try:
        _wait_for(session, lambda s: "Requests" in s and "following" in s, "the main screen")
        _append(log, "".join(_record(i) for i in range(20)))
        _wait_for(session, lambda s: "20 calls" in s, "the first calls counted")
        title_before = _title(session)
        assert _buffers(session) == ""

        _append(log, _record(
            100, model=f"gpt-4o{TITLE}", status=500, request_id=f"req_hostile{CLIPBOARD}",
            error={"type": "server_error", "code": "boom", "message": f"hostile call text{CLEAR}{EIGHT_BIT} ends"}))
        screen = _wait_for(session, lambda s: "req_hostile" in s, "the hostile call in the error feed")
        assert "hostile call text" in screen
        for i in range(101, 111):  # the monitor keeps drawing after it
            _append(log, _record(i))
        screen = _wait_for(session, lambda s: "31 calls" in s, "the calls after it counted")
        assert "req_hostile" in screen and "hostile call text" in screen and "Requests" in screen
        assert _buffers(session) == "", "a log line set the tmux clipboard"
        assert _title(session) == title_before, "a log line set the pane title"

        _tmux(session, "send-keys", "-t", session, "q", check=True)
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
        deadline = time.monotonic() + 10
        while "owned-title" not in _title(session) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "rm -rf ~" in _tmux(session, "show-buffer", capture_output=True, text=True).stdout
        assert "owned-title" in _title(session)
    finally:
        _tmux(session, "kill-server", capture_output=True)

