"""The provider modules by name, in the order they are listed and polled."""

from __future__ import annotations

from apimon_tui.costs.usage import anthropic, litellm, openai, openrouter

PROVIDERS = {m.NAME: m for m in (openai, anthropic, litellm, openrouter)}
