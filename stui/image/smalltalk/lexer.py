"""Tokens of Smalltalk source, each with its span.

The lexer is a single pass over the text with no backtracking. A few tokens are context-sensitive in
Smalltalk and are left to the parser: a ``-`` right before a digit is a negative literal only where a
primary is expected, and bare words inside a literal array are symbols. So the lexer reports ``-`` as a
binary operator and remembers, for every token, whether white space preceded it.
"""

from __future__ import annotations

import enum
import re
from fractions import Fraction
from typing import NamedTuple

from stui.image.smalltalk.errors import SmalltalkSyntaxError

__all__ = ("Token", "TokenKind", "tokenize")

BINARY_CHARS = frozenset("+-*/\\<>=~@%|&?,")


class TokenKind(enum.Enum):
    """What a token is."""

    IDENTIFIER = "identifier"  #: ``foo``, ``Foo``
    KEYWORD = "keyword"  #: ``at:`` (one part of a keyword selector)
    BINARY = "binary"  #: ``+``, ``->``, ``,`` ...
    NUMBER = "number"  #: value holds int, float or Fraction
    STRING = "string"  #: value holds the text with quotes undoubled
    SYMBOL = "symbol"  #: ``#foo``, ``#at:put:``, ``#+``, ``#'a b'``
    CHARACTER = "character"  #: ``$a``
    ASSIGN = "assign"  #: ``:=`` or ``_``
    CARET = "caret"  #: ``^``
    COLON = "colon"  #: ``:`` before a block argument
    PERIOD = "period"
    SEMICOLON = "semicolon"
    BAR = "bar"  #: ``|`` alone (temporaries); also usable as binary ``|``
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    LBRACE = "{"
    RBRACE = "}"
    LITERAL_ARRAY = "#("
    BYTE_ARRAY = "#["
    EOF = "eof"


class Token(NamedTuple):
    """A token: its kind, its value (text or number), where it is, and whether space preceded it.

    A named tuple, not a frozen dataclass: the lexer makes one per token of every do-it, and a
    frozen dataclass costs ~0.6 us to build against ~0.15 us (a fifth of lexing ``3 + 4``).
    """

    kind: TokenKind
    value: object
    start: int
    end: int
    spaced: bool = True


_new_token = tuple.__new__

# The common cases, matched at C speed; everything else goes through the rules below.
# Blanks and complete comments (an unterminated comment stops the match at its quote).
_BLANKS = re.compile(r'(?:\s+|"[^"]*")*')
# The rest of a word: exactly `str.isalnum() or "_"` per character (sre's word class).
_WORD_TAIL = re.compile(r"\w*")
_ASCII_DIGITS = re.compile(r"[0-9]+")


_SINGLE = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    "{": TokenKind.LBRACE,
    "}": TokenKind.RBRACE,
    ".": TokenKind.PERIOD,
    ";": TokenKind.SEMICOLON,
    "^": TokenKind.CARET,
}


