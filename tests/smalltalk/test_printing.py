"""Pharo's printing rules for the value types that are easy to get subtly wrong."""

from __future__ import annotations

import pytest

from stui.image.smalltalk.objects import Char
from stui.image.smalltalk.printing import (
    article_name,
    char_print,
    float_print,
    string_print,
    symbol_print,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (100.0, "100.0"),
        (123456.7, "123456.7"),
        (999999.0, "999999.0"),
        (1e6, "1.0e6"),
        (1.5e300, "1.5e300"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        (1.5e-5, "1.5e-5"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (-2.5, "-2.5"),
        (float("inf"), "Float infinity"),
        (float("-inf"), "Float infinity negated"),
        (float("nan"), "Float nan"),
    ],
)
def test_float_print(value: float, text: str) -> None:
    assert float_print(value) == text


def test_symbols_strings_characters() -> None:
    assert symbol_print("foo") == "#foo"
    assert symbol_print("at:put:") == "#at:put:"
    assert symbol_print("->") == "#->"
    assert symbol_print("a b") == "#'a b'"
    assert symbol_print("at:x") == "#'at:x'"
    assert symbol_print("") == "#''"
    assert symbol_print("1a") == "#'1a'"
    assert string_print("it's") == "'it''s'"
    assert char_print(Char("a")) == "$a"
    assert char_print(Char(" ")) == "Character space"
    assert char_print(Char("\x01")) == "Character value: 1"
    assert article_name("Account") == "an Account"
    assert article_name("Point") == "a Point"
