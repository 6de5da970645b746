"""Ending a run from outside: `report --follow` on SIGTERM/SIGHUP, the monitor with no terminal to draw on.

Real processes (`python -m apimon_tui`), real signals; the monitor's screen under signals is tested in
tmux (tests/e2e/test_monitor_tmux.py).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RECORD = {"apimon": 1, "model": "gpt-4o", "status": 200, "latency_ms": 300.0}


def native_log(path: Path, count: int) -> Path:
    now = time.time()
    path.write_text("".join(json.dumps({**RECORD, "ts": now - i}) + "\n" for i in range(count)))
    return path


def read_line(proc: subprocess.Popen, limit_s: float = 30.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], limit_s)
    assert ready, f"no output within {limit_s:g} s"
    return proc.stdout.readline()


def children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_report_follow_ends_on_a_signal_with_a_last_summary_and_its_command_ended(tmp_path, signum):
    log = native_log(tmp_path / "calls.jsonl", 7)
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "report", "--follow", "--json", "--interval", "0.2",
                             f"cmd:tail -n +1 -F {log}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while json.loads(read_line(proc))["calls"] < 7:
            pass
        (command,) = children(proc.pid)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["calls"] == 7
    deadline = time.monotonic() + 10
    while alive(command) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(command), "the cmd: source's process outlived report --follow"


def test_the_monitor_with_no_terminal_to_draw_on_says_so_in_one_line(tmp_path):
    log = native_log(tmp_path / "calls.jsonl", 1)
    (tmp_path / "empty.toml").write_text("")
    result = subprocess.run([sys.executable, "-m", "apimon_tui", str(log)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60, start_new_session=True,  # no /dev/tty
                            env={**os.environ, "APIMON_CONFIG": str(tmp_path / "empty.toml")})
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["apimon-tui: the monitor needs a terminal on standard output; for a pipe "
                                          "or a file use `apimon-tui report --follow SOURCE`"]
    assert "\x1b" not in result.stdout + result.stderr