def tokenize(source: str) -> list[Token]:
    """Split *source* into tokens, ending with an EOF token.

    Raises:
        SmalltalkSyntaxError: unterminated string or comment, or a character that is not Smalltalk.
    """
    return _Lexer(source).run()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        """Tokenize the whole source."""
        src = self.src
        n = len(src)
        tokens = self.tokens
        append = tokens.append
        new = _new_token
        blanks = _BLANKS.match
        word_tail = _WORD_TAIL.match
        ascii_digits = _ASCII_DIGITS.match
        pos = 0
        while True:
            start = blanks(src, pos).end()
            if start < n and src[start] == '"':
                raise SmalltalkSyntaxError("Unmatched comment quote", start)
            spaced = start > pos or pos == 0
            if start >= n:
                append(new(Token, (K_EOF, None, n, n, spaced)))
                self.pos = n
                return tokens
            c = src[start]
            if c.isalpha() or (
                c == "_" and start + 1 < n and (src[start + 1].isalnum() or src[start + 1] == "_")
            ):
                end = word_tail(src, start + 1).end()
                if end < n and src[end] == ":" and not (end + 1 < n and src[end + 1] == "="):
                    append(new(Token, (K_KEYWORD, src[start : end + 1], start, end + 1, spaced)))
                    pos = end + 1
                else:
                    append(new(Token, (K_IDENTIFIER, src[start:end], start, end, spaced)))
                    pos = end
            elif c.isdigit():
                end = ascii_digits(src, start).end() if "0" <= c <= "9" else start
                # An ASCII integer far below int()'s digit limit, and no radix, fraction digits,
                # exponent or scale after it.
                if start < end < start + 19 and (
                    end >= n
                    or src[end] not in "res."
                    or (src[end] == "." and not (end + 1 < n and src[end + 1].isdigit()))
                ):
                    value: object = int(src[start:end])
                else:  # radix, float, exponent, scaled decimal, huge, or not ASCII
                    value, end = self._number(start)
                append(new(Token, (K_NUMBER, value, start, end, spaced)))
                pos = end
            elif c in _SINGLE:
                append(new(Token, (_SINGLE[c], c, start, start + 1, spaced)))
                pos = start + 1
            elif c in BINARY_CHARS:
                end = start + 1
                while (
                    end < n and src[end] in BINARY_CHARS and not (src[end] == "-" and end > start)
                ):
                    end += 1
                text = src[start:end]
                kind = TokenKind.BAR if text == "|" else TokenKind.BINARY
                append(new(Token, (kind, text, start, end, spaced)))
                pos = end
            elif c == "'":
                text, end = self._string(start)
                append(new(Token, (TokenKind.STRING, text, start, end, spaced)))
                pos = end
            elif c == "$":
                if start + 1 >= n:
                    raise SmalltalkSyntaxError("Character expected", start + 1)
                append(new(Token, (TokenKind.CHARACTER, src[start + 1], start, start + 2, spaced)))
                pos = start + 2
            elif c == "#":
                self._hash(start, spaced)
                pos = self.pos
            elif c == ":":
                if start + 1 < n and src[start + 1] == "=":
                    append(new(Token, (TokenKind.ASSIGN, ":=", start, start + 2, spaced)))
                    pos = start + 2
                else:
                    append(new(Token, (TokenKind.COLON, ":", start, start + 1, spaced)))
                    pos = start + 1
            elif c == "_":
                append(new(Token, (TokenKind.ASSIGN, ":=", start, start + 1, spaced)))
                pos = start + 1
            else:
                raise SmalltalkSyntaxError("Unknown character", start)

    def _digits(self, pos: int, radix: int) -> int:
        src, n = self.src, len(self.src)
        while pos < n and _digit_value(src[pos]) < radix:
            pos += 1
        return pos

    def _number(self, start: int) -> tuple[int | float | Fraction, int]:
        """number : digits ('r' radixdigits)? ('.' digits)? ('e' '-'? digits)? ('s' digits?)?"""
        try:
            return self._number_unchecked(start)
        except (ValueError, OverflowError):
            raise SmalltalkSyntaxError("Number too large", start) from None

    def _number_unchecked(self, start: int) -> tuple[int | float | Fraction, int]:
        src, n = self.src, len(self.src)
        end = self._digits(start, 10)
        radix = 10
        if end < n and src[end] == "r":
            radix = int(src[start:end])
            if not 2 <= radix <= 36:
                raise SmalltalkSyntaxError("Invalid radix", start)
            digits_start = end + 1
            negative = digits_start < n and src[digits_start] == "-"
            if negative:
                digits_start += 1
            end = self._digits(digits_start, radix)
            if end == digits_start:
                raise SmalltalkSyntaxError(f"a digit between 0 and {radix - 1} expected", end)
            value = int(src[digits_start:end], radix)
            return (-value if negative else value), end
        int_end = end
        is_float = False
        if end + 1 < n and src[end] == "." and src[end + 1].isdigit():
            end = self._digits(end + 1, 10)
            is_float = True
        mantissa_end = end
        exponent = 0
        if end < n and src[end] == "e":
            p = end + 1
            if p < n and src[p] == "-":
                p += 1
            q = self._digits(p, 10)
            if q > p:
                exponent = int(src[end + 1 : q])
                if abs(exponent) > 10_000:
                    raise ValueError("exponent too large")
                end = q
        if end < n and src[end] == "s" and not (end + 1 < n and src[end + 1].isalpha()):
            q = self._digits(end + 1, 10)
            value = Fraction(src[start:mantissa_end]) * Fraction(10) ** exponent
            return value, q
        text = src[start:mantissa_end]
        if is_float:
            return float(f"{text}e{exponent}"), end
        value = int(src[start:int_end])
        if exponent >= 0:
            return value * 10**exponent, end
        return Fraction(value, 10**-exponent), end

    def _string(self, start: int) -> tuple[str, int]:
        src = self.src
        parts = []
        pos = start + 1
        while True:
            end = src.find("'", pos)
            if end < 0:
                raise SmalltalkSyntaxError("Unmatched ' in string literal.", start)
            parts.append(src[pos:end])
            if end + 1 < len(src) and src[end + 1] == "'":
                parts.append("'")
                pos = end + 2
            else:
                return "".join(parts), end + 1

    def _hash(self, start: int, spaced: bool) -> None:
        src, n = self.src, len(self.src)
        p = start + 1
        if p < n and src[p] == "#":
            p += 1
        if p < n and src[p] == "(":
            self.tokens.append(Token(TokenKind.LITERAL_ARRAY, "#(", start, p + 1, spaced))
            self.pos = p + 1
        elif p < n and src[p] == "[":
            self.tokens.append(Token(TokenKind.BYTE_ARRAY, "#[", start, p + 1, spaced))
            self.pos = p + 1
        elif p < n and src[p] == "'":
            text, end = self._string(p)
            self.tokens.append(Token(TokenKind.SYMBOL, text, start, end, spaced))
            self.pos = end
        elif p < n and (src[p].isalpha() or src[p] == "_"):
            end = p
            while end < n and (src[end].isalnum() or src[end] in "_:"):
                end += 1
            self.tokens.append(Token(TokenKind.SYMBOL, src[p:end], start, end, spaced))
            self.pos = end
        elif p < n and src[p] in BINARY_CHARS:
            end = p
            while end < n and src[end] in BINARY_CHARS:
                end += 1
            self.tokens.append(Token(TokenKind.SYMBOL, src[p:end], start, end, spaced))
            self.pos = end
        else:
            raise SmalltalkSyntaxError("Literal expected", p)


K_EOF = TokenKind.EOF
K_KEYWORD = TokenKind.KEYWORD
K_IDENTIFIER = TokenKind.IDENTIFIER
K_NUMBER = TokenKind.NUMBER


def _digit_value(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    return 99
