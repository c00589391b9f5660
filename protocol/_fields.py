"""Message fields to and from plain CBOR data, checked against each class's annotations.

Two implementations of the same rules live here, on purpose:

- The *compiled* converters (`DECODERS`, `ENCODERS`) are built once per message class at import time,
  from its type hints: one small closure per field that checks the exact type (`type(v) is int`, a
  range, a finite float, an enum value looked up in a dict, a record through its own converter). They
  only say yes (returning the converted value) or no (raising `Invalid`), which keeps the common case
  fast: a heartbeat pays a handful of closure calls instead of a walk over `typing` objects.
- The *reference* checkers (`explain_from_wire`, `explain_to_wire`) walk the annotations at run time
  and build an error message naming the field path ("SessionList.sessions[0].session_id: expected a
  text string, got an integer"). The codec calls them only after a compiled converter said no, so
  the error texts are theirs, and a peer that sends garbage pays for the slow walk, not everyone else.

Both accept exactly the same values (tests/protocol/test_fields.py holds them to it), and both build
messages through the class's own constructor, so its `__post_init__` checks always run.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Union

from .errors import LocalProtocolError, RemoteProtocolError
from .messages import Metadata

__all__ = [
    "DECODERS",
    "ENCODERS",
    "Invalid",
    "compile_decoder",
    "compile_encoder",
    "explain_from_wire",
    "explain_to_wire",
    "wire_type",
]

_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)
_MAX_EXACT_FLOAT_INT = 2**53  # ints a float field accepts (each has an exact double)
_isfinite = math.isfinite


class Invalid(Exception):
    """A compiled converter refused a value; the reference checker says why."""


# --------------------------------------------------------------------------------------------------
# Field specs: (name, hint, required) per class, from the annotations, computed once.

_METADATA = object()  # marker for `Metadata` fields, which travel as CBOR maps
_SPECS: dict[type, tuple[tuple[str, Any, bool], ...]] = {}


def _spec(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    spec = _SPECS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls)
        spec = tuple(
            (
                f.name,
                _METADATA if hints[f.name] == Metadata else hints[f.name],
                f.default is MISSING and f.default_factory is MISSING,
            )
            for f in fields(cls)
        )
        _SPECS[cls] = spec
    return spec


def _is_enum(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and is_dataclass(hint)


def _optional_inner(hint: Any) -> Any | None:
    """X for `X | None`, else None. Every union in a message is of that form."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner
    return None


# --------------------------------------------------------------------------------------------------
# Compiled converters, both ways: wire data (what cbor2 produced) -> field values, and field values ->
# wire data (what cbor2.dumps takes). They raise Invalid, nothing else (a class constructor may raise
# LocalProtocolError for its own rules; the codec treats both alike). Scalars and optionals convert
# the same way in both directions; metadata, enums, records and tuples change shape.

DECODERS: dict[type, Callable[[Any], Any]] = {}
ENCODERS: dict[type, Callable[[Any], Any]] = {}


def _exact(t: type) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if type(v) is t:
            return v
        raise Invalid

    return check


def _check_int(v: Any) -> int:
    if type(v) is int and _MIN_INT <= v <= _MAX_INT:
        return v
    raise Invalid


def _check_float(v: Any) -> float:
    if type(v) is float:
        if _isfinite(v):
            return v
    elif type(v) is int and -_MAX_EXACT_FLOAT_INT <= v <= _MAX_EXACT_FLOAT_INT:
        return float(v)
    raise Invalid


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        return None if v is None else inner(v)

    return check


def _decode_metadata(v: Any) -> tuple[tuple[str, str], ...]:
    if type(v) is not dict:
        raise Invalid
    for k, x in v.items():
        if type(k) is not str or type(x) is not str:
            raise Invalid
    return tuple(v.items())


def _encode_metadata(v: Any) -> dict[str, str]:
    if type(v) is not tuple:
        raise Invalid
    for p in v:
        if type(p) is not tuple or len(p) != 2 or type(p[0]) is not str or type(p[1]) is not str:
            raise Invalid
    out = dict(v)
    if len(out) != len(v):
        raise Invalid
    return out


def _decode_enum(hint: type[enum.Enum]) -> Callable[[Any], Any]:
    members = {m.value: m for m in hint}
    if not all(type(value) is str for value in members):  # the wire carries enum values as text
        raise TypeError(f"{hint.__name__}: the codec supports only enums with str values")

    def check(v: Any) -> Any:
        if type(v) is str:
            member = members.get(v)
            if member is not None:
                return member
        raise Invalid

    return check


