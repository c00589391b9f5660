"""Lexer, parser and positioned errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from stui.image.smalltalk import SmalltalkSyntaxError, parse_doit, parse_method
from stui.image.smalltalk.ast import (
    ArrayLit,
    Assign,
    BlockNode,
    BraceArray,
    ByteArrayLit,
    Cascade,
    CharLit,
    Literal,
    MethodNode,
    Return,
    Send,
    StrLit,
    SymLit,
    Variable,
)
from stui.image.smalltalk.errors import line_and_column, render_caret
from stui.image.smalltalk.lexer import TokenKind, tokenize


def kinds(source: str) -> list[TokenKind]:
    return [t.kind for t in tokenize(source)]


def test_tokens_carry_spans() -> None:
    tokens = tokenize("foo at: 3")
    assert [(t.kind, t.value, t.start, t.end) for t in tokens] == [
        (TokenKind.IDENTIFIER, "foo", 0, 3),
        (TokenKind.KEYWORD, "at:", 4, 7),
        (TokenKind.NUMBER, 3, 8, 9),
        (TokenKind.EOF, None, 9, 9),
    ]


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("42", 42),
        ("16r1F", 31),
        ("2r1010", 10),
        ("16r-1F", -31),
        ("1e3", 1000),
        ("1.5", 1.5),
        ("1.5e2", 150.0),
        ("2.5e-1", 0.25),
        ("1e-2", Fraction(1, 100)),
        ("1.25s2", Fraction(5, 4)),
        ("3s", 3),
    ],
)
def test_numbers(source: str, value: object) -> None:
    token = tokenize(source)[0]
    assert token.kind is TokenKind.NUMBER and token.value == value and token.end == len(source)


def test_other_tokens() -> None:
    assert kinds("x := $a. ^ #foo:bar: ; 'it''s' #( #[ { } [ ] ( ) | :") == [
        TokenKind.IDENTIFIER,
        TokenKind.ASSIGN,
        TokenKind.CHARACTER,
        TokenKind.PERIOD,
        TokenKind.CARET,
        TokenKind.SYMBOL,
        TokenKind.SEMICOLON,
        TokenKind.STRING,
        TokenKind.LITERAL_ARRAY,
        TokenKind.BYTE_ARRAY,
        TokenKind.LBRACE,
        TokenKind.RBRACE,
        TokenKind.LBRACKET,
        TokenKind.RBRACKET,
        TokenKind.LPAREN,
        TokenKind.RPAREN,
        TokenKind.BAR,
        TokenKind.COLON,
        TokenKind.EOF,
    ]
    assert tokenize("'it''s'")[0].value == "it's"
    assert tokenize("#'a b'")[0].value == "a b"
    assert tokenize("#+")[0].value == "+"
    assert [t.value for t in tokenize("a->b")][:3] == ["a", "->", "b"]
    assert [t.value for t in tokenize("3--4")][:3] == [3, "-", "-"]


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("'abc", "Unmatched ' in string literal.", 0),
        ('"abc', "Unmatched comment quote", 0),
        ("3 ! 4", "Unknown character", 2),
        ("37r1", "Invalid radix", 0),
        ("2r", "a digit between 0 and 1 expected", 2),
        ("$", "Character expected", 1),
        ("# ", "Literal expected", 1),
    ],
)
def test_lexer_errors(source: str, message: str, position: int) -> None:
    with pytest.raises(SmalltalkSyntaxError) as info:
        tokenize(source)
    assert (info.value.message, info.value.position) == (message, position)


def test_precedence_shape() -> None:
    node = parse_doit("a foo + b * c bar: d baz")
    assert node.body == (
        Send(
            Send(
                Send(Send(Variable("a"), "foo", ()), "+", (Variable("b"),)), "*", (Variable("c"),)
            ),
            "bar:",
            (Send(Variable("d"), "baz", ()),),
        ),
    )


def test_spans_are_recorded_but_not_compared() -> None:
    node = parse_doit("x := 3 + 4")
    stmt = node.body[0]
    assert isinstance(stmt, Assign) and stmt.span == (0, 10)
    assert stmt.value.span == (5, 10)
    assert stmt == Assign("x", Send(Literal(3), "+", (Literal(4),)))


def test_cascade_blocks_braces_returns() -> None:
    node = parse_doit("| t | t := [:a :b | | c | c := a. ^c]. {1. 2}. Transcript show: 1; cr")
    assert node.temps == ("t",)
    block = node.body[0].value  # type: ignore[union-attr]
    assert block == BlockNode(
        ("a", "b"), ("c",), (Assign("c", Variable("a")), Return(Variable("c")))
    )
    assert node.body[1] == BraceArray((Literal(1), Literal(2)))
    assert node.body[2] == Cascade(Variable("Transcript"), (("show:", (Literal(1),)), ("cr", ())))


def test_literals() -> None:
    node = parse_doit("#(1 $a 'b' #c d e: f:g: (1 2) #(3) true false nil - -1 #[1 2]) . #[255]")
    assert node.body[0] == Literal(
        ArrayLit(
            (
                1,
                CharLit("a"),
                StrLit("b"),
                SymLit("c"),
                SymLit("d"),
                SymLit("e:"),
                SymLit("f:g:"),
                ArrayLit((1, 2)),
                ArrayLit((3,)),
                True,
                False,
                None,
                SymLit("-"),
                -1,
                ByteArrayLit(b"\x01\x02"),
            )
        )
    )
    assert node.body[1] == Literal(ByteArrayLit(b"\xff"))


def test_negative_literals_only_where_a_primary_is_expected() -> None:
    assert parse_doit("3 - -4").body[0] == Send(Literal(3), "-", (Literal(-4),))
    assert parse_doit("3 -4").body[0] == Send(Literal(3), "-", (Literal(4),))
    assert parse_doit("x := -2.5").body[0] == Assign("x", Literal(-2.5))


def test_method_patterns() -> None:
    assert parse_method("foo ^1") == MethodNode("foo", (), (), (Return(Literal(1)),))
    assert parse_method("+ other ^other").params == ("other",)
    node = parse_method("at: i put: v <primitive: 61> | t | ^v")
    assert (node.selector, node.params, node.temps) == ("at:put:", ("i", "v"), ("t",))


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("3 +", "Argument expected", 3),
        ("3 at:", "Argument expected", 5),
        ("(3", "')' expected", 2),
        ("()", "Variable or expression expected", 1),
        ("[:x x]", "Vertical bar expected", 4),
        ("[:x | x", "']' expected", 7),
        ("| a b", "Vertical bar expected", 5),
        ("{1. 2", "Period or right brace expected", 5),
        ("{^1}", "Unexpected ^ in brace array", 1),
        ("#(1 [2])", "Literal expected", 4),
        ("#[1 2", "8-bit integer or right bracket expected", 5),
        ("#[1 300]", "8-bit integer expected", 4),
        ("3 ; foo", "Message expected", 2),
        ("x foo; ", "Message expected", 7),
        ("[:]", "Argument name expected", 2),
    ],
)
def test_doit_errors(source: str, message: str, position: int) -> None:
    with pytest.raises(SmalltalkSyntaxError) as info:
        parse_doit(source)
    assert (info.value.message, info.value.position) == (message, position)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("3", "Message pattern expected"),
        ("at: 3", "Argument name expected"),
        ("foo <primitive: 1", "'>' expected"),
        ("foo ^1 2", "Nothing more expected"),
        ("+ ", "Argument name expected"),
    ],
)
def test_method_errors(source: str, message: str) -> None:
    with pytest.raises(SmalltalkSyntaxError) as info:
        parse_method(source)
    assert info.value.message == message


def test_caret_rendering() -> None:
    source = "x := 1.\ny := 3 +"
    err = SmalltalkSyntaxError("Argument expected", len(source))
    assert err.render(source) == "y := 3 +\n        ^ Argument expected"
    assert line_and_column(source, len(source)) == (2, 9)
    assert render_caret("abc", 99, "m") == "abc\n   ^ m"
    assert "offset 16" in str(err)
