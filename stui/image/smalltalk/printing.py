"""printString and displayString as Pharo prints them.

Built-in objects are printed by Python code (fast, and bounded: a :class:`Printer` stops once it has
written ``limit`` characters and the caller marks the result truncated). An object whose class, or an
ancestor written in Smalltalk, overrides ``printOn:`` or ``printString`` is printed by sending those
messages, so user classes print their own way, also inside collections.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.objects import (
    Block,
    Char,
    Kind,
    Obj,
    StClass,
    StString,
    denorm_key,
    hashed_view,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = (
    "TRUNCATION_MARKER",
    "Printer",
    "article_name",
    "char_print",
    "float_print",
    "int_text",
    "string_print",
    "symbol_print",
)

TRUNCATION_MARKER = "...(truncated)"
MAX_NESTING = 64

_CHAR_NAMES = {
    0: "null",
    8: "backspace",
    9: "tab",
    10: "lf",
    12: "newPage",
    13: "cr",
    27: "escape",
    32: "space",
    127: "delete",
}


class PrintLimitReached(Exception):
    """Raised inside a Printer when its output is full."""


def float_print(f: float) -> str:
    """Pharo's float syntax: shortest round-trip digits, fixed notation for 1e-4 <= |f| < 1e6.

    Pharo (Float>>absPrintExactlyOn:base:) prints fixed when the count of integer digits is between
    -3 and 6, else ``d.ddde<exp>``; infinities and NaN print as the expressions that make them.
    """
    if f != f:
        return "Float nan"
    if f in (math.inf, -math.inf):
        return "Float infinity" if f > 0 else "Float infinity negated"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    f = abs(f)
    if f == 0.0:
        return sign + "0.0"
    _, digit_tuple, exponent = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent  # digits before the decimal point
    if -3 <= point <= 6:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if len(digits) <= point:
            return f"{sign}{digits}{'0' * (point - len(digits))}.0"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{point - 1}"


def int_text(n: int) -> str:
    """``str(n)`` without Python's 4300-digit conversion limit (divide and conquer)."""
    try:
        return str(n)
    except ValueError:
        pass
    if n < 0:
        return "-" + int_text(-n)
    half = int(n.bit_length() * 0.30103) // 2
    high, low = divmod(n, 10**half)
    return int_text(high) + int_text(low).zfill(half)


def char_print(c: Char) -> str:
    """``$a``, or ``Character space`` / ``Character value: 1`` for unprintable characters."""
    code = ord(c.ch)
    if code in _CHAR_NAMES:
        return f"Character {_CHAR_NAMES[code]}"
    if code < 32:
        return f"Character value: {code}"
    return f"${c.ch}"


def string_print(s: str) -> str:
    """A String literal: quotes around, inner quotes doubled."""
    return "'" + s.replace("'", "''") + "'"


def _is_symbol_literal(s: str) -> bool:
    if not s:
        return False
    if all(ch in "+-*/\\<>=~@%|&?," for ch in s):
        return True
    if not (s[0].isalpha() or s[0] == "_"):
        return False
    if ":" not in s:
        return all(ch.isalnum() or ch == "_" for ch in s)
    if not s.endswith(":"):
        return False
    return all(
        part
        and (part[0].isalpha() or part[0] == "_")
        and all(ch.isalnum() or ch == "_" for ch in part)
        for part in s[:-1].split(":")
    )


def symbol_print(s: str) -> str:
    """``#foo``, ``#at:put:``, ``#+``, or ``#'a b'`` when the name is not a literal selector."""
    return f"#{s}" if _is_symbol_literal(s) else "#" + string_print(s)


def article_name(name: str) -> str:
    """``an Account``, ``a Point``."""
    return ("an " if name[:1] in "AEIOU" else "a ") + name


