"""The monitor refuses, in one line and before any screen opens, what it cannot follow; Ctrl-C quits it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from tui_support import make_app

SCRIPT = shutil.which("apimon-tui")
COMMAND = [SCRIPT] if SCRIPT else [sys.executable, "-m", "apimon_tui"]


def monitor(*args: str, cwd) -> subprocess.CompletedProcess:
    """The console script with stdout on a pipe, as a user's typo or a cron job would run it."""
    config = cwd / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    env = {**os.environ, "APIMON_CONFIG": str(config)}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


@pytest.mark.parametrize("name, args, message", [
    ("missing file", ["{tmp}/nope.log"], "nope.log: no such file (--wait waits for it"),
    ("directory", ["{tmp}"], "is a directory; name the logs in it"),
    ("mistyped command", ["reprot", "{tmp}/calls.jsonl"], "did you mean `apimon-tui report`?"),
    ("no terminal", ["{tmp}/calls.jsonl"], "needs a terminal on standard output; for a pipe or a file use "
                                          "`apimon-tui report --follow SOURCE`"),
    ("no terminal, waiting", ["--wait", "{tmp}/later.log"], "needs a terminal on standard output"),
])
def test_a_source_it_cannot_follow_is_one_line_and_exit_2(tmp_path, name, args, message):
    (tmp_path / "calls.jsonl").write_text("", encoding="utf-8")
    proc = monitor(*(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert proc.returncode == 2, (name, proc.stderr)
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == "" and "\x1b" not in proc.stderr  # no screen was opened


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text("", encoding="utf-8")
    log.chmod(0)
    proc = monitor(str(log), cwd=tmp_path)
    assert proc.returncode == 2 and "permission denied" in proc.stderr


async def test_ctrl_c_quits_from_the_main_screen_and_from_a_dialog(tmp_path):
    for keys in (["ctrl+c"], ["slash", "ctrl+c"]):
        app = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            assert not app.is_running, keys
