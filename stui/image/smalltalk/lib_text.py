"""Character, String, Symbol and the streams over them.

A String is a mutable :class:`StString`; a Symbol is a Python ``str``. Operations that answer "a new
string" answer a String even when the receiver is a Symbol (``#abc , 'd'`` is ``'abcd'``), except the
ones Pharo makes answer Symbols (``asSymbol``, ``asUppercase`` on a Symbol).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import as_text, display_string, subscript_error
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Char, Kind, Obj, StClass, StString, check_length

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("parse_number", "text_of")


def text_of(value: Any) -> str | None:
    t = type(value)
    if t is StString:
        return value.s
    if t is str:
        return value
    return None


def _string_arg(vm: VM, rcv: Any, arg: Any, selector: str) -> str | None:
    text = text_of(arg)
    if text is None:
        if type(arg) is Char:
            return arg.ch
        return as_text(vm, vm.send(arg, "asString"))
    return text


def parse_number(text: str) -> Any:
    """Read a Smalltalk number literal at the start of *text* (surrounding blanks allowed)."""
    from stui.image.smalltalk.errors import SmalltalkSyntaxError
    from stui.image.smalltalk.lexer import TokenKind, tokenize

    stripped = text.strip()
    negative = stripped.startswith("-")
    try:
        tokens = tokenize(stripped[1:] if negative else stripped)
    except SmalltalkSyntaxError:
        return None
    if not tokens or tokens[0].kind is not TokenKind.NUMBER:
        return None
    value = tokens[0].value
    if isinstance(value, Fraction) and value.denominator == 1:
        value = int(value)
    return -value if negative else value  # type: ignore[operator]


# -- Character -----------------------------------------------------------------------------------------


@primitive("Character class", "value:", "codePoint:")
def _char_value(vm: VM, cls: StClass, code: int) -> Any:
    if type(code) is not int or not 0 <= code <= 0x10FFFF:
        return vm.signal_error("Error", "invalid code point")
    return Char(chr(code))


def _named(ch: str) -> Any:
    return lambda vm, cls: Char(ch)


for _name, _ch in (
    ("cr", "\r"),
    ("lf", "\n"),
    ("tab", "\t"),
    ("space", " "),
    ("null", "\0"),
    ("escape", "\x1b"),
    ("newPage", "\f"),
    ("backspace", "\b"),
    ("delete", "\x7f"),
):
    primitive("Character class", _name)(_named(_ch))


@primitive("Character", "value", "asInteger", "codePoint", "charCode", "asciiValue", "hash")
def _char_code(vm: VM, rcv: Char) -> int:
    return ord(rcv.ch)


@primitive("Character", "asCharacter")
def _char_as_char(vm: VM, rcv: Char) -> Char:
    return rcv


@primitive("Character", "asString")
def _char_as_string(vm: VM, rcv: Char) -> StString:
    return StString(rcv.ch)


@primitive("Character", "asSymbol")
def _char_as_symbol(vm: VM, rcv: Char) -> str:
    return rcv.ch


@primitive("Character", "asUppercase")
def _char_upper(vm: VM, rcv: Char) -> Char:
    return Char(rcv.ch.upper()) if len(rcv.ch.upper()) == 1 else rcv


@primitive("Character", "asLowercase")
def _char_lower(vm: VM, rcv: Char) -> Char:
    return Char(rcv.ch.lower()) if len(rcv.ch.lower()) == 1 else rcv


@primitive("Character", "isVowel")
def _is_vowel(vm: VM, rcv: Char) -> bool:
    return rcv.ch in "aeiouAEIOU"


@primitive("Character", "isLetter")
def _is_letter(vm: VM, rcv: Char) -> bool:
    return rcv.ch.isalpha()


@primitive("Character", "isDigit")
def _is_digit(vm: VM, rcv: Char) -> bool:
    return rcv.ch.isdigit()


@primitive("Character", "isAlphaNumeric")
def _is_alnum(vm: VM, rcv: Char) -> bool:
    return rcv.ch.isalnum()


@primitive("Character", "isUppercase")
def _is_upper(vm: VM, rcv: Char) -> bool:
    return rcv.ch.isupper()


@primitive("Character", "isLowercase")
def _is_lower(vm: VM, rcv: Char) -> bool:
    return rcv.ch.islower()


@primitive("Character", "isSeparator")
def _is_separator(vm: VM, rcv: Char) -> bool:
    return rcv.ch in " \t\r\n\f"


@primitive("Character", "isPunctuation")
def _is_punct(vm: VM, rcv: Char) -> bool:
    return rcv.ch in ".,:;!?"


@primitive("Character", "digitValue")
def _digit_value(vm: VM, rcv: Char) -> int:
    c = rcv.ch
    if c.isdigit():
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    return -1


@primitive("Character", "<")
def _char_lt(vm: VM, rcv: Char, other: Any) -> Any:
    if type(other) is not Char:
        return vm.dnu(other, "asCharacter", ())
    return rcv.ch < other.ch


@primitive("Character", "=")
def _char_eq(vm: VM, rcv: Char, other: Any) -> bool:
    return type(other) is Char and rcv.ch == other.ch


@primitive("Character", "to:")
def _char_to(vm: VM, rcv: Char, other: Char) -> Obj:
    return vm.new_array([Char(chr(c)) for c in range(ord(rcv.ch), ord(other.ch) + 1)])


# -- String and Symbol -----------------------------------------------------------------------------------


def _same_kind(rcv: Any, text: str) -> Any:
    """A result of the receiver's kind: Symbol for a Symbol, String otherwise."""
    return text if type(rcv) is str else StString(text)


