"""The README's screenshots: the demo's incident at 80x24, 120x40 and 200x60, as SVG.

    PYTHONPATH=src python docs/screenshots.py        # writes docs/screen-<cols>x<rows>.svg

Run it again after changing the screen, so the pictures stay true. It uses
the real parts with a fixed clock: the demo's simulator writes its log
(seeded, the story 85 s in, while Anthropic is overloaded and gpt-4.1 fails),
the monitor reads it with the demo's alert settings, and Textual's headless
driver saves each screen.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from apimon_tui.core import config as config_mod
from apimon_tui.commands import demo
from apimon_tui.ingest.engine import Engine
from apimon_tui.fakes.simulator import Simulator
from apimon_tui.formats.native import to_record

START = 1764201600.0           # 2025-11-27 00:00 UTC, the story's start
STORY_AT = 85.0                # seconds into the story: the server-errors phase
SIZES = ((80, 24), (120, 40), (200, 60))
BUDGET_SPENT = 0.85            # the budget is set so that this share of it is spent
HERE = Path(__file__).resolve().parent


def write_demo(folder: Path, now: float) -> tuple[Path, Path]:
    """The demo's log up to `now` and a config with the demo's alerts; returns (log, config)."""
    sim = Simulator(seed=demo.SEED, backfill_s=demo.BACKFILL_S, start=START, clock=lambda: START)
    calls = sim.calls_until(now)
    log = folder / "demo.jsonl"
    log.write_text("".join(json.dumps(to_record(c)) + "\n" for c in calls), encoding="utf-8")
    spent = sum(c.cost_usd or 0.0 for c in calls)
    settings = demo.demo_config(log, "http://127.0.0.1:1", math.ceil(spent / BUDGET_SPENT), 1.0)
    del settings["providers"]  # no usage API here: the screen shows what the logs say
    settings["sources"]["paths"] = [log.name]
    settings["ui"] = {"theme": "apimon-dark"}
    config = folder / "config.toml"
    config.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return log, config


async def save(app, size: tuple[int, int], path: Path) -> None:
    from apimon_tui.tui.widgets.requests import RequestsPanel

    async with app.run_test(size=size) as pilot:
        panel = app.query_one(RequestsPanel)
        for _ in range(200):  # plotext loads in a thread
            if panel.chart_ready:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        app.save_screenshot(path.name, str(path.parent))


def monitor(folder: Path, now: float):
    from apimon_tui.tui.app import MonitorApp

    log, config_path = write_demo(folder, now)
    config = config_mod.load(config_path)
    clock = lambda: now  # noqa: E731
    engine = Engine([log.name], from_start=True, follow=False, config=config, clock=clock)
    engine.read_to_end()
    app = MonitorApp(engine, config, clock=clock, start_engine=False, config_path=config_path)
    app.alerts.replay(engine.store, now - 60, now - 1, 1.0, unpriced=engine.pricer.unpriced)  # as if watched
    return app


def main(out: Path = HERE) -> list[Path]:
    os.environ["TZ"] = "UTC"
    time.tzset()
    now = START + STORY_AT
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cwd = Path.cwd()
        os.chdir(folder)  # the status line names the log as given: `demo.jsonl`
        try:
            for cols, rows in SIZES:
                path = out / f"screen-{cols}x{rows}.svg"
                asyncio.run(save(monitor(folder, now), (cols, rows), path))
                written.append(path)
        finally:
            os.chdir(cwd)
    return written


if __name__ == "__main__":
    for written_path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(written_path)