class Printer:
    """Accumulates printed text, at most *limit* characters (None: no limit).

    Args:
        vm: the VM (to find overrides and send printOn:/printString).
        limit: stop with PrintLimitReached after this many characters.
        display: displayString mode (strings and symbols without quotes, elements displayed).
    """

    def __init__(self, vm: VM, limit: int | None = None, display: bool = False) -> None:
        self.vm = vm
        self.limit = limit
        self.display = display
        self.parts: list[str] = []
        self.size = 0
        self.nesting = 0

    def write(self, text: str) -> None:
        """Append *text*; raise PrintLimitReached once past the limit."""
        self.parts.append(text)
        self.size += len(text)
        if self.limit is not None and self.size > self.limit:
            raise PrintLimitReached

    def write_int(self, n: int) -> None:
        """Write an integer; when it has far more digits than the limit, only its leading digits."""
        digits = int(abs(n).bit_length() * 0.30103) + 1
        if self.limit is not None and digits > self.limit + 64:
            keep = self.limit + 32
            lead = abs(n) // 10 ** (digits - keep)
            self.write(("-" if n < 0 else "") + int_text(lead))  # longer than the limit: raises
            return
        self.write(int_text(n))

    def text(self) -> str:
        """Everything written so far."""
        return "".join(self.parts)

    def result(self, obj: Any) -> tuple[str, bool]:
        """Print *obj*; return the text and whether it was truncated."""
        try:
            self.print(obj, top=True)
        except PrintLimitReached:
            assert self.limit is not None
            return self.text()[: self.limit] + TRUNCATION_MARKER, True
        return self.text(), False

    def print(self, obj: Any, top: bool = False) -> None:
        """Write *obj*'s printString (or displayString in display mode)."""
        vm = self.vm
        vm.ticks -= 1  # printing a huge collection must stay interruptible
        if vm.ticks < 0:
            vm.checkpoint()
        cls = vm.class_of(obj)
        if self.display:
            override = cls.lookup("displayString")
            if override is not None and override.source:
                self.write(_text_of(vm.send(obj, "displayString")))
                return
            if isinstance(obj, StString):
                self.write(obj.s)
                return
            if type(obj) is str:
                self.write(obj)
                return
            if type(obj) is Char:
                self.write(obj.ch)
                return
        override = cls.lookup("printString")
        if override is not None and override.source:
            self.write(_text_of(vm.send(obj, "printString")))
            return
        override = cls.lookup("printOn:")
        if override is not None and override.source:
            stream = vm.new_instance(vm.classes["WriteStream"])
            stream.data = [[], 0, True]
            vm.send(obj, "printOn:", stream)
            self.write("".join(stream.data[0]))
            return
        if self.nesting > MAX_NESTING:
            self.write("...")
            return
        self.nesting += 1
        try:
            self.builtin(obj, cls)
        finally:
            self.nesting -= 1

    def elements(self, items: Any, separator: str = " ") -> None:
        """Print each item, separated by *separator*."""
        first = True
        for item in items:
            if not first:
                self.write(separator)
            first = False
            self.print(item)

    def builtin(self, obj: Any, cls: StClass) -> None:
        """The built-in printOn: for Python-represented values (nil, numbers, strings, blocks, classes...)."""
        t = type(obj)
        if obj is None:
            self.write("nil")
        elif t is bool:
            self.write("true" if obj else "false")
        elif t is int:
            self.write_int(obj)
        elif t is float:
            self.write(float_print(obj))
        elif t is Fraction:
            self.write(f"({obj.numerator}/{obj.denominator})")
        elif t is Char:
            self.write(char_print(obj))
        elif t is StString:
            self.write(string_print(obj.s))
        elif t is str:
            self.write(symbol_print(obj))
        elif t is Block:
            self.write(obj.source)
        elif t is StClass:
            self.write(obj.name)
        elif t is Obj:
            self.builtin_obj(obj, cls)
        else:
            self.write(repr(obj))

    def builtin_obj(self, obj: Obj, cls: StClass) -> None:
        """The built-in printOn: for Obj instances, by the shape of their class."""
        kind = cls.kind
        base = cls.builtin_name
        if kind is Kind.ARRAY:
            self.array(obj)
        elif kind is Kind.ORDERED or kind is Kind.SET:
            self.write(article_name(cls.name) + "(")
            items = (
                obj.data if kind is Kind.ORDERED else [denorm_key(k) for k in hashed_view(obj.data)]
            )
            self.elements(items)
            self.write(")")
        elif kind is Kind.BAG:
            self.write(article_name(cls.name) + "(")
            self.elements(denorm_key(k) for k, n in hashed_view(obj.data).items() for _ in range(n))
            self.write(")")
        elif kind is Kind.DICT:
            self.write(article_name(cls.name) + "(")
            for k, v in hashed_view(obj.data).items():
                self.print(denorm_key(k))
                self.write("->")
                self.print(v)
                self.write(" ")
            self.write(")")
        elif kind is Kind.INTERVAL:
            start, stop, step = obj.data
            self.write("(")
            self.print(start)
            self.write(" to: ")
            self.print(stop)
            if step != 1:
                self.write(" by: ")
                self.print(step)
            self.write(")")
        elif kind is Kind.BYTES:
            self.write("#[" + " ".join(str(b) for b in obj.data) + "]")
        elif base == "Association":
            self.print(obj.slots[0])
            self.write("->")
            self.print(obj.slots[1])
        elif base == "Point":
            self.write("(")
            self.print(obj.slots[0])
            self.write("@")
            self.print(obj.slots[1])
            self.write(")")
        elif base == "SmalltalkImage":
            self.write("Smalltalk")
        elif base == "CompiledMethod" and obj.data is not None:
            self.write(f"{obj.data.owner.name}>>{symbol_print(obj.data.selector)}")
        elif base in ("Date", "Time", "DateAndTime") and obj.data is not None:
            from stui.image.smalltalk.lib_time import time_print

            self.write(time_print(obj))
        elif cls.inherits_from(self.vm.classes["Exception"]):
            self.write(_text_of(self.vm.send(obj, "description")))
        elif base == "Message":
            self.write(obj.slots[0])
            args = obj.slots[1].data if obj.slots[1] is not None else []
            for a in args:
                self.write(" ")
                self.print(a)
        else:
            self.write(article_name(cls.name))

    def array(self, obj: Obj) -> None:
        """Array>>printOn:: literal form, else ``{a. b}`` if self-evaluating, else ``an Array(...)``."""
        items = obj.data
        plain = obj.cls.name == "Array"
        if plain and (self.display or all(_is_literal(x) for x in items)):
            self.write("#(")
            self.elements(items)
            self.write(")")
        elif plain and all(_is_self_evaluating(x) for x in items):
            self.write("{")
            self.elements(items, ". ")
            self.write("}")
        else:
            self.write(article_name(obj.cls.name) + "(")
            self.elements(items)
            self.write(")")


