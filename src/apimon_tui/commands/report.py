"""`apimon-tui report`: read logs to the end (or follow them) and summarise.

The same engine and store as the live monitor, so the figures agree with the
screen. `--json` prints the object documented in `apimon_tui.ingest.summary`;
`--follow` prints one such object per interval until interrupted: Ctrl-C,
SIGTERM or SIGHUP stop the sources (ending `cmd:` processes) and print a last
summary.

A source whose reader failed (and was restarted: see `engine.SourceReader`)
is named on stderr in one line, and the run exits 3 once it ends, as it
does on any other internal error; the figures that were read still print.
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import sys
import time

from apimon_tui.core import config as config_mod
from apimon_tui.ingest.engine import Engine, failure_reason
from apimon_tui.formats import FORMAT_MODULES
from apimon_tui.ingest.parallel import read_files
from apimon_tui.costs.pricing import parse_overrides
from apimon_tui.ingest.summary import strict_json, summarize
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.core.terminal_text import lines as plain_lines
from apimon_tui.core.timeutil import parse_time_range

EXIT_INTERNAL = 3  # as `check`: an internal error, the figures (if printed) may miss what it hit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="summarise log files (or follow them with --follow)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, globs, '-', 'cmd:...', otlp://HOST:PORT (with ?for=5m unless --follow) "
                        "or prom://HOST:PORT (a Prometheus server's figures over --since)")
    p.add_argument("--format", default="auto", choices=["auto", *FORMAT_MODULES], help="force a format")
    p.add_argument("--since", help="only calls from this time on: a span back from now (1h) or ISO 8601")
    p.add_argument("--until", help="only calls before this time: a span back from now (10m) or ISO 8601")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--follow", action="store_true", help="keep following and print a summary every interval")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between --follow summaries")
    p.add_argument("--config", help="config file (for pricing overrides and the jsonl mapping)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="processes for large files of one-line formats (default: one per core)")
    p.set_defaults(func=run)


def check_path(path: str) -> str | None:
    """A one-line reason a path cannot be reported on, or None when it can."""
    if path == "-" or path.startswith(("cmd:", "otlp://", "prom://", "proms://")):
        return None
    if glob.has_magic(path):
        return None if glob.glob(os.path.expanduser(path)) else f"{path}: no file matches this pattern"
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        return f"{path}: no such file"
    if os.path.isdir(path):
        return f"{path}: is a directory"
    if not os.access(path, os.R_OK):
        return f"{path}: permission denied"
    if os.path.getsize(path) == 0:
        return f"{path}: file is empty"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        config = config_mod.load(args.config)
        parse_overrides(config.get("pricing"))  # refused here in one sentence, not in a reader process
        since, until = parse_time_range(args.since, args.until, time.time())
    except (config_mod.ConfigError, ValueError) as exc:
        print(f"apimon-tui report: {one_line(str(exc))}", file=sys.stderr)
        return 2
    config_mod.print_warnings(config, "apimon-tui report")
    if not args.follow:
        problems = [p for p in map(check_path, args.paths) if p]
        if problems:
            for problem in problems:
                print(f"apimon-tui report: {one_line(problem)}", file=sys.stderr)
            return 2
    try:  # a source the engine cannot open (an otlp:// address) raises ValueError worded for the user
        if args.follow:
            for signum in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, _interrupt)
            engine = Engine(args.paths, fmt=args.format, from_start=True, follow=True, since=since, until=until,
                            config=config)
        else:
            summary = read_summary(args.paths, args.format, config, args.jobs, since=since, until=until)
    except ValueError as exc:
        print(f"apimon-tui report: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: said in one line, and told apart from a usage error
        print(f"apimon-tui report: internal error, nothing to report: {failure_reason(exc)}", file=sys.stderr)
        return EXIT_INTERNAL
    if args.follow:
        try:
            return _follow(engine, args)
        except Exception as exc:
            print(f"apimon-tui report: internal error, stopped following: {failure_reason(exc)}", file=sys.stderr)
            return EXIT_INTERNAL
    print(strict_json(summary) if args.json else plain_lines(render_table(summary)))
    return EXIT_INTERNAL if tell_failures(summary, {}) else _source_errors(summary)


def _source_errors(summary: dict) -> int:
    """Say on stderr what each failing source said; 1 when one of them gave nothing
    (its figures are unknown, not 0)."""
    silent = False
    for src in summary["sources"]:
        if src["error"]:
            print(f"apimon-tui report: {identifier(src['source'])}: {one_line(src['error'])}", file=sys.stderr)
            silent = silent or not src["lines"]
    return 1 if silent else 0


def read_summary(
    paths: list[str], fmt: str, config: dict, jobs: int, *, since: float | None = None, until: float | None = None,
) -> dict:
    """Read `paths` to the end (`parallel.read_files`) and summarise the calls in [since, until)."""
    store, statuses, unpriced = read_files(paths, fmt, since, until, config, jobs)
    return summarize(store.snapshot(), statuses, unpriced)


def tell_failures(summary: dict, told: dict[str, int]) -> bool:
    """One line on stderr for each source whose reader failed since `told` (updated); True if any ever did."""
    failed = False
    for source in summary["sources"]:
        failures = source["reader_failures"]
        if not failures:
            continue
        failed = True
        if failures > told.get(source["source"], 0):
            told[source["source"]] = failures
            times = "once" if failures == 1 else f"{failures} times"
            print(f"apimon-tui report: {identifier(source['source'])}: reader failed {times} "
                  f"(last: {one_line(source['reader_failure'] or '')}); restarted where it stopped, "
                  f"lines that raised counted as unparsed", file=sys.stderr, flush=True)
    return failed


def _interrupt(signum: int, frame) -> None:
    """SIGTERM and SIGHUP end `--follow` as Ctrl-C does."""
    raise KeyboardInterrupt


def _summary(engine: Engine) -> dict:
    return summarize(engine.store.snapshot(), engine.statuses(), engine.pricer.unpriced)


def _follow(engine: Engine, args: argparse.Namespace) -> int:
    emit = strict_json if args.json else (lambda s: plain_lines(render_table(s)))
    told: dict[str, int] = {}
    engine.start()
    try:
        while True:
            time.sleep(args.interval)
            summary = _summary(engine)
            print(emit(summary), flush=True)
            tell_failures(summary, told)
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    summary = _summary(engine)
    print(emit(summary), flush=True)
    return EXIT_INTERNAL if tell_failures(summary, told) else 0


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.0f} ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def _model_cost(m: dict) -> str:
    """`?` when no call of the model has a known cost, `≥ $x` when some have none."""
    if m["cost_usd"] is None:
        return "?"
    return f"≥ {_usd(m['cost_usd'])}" if m["uncosted_calls"] else _usd(m["cost_usd"])


def render_table(s: dict) -> str:
    lat = s["latency_ms"]
    lines = [
        f"calls {s['calls']:,}   errors {s['errors']:,} ({_pct(s['error_rate'])})   "
        f"lines {s['lines']:,}   skipped {s['skipped']:,}   unparsed {s['unparsed']:,}",
        f"latency  p50 {_ms(lat['p50'])}   p90 {_ms(lat['p90'])}   p95 {_ms(lat['p95'])}   "
        f"p99 {_ms(lat['p99'])}   max {_ms(lat['max'])}",
        f"tokens   in {s['input_tokens']:,}   out {s['output_tokens']:,}   cost {_usd(s['cost_usd'])}"
        + (f" (+{s['uncosted_calls']:,} calls of unknown cost: no tokens in the log)" if s["uncosted_calls"] else ""),
        "status   " + "   ".join(f"{identifier(str(k))} {v:,}" for k, v in s["status"].items()),
    ]
    if s["models"]:
        names = {name: identifier(name) for name in s["models"]}
        width = max(len("model"), *(len(shown) for shown in names.values()))
        lines.append("")
        lines.append(f"{'model':<{width}}  {'calls':>8}  {'errors':>7}  {'p95':>9}  {'in tok':>10}  {'out tok':>10}  {'cost':>11}")
        for name, m in s["models"].items():
            lines.append(
                f"{names[name]:<{width}}  {m['calls']:>8,}  {m['errors']:>7,}  {_ms(m['p95_ms']):>9}  "
                f"{m['input_tokens']:>10,}  {m['output_tokens']:>10,}  {_model_cost(m):>11}"
            )
    if s["unpriced_models"]:
        lines.append(f"\nunpriced models (no known price): {', '.join(map(identifier, s['unpriced_models']))}")
    for src in s["sources"]:
        if src["error"]:
            lines.append(f"\n{identifier(src['source'])}: {one_line(src['error'])}")
        if src["unparsed_samples"]:
            lines.append(f"\n{identifier(src['source'])}: {src['unparsed']} unparsed lines, first ones:")
            lines.extend(f"  {one_line(u['reason'])}: {one_line(u['text'][:100])}" for u in src["unparsed_samples"])
        if src["bad_values"]:
            lines.append(f"\n{identifier(src['source'])}: {src['bad_values']:,} bad values (unknown in their calls), "
                         "first ones:")
            lines.extend(f"  {one_line(b['field'])}: {one_line(b['value'][:100])}" for b in src["bad_value_samples"])
    return "\n".join(lines)