@primitive("String class", "new", "new:")
def _string_new(vm: VM, cls: StClass, size: int = 0) -> Any:
    if cls.name in ("Symbol", "ByteSymbol"):
        return vm.signal_error("ShouldNotImplement", "Symbols are unique: use asSymbol")
    return StString(" " * check_length(size))


@primitive("String class", "new:withAll:")
def _string_new_with_all(vm: VM, cls: StClass, size: int, ch: Char) -> StString:
    return StString(ch.ch * check_length(size))


@primitive("String class", "with:", "with:with:", "with:with:with:", "with:with:with:with:")
def _string_with(vm: VM, cls: StClass, *chars: Char) -> StString:
    return StString("".join(c.ch for c in chars))


@primitive("String class", "cr")
def _string_cr(vm: VM, cls: StClass) -> StString:
    return StString("\r")


@primitive("String class", "lf")
def _string_lf(vm: VM, cls: StClass) -> StString:
    return StString("\n")


@primitive("String class", "crlf")
def _string_crlf(vm: VM, cls: StClass) -> StString:
    return StString("\r\n")


@primitive("String class", "tab")
def _string_tab(vm: VM, cls: StClass) -> StString:
    return StString("\t")


@primitive("String class", "space")
def _string_space(vm: VM, cls: StClass) -> StString:
    return StString(" ")


@primitive("String class", "empty")
def _string_empty(vm: VM, cls: StClass) -> StString:
    return StString("")


@primitive("Symbol class", "new", "new:")
def _symbol_new(vm: VM, cls: StClass, size: int = 0) -> Any:
    return vm.signal_error("ShouldNotImplement", "Symbols are unique: use asSymbol")


@primitive("String", "size")
def _size(vm: VM, rcv: Any) -> int:
    return len(text_of(rcv) or "")


@primitive("String", "at:")
def _at(vm: VM, rcv: Any, index: Any) -> Any:
    text = text_of(rcv) or ""
    if type(index) is not int or not 1 <= index <= len(text):
        return subscript_error(vm, index, len(text))
    return Char(text[index - 1])


@primitive("String", "at:put:")
def _at_put(vm: VM, rcv: Any, index: Any, ch: Any) -> Any:
    if type(rcv) is str:
        return vm.signal_error("ModificationForbidden", "Symbols are read-only")
    if type(index) is not int or not 1 <= index <= len(rcv.s):
        return subscript_error(vm, index, len(rcv.s))
    if type(ch) is not Char:
        return vm.signal_error("Error", "Improper store into indexable object")
    rcv.s = rcv.s[: index - 1] + ch.ch + rcv.s[index:]
    return ch


