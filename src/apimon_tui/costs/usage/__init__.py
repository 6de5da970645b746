"""Polling the providers' own usage and cost APIs: one module per provider, plus the poller.

Every provider module has the same small interface: `NAME`, `DEFAULT_BASE_URL`,
`KEY_OPTION` (the config key naming the key's environment variable),
`DEFAULT_KEY_ENV`, `KEY_KIND` (the word for the key in messages),
`headers(key)`, and `async poll(api, month_start, now) -> ProviderUsage`, where
`api` is a `ProviderClient` that does retries and pagination; the providers
that can split their bill (`scopes.SELECTORS`) also take `scopes=` and fill
`ProviderUsage.scopes`. `registry`
lists them; importing this package alone (for `base`) does not pull in httpx.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`apimon_tui.costs.usage.PROVIDERS`, loaded only when asked for."""
    if name == "PROVIDERS":
        from apimon_tui.costs.usage.registry import PROVIDERS
        return PROVIDERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
