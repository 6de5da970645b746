"""`apimon-tui [SOURCE...]`: the live monitor, the command run when no sub-command is named.

Checks everything a user can get wrong (config, format, durations, sources)
before the screen opens, so each problem is one line on the terminal rather
than a broken screen.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import os
import re
import sys
import time

from apimon_tui.core import config as config_mod
from apimon_tui.alerts import rules_from_config
from apimon_tui.costs.budget import BudgetConfig, logs_needed_since
from apimon_tui.commands import COMMANDS
from apimon_tui.formats import FORMAT_MODULES, UnknownFormat
from apimon_tui.core.terminal_text import one_line
from apimon_tui.core.timeutil import parse_duration

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
LONGEST_WINDOW_S = 24 * 3600.0  # the widest window of the screen (key 6)
HOW_TO_START = (
    "apimon-tui: nothing to follow: name a log, e.g. `apimon-tui /var/log/llm/calls.jsonl`, "
    "set [sources] paths in {path}, or try `apimon-tui demo`"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="log files, globs, '-' (stdin), 'cmd:...', otlp://HOST:PORT or prom://HOST:PORT")
    p.add_argument("--config", help="config file (default ~/.config/apimon-tui/config.toml or $APIMON_CONFIG)")
    p.add_argument("--format", choices=["auto", *FORMAT_MODULES], help="force a log format")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true", help="read existing files from their start")
    start.add_argument("--since", help="backfill this far back on start, e.g. 1h (default: 24h, and the "
                                       "month so far that no provider's bill covers)")
    p.add_argument("--refresh", type=float, metavar="SECONDS", help="seconds between screen updates (default 1)")
    p.add_argument("--wait", action="store_true", help="wait for files that do not exist yet, as tail -F does")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="the live monitor (also run when no command is given)")
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="apimon-tui",
        description="Live terminal monitor for LLM API traffic, latency, errors and spend. "
                    "Sub-commands: apimon-tui COMMAND --help.",
    )
    add_arguments(p)
    return run(p.parse_args(argv))


def _fail(message: str, code: int = 2) -> int:
    """One line on stderr, if stderr takes it (it may be closed, a closed pipe or the lost terminal)."""
    if sys.stderr is not None:  # None when it was closed at start
        try:
            print(f"apimon-tui: {one_line(message)}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
    return code


def run(args: argparse.Namespace) -> int:
    try:
        config = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        return _fail(str(exc))
    sources_cfg = config["sources"]
    specs = args.sources or list(sources_cfg["paths"])
    if not specs:
        print(HOW_TO_START.format(path=config.get("_path") or config_mod.default_path()), file=sys.stderr)
        return 1
    for spec in specs:
        problem = source_problem(spec, wait=args.wait)
        if problem:
            return _fail(problem)
    if not sys.stdout.isatty():
        return _fail("the monitor needs a terminal on standard output; for a pipe or a file use "
                     "`apimon-tui report --follow SOURCE`")
    since_text = args.since if args.since is not None else (None if args.from_start else sources_cfg["since"])
    try:
        since_s = parse_duration(since_text) if since_text else None
    except ValueError as exc:
        return _fail(f"--since: {exc}")
    from_start = args.from_start or sources_cfg["from_start"]
    refresh = args.refresh if args.refresh is not None else float(config["ui"]["refresh"])
    if not refresh > 0:
        return _fail("--refresh must be a number of seconds above 0, e.g. 1 or 0.5")
    try:
        budget_config = BudgetConfig.from_config(config)
        rules_from_config(config)
    except config_mod.ConfigError as exc:
        return _fail(str(exc))
    if "-" in specs:
        problem = _keys_from_tty()
        if problem:
            return _fail(problem)

    # Textual and the engine are imported only once the arguments are known good.
    from apimon_tui.ingest.engine import Engine

    try:
        poller = _poller(config)  # refuses a config others can read that holds a key
        since = None if from_start else backfill_since(since_s, budget_config, time.time(), billed=poller is not None)
        engine = Engine(specs, fmt=args.format or sources_cfg["format"], from_start=from_start,
                        since=since, config=config)
    except (UnknownFormat, ValueError, config_mod.ConfigError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror}")

    from apimon_tui.tui.app import MonitorApp
    from apimon_tui.tui.terminal import open_terminal

    config_mod.print_warnings(config)  # and once on screen
    terminal = open_terminal()
    if terminal is None:
        return _fail("the live monitor needs a terminal to draw on; for a pipe or a file use "
                     "`apimon-tui report --follow`")
    if "-" not in specs and not os.isatty(0) and not _tty_as_stdin():
        return _fail("the live monitor needs a terminal for its keys, and none is attached")
    # The ingest thread and the screen share the GIL: hand it over more often
    # than the default 5 ms so a key press is answered while logs pour in.
    sys.setswitchinterval(0.001)
    app = MonitorApp(engine, config, refresh_s=refresh, poller=poller, terminal=terminal)
    app.run()
    app.shutdown.settle()
    if app.shutdown.lost:
        _fail(f"the terminal stopped taking output ({app.shutdown.lost}); stopped", 1)
    return int(app.return_code or 0)


def source_problem(spec: str, *, wait: bool = False) -> str | None:
    """One line on why `spec` cannot be followed, or None: checked before the screen opens,
    so a typo is an error on the terminal rather than an empty screen."""
    if spec == "-" or _SCHEME.match(spec) or glob.has_magic(spec):
        return None  # stdin, `cmd:`, `otlp://`, `prom://`: not files
    path = os.path.expanduser(spec)
    if not os.path.exists(path):
        if wait:
            return None
        guess = difflib.get_close_matches(spec, COMMANDS, n=1) if os.sep not in spec else []
        if guess:
            return f"{spec}: no such file or command; did you mean `apimon-tui {guess[0]}`?"
        return f"{spec}: no such file (--wait waits for it to appear, as tail -F does)"
    if os.path.isdir(path):
        return f"{spec}: is a directory; name the logs in it, e.g. '{os.path.join(spec, '*.log')}'"
    if not os.access(path, os.R_OK):
        return f"{spec}: permission denied"
    return None


def backfill_since(since_s: float | None, budget: BudgetConfig, now: float, *, billed: bool) -> float:
    """Where the monitor starts reading existing logs: `--since` when given, else far enough
    back for the longest window (24 h) and for the month-to-date the bill does not cover.

    So a restart shows what the logs already hold, and the budget does not forget
    the calls logged before it (`budget.logs_needed_since`).
    """
    if since_s is not None:
        return now - since_s
    return min(now - LONGEST_WINDOW_S, logs_needed_since(budget, now, billed))


def _poller(config: dict):
    """The usage poller when providers are configured, else None.

    Checked before importing: the providers' modules bring httpx, whose
    import alone costs a quarter of a second of the first paint.
    """
    if not any(section.get("enabled") for section in config.get("providers", {}).values()):
        return None
    from apimon_tui.costs.usage.poller import Poller
    from apimon_tui.costs.usage.settings import provider_settings

    if not provider_settings(config):
        return None
    return Poller.from_config(config)


def _keys_from_tty() -> str | None:
    """With `-` as a source, stdin is the log: keep it for the engine and read keys from the terminal."""
    if sys.stdin.isatty():
        return "`-` reads a log from standard input: pipe one in, e.g. `tail -F app.log | apimon-tui -`"
    piped = os.dup(0)
    if not _tty_as_stdin():
        os.close(piped)
        return "`-` needs a terminal for the keys, and none is attached"
    sys.stdin = os.fdopen(piped, "r", encoding="utf-8", errors="replace")
    return None


def _tty_as_stdin() -> bool:
    """Put the terminal on fd 0, where Textual reads keys (a stdin at its end would spin its input thread)."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return False
    os.dup2(tty, 0)
    os.close(tty)
    return True
