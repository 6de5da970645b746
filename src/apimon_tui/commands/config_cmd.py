"""`apimon-tui config check`: report every problem in a config file, with its key and line.

Exit 0 when the file is clean, 1 when it has problems, 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from apimon_tui.core import config as config_mod
from apimon_tui.commands.config_check import validate
from apimon_tui.core.terminal_text import lines


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="work with the config file (config check)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a config file and list every problem with its line")
    check.add_argument("--config", help=f"config file (default: {config_mod.default_path()})")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    path = os.path.expanduser(args.config) if args.config else str(config_mod.default_path())
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
            mode = os.fstat(fh.fileno()).st_mode
    except FileNotFoundError:
        print(f"apimon-tui config check: {path} does not exist (create one with `apimon-tui init`)", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        print(f"apimon-tui config check: cannot read {path}: {reason}", file=sys.stderr)
        return 2
    problems = validate(text, mode=mode, folder=Path(path).parent)
    for problem in problems:
        print(lines(problem.render(path)))
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {path}", file=sys.stderr)
        return 1
    print(f"{path}: no problems")
    return 0
