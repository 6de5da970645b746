"""Polling the providers' own usage and cost APIs: one module per provider, plus the poller.

Every provider module has the same small interface: `NAME`, `DEFAULT_BASE_URL`,
`KEY_OPTION` (the config key naming the key's environment variable),
`DEFAULT_KEY_ENV`, `KEY_KIND` (the word for the key in messages),
`headers(key)`, and `async poll(api, month_start, now) -> ProviderUsage`, where
`api` is a `ProviderClient` that does retries and pagination.
"""

from __future__ import annotations

from apimon_tui.usage import anthropic, litellm, openai, openrouter

PROVIDERS = {m.NAME: m for m in (openai, anthropic, litellm, openrouter)}
