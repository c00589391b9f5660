"""Tokens of Smalltalk source, each with its span.

The lexer is a single pass over the text with no backtracking. A few tokens are context-sensitive in
Smalltalk and are left to the parser: a ``-`` right before a digit is a negative literal only where a
primary is expected, and bare words inside a literal array are symbols. So the lexer reports ``-`` as a
binary operator and remembers, for every token, whether white space preceded it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

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


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its kind, its value (text or number), where it is, and whether space preceded it."""

    kind: TokenKind
    value: object
    start: int
    end: int
    spaced: bool = True


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
        while True:
            spaced = self._skip_blanks()
            if self.pos >= n:
                self.tokens.append(Token(TokenKind.EOF, None, n, n, spaced))
                return self.tokens
            start = self.pos
            c = src[start]
            if c.isalpha() or (
                c == "_" and start + 1 < n and (src[start + 1].isalnum() or src[start + 1] == "_")
            ):
                self._word(start, spaced)
            elif c.isdigit():
                value, end = self._number(start)
                self.tokens.append(Token(TokenKind.NUMBER, value, start, end, spaced))
                self.pos = end
            elif c == "'":
                text, end = self._string(start)
                self.tokens.append(Token(TokenKind.STRING, text, start, end, spaced))
                self.pos = end
            elif c == "$":
                if start + 1 >= n:
                    raise SmalltalkSyntaxError("Character expected", start + 1)
                self.tokens.append(
                    Token(TokenKind.CHARACTER, src[start + 1], start, start + 2, spaced)
                )
                self.pos = start + 2
            elif c == "#":
                self._hash(start, spaced)
            elif c == ":":
                if start + 1 < n and src[start + 1] == "=":
                    self.tokens.append(Token(TokenKind.ASSIGN, ":=", start, start + 2, spaced))
                    self.pos = start + 2
                else:
                    self.tokens.append(Token(TokenKind.COLON, ":", start, start + 1, spaced))
                    self.pos = start + 1
            elif c == "_":
                self.tokens.append(Token(TokenKind.ASSIGN, ":=", start, start + 1, spaced))
                self.pos = start + 1
            elif c in _SINGLE:
                self.tokens.append(Token(_SINGLE[c], c, start, start + 1, spaced))
                self.pos = start + 1
            elif c in BINARY_CHARS:
                end = start + 1
                while (
                    end < n and src[end] in BINARY_CHARS and not (src[end] == "-" and end > start)
                ):
                    end += 1
                text = src[start:end]
                kind = TokenKind.BAR if text == "|" else TokenKind.BINARY
                self.tokens.append(Token(kind, text, start, end, spaced))
                self.pos = end
            else:
                raise SmalltalkSyntaxError("Unknown character", start)

    def _skip_blanks(self) -> bool:
        src, n, start = self.src, len(self.src), self.pos
        while self.pos < n:
            c = src[self.pos]
            if c.isspace():
                self.pos += 1
            elif c == '"':
                end = src.find('"', self.pos + 1)
                if end < 0:
                    raise SmalltalkSyntaxError("Unmatched comment quote", self.pos)
                self.pos = end + 1
            else:
                break
        return self.pos > start or start == 0

    def _word(self, start: int, spaced: bool) -> None:
        src, n = self.src, len(self.src)
        end = start
        while end < n and (src[end].isalnum() or src[end] == "_"):
            end += 1
        if end < n and src[end] == ":" and not (end + 1 < n and src[end + 1] == "="):
            self.tokens.append(
                Token(TokenKind.KEYWORD, src[start : end + 1], start, end + 1, spaced)
            )
            self.pos = end + 1
        else:
            self.tokens.append(Token(TokenKind.IDENTIFIER, src[start:end], start, end, spaced))
            self.pos = end

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


def _digit_value(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    return 99
