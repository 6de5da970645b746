"""`apimon-tui check`: evaluate every alert rule once, for cron, CI and Nagios-style monitors.

The logs are read to the end; "now" is the newest call's own timestamp, so the
window rules look at the last part of the data whenever it was written. A
one-shot check cannot watch a condition hold, so it replays the rules over the
stretch of log before that point (the longest `for` of the enabled rules, in
at most `REPLAY_STEPS` steps) exactly as the monitor would have evaluated them
live: `for`, `clear` and `hold` mean the same here as on screen. Budget and
usage figures are one reading, taken as holding over that stretch.

Exit codes: 0 no alert fires, 1 only warnings or info, 2 any critical,
3 could not check (bad config, unreadable input, or any internal error, such
as a source whose reader failed: never 1, which would read as a warning).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time

from apimon_tui.core import config as config_mod
from apimon_tui.alerts import AlertManager, rules_from_config
from apimon_tui.costs.budget import Budget, BudgetConfig
from apimon_tui.commands.report import check_path
from apimon_tui.ingest.engine import SourceStatus, failure_reason
from apimon_tui.formats import FORMAT_MODULES
from apimon_tui.ingest.parallel import read_files
from apimon_tui.ingest.summary import strict_json
from apimon_tui.core.terminal_text import one_line
from apimon_tui.core.timeutil import parse_time_range
from apimon_tui.costs.usage.poller import Poller
from apimon_tui.costs.usage.settings import provider_settings

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3
REPLAY_STEPS = 120


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="evaluate the alert rules once over logs (exit 0 ok, 1 warning, "
                                     "2 critical, 3 could not check)")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log files, globs, '-', 'cmd:...' or 'otlp://HOST:PORT?for=5m' "
                        "(default: [sources] paths of the config)")
    p.add_argument("--config", help="config file (default: $APIMON_CONFIG or ~/.config/apimon-tui/config.toml)")
    p.add_argument("--since", help="only calls from this time on: a span back from now (1h) or ISO 8601")
    p.add_argument("--until", help="only calls before this time: a span back from now (10m) or ISO 8601")
    p.add_argument("--format", default="auto", choices=["auto", *FORMAT_MODULES], help="force a format")
    p.add_argument("--json", action="store_true", help="print the firing alerts as a JSON list")
    p.set_defaults(func=run)


class CannotCheck(Exception):
    """Why the rules could not be evaluated, in one sentence."""


def run(args: argparse.Namespace) -> int:
    try:
        alerts = evaluate(args)
    except (CannotCheck, config_mod.ConfigError) as exc:
        print(f"apimon-tui check: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_UNKNOWN
    except Exception as exc:
        print(f"apimon-tui check: internal error, could not check: {failure_reason(exc)}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.json:
        print(strict_json([a.to_dict() for a in alerts]))
    else:
        for alert in alerts:
            print(one_line(alert.message))
    if any(a.severity == "critical" for a in alerts):
        return EXIT_CRITICAL
    return EXIT_WARNING if alerts else EXIT_OK


def evaluate(args: argparse.Namespace) -> list:
    """The alerts active after replaying the rules up to the newest call."""
    config = config_mod.load(args.config)
    rules = rules_from_config(config)
    budget_config = BudgetConfig.from_config(config)
    try:
        since, until = parse_time_range(args.since, args.until, time.time())
    except ValueError as exc:
        raise CannotCheck(str(exc)) from None
    paths = args.paths or list(config["sources"]["paths"])
    polls = bool(provider_settings(config))
    if not paths and not polls:
        raise CannotCheck("nothing to check: name log files, set [sources] paths or enable a provider")
    problems = [p for p in map(check_path, paths) if p]
    if problems:
        raise CannotCheck("; ".join(problems))
    try:
        store, statuses, unpriced = read_files(paths, args.format, since, until, config, os.cpu_count() or 1)
    except ValueError as exc:  # a source the engine cannot open (an otlp:// address), worded for the user
        raise CannotCheck(str(exc)) from None
    _check_sources(statuses)
    now = store.newest if store.newest > -math.inf else time.time()
    poller = _poll(config) if polls else None  # refuses a config others can read that holds a key
    config_mod.print_warnings(config, "apimon-tui check")
    usages = poller.usages() if poller else {}
    budget = Budget(budget_config, clock=lambda: now, live_cost=store.cost_between,
                    logs_since=store.logs_since).state(usages)
    manager = AlertManager(rules, clock=lambda: now)
    lookback = max((r.for_s for r in rules if r.enabled), default=0.0)
    manager.replay(store, now - lookback, now, max(1.0, lookback / REPLAY_STEPS), budget=budget,
                   usage=poller.states if poller else None, unpriced=unpriced)
    return manager.active()


def _check_sources(statuses: list[SourceStatus]) -> None:
    for status in statuses:
        if status.error:
            raise CannotCheck(f"{status.label}: {status.error}")
        if status.counts.failures:
            raise CannotCheck(f"{status.label}: reader failed ({status.counts.failure}); "
                              f"the lines that raised were skipped")
        if status.counts.lines and not status.counts.calls and status.format is None:
            raise CannotCheck(f"{status.label}: no API calls recognised in {status.counts.lines:,} lines "
                              f"(name the format with --format)")


def _poll(config: dict) -> Poller:
    poller = Poller.from_config(config)

    async def once() -> None:
        try:
            await poller.poll_all()
        finally:
            await poller.aclose()

    asyncio.run(once())
    return poller


