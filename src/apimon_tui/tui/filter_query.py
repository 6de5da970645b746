"""What the user types after `/`, turned into the store's `CallFilter`.

`model:gpt-4o status:5xx code:rate_limit_exceeded source:app.log timeout`:
`field:value` words set a field, every other word is free text (searched in
model, status, code, source, request id, endpoint and message).
"""

from __future__ import annotations

from apimon_tui.store.metrics import CallFilter

FIELDS = {"model": "model", "status": "status", "code": "error_code", "source": "source"}


def parse_filter(text: str) -> CallFilter:
    flt = CallFilter()
    free = []
    for word in text.split():
        name, sep, value = word.partition(":")
        if sep and name.lower() in FIELDS and value:
            setattr(flt, FIELDS[name.lower()], value)
        else:
            free.append(word)
    flt.text = " ".join(free)
    return flt


def describe(flt: CallFilter) -> str:
    """The filter as the user would type it again."""
    parts = [f"{short}:{getattr(flt, attr)}" for short, attr in FIELDS.items() if getattr(flt, attr)]
    if flt.text:
        parts.append(flt.text)
    return " ".join(parts)
