"""Budgets per project, workspace or key: the `[[budget.scopes]]` tables.

A scope names one slice of one provider's bill: an OpenAI project or API key
(costs grouped by `project_id` / `api_key_id`), an Anthropic workspace (cost
report grouped by `workspace_id`; `default` is the default workspace, whose id
the API gives as null), or a LiteLLM virtual key (`/key/info`), named by its
token hash (`key_hash`, the id LiteLLM shows, safe to keep in the file) or by
an environment variable holding the key (`key_env`); the key itself never goes
in the file. Only billed spend counts for a scope: log lines rarely say which
project or key paid for them.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

from apimon_tui.core.config import ConfigError
from apimon_tui.core.redact import redact
from apimon_tui.costs.usage.base import ProviderError

# provider -> the options that pick its slice, and the word a scope of that kind is called by
SELECTORS: dict[str, dict[str, str]] = {
    "openai": {"project_id": "project", "api_key_id": "key"},
    "anthropic": {"workspace_id": "workspace"},
    "litellm": {"key_hash": "key", "key_env": "key"},
}
OPTIONS = {"provider", "name", "monthly_usd"} | {o for s in SELECTORS.values() for o in s}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True, slots=True)
class BudgetScope:
    """One per-project/key budget: which provider, which slice (`selector` = `value`), its monthly USD."""

    name: str
    provider: str
    selector: str                 # project_id, api_key_id, workspace_id, key_hash or key_env
    value: str
    monthly_usd: float | None = None  # None: show spend only (LiteLLM falls back to the key's max_budget)

    @property
    def label(self) -> str:
        """How alerts and panels name it: `project search-team`, `workspace eu`, `key ci-bot`."""
        return f"{SELECTORS[self.provider][self.selector]} {self.name}"

    def litellm_token(self) -> str:
        """The LiteLLM token hash to ask `/key/info` about: an `sk-` key from the environment is hashed
        here, as the proxy would, so the key itself never travels in a URL."""
        if self.selector == "key_hash":
            return self.value
        key = os.environ.get(self.value, "").strip()
        if not key:
            raise ProviderError(f"no key: set {self.value} (key_env of budget scope {self.name})")
        return hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key


def parse_scopes(config: dict[str, Any]) -> list[BudgetScope]:
    """Every `[[budget.scopes]]` table; a bad one raises `ConfigError` naming its key."""
    tables = (config.get("budget") or {}).get("scopes") or []
    if not isinstance(tables, list):
        raise ConfigError("config: budget.scopes must be a list of tables ([[budget.scopes]])")
    scopes: list[BudgetScope] = []
    for i, table in enumerate(tables):
        scope = _parse_scope(table, f"budget.scopes[{i}]")
        if any(s.name == scope.name for s in scopes):
            raise ConfigError(f"config: budget.scopes[{i}].name {scope.name!r} is taken by another budget scope; "
                              "give each a different name")
        scopes.append(scope)
    return scopes


def _parse_scope(table: Any, where: str) -> BudgetScope:
    if not isinstance(table, dict):
        raise ConfigError(f"config: {where} must be a table ([[budget.scopes]])")
    unknown = sorted(set(table) - OPTIONS)
    if unknown:
        raise ConfigError(f"config: {where}.{unknown[0]} is not a budget scope option "
                          f"(they are {', '.join(sorted(OPTIONS))})")
    for key, value in table.items():
        if isinstance(value, str) and redact(value) != value:
            raise ConfigError(f"config: {where}.{key} holds an API key; name the environment variable "
                              "that holds it with key_env instead")
    provider = table.get("provider")
    if provider not in SELECTORS:
        raise ConfigError(f"config: {where}.provider must be one of {', '.join(SELECTORS)}, not {provider!r}")
    foreign = sorted(set(table) & (OPTIONS - {"provider", "name", "monthly_usd"}) - set(SELECTORS[provider]))
    if foreign:
        raise ConfigError(f"config: {where}.{foreign[0]} does not apply to {provider} scopes "
                          f"(they take {' or '.join(SELECTORS[provider])})")
    chosen = [o for o in SELECTORS[provider] if o in table]
    if len(chosen) != 1:
        raise ConfigError(f"config: {where} needs exactly one of {' or '.join(SELECTORS[provider])} "
                          f"({provider} scopes)")
    selector = chosen[0]
    value = table[selector]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"config: {where}.{selector} must be a non-empty string")
    if selector == "key_env" and not ENV_NAME.match(value):
        raise ConfigError(f"config: {where}.key_env must name an environment variable, not hold the key itself")
    if selector == "key_hash" and not TOKEN_HASH.match(value):
        raise ConfigError(f"config: {where}.key_hash must be the 64 hex digits LiteLLM shows as the key's token")
    name = table.get("name", value[:8] if selector == "key_hash" else value)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"config: {where}.name must be a non-empty string")
    monthly = table.get("monthly_usd")
    if monthly is not None and (isinstance(monthly, bool) or not isinstance(monthly, (int, float)) or monthly < 0):
        raise ConfigError(f"config: {where}.monthly_usd must be a number of USD, not {monthly!r}")
    return BudgetScope(name.strip(), provider, selector, value, float(monthly) if monthly else None)
