"""What `[keys]` in the config may say, known without importing Textual (`config check` is headless).

`BINDING_IDS` are the ids of the monitor's bindings (`MonitorApp.all_bindings`;
a test keeps the two equal). `key_problem` checks a key string the way
Textual reads it: comma-separated keys, each optional lowercase modifiers
joined by `+` and one key, which is a single character (`q`, `N`, `?`), a
named key (`f1`, `escape`, `pageup`) or a character's name (`question_mark`,
`slash`). Textual's names are case-sensitive: `F1` and `Ctrl+q` never match.
"""

from __future__ import annotations

import difflib
import unicodedata

BINDING_IDS = frozenset({
    # anywhere
    "quit", "quit_ctrl_c", "help", "zoom", "command_palette",
    "window_1m", "window_5m", "window_15m", "window_1h", "window_6h", "window_24h",
    "pause", "focus_errors", "toggle_grouped", "filter", "next_theme", "copy_request_id", "poll_usage",
    "sources", "alerts", "dismiss_alerts",
    "cursor_back", "cursor_forward", "previous_burst", "next_burst", "live", "leave_past",
    # error feed, call detail, filter, help, alert list, silence choice, sources
    "open_detail", "back", "next_in_group", "previous_in_group", "clear_filter", "close_help",
    "close_alerts", "acknowledge_alert", "silence_rule", "cancel_silence", "close_sources",
})

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
NAMED_KEYS = frozenset({
    "escape", "enter", "return", "tab", "space", "backspace", "left", "right", "up", "down", "home", "end",
    "insert", "delete", "pageup", "pagedown", *(f"f{n}" for n in range(1, 25)),
})
# Textual's friendlier names for some characters (textual.keys.KEY_NAME_REPLACEMENTS).
CHARACTER_ALIASES = {"slash": "/", "backslash": "\\", "at": "@", "minus": "-", "plus": "+", "underscore": "_"}


def _name_of(char: str) -> str:
    """A character's key name as Textual makes it (`?` is `question_mark`, `<` is `less_than_sign`)."""
    return unicodedata.name(char, char).lower().replace("-", "_").replace(" ", "_")


# The names of the punctuation on a keyboard (ASCII and Latin-1), as Textual makes them.
PUNCTUATION_NAMES = frozenset(_name_of(c) for c in map(chr, [*range(0x21, 0x7f), *range(0xa1, 0x100)])
                              if not c.isalnum())


def _character_name(name: str) -> bool:
    """Is `name` Textual's name of a character (`question_mark`, `full_stop`, `hyphen_minus`)?"""
    if name in CHARACTER_ALIASES or name in PUNCTUATION_NAMES:
        return True
    words = name.upper().replace("_", " ")
    for candidate in (words, words.replace(" ", "-")):
        try:
            char = unicodedata.lookup(candidate)
        except KeyError:
            continue
        return len(char) == 1 and char.isprintable() and not char.isalnum()
    return False


def _base_problem(base: str) -> str | None:
    if len(base) == 1 and base.isprintable() and not base.isspace():
        return None
    if base in NAMED_KEYS or _character_name(base):
        return None
    if base.lower() in NAMED_KEYS or _character_name(base.lower()):
        return f"{base!r} is not a key name: Textual's names are lower case ({base.lower()!r})"
    close = difflib.get_close_matches(base, sorted(NAMED_KEYS), n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{base!r} is not a key name{hint}"


def key_problem(keys: str) -> str | None:
    """Why `keys` (`"q"`, `"ctrl+q,f10"`) names no key Textual knows, or None when every one is fine."""
    for key in (k.strip() for k in keys.split(",")):
        if not key:
            return f"{keys!r} has an empty key"
        if len(key) == 1:
            problem = _base_problem(key)
        else:
            *modifiers, base = key.split("+")
            if not base or "" in modifiers:
                return f"{key!r} has an empty part (write + as 'plus')"
            problem = _modifier_problem(modifiers) or _modified_problem(key, modifiers, base)
        if problem:
            return problem
    return None


def _modified_problem(key: str, modifiers: list[str], base: str) -> str | None:
    if modifiers and len(base) == 1 and base.isupper():
        return f"{key!r} never matches: with a modifier the letter is lower case ({key.lower()!r})"
    return _base_problem(base)


def _modifier_problem(modifiers: list[str]) -> str | None:
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            if modifier.lower() in MODIFIERS:
                return f"{modifier!r} is not a modifier: Textual's are lower case ({modifier.lower()!r})"
            return f"{modifier!r} is not a modifier (one of {', '.join(MODIFIERS)})"
    return None