@primitive("String", ",")
def _concat(vm: VM, rcv: Any, other: Any) -> Any:
    text = text_of(other)
    if text is None:
        if type(other) is Obj and other.cls.kind in (Kind.ARRAY, Kind.ORDERED):
            text = "".join(c.ch if type(c) is Char else as_text(vm, c) for c in other.data)
        elif not vm.responds_to(other, "do:"):
            return vm.dnu(other, "do:", (None,))
        else:
            text = display_string(vm, other)
    mine = text_of(rcv) or ""
    check_length(len(mine) + len(text))
    return StString(mine + text)


@primitive("String", "=")
def _str_eq(vm: VM, rcv: Any, other: Any) -> bool:
    if type(rcv) is str or type(other) is str:
        return type(rcv) is type(other) and rcv == other
    return type(other) is StString and rcv.s == other.s


@primitive("String", "hash")
def _str_hash(vm: VM, rcv: Any) -> int:
    return hash(text_of(rcv)) & 0x3FFFFFFF


def _str_compare(op: Any) -> Any:
    def compare(vm: VM, rcv: Any, other: Any) -> Any:
        text = text_of(other)
        if text is None:
            return False
        return op((text_of(rcv) or "").lower(), text.lower())

    return compare


primitive("String", "<")(_str_compare(lambda a, b: a < b))
primitive("String", ">")(_str_compare(lambda a, b: a > b))
primitive("String", "<=")(_str_compare(lambda a, b: a <= b))
primitive("String", ">=")(_str_compare(lambda a, b: a >= b))


@primitive("String", "sameAs:")
def _same_as(vm: VM, rcv: Any, other: Any) -> bool:
    text = text_of(other)
    return text is not None and text.lower() == (text_of(rcv) or "").lower()


@primitive("String", "compare:")
def _compare(vm: VM, rcv: Any, other: Any) -> int:
    a, b = (text_of(rcv) or "").lower(), (text_of(other) or "").lower()
    return 1 if a < b else (2 if a == b else 3)


@primitive("String", "copyFrom:to:")
def _copy_from_to(vm: VM, rcv: Any, start: int, stop: int) -> Any:
    text = text_of(rcv) or ""
    if stop < start:
        return StString("")
    if not (1 <= start <= len(text) + 1 and 0 <= stop <= len(text)):
        return subscript_error(vm, stop if stop > len(text) else start, len(text))
    return StString(text[start - 1 : stop])


@primitive("String", "first")
def _first(vm: VM, rcv: Any) -> Any:
    text = text_of(rcv) or ""
    return Char(text[0]) if text else subscript_error(vm, 1, 0)


@primitive("String", "last")
def _last(vm: VM, rcv: Any) -> Any:
    text = text_of(rcv) or ""
    return Char(text[-1]) if text else subscript_error(vm, 0, 0)


@primitive("String", "first:")
def _first_n(vm: VM, rcv: Any, n: int) -> Any:
    return StString((text_of(rcv) or "")[:n])


@primitive("String", "last:")
def _last_n(vm: VM, rcv: Any, n: int) -> Any:
    text = text_of(rcv) or ""
    return StString(text[len(text) - n :])


@primitive("String", "allButFirst")
def _all_but_first(vm: VM, rcv: Any) -> Any:
    return StString((text_of(rcv) or "")[1:])


@primitive("String", "allButLast")
def _all_but_last(vm: VM, rcv: Any) -> Any:
    return StString((text_of(rcv) or "")[:-1])


@primitive("String", "indexOf:")
def _index_of(vm: VM, rcv: Any, ch: Any) -> int:
    if type(ch) is not Char:
        return 0
    return (text_of(rcv) or "").find(ch.ch) + 1


