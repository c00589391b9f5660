"""Whatever text arrives, parsing raises only SmalltalkSyntaxError and evaluation answers an outcome."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stui.image.smalltalk import (
    Failure,
    SmalltalkImage,
    SmalltalkSyntaxError,
    Success,
    parse_doit,
    parse_method,
)

PIECES = [
    "3",
    "-4",
    "16r1F",
    "2.5",
    "1e3",
    "$a",
    "'s'",
    "#sym",
    "#(1 $a)",
    "#[1 2]",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":x",
    "|",
    "^",
    ".",
    ";",
    ":=",
    "+",
    "-",
    "*",
    "/",
    "//",
    "\\\\",
    "<",
    "=",
    "->",
    ",",
    "@",
    "x",
    "y",
    "self",
    "super",
    "nil",
    "true",
    "thisContext",
    "Object",
    "Transcript",
    "Array",
    "at:",
    "put:",
    "ifTrue:",
    "ifFalse:",
    "whileTrue:",
    "do:",
    "value",
    "value:",
    "new",
    "printString",
    "on:",
    "do:",
    "ensure:",
    "Error",
    "signal",
    "size",
    "collect:",
    "inject:",
    "into:",
    "to:",
    "yourself",
    " ",
    "\n",
    '"c"',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_parser_only_raises_syntax_errors(pieces: list[str]) -> None:
    source = " ".join(pieces)
    for parse in (parse_doit, parse_method):
        try:
            parse(source)
        except SmalltalkSyntaxError as err:
            assert 0 <= err.position <= len(source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30))
def test_parser_on_arbitrary_text(source: str) -> None:
    try:
        parse_doit(source)
    except SmalltalkSyntaxError as err:
        assert 0 <= err.position <= len(source)


IMAGE = SmalltalkImage("fuzz")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_evaluation_always_answers_an_outcome(pieces: list[str]) -> None:
    ws = IMAGE.new_workspace()
    outcome = ws.evaluate(" ".join(pieces), max_slices=3)
    assert isinstance(outcome, Success | Failure)
    if isinstance(outcome, Failure):
        assert outcome.error_class != "InternalError", outcome
    assert IMAGE.vm.depth == 0 and IMAGE.vm.handlers is None
