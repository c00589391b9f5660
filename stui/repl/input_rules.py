"""When does Enter submit? A small Smalltalk scanner that tells a finished input from one still being typed.

A statement sequence or a class definition spans lines, so Enter cannot always mean "run it". The rule
is the one Python REPLs use for open brackets, adapted to Smalltalk's lexical quirks: the input is
*incomplete* while a string ('…'), a comment ("…"), a quoted symbol (#'…') or a bracket ((), [], {},
#( ), #[ ]) is still open, or when its last token demands something after it (a keyword part such as
`ifTrue:`, an assignment `:=`, a binary operator such as `+` or `,`, a return `^`, or a cascade `;`).
Everything else is complete and is sent as is: a stray closing bracket is a syntax error for the image
to report with its position, not a reason to keep the user typing.

`$'` and `$"` are character literals, not the start of a string or comment; a `''` inside a string is an
escaped quote. REPL commands (a line starting with `:`) are always complete.

Meta-Enter (Esc then Enter) always inserts a newline; see keys.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["InputState", "Openness", "is_complete", "scan"]

_BINARY_CHARS = frozenset("+-*/\\~<>=@%|&?,")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class Openness(enum.Enum):
    """What keeps an input from being complete, if anything."""

    COMPLETE = "complete"
    STRING = "string"
    COMMENT = "comment"
    BRACKET = "bracket"
    EXPECTS_MORE = "expects-more"


@dataclass(frozen=True, slots=True)
class InputState:
    """The outcome of `scan`.

    Attributes:
        openness: why the input is not finished, or COMPLETE.
        open_brackets: the brackets still open, outermost first (e.g. "([").
        mismatched_at: offset of the first closing bracket that matches nothing open, if any.
    """

    openness: Openness
    open_brackets: str = ""
    mismatched_at: int | None = None

    @property
    def complete(self) -> bool:
        return self.openness is Openness.COMPLETE


def is_complete(text: str) -> bool:
    """True when Enter should submit `text` rather than start a new line."""
    return scan(text).complete


def scan(text: str) -> InputState:
    """Scan `text` once, left to right, tracking strings, comments and brackets."""
    if text.lstrip().startswith(":"):
        return InputState(Openness.COMPLETE)
    stack: list[str] = []
    mismatched: int | None = None
    last = ""  # the kind of the last significant token: "keyword", "binary", "assign", "caret", ...
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                return InputState(Openness.COMMENT, "".join(stack), mismatched)
            i = end + 1  # a comment changes nothing about what comes before it
        elif c == "'":
            end = _string_end(text, i + 1)
            if end < 0:
                return InputState(Openness.STRING, "".join(stack), mismatched)
            i, last = end + 1, "literal"
        elif c == "$":
            # A character literal takes the next character whatever it is ($' $" $( $ ).
            i, last = i + 2, "literal"
        elif c == "#":
            i, last = _scan_hash(text, i, stack)
            if last == "open-string":
                return InputState(Openness.STRING, "".join(stack), mismatched)
        elif c in _CLOSERS:
            stack.append(c)
            i, last = i + 1, "open"
        elif c in ")]}":
            if stack and _CLOSERS[stack[-1][-1]] == c:
                stack.pop()
            elif mismatched is None:
                mismatched = i
            i, last = i + 1, "close"
        elif c == ":" and i + 1 < n and text[i + 1] == "=":
            i, last = i + 2, "assign"
        elif c == "^":
            i, last = i + 1, "caret"
        elif c == ";":
            i, last = i + 1, "cascade"
        elif c == ".":
            i, last = i + 1, "period"
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if j < n and text[j] == ":" and not (j + 1 < n and text[j + 1] == "="):
                i, last = j + 1, "keyword"
            else:
                i, last = j, "identifier"
        elif c.isdigit():
            j = i + 1
            while (
                j < n
                and (text[j].isalnum() or text[j] in "._")
                and not (text[j] == "." and (j + 1 >= n or not text[j + 1].isdigit()))
            ):
                j += 1
            i, last = j, "literal"
        elif c in _BINARY_CHARS:
            j = i + 1
            while j < n and text[j] in _BINARY_CHARS:
                j += 1
            # `x := -3` and `3 - -2`: a minus glued to a digit is part of a number literal.
            if text[i:j] == "-" and j < n and text[j].isdigit():
                i = j
                continue
            i, last = j, "binary"
        else:
            i, last = i + 1, "other"
    if stack:
        return InputState(Openness.BRACKET, "".join(stack), mismatched)
    if last in ("keyword", "binary", "assign", "caret", "cascade"):
        return InputState(Openness.EXPECTS_MORE, "", mismatched)
    return InputState(Openness.COMPLETE, "", mismatched)


def _string_end(text: str, start: int) -> int:
    """Offset of the quote closing a string whose body starts at `start`, -1 if it never closes."""
    i = start
    while True:
        end = text.find("'", i)
        if end < 0:
            return -1
        if end + 1 < len(text) and text[end + 1] == "'":
            i = end + 2  # '' is an escaped quote
            continue
        return end


def _scan_hash(text: str, i: int, stack: list[str]) -> tuple[int, str]:
    """Scan a token starting with `#`: a symbol, a quoted symbol, or a literal/byte array opener."""
    n = len(text)
    nxt = text[i + 1] if i + 1 < n else ""
    if nxt == "'":
        end = _string_end(text, i + 2)
        return (end + 1, "literal") if end >= 0 else (n, "open-string")
    if nxt in ("(", "[", "{"):
        stack.append("#" + nxt)
        return i + 2, "open"
    j = i + 1
    while j < n and (text[j].isalnum() or text[j] in "_:"):
        j += 1
    if j == i + 1:
        while j < n and text[j] in _BINARY_CHARS:
            j += 1
    return max(j, i + 1), "literal"
