"""When Enter submits: the Smalltalk completeness scanner."""

from __future__ import annotations

import pytest

from stui.repl.input_rules import Openness, is_complete, scan


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3 + 4",
        "x := 3 + 4.",
        "Transcript show: 'hi'; cr",
        "#(1 2 #(3 4)) size",
        "#[1 2 3] size",
        "{1. 2. 3}",
        "[:x | x * 2] value: 21",
        "'it''s' size",
        "$' asString",
        '$" asString',
        "$( asString",
        "$) asString",
        '"a comment" 3',
        "#foo:bar: numArgs",
        "#'hello world' size",
        "#+ numArgs",
        "x := -3",
        "3 - -2",
        "1.5e3 + 2r101",
        "Object subclass: #Point3D\n    instanceVariableNames: 'x y z'\n    classVariableNames: ''\n    package: 'Demo'",
        ":use beta",
        ":help (",
        "3)",  # a stray closer is the image's syntax error to report, not a reason to wait
        "[:a | a]]",
    ],
)
def test_complete(text: str) -> None:
    assert is_complete(text), scan(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("'unterminated", Openness.STRING),
        ("'it''s", Openness.STRING),
        ("#'sym", Openness.STRING),
        ('"open comment', Openness.COMMENT),
        ("[:x | x", Openness.BRACKET),
        ("#(1 2", Openness.BRACKET),
        ("#[1 2", Openness.BRACKET),
        ("{1. 2", Openness.BRACKET),
        ("(3 + 4", Openness.BRACKET),
        ("x > 3 ifTrue: [\n  'big'", Openness.BRACKET),
        ("x > 3 ifTrue:", Openness.EXPECTS_MORE),
        ("x :=", Openness.EXPECTS_MORE),
        ("3 +", Openness.EXPECTS_MORE),
        ("'a' ,", Openness.EXPECTS_MORE),
        ("^", Openness.EXPECTS_MORE),
        ("Transcript show: 'a';", Openness.EXPECTS_MORE),
        ('3 + "why"', Openness.EXPECTS_MORE),
    ],
)
def test_incomplete(text: str, why: Openness) -> None:
    state = scan(text)
    assert not state.complete
    assert state.openness is why


def test_open_brackets_and_mismatch_are_reported() -> None:
    state = scan("#( [ (")
    assert state.open_brackets == "#([("
    assert scan("(3])").mismatched_at == 2
    assert scan("3 + 4").mismatched_at is None


def test_brackets_inside_strings_comments_and_characters_do_not_count() -> None:
    assert is_complete("'(' size")
    assert is_complete('"[[[" 3')
    assert is_complete("$[ value")
    assert not is_complete("'a' , '(' , (")
