"""Shared fixtures for the monitor's tests: a native log written to disk, a fixed clock, the app."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from apimon_tui.core import config as config_mod
from apimon_tui.ingest.engine import Engine
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, RateLimit

T0 = 1764201600.0  # 2025-11-27 00:00:00 UTC: "now" for every monitor test
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"

os.environ["TZ"] = "UTC"
time.tzset()


def sample_calls(n: int = 400, span_s: float = 290.0) -> list[Call]:
    """Calls over the last `span_s` seconds before T0: mostly successes, three kinds of failure."""
    rng = random.Random(7)
    calls = []
    for i in range(n):
        ts = T0 - span_s + span_s * i / n
        model = "gpt-4o" if i % 3 else "claude-sonnet-4"
        call = Call(
            ts=round(ts, 3), provider="openai" if model == "gpt-4o" else "anthropic",
            endpoint="/v1/chat/completions", method="POST", model=model, status=200,
            latency_ms=round(200 + rng.random() * 800, 1), ttft_ms=round(80 + rng.random() * 100, 1),
            input_tokens=100 + i % 50, output_tokens=20 + i % 30, cost_usd=0.001,
            request_id=f"req_{i:05d}",
            ratelimit=RateLimit(limit_requests=5000, remaining_requests=4000 - i,
                                limit_tokens=800000, remaining_tokens=700000 - i * 100),
        )
        if i % 17 == 5:
            call.status, call.error_type, call.error_code = 429, "tokens", "rate_limit_exceeded"
            call.error_message = f"Rate limit reached for {model} [b]not markup[/b] key {SECRET}"
            call.output_tokens, call.cost_usd = 0, 0.0
        elif i % 41 == 7:
            call.status, call.error_type, call.error_code = 500, "server_error", "internal"
            call.error_message = "The server had an error while processing your request."
        calls.append(call)
    return calls


def write_log(path: Path, calls: list[Call]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for call in calls:
            out.write(json.dumps(to_record(call)) + "\n")
    return path


def write_config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text or '[budget]\nmonthly_usd = 1.0\n\n[ui]\ntheme = "apimon-dark"\n', encoding="utf-8")
    return path


def make_app(tmp_path: Path, calls: list[Call] | None = None, config_text: str = "", *,
             spec: str | None = None, **kwargs):
    """The monitor on a native log in `tmp_path`, read to its end, at the fixed time T0.

    `spec` names the log as the status line shows it (default: its full path).
    """
    from apimon_tui.tui.app import MonitorApp

    log = write_log(tmp_path / "calls.jsonl", sample_calls() if calls is None else calls)
    config_path = write_config(tmp_path, config_text)
    config = config_mod.load(config_path)
    clock = lambda: T0  # noqa: E731
    engine = Engine([spec or str(log)], from_start=True, follow=False, config=config, clock=clock)
    engine.read_to_end()
    return MonitorApp(engine, config, clock=clock, start_engine=False, config_path=config_path, **kwargs)


def screen_text(app) -> str:
    """The screen as plain text, the way a user reads it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def pause_until(pilot, ready, tries: int = 50) -> None:
    """Pause until `ready()` holds: on a loaded machine a recompose after a resize can take more than
    one refresh. Gives up quietly after `tries`; the test's own assertions then say what is wrong."""
    for _ in range(tries):
        if ready():
            return
        await pilot.pause(0.05)


def footer_drawn(app) -> bool:
    """The footer's last key (the command palette's) is on the bottom line: the footer is laid out."""
    return screen_text(app).splitlines()[-1].rstrip().endswith("^p Commands")
