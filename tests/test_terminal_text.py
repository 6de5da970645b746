"""Text from logs and providers never drives the terminal: the sanitiser, sequence by sequence."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.core.terminal_text import identifier, lines, one_line, visible

ESC = "\x1b"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# (name, hostile text, what one_line shows)
SEQUENCES = [
    ("OSC 52 clipboard, BEL", f"a{ESC}]52;c;cm0gLXJmIH4=\x07b", "ab"),
    ("OSC 52 clipboard, ST", f"a{ESC}]52;p;cm0gLXJmIH4={ESC}\\b", "ab"),
    ("OSC 2 window title", f"a{ESC}]2;owned\x07b", "ab"),
    ("OSC 8 hyperlink", f"{ESC}]8;;http://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\", "click"),
    ("CSI clear screen", f"a{ESC}[2Jb", "ab"),
    ("CSI cursor home + erase line", f"a{ESC}[H{ESC}[Kb", "ab"),
    ("CSI private mode (alt screen off)", f"a{ESC}[?1049lb", "ab"),
    ("CSI colour (SGR)", f"{ESC}[1;31mred{ESC}[0m", "red"),
    ("CSI with intermediate (cursor style)", f"a{ESC}[2 qb", "ab"),
    ("DCS", f"a{ESC}P1$r0m{ESC}\\b", "ab"),
    ("APC", f"a{ESC}_Gf=100;AAAA{ESC}\\b", "ab"),
    ("PM", f"a{ESC}^private{ESC}\\b", "ab"),
    ("SOS", f"a{ESC}Xstring{ESC}\\b", "ab"),
    ("ESC c full reset", f"a{ESC}cb", "ab"),
    ("ESC ( B charset", f"a{ESC}(Bb", "ab"),
    ("ESC 7 save cursor", f"a{ESC}7b", "ab"),
    ("8-bit CSI", "a\x9b2Jb", "ab"),
    ("8-bit OSC ended by 8-bit ST", "a\x9d52;c;eA==\x9cb", "ab"),
    ("8-bit DCS", "a\x90q#0;2;0;0;0\x9cb", "ab"),
    ("8-bit APC", "a\x9fpayload\x9cb", "ab"),
    ("lone C0: bell, backspace, NUL, DEL", "a\x07\x08\x00\x7fb", "ab"),
    ("lone C1: NEL, IND, RI, SS2", "a\x85\x84\x8d\x8eb", "ab"),
]


@pytest.mark.parametrize("name, hostile, shown", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_every_kind_of_sequence_is_removed(name, hostile, shown):
    assert one_line(hostile) == shown
    assert lines(hostile) == shown


@pytest.mark.parametrize("name, hostile, shown", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_visible_writes_every_control_out(name, hostile, shown):
    out = visible(hostile)
    assert not CONTROL.search(out)
    for char in set(CONTROL.findall(hostile)):
        assert f"\\x{ord(char):02x}" in out


@pytest.mark.parametrize("name, hostile, shown", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_identifier_writes_every_control_out_on_one_line(name, hostile, shown):
    out = identifier(hostile + "\n")
    assert not CONTROL.search(out)
    assert out.endswith("\\n")


def test_a_hostile_name_stays_apart_from_the_real_one():
    assert identifier("gpt-4o") == "gpt-4o"
    assert identifier(f"gpt-4o{ESC}]2;t\x07") == "gpt-4o\\x1b]2;t\\x07"
    assert identifier("gpt-4o\n") == "gpt-4o\\n" != identifier("gpt-4o\r")


def test_visible_shows_escape_as_backslash_x1b():
    assert visible(f"err {ESC}]52;c;aGk=\x07 {ESC}[2J") == "err \\x1b]52;c;aGk=\\x07 \\x1b[2J"
    assert visible("a\tb\r\nc\x9b") == "a\\tb\\r\nc\\x9b"


@pytest.mark.parametrize("text", [
    "plain ascii: rate limit reached for gpt-4o",
    "unicode: naïve café Ünïcödé — “quotes” ½ €",
    "emoji: 🚀🔥 👩‍💻 🇫🇷",
    "CJK: 请求速率超过限制 レート制限 요청",
    "right-to-left: خطأ في الخادم",
    "brackets that look like markup: [red]x[/red] [@click=app.quit]y[/]",
    "backslashes: C:\\logs\\x1b is text, not an escape",
    "",
])
def test_text_without_controls_is_unchanged(text):
    assert one_line(text) is text
    assert lines(text) is text
    assert visible(text) is text
    assert identifier(text) is text


def test_non_ascii_spaces_and_zero_width_joiners_stay():
    text = "a\u00a0b\u3000c\u200dd"  # not isprintable, not controls either
    assert one_line(text) == text
    assert visible(text) == text


def test_one_line_turns_tabs_and_line_breaks_into_spaces():
    assert one_line("first\tsecond\nthird\r\nfourth") == "first second third  fourth"


def test_lines_keeps_line_breaks_only():
    assert lines("first\tsecond\r\nthird\n\x1b[2Jfourth\x07") == "first second\nthird\nfourth"


def test_a_sequence_split_over_two_texts_cannot_rejoin():
    """Each half is cleaned alone: what is left of either starts no sequence when printed together."""
    first, second = f"model-a{ESC}]52;c;", "cm0gLXJm\x07 rest"
    assert one_line(first) + one_line(second) == "model-a52;c;cm0gLXJm rest"
    assert ESC not in one_line(f"x{ESC}") + one_line("[2J")


def test_an_unterminated_string_sequence_loses_its_introducer_and_the_rest_shows():
    assert one_line(f"before {ESC}]2;title never ended") == "before 2;title never ended"
    assert one_line("before \x9d2;title never ended") == "before 2;title never ended"


def test_nested_and_doubled_escapes_leave_no_escape():
    assert one_line(f"{ESC}{ESC}[2J{ESC}[{ESC}[31mx") == "x"
    assert one_line(f"{ESC}]52;c;{ESC}]2;t\x07\x07y") == "52;c;y"  # the first OSC never ended


@given(st.lists(st.text() | st.sampled_from(
    [ESC, "\x9b", "\x9d", "\x9c", "\x90", "\x07", "[", "]", "\\", "2J", "52;c;", "\n", "\t"])).map("".join))
def test_no_output_holds_a_control_character(text):
    assert not CONTROL.search(one_line(text))
    assert not CONTROL.search(lines(text).replace("\n", ""))
    assert not CONTROL.search(visible(text).replace("\n", ""))
    assert not CONTROL.search(identifier(text))
    assert "\n" not in one_line(text)
