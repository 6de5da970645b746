"""The real `apimon-tui` console script in tmux, following a log another process appends to.

The screen is read with `tmux capture-pane`, the way a user would see it. tmux
comes from the distribution's packages (CI installs it); without it the test
is skipped with that reason.
"""

from __future__ import annotations

import os
import re
import signal
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
SCRIPT = shutil.which("apimon-tui")

WRITER = textwrap.dedent('''
    import json, sys, time
    path, count = sys.argv[1], int(sys.argv[2])
    with open(path, "a", encoding="utf-8") as out:
        for i in range(count):
            record = {"apimon": 1, "ts": time.time(), "model": "gpt-4o", "status": 200,
                      "latency_ms": 300.0 + i % 50, "input_tokens": 10, "output_tokens": 5,
                      "cost_usd": 0.001, "request_id": f"req_ok_{i}"}
            if i % 10 == 3:
                record.update(status=429, request_id=f"req_fail_{i}",
                              error={"type": "requests", "code": "rate_limit_exceeded",
                                     "message": "Rate limit reached [red]plain[/red]"})
            out.write(json.dumps(record) + "\\n")
            out.flush()
            time.sleep(0.02)
''')


def _tmux(session: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """tmux on a socket of this test's own, so no running server's environment leaks in."""
    return subprocess.run([TMUX, "-L", session, *args], **kwargs)


def _new_session(command: str, config: Path, size: tuple[int, int] = (120, 40), tmux_conf: str = "/dev/null",
                 **env_extra: str) -> str:
    """A tmux server of this test's own running `command`: TERM=xterm-256color, no COLORTERM,
    `config` as the apimon-tui config. Returns the session's name."""
    session = f"apimon-e2e-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TMUX")}
    env.update(TERM="xterm-256color", APIMON_CONFIG=str(config), **env_extra)
    _tmux(session, "-f", tmux_conf, "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
          command, check=True, env=env)
    return session


def _capture(session: str) -> str:
    return _tmux(session, "capture-pane", "-p", "-t", session, capture_output=True, text=True).stdout


def _wait_for(session: str, predicate, what: str, limit_s: float = 30.0) -> str:
    deadline = time.monotonic() + limit_s
    screen = ""
    while time.monotonic() < deadline:
        screen = _capture(session)
        if predicate(screen):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}; the screen was:\n{screen}")


def _keys(session: str, *keys: str) -> None:
    _tmux(session, "send-keys", "-t", session, *keys, check=True)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_monitor_follows_a_growing_log_and_opens_a_failed_call(tmp_path: Path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    session = _new_session(f"{SCRIPT} {log}; echo apimon-exit=$?; sleep 60", config)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), "1500"])
    try:
        _wait_for(session, lambda s: "Requests" in s and "Errors" in s, "the main screen")
        # The status line is drawn a refresh step before the feed: wait for both.
        screen = _wait_for(session, lambda s: "req_fail_" in s and "native" in s, "a failed call in the error feed")
        assert "native" in screen and "following" in screen
        assert "rate_limit_exceeded" in screen
        assert "calls" in screen and "req/s" in screen

        _keys(session, "e", "Enter")
        detail = _wait_for(session, lambda s: "raw log line" in s, "the detail screen")
        assert "Rate limit reached [red]plain[/red]" in detail  # shown as typed, not as markup
        _keys(session, "Escape")
        _wait_for(session, lambda s: "Requests" in s, "the main screen again")

        _keys(session, "q")
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
    finally:
        writer.kill()
        writer.wait()
        _tmux(session, "kill-server", capture_output=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_monitor_exits_cleanly_when_the_terminal_goes_away(tmp_path: Path):
    """SIGHUP ends the app through its own exit, which also stops a `cmd:` source's process."""
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    session = _new_session(f"exec {SCRIPT} 'cmd:tail -F {log}'", tmp_path / "empty.toml", (100, 30))
    try:
        _wait_for(session, lambda s: "Requests" in s, "the main screen")
        pid = int(_tmux(session, "list-panes", "-t", session, "-F", "#{pane_pid}",
                        capture_output=True, text=True, check=True).stdout.split()[0])
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
        assert children, "the cmd: source started no process"
        _tmux(session, "kill-server", check=True)  # the terminal goes away: SIGHUP
        deadline = time.monotonic() + 20
        while any(map(_alive, [pid, *children])) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), "apimon-tui still runs after SIGHUP: " + " ".join(
            f"{t.name}:{(t / 'wchan').read_text()}:{(t / 'stat').read_text().split(')')[1].split()[0]}"
            for t in Path(f"/proc/{pid}/task").iterdir())
        assert not any(map(_alive, children)), "the cmd: source's process outlived apimon-tui"
    finally:
        _tmux(session, "kill-server", capture_output=True)


# -- signals and a failing stderr: the terminal is left as it was, the process ends, nothing spins --------

CLOSED_PIPE = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 2); os.close(w); "
               "os.execv(sys.argv[1], sys.argv[1:])")


