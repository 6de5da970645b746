"""Redaction tries its patterns only where a match can start: the text it gives is the whole-text regex's.

`redact` runs on each failed call's log text (up to 4 KB of a LiteLLM
payload, its metadata full of `user_api_key_*` names), where the two
patterns scanned every character (some 600 µs a payload). These compare it
with the patterns' `sub` over the whole text on texts built to put matches
next to, inside and across each other, in any case and with characters
whose lower case differs in length.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core import redact as redaction
from apimon_tui.core.redact import _KEY_NAMES, _PLACED, _SHAPED, _short, redact
from test_values_properties import PROPERTY


def redact_as_before(text: str) -> str:
    """Each pattern's `sub` over the whole text, after the same substring tests."""
    if "key" in text or "KEY" in text or "Key" in text:
        if any(name in text.lower() for name in _KEY_NAMES):
            text = _PLACED.sub(_short, text)
    if "sk-" in text or "Bearer" in text or "AIza" in text:
        text = _SHAPED.sub(_short, text)
    return text


PIECES = ["key", "KEY", "Key", "kEy", "\u212aey", "api", "API", "Api", "apı", "-", "_", "=", ":", " ", '"', "'", "?", "&",
          "x-", "X-", "goog-", "GOOG-", "api-key", "api_key", "apikey", "x-api-key", "x-goog-api-key", "?key=",
          "&api_key=", "sk-", "sk-proj-", "sk-ant-api03-", "sk-or-v1-", "Bearer ", "Bearer", "AIza", "İ", "ß", "…",
          "abcdefgh", "A1b2C3d4E5", "0123456789" * 4, "%2F", "user_api_key_hash", "\n", "\t"]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=30).map("".join)


@PROPERTY
@given(text=texts)
def test_redaction_is_the_whole_text_regexes(text):
    assert redact(text) == redact_as_before(text)


def test_a_failed_litellm_payload_is_redacted_as_before():
    payload = {"metadata": {f"user_api_key_{k}": None for k in ("hash", "alias", "spend", "team_id")},
               "hidden_params": {"additional_headers": {"x-api-key": "sk-ant-api03-" + "Q" * 40,
                                                        "authorization": "Bearer abcdefghijklmnop"}},
               "api_base": "https://example.test/v1?key=AIza" + "x" * 35, "error_str": "api_key=ABCDEFGHIJ rejected"}
    text = json.dumps(payload)
    assert redact(text) == redact_as_before(text)
    assert "Q" * 20 not in redact(text) and "abcdefghijklmnop" not in redact(text) and "ABCDEFGHIJ" not in redact(text)


def test_placed_keys_are_tried_only_where_their_match_can_start():
    lowered = "zz?key=aaaaaaaa x-goog-api-key: bbbbbbbb"
    assert [lowered[m.start()] for m in redaction._PLACED_START.finditer(lowered)] == ["?", "x", "a"]
