"""Redaction of secrets in any text apimon-tui keeps for display.

API keys and bearer tokens are cut to a short prefix and their last 4
characters (`sk-proj-…a1b2`), enough to tell keys apart, not to use one.
"""

from __future__ import annotations

import re

_SECRET = re.compile(
    r"(?P<prefix>sk-(?:ant-(?:admin\d*-|api\d*-)?|or-v\d-|or-|admin-|proj-|svcacct-)?)(?P<body>[A-Za-z0-9_\-]{8,})"
    r"|(?P<bearer>Bearer\s+)(?P<token>[A-Za-z0-9._~+/\-]{8,}=*)",
)


def _short(match: re.Match[str]) -> str:
    if match.group("bearer"):
        token = match.group("token")
        return f"{match.group('bearer')}…{token[-4:]}"
    return f"{match.group('prefix')}…{match.group('body')[-4:]}"


def redact(text: str) -> str:
    """`text` with every key-looking substring shortened to prefix + last 4."""
    if "sk-" not in text and "Bearer" not in text:
        return text
    return _SECRET.sub(_short, text)


def mask_key(key: str) -> str:
    """A key as it may be shown: its first characters and last 4."""
    if len(key) <= 8:
        return "…"
    return f"{key[:3]}…{key[-4:]}"
