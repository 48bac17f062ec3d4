"""Control characters are written as visible escapes wherever text is shown."""

import pytest

from corpus.printable import describe, first_unsafe, printable


def test_escapes_terminal_and_bidi_controls():
    assert printable("run\x1b[31m fast\u202e!") == "run\\x1b[31m fast\\u202e!"
    assert printable("a\x00b\x85c\u200bd\ufeffe\u2028") == "a\\x00b\\x85c\\u200bd\\ufeffe\\u2028"


def test_keeps_plain_text_and_chosen_line_breaks():
    assert printable("café – 跳高 🤸") == "café – 跳高 🤸"
    assert printable("one\ntwo\tthree") == "one\ntwo\tthree"
    assert printable("one\ntwo\r", keep="") == "one\\x0atwo\\x0d"


@pytest.mark.parametrize(("text", "described"), [
    ("ju\x00mp", "U+0000 (control character)"),
    ("x\u202ey", "U+202E RIGHT-TO-LEFT OVERRIDE (invisible format character)"),
    ("x\u2029", "U+2029 PARAGRAPH SEPARATOR (paragraph separator)"),
])
def test_names_the_code_point(text, described):
    assert describe(first_unsafe(text)) == described
