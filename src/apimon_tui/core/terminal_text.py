"""Text from outside made safe to show on a terminal: the one sanitiser every output goes through.

Model names, error messages, provider error bodies, config values and file
names are text someone else wrote, and a log line is attacker-controlled (a
prompt ends up in an error message). Written to a terminal as they are, an
escape sequence in them sets the clipboard (OSC 52), the window title (OSC 2),
clears the screen (CSI 2J) or worse, and an 8-bit C1 control (0x9b is CSI)
does the same without an ESC. So every such text is passed through one of:

- `one_line`: a table cell or a one-line message. Whole escape sequences are
  removed (`ESC[31mred ESC[0m` reads `red `), tabs and line breaks become
  spaces, any other control character is removed.
- `lines`: the same, but line breaks are kept (a whole report, a toast).
- `visible`: a raw log line shown for inspection. Nothing is removed: every
  control character is written out as `\\x1b`, `\\t`, `\\x9b`... and only a line
  break stays a line break.
- `identifier`: a name that keys a row or a group (model, error code, request
  id, source). Written out like `visible`, line breaks too, so a hostile
  `gpt-4o ESC]2;x BEL` stays a name of its own and can never pass for, or
  hide the row of, the real `gpt-4o`.

Each result holds no C0 or C1 control character and no DEL (but `\\n` from
`lines` and `visible`), so no sequence can start, whatever follows it.
Text with no control character (nearly all of it) is returned as it is after
one scan in C (`str.isprintable`).
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(
    # CSI (7-bit ESC [ or 8-bit 0x9b): parameters, intermediates, one final byte.
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    # OSC, DCS, SOS, PM, APC (7- or 8-bit): a string ended by BEL or ST (ESC \ or 0x9c).
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    # Any other escape: ESC, intermediates, one final byte (ESC c, ESC ( B, ESC 7...).
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_SPACED = {"\t": " ", "\n": " ", "\r": " ", "\x0b": " ", "\x0c": " "}
_LINE_SPACED = {"\t": " ", "\r": "", "\x0b": " ", "\x0c": " "}
_SHOWN = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}


def one_line(text: str) -> str:
    """`text` as one line of plain characters: sequences removed, line breaks and tabs as spaces."""
    if text.isprintable():
        return text
    return _CONTROL.sub(lambda m: _SPACED.get(m.group(), ""), _SEQUENCE.sub("", text))


def lines(text: str) -> str:
    """`text` with its line breaks kept and every other control removed (tabs as spaces, CR dropped)."""
    if text.isprintable():
        return text
    return _CONTROL_BUT_NEWLINE.sub(lambda m: _LINE_SPACED.get(m.group(), ""), _SEQUENCE.sub("", text))


def visible(text: str) -> str:
    """`text` with every control character but a line break written out (`\\x1b`, `\\t`), nothing removed."""
    if text.isprintable():
        return text
    return _CONTROL_BUT_NEWLINE.sub(_written_out, text)


def identifier(text: str) -> str:
    """`text` as one line with every control character written out (`\\x1b`, `\\n`), nothing removed."""
    if text.isprintable():
        return text
    return _CONTROL.sub(_written_out, text)


def _written_out(match: re.Match) -> str:
    char = match.group()
    return _SHOWN.get(char, f"\\x{ord(char):02x}")
