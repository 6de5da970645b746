"""The config file: where it lives, what it may hold, loading and saving.

`DEFAULTS` is the one list of every known option with its default; the type of
each default is the type the option must have. Sections whose keys are names
chosen by the user (providers, price overrides, format mappings) are marked in
`OPEN_SECTIONS`. Loading merges the file over the defaults and reports problems
as `ConfigError` with one plain sentence naming the key. The app never writes
this file: choices made on screen go to the state file (`apimon_tui.core.state`).

A file that holds a key inline and that other users can read gets a warning
(`_warnings` in the loaded config), which each command that reads the config
prints once on stderr; the monitor also shows it on screen.
"""

from __future__ import annotations

import copy
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

from apimon_tui.core.redact import redact

ENV_PATH = "APIMON_CONFIG"

DEFAULTS: dict[str, Any] = {
    "sources": {
        "paths": [],          # paths, globs, "-" or "cmd:..." to follow
        "format": "auto",     # auto, native, jsonl, openai-sdk, litellm, nginx, otlp
        "from_start": False,
        "since": "",          # backfill this far back on start, e.g. "1h"; "": 24 h and the unbilled month
    },
    "store": {
        "failed_calls": 5000,  # failed calls kept for drill-down
    },
    "budget": {
        "monthly_usd": 0.0,    # overall monthly budget in USD; 0 means none
        "month_start_day": 1,  # day of the month (UTC) the budget month starts
        "providers": {},       # per-provider monthly budget, e.g. openai = 200.0
        "scopes": [],          # per project/workspace/key: [[budget.scopes]] provider, project_id..., name, monthly_usd
    },
    "providers": {             # usage and cost APIs to poll; keys come from the environment or key_file
        "openai": {"enabled": False, "base_url": "https://api.openai.com/v1", "admin_key_env": "OPENAI_ADMIN_KEY",
                   "key_file": "", "interval": "5m", "timeout": "30s", "deadline": "30s", "max_body_mb": 4.0},
        "anthropic": {"enabled": False, "base_url": "https://api.anthropic.com",
                      "admin_key_env": "ANTHROPIC_ADMIN_KEY", "key_file": "", "interval": "5m", "timeout": "30s",
                      "deadline": "30s", "max_body_mb": 4.0},
        "litellm": {"enabled": False, "base_url": "", "key_env": "LITELLM_MASTER_KEY",  # base_url required
                    "key_file": "", "interval": "5m", "timeout": "30s", "deadline": "30s", "max_body_mb": 4.0},
        "openrouter": {"enabled": False, "base_url": "https://openrouter.ai/api/v1", "key_env": "OPENROUTER_API_KEY",
                       "key_file": "", "interval": "5m", "timeout": "30s", "deadline": "30s", "max_body_mb": 4.0},
    },
    "alerts": {                # rules: a threshold per severity (info, warning, critical); `for`: how long the
        "bell": False,         # condition must hold to fire; `clear`: resolve below this fraction of the
        "history_file": "",    # threshold, after `hold`; `cooldown`: before the same alert fires again
        "notify": {"info": "", "warning": "", "critical": ""},  # shell command fed the alert as JSON on stdin
        "notify_timeout": "10s",
        "budget": {"enabled": True, "info": 50.0, "warning": 80.0, "critical": 100.0,  # % of each budget
                   "for": "0s", "clear": 1.0, "hold": "0s", "cooldown": "1d"},
        "forecast": {"enabled": True, "warning": 100.0,  # month-end forecast, % of the budget
                     "for": "15m", "clear": 0.95, "hold": "30m", "cooldown": "6h"},
        "error_rate": {"enabled": True, "warning": 5.0, "critical": 20.0, "window": "5m", "min_calls": 20,
                       "per_model": True, "for": "1m", "clear": 0.8, "hold": "2m", "cooldown": "10m"},
        "server_errors": {"enabled": True, "warning": 5.0, "critical": 10.0,  # 5xx and timeouts, per model
                          "window": "60s", "for": "0s", "clear": 0.6, "hold": "2m", "cooldown": "10m"},
        "rate_limited": {"enabled": True, "warning": 3.0, "headroom": 10.0,  # 429s per model; % of limit left
                         "window": "60s", "for": "0s", "clear": 0.6, "hold": "2m", "cooldown": "10m"},
        "latency": {"enabled": True, "warning": 10000.0, "window": "5m", "min_calls": 20,  # p95 in ms
                    "per_model": False, "for": "1m", "clear": 0.8, "hold": "2m", "cooldown": "10m"},
        "no_traffic": {"enabled": False, "warning": "15m", "window": "24h", "min_calls": 10,  # quiet for
                       "for": "0s", "clear": 1.0, "hold": "0s", "cooldown": "1h"},
        "unpriced_model": {"enabled": True, "severity": "info", "cooldown": "1d"},
        "usage_stale": {"enabled": True, "warning": 3.0,  # polling intervals, or the last poll failed
                        "for": "0s", "clear": 1.0, "hold": "0s", "cooldown": "30m"},
        "spend_drift": {"enabled": True, "info": 10.0,  # % between logs and bill over complete days
                        "for": "0s", "clear": 0.8, "hold": "1h", "cooldown": "1d"},
        "spend_spike": {"enabled": True, "warning": 3.0, "min_usd": 1.0,  # last hour vs 24 h hourly average
                        "for": "5m", "clear": 0.8, "hold": "15m", "cooldown": "1h"},
        "rules": [],           # more rules of these kinds: [[alerts.rules]] kind = "error_rate", name = "...",
    },                         # model = "gpt-4o", warning = 2.0 (any option above; enabled = false to disable)
    "ui": {
        "theme": "apimon-dark",  # a theme from themes/ or the config folder's themes/
        "refresh": 1.0,          # seconds between screen updates
    },
    "keys": {},                # binding id = "key", e.g. quit = "ctrl+q" (ids on the help screen)
    "pricing": {},             # model = {input_per_mtok = 2.5, output_per_mtok = 10.0}
    "jsonl": {                 # field mapping for the generic `jsonl` format (dotted paths)
        "ts": "timestamp",
        "ts_unit": "auto",     # auto, s, ms, iso
        "model": "model",
        "status": "status",
        "latency": "latency_ms",
        "latency_unit": "ms",  # ms or s
        "endpoint": "endpoint",
        "provider": "provider",
        "input_tokens": "usage.prompt_tokens",
        "output_tokens": "usage.completion_tokens",
        "cost_usd": "cost_usd",
        "request_id": "request_id",
        "error_code": "error.code",
        "error_message": "error.message",
    },
}

