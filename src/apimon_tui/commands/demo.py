"""`apimon-tui demo`: the live monitor on simulated traffic, with no network and no keys.

It runs the real parts end to end: the traffic simulator writes native records
into a temporary log (a thread), the fake provider server answers the usage and
cost APIs on a free loopback port, and the ordinary monitor follows the log and
polls the fake over HTTP, configured by a temporary config file. The demo
budget is set from the fake's bill and the story's own cost, so spend crosses
80 % during the story's spend phase; the demo's alert windows are short so each
alert fires and resolves within the two-minute story.

`--write PATH` only writes the simulated log, for feeding other tools and tests.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import tomli_w

from apimon_tui.costs.budget import DAY, month_bounds
from apimon_tui.fakes.provider_server import FakeProviderServer
from apimon_tui.fakes.simulator import STORY, LogWriter, Simulator, story_costs
from apimon_tui.core.timeutil import parse_duration

SEED = 2024
BACKFILL_S = 300.0          # story seconds of history written before the monitor starts
BUDGET_SHARE_BEFORE = 0.76  # the share of the budget spent when the spend phase starts
SURGE_SHARE = 0.12          # what the runaway loop adds, as a share of the budget
KEY_ENV = "APIMON_DEMO_OPENAI_ADMIN_KEY"
# Alert options for the demo, in story seconds (divided by --speed): short windows and holds so that
# each alert fires and resolves within one telling of the story.
DEMO_ALERTS = {
    "error_rate": {"window": 30, "for": 5, "hold": 10, "cooldown": 30},
    "server_errors": {"window": 30, "hold": 10, "cooldown": 30},
    "rate_limited": {"window": 30, "hold": 10, "cooldown": 30},
    "latency": {"window": 30, "for": 5, "hold": 10, "cooldown": 30, "warning": 10000.0},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the live monitor on simulated traffic (no network, no keys)")
    p.add_argument("--speed", type=float, default=1.0, metavar="N",
                   help="tell the two-minute story N times faster (default 1)")
    p.add_argument("--write", metavar="PATH", help="only write the simulated log to PATH (no screen)")
    p.add_argument("--duration", metavar="D", help="with --write: stop after D (e.g. 30s, 5m); default: Ctrl-C")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"apimon-tui demo: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if not (args.speed > 0 and math.isfinite(args.speed)):
        return _fail("--speed must be a number above 0, e.g. 1 or 10")
    if args.duration is not None and not args.write:
        return _fail("--duration only applies with --write PATH")
    if args.write:
        try:
            duration = parse_duration(args.duration) if args.duration is not None else None
        except ValueError as exc:
            return _fail(f"--duration: {exc}")
        return write_only(Path(args.write).expanduser(), args.speed, duration)
    return live(args.speed)


def write_only(path: Path, speed: float, duration: float | None) -> int:
    """Append the simulated story to `path` until `duration` or Ctrl-C."""
    try:
        writer = LogWriter(path)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    until = f"for {duration:g}s" if duration is not None else "until Ctrl-C"
    print(f"apimon-tui demo: writing simulated calls to {path} {until}", file=sys.stderr, flush=True)
    with writer:
        try:
            Simulator(speed=speed).run(writer, duration=duration)
        except KeyboardInterrupt:
            pass
    print(f"apimon-tui demo: wrote {writer.written} calls to {path}", file=sys.stderr)
    return 0


def demo_budget(billed_usd: float, costs: dict[str, float]) -> tuple[float, float]:
    """(monthly budget, spend-phase surge) so spend is ~76 % when the spend phase starts and passes 80 % in it."""
    before = billed_usd
    for phase in STORY:
        if phase.name == "spend":
            break
        before += costs[phase.name]
    budget = before / BUDGET_SHARE_BEFORE
    budget = math.ceil(budget) if budget < 100 else math.ceil(budget / 5) * 5
    return float(budget), round(budget * SURGE_SHARE, 2)


def billed_before_today(fake: FakeProviderServer, now: float) -> float:
    """What the fake has billed for OpenAI this month over complete days (what the budget anchors on)."""
    month_start, _ = month_bounds(now, 1)
    return fake.total("openai", month_start, max(month_start, now // DAY * DAY))


def demo_config(log: Path, base_url: str, budget_usd: float, speed: float) -> dict:
    alerts = {kind: {k: (f"{v / speed:g}s" if k in ("window", "for", "hold", "cooldown") else v)
                     for k, v in options.items()}
              for kind, options in DEMO_ALERTS.items()}
    return {
        "sources": {"paths": [str(log)], "format": "native", "from_start": True},
        "budget": {"monthly_usd": budget_usd},
        "providers": {"openai": {"enabled": True, "base_url": base_url, "admin_key_env": KEY_ENV,
                                 "interval": "1m", "timeout": "5s"}},
        "alerts": alerts,
    }


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def live(speed: float) -> int:
    """Simulator, fake provider server and the real monitor, all in this process, cleaned up on exit."""
    from apimon_tui.commands import monitor

    tmp = Path(tempfile.mkdtemp(prefix="apimon-demo-"))
    stop = threading.Event()
    traffic: threading.Thread | None = None
    writer: LogWriter | None = None
    try:
        with FakeProviderServer() as fake:
            now = time.time()
            costs = story_costs(seed=SEED, speed=speed, backfill_s=BACKFILL_S)
            budget_usd, surge_usd = demo_budget(billed_before_today(fake, now), costs)
            sim = Simulator(speed=speed, seed=SEED, surge_usd=surge_usd, backfill_s=BACKFILL_S)
            log = tmp / "calls.jsonl"
            writer = LogWriter(log)
            writer(sim.calls_until(time.time()))
            traffic = threading.Thread(target=sim.run, args=(writer,), kwargs={"stop": stop},
                                       name="apimon-demo-traffic", daemon=True)
            traffic.start()
            config_path = tmp / "config.toml"
            write_private(config_path, "# apimon-tui demo: a temporary config, removed on exit\n"
                          + tomli_w.dumps(demo_config(log, fake.url_for("openai"), budget_usd, speed)))
            os.environ[KEY_ENV] = fake.keys["openai"]
            return monitor.main(["--config", str(config_path)])
    finally:
        stop.set()
        if traffic is not None:
            traffic.join(timeout=5)
        if writer is not None:
            writer.close()
        os.environ.pop(KEY_ENV, None)
        shutil.rmtree(tmp, ignore_errors=True)