_SELF_EVALUATING_CLASSES = frozenset({"Point", "Association", "Interval"})


#: Values whose displayString is their printString unless Smalltalk code overrides printing: the
#: built-in printOn: of these never looks at the display mode (strings, symbols and characters
#: display differently, collections display their elements).
PLAIN_SCALARS = (int, float, bool, type(None), Fraction)

_PRINT_SELECTORS = ("displayString", "printString", "printOn:")


def prints_plainly(vm: VM, cls: StClass) -> bool:
    """True if no Smalltalk method of *cls* or its superclasses overrides printing.

    Then a `PLAIN_SCALARS` value of *cls* displays as it prints, and an evaluation answers it
    without running the display printer (three lookups along the class chain and a Printer).
    Remembered per class until the image's methods or classes change (``vm.epoch``).
    """
    known = vm.plain_printing
    if known.get(cls) == vm.epoch:
        return True
    for selector in _PRINT_SELECTORS:
        method = cls.lookup(selector)
        if method is not None and method.source:
            return False
    known[cls] = vm.epoch
    return True


def _is_self_evaluating(x: Any) -> bool:
    """Pharo's isSelfEvaluating: printing it gives an expression that evaluates to an equal object."""
    t = type(x)
    if _is_literal(x) or t in (float, Fraction, StClass):
        return True
    if t is Obj and x.cls.name in _SELF_EVALUATING_CLASSES:
        return all(_is_self_evaluating(v) for v in x.slots)
    return t is Obj and x.cls.name == "Array" and all(_is_self_evaluating(v) for v in x.data)


def _text_of(value: Any) -> str:
    if isinstance(value, StString):
        return value.s
    if type(value) is str:
        return value
    return str(value)


def _is_literal(x: Any) -> bool:
    t = type(x)
    if t is float:
        return math.isfinite(x)
    if x is None or t in (bool, int, Char, StString, str):
        return True
    if t is Obj and x.cls.name == "Array":
        return all(_is_literal(i) for i in x.data)
    return t is Obj and x.cls.name == "ByteArray"