# Sections whose keys are user-chosen names rather than fixed options.
OPEN_SECTIONS = {"pricing", "keys"}


class ConfigError(Exception):
    """A problem with the config file, worded for the user."""


def default_path() -> Path:
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "apimon-tui" / "config.toml"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `override` into a copy of `base`."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _type_name(value: Any) -> str:
    return {bool: "true or false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _check_types(data: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            continue  # unknown keys are reported by `config check`, not fatal here
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config: [{name}] must be a table")
            if key not in OPEN_SECTIONS:
                _check_types(value, default, name + ".")
            continue
        ok = isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool))
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ConfigError(f"config: {name} must be {_type_name(default)}, not {value!r}")


def load(path: str | os.PathLike[str] | None = None, *, required: bool = False) -> dict[str, Any]:
    """The config at `path` (or the default path) merged over the defaults.

    A missing file at the default path is not an error (the defaults apply);
    a missing file that was named explicitly is, as is broken TOML.
    """
    explicit = path is not None or bool(os.environ.get(ENV_PATH))
    file = Path(path).expanduser() if path is not None else default_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit or required:
            raise ConfigError(f"config: {file} does not exist (create one with `apimon-tui init`)") from None
        return copy.deepcopy(DEFAULTS)
    except OSError as exc:
        raise ConfigError(f"config: cannot read {file}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {file} is not valid TOML: {exc}") from None
    _check_types(data, DEFAULTS)
    merged = merge(DEFAULTS, data)
    merged["_path"] = str(file)
    merged["_warnings"] = list(filter(None, [exposed_key_warning(file, data)]))
    return merged


def exposed_key(file: str | Path, data: dict[str, Any]) -> str | None:
    """Where `file` holds a key inline (dotted), when users other than its owner can read it; else None.

    `data` is the file's own content or a loaded config (its `_` entries are the loader's, not the file's).
    """
    try:
        readable_by_others = os.stat(file).st_mode & (stat.S_IRGRP | stat.S_IROTH)
    except OSError:
        return None
    if not readable_by_others:
        return None
    return _inline_key({key: value for key, value in data.items() if not key.startswith("_")})


def exposed_key_message(file: str | Path, found: str) -> str:
    return (f"{file} holds an API key (at {found}) and other users can read it: move the key to "
            f"an environment variable or a key_file, or run `chmod 600 {file}`")


def exposed_key_warning(file: Path, data: dict[str, Any]) -> str | None:
    """A warning when `file` holds a key inline and users other than its owner can read it."""
    found = exposed_key(file, data)
    return None if found is None else f"warning: {exposed_key_message(file, found)}"


def _inline_key(data: dict[str, Any], prefix: str = "") -> str | None:
    """The dotted name of the first value that looks like a key (as `redact` sees keys)."""
    for key, value in data.items():
        if isinstance(value, dict):
            found = _inline_key(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            found = _inline_key({str(i): v for i, v in enumerate(value)}, f"{prefix}{key}.")
        else:
            found = f"{prefix}{key}" if isinstance(value, str) and redact(value) != value else None
        if found:
            return found
    return None


def print_warnings(config: dict[str, Any], command: str = "apimon-tui") -> None:
    """Each of the config's warnings as one line on stderr; a closed or broken stderr is no error."""
    stream = sys.stderr
    if stream is None:
        return
    for warning in config.get("_warnings", ()):
        try:
            print(f"{command}: {warning}", file=stream, flush=True)
        except (OSError, ValueError):
            return
