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


# Where a match of each can start: `_PLACED`'s at one of `?&xa`, 1 to 11 characters before its `key` (in
# the lower-case text, which `_PLACED` matches without regard to case); `_SHAPED`'s at one of its leads.
_PLACED_START = re.compile(r"[?&xa](?=.{0,10}key)", re.DOTALL)
_SHAPED_START = re.compile(r"sk-|Bearer|AIza")


def redact(text: str) -> str:
    """`text` with every key-looking substring shortened to prefix + last 4."""
    if "key" in text or "KEY" in text or "Key" in text:
        lowered = text.lower()
        if any(name in lowered for name in _KEY_NAMES):
            if len(lowered) == len(text):
                text = _sub_at(_PLACED, text, _PLACED_START, lowered)
            else:  # a character whose lower case is longer: positions differ
                text = _PLACED.sub(_short, text)
    if "sk-" in text or "Bearer" in text or "AIza" in text:
        text = _sub_at(_SHAPED, text, _SHAPED_START, text)
    return text


def _sub_at(pattern: re.Pattern[str], text: str, starts: re.Pattern[str], where: str) -> str:
    """`pattern.sub(_short, text)`, the pattern tried only where `starts` finds in `where` (`text` or its lower
    case) that a match can start, rather than at each of a failed call's thousands of characters."""
    parts, done, at = [], 0, 0
    while (start := starts.search(where, at)) is not None:
        match = pattern.match(text, start.start())
        if match is None:
            at = start.start() + 1
            continue
        parts += (text[done:match.start()], _short(match))
        done = at = match.end()
    return "".join(parts) + text[done:] if parts else text


def mask_key(key: str) -> str:
    """A key as it may be shown: its first characters and last 4."""
    if len(key) <= 8:
        return "…"
    return f"{key[:3]}…{key[-4:]}"
