"""Hypothesis strategies for every protocol message, derived from the dataclass annotations.

Nothing here names a message field by hand except `_FIXUPS`, which bends drawn values into the few
cross-field rules a class's `__post_init__` enforces (a cursor inside its source, exactly one of
expression/handle). Any other rule is met by filtering: a draw the class refuses is discarded. So a
message added to `protocol/messages.py` or `protocol/control.py` is covered here without edits.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, Union

import cbor2
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from stui.protocol import LocalProtocolError, Metadata
from stui.protocol.codec import _TYPES as ALL_TYPES
from stui.protocol.control import CONTROL_TYPES
from stui.protocol.messages import MESSAGE_TYPES

__all__ = [
    "ALL_TYPES",
    "CONTROL_TYPES",
    "FAST",
    "MESSAGE_TYPES",
    "any_message",
    "cbor_values",
    "message_of",
]

#: Deterministic, deadline-free settings shared by the protocol tests (no example database on disk).
FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)

_INT64 = st.one_of(st.integers(0, 16), st.integers(-(2**63), 2**63 - 1))
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_SHORT_TEXT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


def _for_hint(hint: Any) -> st.SearchStrategy[Any]:
    if hint == Metadata:  # a map on the wire: keys must be unique
        return st.dictionaries(_TEXT, _TEXT, max_size=3).map(lambda d: tuple(d.items()))
    if hint is bool:
        return st.booleans()
    if hint is int:
        return _INT64
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if hint is str:
        return st.one_of(_SHORT_TEXT, _TEXT)
    if hint is bytes:
        return st.binary(max_size=16)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and is_dataclass(hint):
        return message_of(hint)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item, _ellipsis = typing.get_args(hint)
        return st.lists(_for_hint(item), max_size=3).map(tuple)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return st.one_of(st.none(), _for_hint(inner))
    raise TypeError(f"no strategy for {hint!r}: teach tests/protocol/strategies.py about it")


def _fix_complete(kw: dict[str, Any]) -> dict[str, Any]:
    return {**kw, "cursor": abs(kw["cursor"]) % (len(kw["source"]) + 1)}


def _fix_inspect(kw: dict[str, Any]) -> dict[str, Any]:
    kw = {**kw, "depth": abs(kw["depth"]) % 9}
    if kw["expression"] is None and kw["handle"] is None:
        kw["expression"] = ""
    elif kw["expression"] is not None and kw["handle"] is not None:
        kw["handle"] = None
    return kw


def _fix_positive(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def fix(kw: dict[str, Any]) -> dict[str, Any]:
        out = dict(kw)
        for n in names:
            v = out[n]
            if v is not None:
                out[n] = abs(v) or 1
                if isinstance(v, float) and not math.isfinite(out[n]):
                    out[n] = 1.0
        return out

    return fix


_FIXUPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Complete": _fix_complete,
    "Inspect": _fix_inspect,
    "Evaluate": _fix_positive("time_budget"),
    "ConnectImage": _fix_positive("heartbeat_interval", "heartbeat_misses"),
}


def _build(cls: type, kw: dict[str, Any]) -> Any:
    try:
        return cls(**kw)
    except LocalProtocolError:
        return None


_CACHE: dict[type, st.SearchStrategy[Any]] = {}


def message_of(cls: type) -> st.SearchStrategy[Any]:
    """Valid instances of the message or record class `cls`."""
    if cls not in _CACHE:
        hints = typing.get_type_hints(cls)
        kwargs = st.fixed_dictionaries({f.name: _for_hint(hints[f.name]) for f in fields(cls)})
        fix = _FIXUPS.get(cls.__name__)
        if fix is not None:
            kwargs = kwargs.map(fix)
        _CACHE[cls] = kwargs.map(lambda kw: _build(cls, kw)).filter(lambda m: m is not None)
    return _CACHE[cls]


#: Any message of the three wire unions or the control union.
any_message = st.sampled_from(sorted(ALL_TYPES)).flatmap(lambda n: message_of(ALL_TYPES[n]))

#: Arbitrary valid CBOR data (what a confused or hostile peer might send), including NaN, infinities,
#: simple values and byte strings, but no tags.
cbor_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64 - 1),
        st.floats(),
        _TEXT,
        st.binary(max_size=12),
        st.sampled_from([cbor2.undefined, cbor2.CBORSimpleValue(16), cbor2.CBORSimpleValue(255)]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
