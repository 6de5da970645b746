"""docs/screenshots.py, run as a user runs it, writes the demo's incident at the three sizes as SVG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_screenshot_script_writes_the_demo_at_three_sizes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "screenshots.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    names = ["screen-80x24.svg", "screen-120x40.svg", "screen-200x60.svg"]
    assert out.stdout.split() == [str(tmp_path / n) for n in names]
    for name in names:
        svg = (tmp_path / name).read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "demo.jsonl" in svg
        assert "CRITICAL&#160;server_errors" in svg or "CRITICAL server_errors" in svg   # the incident
        assert "Rate&#160;limits" in svg or "Rate limits" in svg