def _start_monitor(tmp_path: Path, command: str) -> tuple[str, int]:
    """`command` (which runs the monitor) in a tmux pane's shell, which says how it exited and stays;
    returns the session and the monitor's pid."""
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    shell = command.format(script=SCRIPT, log=log, python=sys.executable) + "; echo apimon-exit=$?; sleep 60"
    session = _new_session(shell, tmp_path / "empty.toml", (100, 30), XDG_STATE_HOME=str(tmp_path / "state"))
    _wait_for(session, lambda s: "Requests" in s, "the main screen")
    shell = int(_tmux(session, "display", "-p", "-t", session, "#{pane_pid}",
                      capture_output=True, text=True, check=True).stdout)
    (pid,) = [int(c) for task in Path(f"/proc/{shell}/task").iterdir() for c in (task / "children").read_text().split()]
    return session, pid


def _terminal_modes(session: str) -> str:
    """Alternate screen, cursor shown, mouse tracking: each 1 (on) or 0 (off)."""
    return _tmux(session, "display", "-p", "-t", session, "#{alternate_on} #{cursor_flag} #{mouse_any_flag}",
                 capture_output=True, text=True, check=True).stdout.strip()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _exit_status(session: str, pid: int, limit_s: float = 10.0) -> int:
    deadline = time.monotonic() + limit_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f"apimon-tui still runs {limit_s:g} s after the signal"
    screen = _wait_for(session, lambda s: re.search(r"apimon-exit=\d+\s", s), "the exit status")
    return int(re.search(r"apimon-exit=(\d+)\s", screen).group(1))


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_restores_the_terminal_and_ends_the_monitor(tmp_path: Path, signum):
    session, pid = _start_monitor(tmp_path, "{script} {log}")
    try:
        assert _terminal_modes(session) == "1 0 1"  # alternate screen, cursor hidden, mouse tracked
        os.kill(pid, signum)
        assert _exit_status(session, pid) == 128 + signum
        assert _terminal_modes(session) == "0 1 0"
    finally:
        _tmux(session, "kill-server", capture_output=True)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
@pytest.mark.parametrize("command", ["{script} {log} 2>&-", f"{{python}} -c '{CLOSED_PIPE}' {{script}} {{log}}",
                                     "{script} {log} < /dev/null"],
                         ids=["stderr closed", "stderr a closed pipe", "stdin at its end"])
def test_with_a_failing_stderr_the_screen_is_drawn_nothing_spins_and_sigterm_ends_it(tmp_path: Path, command):
    """Drawn on stdout (or /dev/tty); keys read from the terminal. A thread spinning on a dead stream
    used 20-100% of a core here; idle, the monitor uses well under 1%."""
    session, pid = _start_monitor(tmp_path, command)  # drawn on stdout, the terminal
    try:
        assert "calls.jsonl" in _capture(session)
        time.sleep(4)  # past the start's own work (price table, help screen)
        cpu, start = _cpu_seconds(pid), time.monotonic()
        time.sleep(5)
        used, spent = _cpu_seconds(pid) - cpu, time.monotonic() - start
        assert used < 0.1 * spent, f"{used:.2f} s of CPU in {spent:.1f} s while idle"
        os.kill(pid, signal.SIGTERM)
        assert _exit_status(session, pid) == 128 + signal.SIGTERM
        assert _terminal_modes(session) == "0 1 0"
    finally:
        _tmux(session, "kill-server", capture_output=True)


def _blocked_on_the_terminal(pid: int) -> bool:
    """Is a thread of `pid` asleep in a write to a terminal that takes no more output?"""
    return any((task / "wchan").read_text() == "wait_woken" for task in Path(f"/proc/{pid}/task").iterdir())


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_sigterm_ends_the_monitor_even_when_its_terminal_takes_no_output(tmp_path: Path):
    """tmux stopped while calls pour in: the app's writes block, so its own exit cannot finish;
    after the grace period the terminal is restored around the stuck write and the process leaves."""
    session, pid = _start_monitor(tmp_path, "{script} {log}")
    server = int(_tmux(session, "display", "-p", "#{pid}", capture_output=True, text=True, check=True).stdout)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "calls.jsonl"), "3000"])
    try:
        time.sleep(1)
        os.kill(server, signal.SIGSTOP)
        deadline = time.monotonic() + 40
        while not _blocked_on_the_terminal(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _blocked_on_the_terminal(pid), "the monitor never filled the stopped terminal"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), "apimon-tui still runs 15 s after SIGTERM on a terminal that takes no output"
        os.kill(server, signal.SIGCONT)
        _wait_for(session, lambda s: "apimon-exit=143" in s, "the exit status")
        assert _terminal_modes(session) == "0 1 0"
    finally:
        writer.kill()
        writer.wait()
        os.kill(server, signal.SIGCONT)
        _tmux(session, "kill-server", capture_output=True)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
@pytest.mark.skipif(shutil.which("setsid") is None, reason="setsid (util-linux) is not installed")
def test_a_terminal_that_goes_away_without_a_hangup_ends_the_monitor_with_one_line(tmp_path: Path):
    """In a session of its own the monitor gets no SIGHUP when the terminal closes: its next write fails."""
    err = tmp_path / "stderr.txt"
    session, pid = _start_monitor(tmp_path, f"setsid {{script}} {{log}} 2>{err}")  # drawn on stdout
    try:
        _tmux(session, "kill-server", check=True)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), "apimon-tui still runs 15 s after its terminal went away"
        assert err.read_text().splitlines() == [
            "apimon-tui: the terminal stopped taking output (Input/output error); stopped"]
    finally:
        _tmux(session, "kill-server", capture_output=True)