@primitive("String", "includesSubstring:", "includesSubString:")
def _includes_substring(vm: VM, rcv: Any, other: Any) -> bool:
    return _string_arg(vm, rcv, other, "includesSubstring:") in (text_of(rcv) or "")


@primitive("String", "includes:")
def _includes(vm: VM, rcv: Any, ch: Any) -> bool:
    return type(ch) is Char and ch.ch in (text_of(rcv) or "")


@primitive("String", "occurrencesOf:")
def _occurrences_of(vm: VM, rcv: Any, ch: Any) -> int:
    return (text_of(rcv) or "").count(ch.ch) if type(ch) is Char else 0


@primitive("String", "beginsWith:", "startsWith:")
def _begins_with(vm: VM, rcv: Any, prefix: Any) -> bool:
    return (text_of(rcv) or "").startswith(_string_arg(vm, rcv, prefix, "beginsWith:") or "")


@primitive("String", "endsWith:")
def _ends_with(vm: VM, rcv: Any, suffix: Any) -> bool:
    return (text_of(rcv) or "").endswith(_string_arg(vm, rcv, suffix, "endsWith:") or "")


@primitive("String", "asUppercase")
def _upper(vm: VM, rcv: Any) -> Any:
    return _same_kind(rcv, (text_of(rcv) or "").upper())


@primitive("String", "asLowercase")
def _lower(vm: VM, rcv: Any) -> Any:
    return _same_kind(rcv, (text_of(rcv) or "").lower())


@primitive("String", "capitalized")
def _capitalized(vm: VM, rcv: Any) -> Any:
    text = text_of(rcv) or ""
    return _same_kind(rcv, text[:1].upper() + text[1:])


@primitive("String", "asSymbol")
def _as_symbol(vm: VM, rcv: Any) -> str:
    return text_of(rcv) or ""


@primitive("String", "asString")
def _as_string(vm: VM, rcv: Any) -> Any:
    return rcv if type(rcv) is StString else StString(rcv)


@primitive("String", "copy", "shallowCopy")
def _copy(vm: VM, rcv: Any) -> Any:
    return rcv if type(rcv) is str else StString(rcv.s)


@primitive("String", "asNumber")
def _as_number(vm: VM, rcv: Any) -> Any:
    return parse_number(text_of(rcv) or "")


@primitive("String", "asInteger")
def _as_integer(vm: VM, rcv: Any) -> Any:
    match = re.search(r"-?\d+", text_of(rcv) or "")
    return int(match.group()) if match else None


@primitive("String", "substrings", "subStrings")
def _substrings(vm: VM, rcv: Any) -> Obj:
    return vm.new_array([StString(w) for w in (text_of(rcv) or "").split()])


@primitive("String", "substrings:", "subStrings:", "findTokens:")
def _substrings_sep(vm: VM, rcv: Any, separators: Any) -> Obj:
    seps = separators.ch if type(separators) is Char else (text_of(separators) or "")
    words = (
        re.split("[" + re.escape(seps) + "]+", text_of(rcv) or "") if seps else [text_of(rcv) or ""]
    )
    return vm.new_array([StString(w) for w in words if w])


@primitive("String", "lines")
def _lines(vm: VM, rcv: Any) -> Obj:
    return vm.new_array([StString(line) for line in (text_of(rcv) or "").splitlines()])


@primitive("String", "reversed", "reverse")
def _reversed(vm: VM, rcv: Any) -> StString:
    return StString((text_of(rcv) or "")[::-1])


@primitive("String", "trimBoth", "trimmed", "trimSeparators")
def _trim(vm: VM, rcv: Any) -> StString:
    return StString((text_of(rcv) or "").strip())


@primitive("String", "trimLeft")
def _trim_left(vm: VM, rcv: Any) -> StString:
    return StString((text_of(rcv) or "").lstrip())


@primitive("String", "trimRight")
def _trim_right(vm: VM, rcv: Any) -> StString:
    return StString((text_of(rcv) or "").rstrip())


@primitive("String", "isEmpty")
def _is_empty(vm: VM, rcv: Any) -> bool:
    return not text_of(rcv)


