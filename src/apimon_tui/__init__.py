"""apimon-tui: a live terminal monitor for LLM API traffic and spend."""

__version__ = "0.1.0"
