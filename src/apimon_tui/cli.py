"""The `apimon-tui` command: the live monitor by default, sub-commands beside it.

Each sub-command lives in `apimon_tui.commands.<name>` with `register(subparsers)`
and is imported only when named, so `report` never pays for textual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from apimon_tui.commands import COMMANDS, MODULES


def _load(name: str):
    return importlib.import_module(f"apimon_tui.commands.{MODULES.get(name, name.replace('-', '_'))}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apimon-tui",
        description="Live terminal monitor for LLM API traffic, latency, errors and spend.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            _load(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMANDS:
        args = build_parser(only=first).parse_args(argv)
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:  # `| head` closed the pipe: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
    if argv and argv[0] in ("-h", "--help") or "monitor" not in COMMANDS:
        build_parser().parse_args(argv or ["--help"])
        return 0
    return int(_load("monitor").main(argv) or 0)