def _encode_enum(hint: type[enum.Enum]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if type(v) is hint:
            return v.value
        raise Invalid

    return check


def _sequence(
    item: Callable[[Any], Any], exact: type | None, accepted: type, build: type
) -> Callable[[Any], Any]:
    """A `tuple[X, ...]` field: an `accepted` (list from the wire, tuple to it) made into a `build`."""
    if exact is not None:  # tuple[str, ...], tuple[int, ...] of plain values: one pass, no calls

        def check_plain(v: Any) -> Any:
            if type(v) is not accepted:
                raise Invalid
            for x in v:
                if type(x) is not exact:
                    raise Invalid
            if exact is int:
                for x in v:
                    if not _MIN_INT <= x <= _MAX_INT:
                        raise Invalid
            return build(v)

        return check_plain

    def check(v: Any) -> Any:
        if type(v) is not accepted:
            raise Invalid
        return build(map(item, v))

    return check


def _converter_for(hint: Any, encode: bool) -> Callable[[Any], Any]:
    if hint is _METADATA:
        return _encode_metadata if encode else _decode_metadata
    if hint is bool or hint is str or hint is bytes:
        return _exact(hint)
    if hint is int:
        return _check_int
    if hint is float:
        return _check_float
    if _is_enum(hint):
        return _encode_enum(hint) if encode else _decode_enum(hint)
    if _is_record(hint):
        return compile_encoder(hint) if encode else compile_decoder(hint)
    if typing.get_origin(hint) is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        exact = item if item in (str, int, bytes, bool) else None
        accepted, build = (tuple, list) if encode else (list, tuple)
        return _sequence(_converter_for(item, encode), exact, accepted, build)
    inner = _optional_inner(hint)
    if inner is not None:
        return _optional(_converter_for(inner, encode))
    raise TypeError(f"unsupported field type {hint!r}")  # a bug in a message class, found at import


def compile_decoder(cls: type) -> Callable[[Any], Any]:
    """A function from a CBOR body (a dict) to an instance of `cls`, or `Invalid`.

    Keys are checked first (only the class's fields, every required one present: two set comparisons
    done in C), then each present field through its converter; absent fields keep their defaults. The
    instance is built by `cls(**kwargs)`, so the class's `__post_init__` rules run as always.
    """
    found = DECODERS.get(cls)
    if found is not None:
        return found
    spec = _spec(cls)
    allowed = frozenset(name for name, _, _ in spec)
    required = frozenset(name for name, _, req in spec if req)
    converters: dict[str, Callable[[Any], Any]] = {}

    def decode_body(body: Any) -> Any:
        if type(body) is not dict:
            raise Invalid
        keys = body.keys()
        if not (keys == allowed or (keys <= allowed and required <= keys)):  # all fields: one test
            raise Invalid
        return cls(**{name: converters[name](v) for name, v in body.items()})

    DECODERS[cls] = decode_body  # before the fields: a record type could refer to itself
    converters.update({name: _converter_for(hint, False) for name, hint, _ in spec})
    return decode_body


def compile_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """A function from an instance of exactly `cls` to its CBOR body (a dict in field order), or `Invalid`."""
    found = ENCODERS.get(cls)
    if found is not None:
        return found
    items: list[tuple[str, Callable[[Any], Any]]] = []

    def encode_body(value: Any) -> dict[str, Any]:
        if type(value) is not cls:
            raise Invalid
        return {name: convert(getattr(value, name)) for name, convert in items}

    ENCODERS[cls] = encode_body
    items.extend((name, _converter_for(hint, True)) for name, hint, _ in _spec(cls))
    return encode_body


# --------------------------------------------------------------------------------------------------
# Reference checkers: the same rules, walked at run time, with messages that name the field.


def explain_to_wire(hint: Any, value: Any, where: str) -> Any:
    """`value` as plain CBOR-ready data, checked against `hint`; a LocalProtocolError names the field."""
    if hint is _METADATA:
        if type(value) is not tuple or not all(
            type(p) is tuple and len(p) == 2 and type(p[0]) is str and type(p[1]) is str
            for p in value
        ):
            raise LocalProtocolError(f"{where}: expected a tuple of (str, str) pairs")
        out = dict(value)
        if len(out) != len(value):
            raise LocalProtocolError(f"{where}: duplicate keys")
        return out
    if hint is bool or hint is str or hint is bytes:
        if type(value) is not hint:
            raise LocalProtocolError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__}"
            )
        return value
    if hint is int:
        if type(value) is not int or not _MIN_INT <= value <= _MAX_INT:
            raise LocalProtocolError(f"{where}: expected a 64-bit int, got {value!r}")
        return value
    if hint is float:
        if type(value) is int and abs(value) <= _MAX_EXACT_FLOAT_INT:
            return float(value)
        if type(value) is not float or not math.isfinite(value):
            raise LocalProtocolError(f"{where}: expected a finite float, got {value!r}")
        return value
    if _is_enum(hint):
        if type(value) is not hint:
            raise LocalProtocolError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value.value
    if _is_record(hint):
        if type(value) is not hint:
            raise LocalProtocolError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__}"
            )
        return {
            name: explain_to_wire(h, getattr(value, name), f"{where}.{name}")
            for name, h, _required in _spec(hint)
        }
    if typing.get_origin(hint) is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if type(value) is not tuple:
            raise LocalProtocolError(f"{where}: expected a tuple, got {type(value).__name__}")
        return [explain_to_wire(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    inner = _optional_inner(hint)
    if inner is not None:
        return None if value is None else explain_to_wire(inner, value, where)
    raise LocalProtocolError(
        f"{where}: unsupported field type {hint!r}"
    )  # a bug in a message class


def check_keys(obj: dict, *, required: set | frozenset, allowed: frozenset, where: str) -> None:
    """Refuse non-text keys, then missing required keys, then unknown keys, in that order."""
    keys = obj.keys()
    if not all(type(k) is str for k in keys):
        raise RemoteProtocolError(f"{where}: map keys must be text strings")
    if missing := required - keys:
        raise RemoteProtocolError(f"{where}: missing {sorted(missing)}")
    if unknown := keys - allowed:
        raise RemoteProtocolError(f"{where}: unknown keys {sorted(unknown)}")


def explain_from_wire(cls: type, body: Any, where: str) -> Any:
    """An instance of `cls` from a CBOR body; a RemoteProtocolError names the field at fault."""
    if type(body) is not dict:
        raise RemoteProtocolError(f"{where}: expected a map, got {wire_type(body)}")
    spec = _spec(cls)
    check_keys(
        body,
        required={name for name, _, req in spec if req},
        allowed=frozenset(name for name, _, _ in spec),
        where=where,
    )
    kwargs = {
        name: _explain_value(hint, body[name], f"{where}.{name}")
        for name, hint, _ in spec
        if name in body
    }
    try:
        return cls(**kwargs)
    except LocalProtocolError as e:  # the class's own checks: the peer sent an invalid value
        raise RemoteProtocolError(f"{where}: {e}") from None


def _explain_value(hint: Any, value: Any, where: str) -> Any:
    if hint is _METADATA:
        if type(value) is not dict or not all(
            type(k) is str and type(v) is str for k, v in value.items()
        ):
            raise RemoteProtocolError(f"{where}: expected a map of text to text")
        return tuple(value.items())
    if hint is bool:
        if type(value) is not bool:
            raise _type_error(where, "a boolean", value)
        return value
    if hint is int:
        if type(value) is not int or not _MIN_INT <= value <= _MAX_INT:
            raise _type_error(where, "a 64-bit integer", value)
        return value
    if hint is float:
        if type(value) is int and abs(value) <= _MAX_EXACT_FLOAT_INT:
            return float(value)
        if type(value) is not float or not math.isfinite(value):
            raise _type_error(where, "a finite number", value)
        return value
    if hint is str:
        if type(value) is not str:
            raise _type_error(where, "a text string", value)
        return value
    if hint is bytes:
        if type(value) is not bytes:
            raise _type_error(where, "a byte string", value)
        return value
    if _is_enum(hint):
        try:
            return hint(value)
        except (ValueError, TypeError):
            allowed = ", ".join(repr(m.value) for m in hint)
            raise RemoteProtocolError(f"{where}: {value!r} is not one of {allowed}") from None
    if _is_record(hint):
        return explain_from_wire(hint, value, where)
    if typing.get_origin(hint) is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if type(value) is not list:
            raise _type_error(where, "an array", value)
        return tuple(_explain_value(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    inner = _optional_inner(hint)
    if inner is not None:
        return None if value is None else _explain_value(inner, value, where)
    raise LocalProtocolError(
        f"{where}: unsupported field type {hint!r}"
    )  # a bug in a message class


def _type_error(where: str, expected: str, value: Any) -> RemoteProtocolError:
    return RemoteProtocolError(f"{where}: expected {expected}, got {wire_type(value)}")


def wire_type(value: Any) -> str:
    """How a decoded CBOR value is described in error messages ("a text string", "null", ...)."""
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case float():
            return "a float"
        case str():
            return "a text string"
        case bytes():
            return "a byte string"
        case list():
            return "an array"
        case dict():
            return "a map"
        case _:  # only simple values and undefined get here: tags are refused while parsing
            return f"a CBOR simple value ({value!r})"
