"""The syntax tree: a closed union of frozen node dataclasses.

Positions live in ``span`` (start, end offsets), excluded from equality and repr so tests compare shapes.
Literal *values* are kept as plain Python data (int, float, Fraction, None, bool) or as the small
literal records below, so the compiler decides how each becomes a Smalltalk object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

__all__ = (
    "NO_SPAN",
    "ArrayLit",
    "Assign",
    "BlockNode",
    "BraceArray",
    "ByteArrayLit",
    "Cascade",
    "CharLit",
    "Expr",
    "Literal",
    "LiteralValue",
    "MethodNode",
    "Return",
    "Send",
    "Span",
    "Statement",
    "StrLit",
    "SymLit",
    "Variable",
)

Span = tuple[int, int]
NO_SPAN: Span = (0, 0)


@dataclass(frozen=True, slots=True)
class CharLit:
    """``$a``"""

    char: str


@dataclass(frozen=True, slots=True)
class StrLit:
    """``'text'`` (quotes already undoubled)."""

    text: str


@dataclass(frozen=True, slots=True)
class SymLit:
    """``#name``"""

    name: str


@dataclass(frozen=True, slots=True)
class ArrayLit:
    """``#(...)``: items are literal values, nested arrays included."""

    items: tuple[LiteralValue, ...]


@dataclass(frozen=True, slots=True)
class ByteArrayLit:
    """``#[1 2 3]``"""

    data: bytes


LiteralValue = (
    int | float | Fraction | bool | None | CharLit | StrLit | SymLit | ArrayLit | ByteArrayLit
)


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal constant."""

    value: LiteralValue
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Variable:
    """A name: temporary, argument, instance variable, workspace variable, global or pseudo-variable."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Assign:
    """``name := value``"""

    name: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Send:
    """A unary, binary or keyword message send."""

    receiver: Expr
    selector: str
    args: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Cascade:
    """``receiver m1; m2; m3``: every message goes to the value of *receiver*."""

    receiver: Expr
    messages: tuple[tuple[str, tuple[Expr, ...]], ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BlockNode:
    """``[:a :b | | t | statements]``"""

    params: tuple[str, ...]
    temps: tuple[str, ...]
    body: tuple[Statement, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BraceArray:
    """``{e1. e2}``: an Array built from expression values."""

    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Return:
    """``^ value``"""

    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Expr = Literal | Variable | Assign | Send | Cascade | BlockNode | BraceArray
Statement = Expr | Return


@dataclass(frozen=True, slots=True)
class MethodNode:
    """A method (or a do-it, whose selector is ``DoIt`` and has no parameters)."""

    selector: str
    params: tuple[str, ...]
    temps: tuple[str, ...]
    body: tuple[Statement, ...]
    source: str = field(default="", compare=False, repr=False)
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
