"""The real console script in an 80x24 tmux window: every panel's headline on the first screen,
a footer that fits, `z` zooms the error feed and back, and a resize to 200x60 lays it out again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_monitor_tmux import SCRIPT, TMUX, WRITER, _keys, _new_session, _tmux, _wait_for

pytestmark = pytest.mark.e2e

TITLES = ("Requests", "Latency", "Errors", "Budget", "Rate limits", "Models")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_at_80x24_every_panel_is_on_the_first_screen_and_z_zooms(tmp_path: Path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nmonthly_usd = 10.0\n", encoding="utf-8")
    session = _new_session(f"{SCRIPT} {log}; echo apimon-exit=$?; sleep 60", config, (80, 24))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), "300"])
    try:
        screen = _wait_for(session, lambda s: "rate_limit_exc" in s and "^p Commands" in s and all(f"─ {t}" in s for t in TITLES),
                           "every panel with a failed call at 80x24")
        footer = next(line for line in screen.splitlines() if "^p Commands" in line)
        assert footer.rstrip().endswith("^p Commands") and "q Quit" in footer and "z Zoom" in footer
        assert len(footer.rstrip()) <= 80
        assert "calls.jsonl" in screen.splitlines()[0] or "…" in screen.splitlines()[0]   # the source, cut to fit

        _keys(session, "z")
        rows = lambda s: sum(1 for line in s.splitlines() if " 429 " in line)  # noqa: E731
        zoomed = _wait_for(session, lambda s: "─ Errors" in s and rows(s) > 6, "the error feed zoomed, its rows")
        assert "─ Requests" not in zoomed and "─ Models" not in zoomed
        _keys(session, "z")
        _wait_for(session, lambda s: all(f"─ {t}" in s for t in TITLES), "every panel again")

        _tmux(session, "resize-window", "-t", session, "-x", "200", "-y", "60", check=True)
        wide = _wait_for(session, lambda s: "y Copy id" in s and "a Alerts" in s, "the whole footer at 200x60")
        assert all(f"─ {t}" in wide for t in TITLES)

        _keys(session, "q")
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
    finally:
        writer.kill()
        writer.wait()
        _tmux(session, "kill-server", capture_output=True)
