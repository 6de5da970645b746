"""Redaction of secrets in any text apimon-tui keeps for display.

API keys and bearer tokens are cut to a short prefix and their last 4
characters (`sk-proj-…a1b2`), enough to tell keys apart, not to use one. Keys
are found by their shape (OpenAI, Anthropic, OpenRouter `sk-…`; Google
`AIza…`) and by where they sit, whatever their shape: a bearer token, the
value of an `x-api-key`, `x-goog-api-key` or `api-key` header (as a header
line, a Python dict repr or JSON, any case, also `api_key=`), and a `key`,
`api_key` or `api-key` query parameter. Redaction runs on every failed call's
text, so each pattern runs only on text holding one of the few fixed strings
it needs (a handful of substring tests, no regex, for the rest).
"""

from __future__ import annotations

import re

_VALUE = r"[A-Za-z0-9._~+/=%\-…]{8,}"  # … too: a value already cut is cut again, not in two
_SHAPED = re.compile(
    r"(?P<lead>sk-(?:ant-(?:admin\d*-|api\d*-)?|or-v\d-|or-|admin-|proj-|svcacct-)?)(?P<secret>[A-Za-z0-9_\-]{8,})"
    r"|(?P<bearer>Bearer\s+)(?P<token>[A-Za-z0-9._~+/\-]{8,}=*)"
    r"|(?P<google>AIza)(?P<gbody>[0-9A-Za-z_\-]{35})",
)
_PLACED = re.compile(
    rf"(?P<lead>[?&](?:api[-_]?)?key=|(?:x-(?:goog-)?)?api[-_]key[\"']?\s*[:=]\s*[\"']?)(?P<secret>{_VALUE})",
    re.IGNORECASE,
)
_KEY_NAMES = ("api-key", "api_key", "key=")  # what _PLACED needs, in lower case


def _short(match: re.Match[str]) -> str:
    for lead, secret in (("lead", "secret"), ("bearer", "token"), ("google", "gbody")):
        if match.group(lead) is not None:
            return f"{match.group(lead)}…{match.group(secret)[-4:]}"
    return match.group(0)


_PLACED_FIRST = "?&xa"  # what a `_PLACED` match starts with (lower case): 1 to 11 characters before its `key`
_SHAPED_LEADS = ("sk-", "Bearer", "AIza")  # what a `_SHAPED` match starts with


def redact(text: str) -> str:
    """`text` with every key-looking substring shortened to prefix + last 4."""
    if "key" in text or "KEY" in text or "Key" in text:
        lowered = text.lower()
        if any(name in lowered for name in _KEY_NAMES):
            text = _sub_at(_PLACED, text, _placed_starts(lowered)) if len(lowered) == len(text) else _PLACED.sub(
                _short, text)
    if "sk-" in text or "Bearer" in text or "AIza" in text:
        text = _sub_at(_SHAPED, text, sorted(i for lead in _SHAPED_LEADS for i in _found(text, lead)))
    return text


def _found(text: str, part: str):
    """Where `part` occurs in `text`."""
    at = text.find(part)
    while at >= 0:
        yield at
        at = text.find(part, at + len(part))


def _placed_starts(lowered: str) -> list[int]:
    """Where a `_PLACED` match may start in the text `lowered` is the lower case of (position for position):
    a few characters before each `key`, at one of `_PLACED_FIRST`."""
    starts: list[int] = []
    for at in _found(lowered, "key"):
        for start in range(max(at - 11, starts[-1] + 1 if starts else 0), at):
            if lowered[start] in _PLACED_FIRST:
                starts.append(start)
    return starts


def _sub_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> str:
    """`pattern.sub(_short, text)` for a pattern whose matches can only start at `starts` (ascending): the
    regex tried there alone, rather than at each of a failed call's thousands of characters."""
    parts, done = [], 0
    for start in starts:
        if start < done:
            continue
        match = pattern.match(text, start)
        if match is not None:
            parts += (text[done:start], _short(match))
            done = match.end()
    return "".join(parts) + text[done:] if parts else text


def mask_key(key: str) -> str:
    """A key as it may be shown: its first characters and last 4."""
    if len(key) <= 8:
        return "…"
    return f"{key[:3]}…{key[-4:]}"