@primitive("String", "notEmpty", "isNotEmpty")
def _not_empty(vm: VM, rcv: Any) -> bool:
    return bool(text_of(rcv))


@primitive("String", "copyReplaceAll:with:", "replaceAll:with:")
def _replace_all(vm: VM, rcv: Any, old: Any, new: Any) -> Any:
    if type(old) is Char and type(new) is Char:
        if type(rcv) is StString:
            rcv.s = rcv.s.replace(old.ch, new.ch)
            return rcv
        return StString(rcv.replace(old.ch, new.ch))
    text, old_text, new_text = text_of(rcv) or "", text_of(old) or "", text_of(new) or ""
    if len(new_text) > len(old_text):
        check_length(len(text) + text.count(old_text) * (len(new_text) - len(old_text)))
    return StString(text.replace(old_text, new_text))


@primitive("String", "copyWithout:")
def _copy_without(vm: VM, rcv: Any, ch: Any) -> StString:
    return StString(
        (text_of(rcv) or "").replace(ch.ch, "") if type(ch) is Char else text_of(rcv) or ""
    )


@primitive("String", "copyWith:")
def _copy_with(vm: VM, rcv: Any, ch: Any) -> Any:
    if type(ch) is not Char:
        return vm.signal_error("Error", "Improper store into indexable object")
    return StString((text_of(rcv) or "") + ch.ch)


@primitive("String", "format:")
def _format(vm: VM, rcv: Any, args: Any) -> Any:
    values = (
        args.data if type(args) is Obj and args.cls.kind in (Kind.ARRAY, Kind.ORDERED) else None
    )
    text = text_of(rcv) or ""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if values is not None and key.isdigit() and 1 <= int(key) <= len(values):
            return (
                as_text(vm, values[int(key) - 1])
                if text_of(values[int(key) - 1]) is not None
                else display_string(vm, values[int(key) - 1])
            )
        if type(args) is Obj and args.cls.kind is Kind.DICT:
            value = args.data.get(key, args.data.get(StString(key)))
            return display_string(vm, value)
        return match.group(0)

    return StString(re.sub(r"\{(\w+)\}", replace, text))


@primitive("String", "join:")
def _join(vm: VM, rcv: Any, items: Any) -> StString:
    from stui.image.smalltalk.lib_collections import elements

    return StString((text_of(rcv) or "").join(as_text(vm, x) for x in elements(vm, items)))


@primitive("String", "numArgs")
def _num_args(vm: VM, rcv: Any) -> int:
    text = text_of(rcv) or ""
    if text and all(ch in "+-*/\\<>=~@%|&?," for ch in text):
        return 1
    return text.count(":")


@primitive("String", "keywords")
def _keywords(vm: VM, rcv: Any) -> Obj:
    text = text_of(rcv) or ""
    parts = re.findall(r"[^:]+:", text) or [text]
    return vm.new_array([StString(p) for p in parts])


@primitive("String", "asByteArray")
def _as_byte_array(vm: VM, rcv: Any) -> Obj:
    return Obj(
        vm.classes["ByteArray"], [], bytearray((text_of(rcv) or "").encode("latin-1", "replace"))
    )


@primitive("String", "isAllDigits")
def _is_all_digits(vm: VM, rcv: Any) -> bool:
    return (text_of(rcv) or "").isdigit()


@primitive("String", "displayString")
def _display_string(vm: VM, rcv: Any) -> StString:
    return StString(text_of(rcv) or "")


@primitive("Symbol", "value:", "cull:")
def _symbol_value(vm: VM, rcv: str, arg: Any) -> Any:
    return vm.send(arg, rcv)


@primitive("Symbol", "value:value:")
def _symbol_value_value(vm: VM, rcv: str, a: Any, b: Any) -> Any:
    return vm.send(a, rcv, b)


@primitive("Symbol", "numArgs:")
def _symbol_num_args(vm: VM, rcv: str, n: int) -> bool:
    return _num_args(vm, rcv) == n
