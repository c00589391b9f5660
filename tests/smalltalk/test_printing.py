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


@pytest.mark.parametrize(
    "source", ["3", "-7", "(2 raisedTo: 100)", "4.5", "(1/2)", "nil", "true", "false", "1e100"]
)
def test_plain_values_display_as_the_display_printer_writes_them(source: str) -> None:
    """An evaluation skips the display printer for plain values while nothing overrides printing;
    every override (displayString, printString, printOn:, added at any time) is still honoured."""
    from stui.image.smalltalk import SmalltalkImage, Success
    from stui.image.smalltalk.printing import Printer

    image = SmalltalkImage("display")
    ws = image.new_workspace()

    def check() -> Success:
        outcome = ws.evaluate(source)
        assert isinstance(outcome, Success)
        code = image.vm.compile_doit(source, ws.vars)
        expected, _ = Printer(image.vm, image.print_limit, display=True).result(code(None))
        assert outcome.display_string == expected
        return outcome

    plain = check()
    assert plain.display_string == plain.print_string
    ws.evaluate("Object compile: 'displayString ^''shown'''")
    assert check().display_string == "shown"
    ws.evaluate("Object removeSelector: #displayString")
    assert check().display_string == plain.print_string
    ws.evaluate("Object compile: 'printOn: aStream aStream nextPutAll: ''printed'''")
    assert check().display_string == "printed"
