"""`apimon-tui init`: write a first config file from a few answers (or flags), then say how to start.

The file is written 0600 at the default path, never over an existing one
without `--force`, and never holds a key: each provider names the environment
variable its key lives in. Tables are rendered by tomli-w; the comments around
them are ours (tomli-w writes none), and the result is checked to parse and to
pass `config check` before it is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

import tomli_w

from apimon_tui.core import config as config_mod
from apimon_tui.commands.config_check import ENV_NAME, validate
from apimon_tui.core.redact import redact
from apimon_tui.costs.usage import PROVIDERS

DEFAULT_SOURCE = "~/.local/state/apimon/calls.jsonl"  # where the capture hook's examples write

HEADER = """\
# apimon-tui configuration, written by `apimon-tui init` on {today}.
# Check it after editing with `apimon-tui config check`.
# API keys never go in this file: each provider below names the environment
# variable (or a key_file) that holds its key.
"""
COMMENTS = {
    "sources": "# Logs to follow: paths, globs, \"-\" (standard input) or \"cmd:...\" (a command's output).\n"
               "# The format of each is detected from its first lines; set format to force one.",
    "budget": "# Monthly budget in USD for all providers together (0 means none).\n"
              "# The budget month starts on month_start_day (UTC).",
    "providers": "# Usage and cost APIs to poll, every `interval`, for the spend the providers bill.",
}
PROVIDER_COMMENTS = {
    "openai": "# OpenAI: needs an admin key (platform.openai.com > Settings > Admin keys).",
    "anthropic": "# Anthropic: needs an admin key (sk-ant-admin...; console > Settings > Admin keys).",
    "litellm": "# LiteLLM proxy: the master key (or a key allowed to read spend), and the proxy's address.",
    "openrouter": "# OpenRouter: any API key of the account.",
}


class InitError(Exception):
    """An answer or flag that cannot be used, worded for the user."""


@dataclass(slots=True)
class Answers:
    sources: list[str] = field(default_factory=list)
    providers: dict[str, str] = field(default_factory=dict)  # provider -> env var name holding its key
    litellm_url: str = ""
    budget: float = 0.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a first config file (asks a few questions, or takes flags)")
    p.add_argument("--source", action="append", metavar="PATH",
                   help="a log to follow (repeatable): path, glob, '-' or 'cmd:...'")
    p.add_argument("--provider", action="append", metavar="NAME[:ENV]",
                   help=f"a provider to poll (repeatable): {', '.join(PROVIDERS)}, optionally with the "
                        "environment variable holding its key, e.g. openai:OPENAI_ADMIN_KEY")
    p.add_argument("--litellm-url", metavar="URL", help="the LiteLLM proxy's address, e.g. http://localhost:4000")
    p.add_argument("--budget", type=float, metavar="USD", help="monthly budget in USD (0: none)")
    p.add_argument("--path", help=f"where to write (default: {config_mod.default_path()})")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--yes", "-y", action="store_true", help="ask nothing: flags, else defaults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser() if args.path else config_mod.default_path()
    if path.exists() and not args.force:
        return _fail(f"{path} already exists; edit it, or run `apimon-tui init --force` to replace it", 1)
    try:
        answers = from_flags(args)
        if not args.yes:
            answers = ask(answers, args, input_fn=_input)
        text = render(answers)
        write(path, text, force=args.force)
    except InitError as exc:
        return _fail(str(exc))
    except EOFError:
        print()
        return _fail("no answer on standard input; use --yes with flags to run without questions")
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    print(how_to_start(path, answers))
    return 0


def _fail(message: str, code: int = 2) -> int:
    print(f"apimon-tui init: {message}", file=sys.stderr)
    return code


def _input(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


# -- answers -----------------------------------------------------------------


def from_flags(args: argparse.Namespace) -> Answers:
    answers = Answers(sources=list(args.source or []))
    for spec in args.provider or []:
        text, _, env = spec.partition(":")
        name = provider_name(text)
        answers.providers[name] = env_name(env) or PROVIDERS[name].DEFAULT_KEY_ENV
    if args.litellm_url:
        answers.litellm_url = url(args.litellm_url)
    if args.budget is not None:
        answers.budget = budget(str(args.budget))
    if args.yes:
        answers.sources = answers.sources or [DEFAULT_SOURCE]
        if "litellm" in answers.providers and not answers.litellm_url:
            raise InitError("litellm needs the proxy's address: add --litellm-url http://HOST:PORT")
    return answers


def ask(answers: Answers, args: argparse.Namespace, input_fn: Callable[[str], str]) -> Answers:
    """Ask what the flags left open; a bad answer is explained and asked again."""
    if not args.source:
        reply = _ask(input_fn, f"Logs to follow, separated by commas [{DEFAULT_SOURCE}]: ", lambda s: s)
        answers.sources = [s.strip() for s in (reply or DEFAULT_SOURCE).split(",") if s.strip()]
    if not args.provider:
        reply = _ask(input_fn, f"Providers to poll for billed spend ({', '.join(PROVIDERS)}; "
                               "separated by commas, empty for none): ", providers)
        for name in reply or []:
            default = PROVIDERS[name].DEFAULT_KEY_ENV
            env = _ask(input_fn, f"  Environment variable holding the {name} key [{default}]: ", env_name)
            answers.providers[name] = env or default
    if "litellm" in answers.providers and not answers.litellm_url:
        answers.litellm_url = _ask(input_fn, "  LiteLLM proxy address (e.g. http://localhost:4000): ", url,
                                   required=True)
    if args.budget is None:
        answers.budget = _ask(input_fn, "Monthly budget in USD (0 for none) [0]: ", budget) or 0.0
    return answers


def _ask(input_fn: Callable[[str], str], prompt: str, parse: Callable[[str], Any], *, required: bool = False) -> Any:
    while True:
        reply = input_fn(prompt)
        if not reply and not required:
            return None
        try:
            return parse(reply)
        except InitError as exc:
            print(f"  {exc}", flush=True)


def provider_name(text: str) -> str:
    name = text.strip().lower()
    if name not in PROVIDERS:
        raise InitError(f"unknown provider {redact(text)!r}: choose from {', '.join(PROVIDERS)}")
    return name


def providers(text: str) -> list[str]:
    return list(dict.fromkeys(provider_name(p) for p in text.split(",") if p.strip()))


def env_name(text: str) -> str:
    text = text.strip()
    if redact(text) != text:
        raise InitError("that looks like a key itself: give the name of the environment variable that holds it "
                        "(the key is never written to the config file)")
    if text and not ENV_NAME.match(text):
        raise InitError(f"{text!r} is not an environment variable name (letters, digits and _, e.g. OPENAI_ADMIN_KEY)")
    return text


def url(text: str) -> str:
    text = text.strip()
    if not text.startswith(("http://", "https://")):
        raise InitError(f"{text!r} is not an address: start it with http:// or https://")
    return text.rstrip("/")


def budget(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$").replace(",", ""))
    except ValueError:
        raise InitError(f"{text!r} is not an amount of USD, e.g. 200") from None
    if value < 0 or value != value or value == float("inf"):
        raise InitError("the budget must be 0 (none) or a positive amount of USD")
    return value


# -- the file ------------------------------------------------------------------


def render(answers: Answers, today: date | None = None) -> str:
    """The commented config text; raises InitError if it would not pass `config check`."""
    parts = [HEADER.format(today=(today or date.today()).isoformat())]
    parts.append(_section("sources", {"paths": answers.sources, "format": "auto"}))
    parts.append(_section("budget", {"monthly_usd": answers.budget, "month_start_day": 1}))
    if answers.providers:
        parts.append(COMMENTS["providers"] + "\n")
        for name, env in answers.providers.items():
            module = PROVIDERS[name]
            table: dict[str, Any] = {"enabled": True, module.KEY_OPTION: env}
            if name == "litellm":
                table["base_url"] = answers.litellm_url
            table["interval"] = "5m"
            parts.append(PROVIDER_COMMENTS[name] + "\n" + tomli_w.dumps({"providers": {name: table}}))
    text = "\n".join(parts)
    problems = validate(text, mode=0o100600)
    if problems:
        raise InitError("; ".join(f"{p.key}: {p.message}" for p in problems))
    return text


def _section(name: str, table: dict[str, Any]) -> str:
    return COMMENTS[name] + "\n" + tomli_w.dumps({name: table})


def write(path: Path, text: str, *, force: bool) -> None:
    """Write `text` readable only by the owner; without `force`, never over an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not force:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        _fill(fd, text)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        _fill(fd, text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _fill(fd: int, text: str) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def how_to_start(path: Path, answers: Answers) -> str:
    flag = "" if path == config_mod.default_path() else f" --config {path}"
    steps = []
    for name, env in answers.providers.items():
        state = "set in this shell" if os.environ.get(env) else "not set in this shell yet"
        steps.append((f"export {env}=...", f"the {name} key ({state})"))
    steps += [
        (f"apimon-tui config check{flag}", "check the file after editing it"),
        (f"apimon-tui{flag}", "start the live monitor"),
        ("apimon-tui demo", "or first see it work on simulated traffic"),
    ]
    width = max(len(command) for command, _ in steps)
    lines = [f"Wrote {path} (readable only by you).", "", "Next:"]
    lines += [f"  {command:<{width}}  # {what}" for command, what in steps]
    return "\n".join(lines)
