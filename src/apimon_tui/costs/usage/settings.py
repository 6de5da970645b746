"""Which providers to poll, how often, and where their keys come from, read from the config.

Keys are never stored in the config: each provider names an environment
variable (`admin_key_env` or `key_env`) or a `key_file`. A config file that
nevertheless holds something shaped like a key is refused when other users can
read it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from apimon_tui.core.config import ConfigError, exposed_key, exposed_key_message
from apimon_tui.core.timeutil import parse_duration
from apimon_tui.costs.usage.registry import PROVIDERS
from apimon_tui.costs.usage.base import DEFAULT_MAX_BODY_MB, MB, ProviderError
from apimon_tui.costs.usage.scopes import BudgetScope, parse_scopes

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def duration(text: str, name: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise ConfigError(f"config: {name} must be a duration like \"5m\" or \"30s\", not {text!r}") from None


@dataclass(slots=True)
class ProviderSettings:
    """One enabled provider: its module, where it lives, where its key is, how often to poll."""

    name: str
    module: ModuleType
    base_url: str
    key_env: str
    key_file: str
    interval_s: float
    timeout_s: float
    scopes: tuple[BudgetScope, ...] = ()  # budget scopes to fetch grouped costs for
    deadline_s: float = 30.0  # one whole poll: every request, retry and wait
    max_body: int = int(DEFAULT_MAX_BODY_MB * MB)  # bytes of one answer (or of a listing's pages together)

    @property
    def key_source(self) -> str:
        """Where the key comes from, as named in messages (never the key itself)."""
        return f"key_file {self.key_file}" if self.key_file else self.key_env

    def load_key(self) -> str:
        if self.key_file:
            try:
                key = Path(self.key_file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ProviderError(f"cannot read key_file {self.key_file}: {exc.strerror}") from None
            if not key:
                raise ProviderError(f"key_file {self.key_file} is empty")
            return key
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise ProviderError(f"no key: set {self.key_env} (or key_file in [providers.{self.name}])")
        return key


def provider_settings(config: dict[str, Any]) -> list[ProviderSettings]:
    """The enabled providers, in the order of `PROVIDERS`; a bad option raises `ConfigError`."""
    out = []
    scopes = parse_scopes(config)
    for name, module in PROVIDERS.items():
        section = (config.get("providers") or {}).get(name) or {}
        if not section.get("enabled"):
            continue
        where = f"providers.{name}"
        key_env = str(section.get(module.KEY_OPTION) or module.DEFAULT_KEY_ENV)
        if not ENV_NAME.match(key_env):
            raise ConfigError(f"config: {where}.{module.KEY_OPTION} must name an environment variable "
                              f"(like {module.DEFAULT_KEY_ENV}), not hold the key itself")
        base_url = str(section.get("base_url") or module.DEFAULT_BASE_URL)
        if not base_url:
            raise ConfigError(f"config: {where}.base_url is required (the proxy's address, e.g. http://localhost:4000)")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"config: {where}.base_url must be an http:// or https:// URL")
        out.append(ProviderSettings(
            name, module, base_url.rstrip("/"), key_env, str(section.get("key_file") or ""),
            duration(str(section.get("interval") or "5m"), f"{where}.interval"),
            duration(str(section.get("timeout") or "30s"), f"{where}.timeout"),
            tuple(s for s in scopes if s.provider == name),
            positive(duration(str(section.get("deadline") or "30s"), f"{where}.deadline"), f"{where}.deadline"),
            _max_body(section.get("max_body_mb", DEFAULT_MAX_BODY_MB), f"{where}.max_body_mb"),
        ))
    return out


def positive(seconds: float, name: str) -> float:
    if seconds <= 0:
        raise ConfigError(f"config: {name} must be longer than 0s")
    return seconds


def _max_body(value: Any, name: str) -> int:
    """The body cap in bytes, from a number of MB (fractions allowed, at least one KB)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.001 <= value <= 1024:
        raise ConfigError(f"config: {name} must be a number of MB from 0.001 to 1024, not {value!r}")
    return int(value * MB)


def check_config_secrets(config: dict[str, Any]) -> None:
    """Refuse a config file that holds a key and that other users may read: polling would send that key.

    The same test as the warning every other command gives (`config.exposed_key`).
    """
    path = config.get("_path")
    found = exposed_key(path, config) if path else None
    if found is not None:
        raise ConfigError(f"config: {exposed_key_message(path, found)}")
