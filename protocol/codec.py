"""Frames: messages to bytes and untrusted bytes back to checked messages.

A frame is one ZeroMQ message or one binary WebSocket message holding one CBOR map:

    frame   = {"v": uint, "msg": bstr, ? "sig": bstr .size 32}
    payload = {"type": tstr, "id": uint, "body": {* tstr => any}}      ; the bytes inside "msg"

The version sits outside the payload so a peer can refuse a version it does not speak before reading
anything else; the signature covers the payload bytes exactly as sent (see `protocol.signing`).

Decoding trusts nothing: the size is capped before CBOR is touched, cbor2 runs with a depth limit, no
indefinite lengths, no duplicate keys and no tags, trailing bytes are refused, and every field is checked against
the message class's annotations (no unknown keys, no missing required keys, exact types). Every failure
is a `RemoteProtocolError` (or `SignatureError`) whose text says what was wrong and where; its
`request_id` is set whenever the payload's id could be read, so the receiver can answer with an `Error`.
"""

from __future__ import annotations

import enum
import io
import math
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Any, Union

import cbor2

from .control import CONTROL_TYPES
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError, SignatureError
from .messages import MESSAGE_TYPES, PROTOCOL_VERSION, SUPPORTED_VERSIONS, Metadata
from .signing import SIGNATURE_SIZE, sign, verify

__all__ = ["MAX_DEPTH", "MAX_FRAME_SIZE", "Frame", "decode", "encode", "peek_request_id"]

#: Default cap on one frame's size in bytes. Transports enforce the same cap (ZeroMQ MAXMSGSIZE).
MAX_FRAME_SIZE = 4 * 1024 * 1024
#: Deepest container nesting a frame or payload may have (the deepest message needs 4).
MAX_DEPTH = 16
_MAX_UINT = 2**63 - 1
_FRAME_KEYS = frozenset({"v", "msg", "sig"})
_PAYLOAD_KEYS = frozenset({"type", "id", "body"})


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded, checked frame.

    Attributes:
        version: the frame's protocol version.
        request_id: the request this frame is or answers; 0 for events that relate to none.
        message: the message, a member of `protocol.Message` or `protocol.ControlMessage`.
        signed: whether the frame carried a valid signature.
    """

    version: int
    request_id: int
    message: Any
    signed: bool


# --------------------------------------------------------------------------------------------------
# Encoding


def encode(
    message: Any,
    *,
    request_id: int = 0,
    key: bytes = b"",
    version: int = PROTOCOL_VERSION,
) -> bytes:
    """Encode `message` as a frame, signed when `key` is non-empty.

    Every field is checked against its annotation on the way out, so a message the peer would refuse
    (a NaN, a bool where an int belongs, a lone surrogate in a string) fails here, at the sender, with
    a message naming the field, instead of as a puzzling error on the other side.

    Raises:
        LocalProtocolError: `message` is not a protocol message, a field holds a value its type does
            not allow, or `request_id` is out of range.
    """
    name = type(message).__name__
    if _TYPES.get(name) is not type(message):
        raise LocalProtocolError(f"{type(message).__qualname__} is not a protocol message")
    if type(request_id) is not int or not 0 <= request_id <= _MAX_UINT:
        raise LocalProtocolError(f"request_id {request_id!r} out of range 0..2**63-1")
    if type(version) is not int or not 0 <= version <= _MAX_UINT:
        raise LocalProtocolError(f"version {version!r} out of range")
    body = _to_wire(type(message), message, name)
    try:
        payload = cbor2.dumps({"type": name, "id": request_id, "body": body})
    except (ValueError, TypeError, cbor2.CBOREncodeError) as e:  # e.g. a lone surrogate in a str
        raise LocalProtocolError(f"{name}: cannot encode ({e})") from None
    frame: dict[str, Any] = {"v": version, "msg": payload}
    if key:
        frame["sig"] = sign(key, payload)
    return cbor2.dumps(frame)


def _to_wire(hint: Any, value: Any, where: str) -> Any:
    """`value` as plain CBOR-ready data, checked against `hint` (mirrors `_value` on the way in)."""
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
        if type(value) is not int or not -_MAX_UINT - 1 <= value <= _MAX_UINT:
            raise LocalProtocolError(f"{where}: expected a 64-bit int, got {value!r}")
        return value
    if hint is float:
        if type(value) is int and abs(value) <= 2**53:
            return float(value)
        if type(value) is not float or not math.isfinite(value):
            raise LocalProtocolError(f"{where}: expected a finite float, got {value!r}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if type(value) is not hint:
            raise LocalProtocolError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value.value
    if isinstance(hint, type) and is_dataclass(hint):
        if type(value) is not hint:
            raise LocalProtocolError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__}"
            )
        return {
            name: _to_wire(h, getattr(value, name), f"{where}.{name}")
            for name, h, _required in _spec(hint)
        }
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if type(value) is not tuple:
            raise LocalProtocolError(f"{where}: expected a tuple, got {type(value).__name__}")
        return [_to_wire(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (Union, types.UnionType):
        if value is None:  # every union in a message is `X | None`
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _to_wire(inner, value, where)
    raise LocalProtocolError(
        f"{where}: unsupported field type {hint!r}"
    )  # a bug in a message class


# --------------------------------------------------------------------------------------------------
# Decoding


def decode(
    data: bytes,
    *,
    key: bytes = b"",
    max_size: int = MAX_FRAME_SIZE,
    versions: tuple[int, ...] = SUPPORTED_VERSIONS,
) -> Frame:
    """Decode and check one frame of untrusted bytes.

    Args:
        data: the frame's bytes.
        key: when non-empty, the frame must carry a valid signature under it.
        max_size: frames longer than this are refused before any parsing.
        versions: the protocol versions accepted.

    Raises:
        SignatureError: a key is configured and the frame is unsigned or mis-signed.
        RemoteProtocolError: anything else wrong with the frame. Nothing else escapes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RemoteProtocolError(f"frame must be bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise RemoteProtocolError(f"frame of {len(data)} bytes exceeds the {max_size}-byte limit")
    outer = _cbor_map(bytes(data), "frame")
    if (
        type(outer.get("v")) is int and outer["v"] not in versions
    ):  # before the keys: v2 may add some
        payload = outer.get("msg")
        raise RemoteProtocolError(
            f"protocol version {outer['v']} not supported (this side speaks {list(versions)});"
            " negotiate with Hello.versions and send the version Welcome chose",
            request_id=peek_request_id(payload) if type(payload) is bytes else None,
        )
    _check_keys(outer, required={"v", "msg"}, allowed=_FRAME_KEYS, where="frame")
    version, payload, sig = outer["v"], outer["msg"], outer.get("sig")
    if type(version) is not int or type(payload) is not bytes:
        raise RemoteProtocolError(
            "frame: 'v' must be an unsigned integer and 'msg' a byte string holding the payload,"
            f" got {_wire_type(version)} and {_wire_type(payload)}",
            request_id=peek_request_id(payload) if type(payload) is bytes else None,
        )
    if sig is not None and (type(sig) is not bytes or len(sig) != SIGNATURE_SIZE):
        raise RemoteProtocolError(
            f"frame: 'sig' must be a {SIGNATURE_SIZE}-byte string (HMAC-SHA256), got {_wire_type(sig)}"
            + (f" of {len(sig)} bytes" if type(sig) is bytes else ""),
            request_id=peek_request_id(payload),
        )
    # The payload is parsed only after its signature is checked (when a key is configured): bytes from
    # an unauthenticated peer reach the CBOR parser only on the error path, to recover the request id.
    if key:
        if sig is None:
            raise SignatureError(
                "unsigned frame refused: this connection requires HMAC-SHA256 signatures"
                " (is the peer configured with the image's key?)",
                request_id=peek_request_id(payload),
            )
        if not verify(key, payload, sig):
            raise SignatureError(
                "bad signature: frame refused (the peer signs with a different key,"
                " or the frame was altered)",
                request_id=peek_request_id(payload),
            )
    inner = _cbor_map(payload, "payload")
    _check_keys(inner, required=_PAYLOAD_KEYS, allowed=_PAYLOAD_KEYS, where="payload")
    name, rid, body = inner["type"], inner["id"], inner["body"]
    if type(rid) is not int or not 0 <= rid <= _MAX_UINT:
        raise RemoteProtocolError("payload: 'id' must be an unsigned 63-bit integer")
    if type(name) is not str or name not in _TYPES:
        raise RemoteProtocolError(f"unknown message type {name!r}", request_id=rid)
    try:
        message = _from_wire(_TYPES[name], body, name)
    except ProtocolError as e:
        raise RemoteProtocolError(str(e), request_id=rid) from None
    return Frame(version=version, request_id=rid, message=message, signed=sig is not None)


def peek_request_id(payload: bytes) -> int | None:
    """The request id of a payload, or None when it cannot be read. Never raises."""
    try:
        inner = _cbor_map(payload, "payload")
    except ProtocolError:
        return None
    rid = inner.get("id")
    return rid if type(rid) is int and 0 <= rid <= _MAX_UINT else None


def _cbor_map(data: bytes, where: str) -> dict[str, Any]:
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            strict_hashable_types=True,
            str_errors="strict",
            tag_hook=_refuse_tag,
            semantic_decoders=_REFUSE_SEMANTIC_TAGS,
        )
        value = decoder.decode()
    except Exception as e:  # cbor2 raises a handful of types (CBORDecodeError, ValueError, ...)
        if isinstance(e.__cause__, _TagRefused):
            raise RemoteProtocolError(f"{where}: {e.__cause__}") from None
        raise RemoteProtocolError(f"{where}: invalid CBOR ({e})") from None
    if stream.tell() != len(data):
        raise RemoteProtocolError(f"{where}: {len(data) - stream.tell()} trailing bytes after CBOR")
    if type(value) is not dict:
        raise RemoteProtocolError(f"{where}: expected a CBOR map, got {_wire_type(value)}")
    return value


class _TagRefused(ValueError):
    pass


# cbor2 6.x calls `tag_hook(tag, immutable)` for unknown tags and each semantic decoder with
# `(content, immutable)` after the tag's content is decoded (within the depth and size limits). Both
# are given `*args` so a signature change in cbor2 cannot turn a refusal into a TypeError.
def _refuse_tag(tag: Any, *_args: Any) -> Any:
    raise _TagRefused(f"CBOR tag {getattr(tag, 'tag', '?')} found; frames carry no tags")


def _refuse_semantic_tag(tag: int) -> Any:
    def refuse(*_args: Any) -> Any:
        raise _TagRefused(f"CBOR tag {tag} found; frames carry no tags")

    return refuse


# No field of any message is tagged, so every tag is refused. The tags cbor2 would otherwise decode
# itself (dates, bignums, decimals, shared references that build cycles, regular expressions, MIME,
# sets, ...) are overridden here and refused before their content is read; any other tag reaches
# `_refuse_tag`. tests/protocol checks that no tag in 0..70000 gets through.
_REFUSE_SEMANTIC_TAGS = {
    t: _refuse_semantic_tag(t)
    for t in (
        *range(6),
        25,
        28,
        29,
        30,
        35,
        36,
        37,
        52,
        54,
        100,
        256,
        258,
        260,
        261,
        1004,
        43000,
        55799,
    )
}


def _check_keys(obj: dict, *, required: set | frozenset, allowed: frozenset, where: str) -> None:
    keys = obj.keys()
    if not all(type(k) is str for k in keys):
        raise RemoteProtocolError(f"{where}: map keys must be text strings")
    if missing := required - keys:
        raise RemoteProtocolError(f"{where}: missing {sorted(missing)}")
    if unknown := keys - allowed:
        raise RemoteProtocolError(f"{where}: unknown keys {sorted(unknown)}")


# --------------------------------------------------------------------------------------------------
# Type-directed checking. Each class's (name, hint, required) triples are computed once.

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


def _from_wire(cls: type, body: Any, where: str) -> Any:
    if type(body) is not dict:
        raise RemoteProtocolError(f"{where}: expected a map, got {_wire_type(body)}")
    spec = _spec(cls)
    names = {name for name, _, _ in spec}
    _check_keys(
        body,
        required={name for name, _, req in spec if req},
        allowed=frozenset(names),
        where=where,
    )
    kwargs = {
        name: _value(hint, body[name], f"{where}.{name}") for name, hint, _ in spec if name in body
    }
    try:
        return cls(**kwargs)
    except LocalProtocolError as e:  # the class's own checks: the peer sent an invalid value
        raise RemoteProtocolError(f"{where}: {e}") from None


def _value(hint: Any, value: Any, where: str) -> Any:
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
        if type(value) is not int or not -_MAX_UINT - 1 <= value <= _MAX_UINT:
            raise _type_error(where, "a 64-bit integer", value)
        return value
    if hint is float:
        if type(value) is int and abs(value) <= 2**53:
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
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except (ValueError, TypeError):
            allowed = ", ".join(repr(m.value) for m in hint)
            raise RemoteProtocolError(f"{where}: {value!r} is not one of {allowed}") from None
    if isinstance(hint, type) and is_dataclass(hint):
        return _from_wire(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if type(value) is not list:
            raise _type_error(where, "an array", value)
        return tuple(_value(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, where)
    raise LocalProtocolError(
        f"{where}: unsupported field type {hint!r}"
    )  # a bug in a message class


def _type_error(where: str, expected: str, value: Any) -> RemoteProtocolError:
    return RemoteProtocolError(f"{where}: expected {expected}, got {_wire_type(value)}")


def _wire_type(value: Any) -> str:
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


_TYPES: dict[str, type] = {**MESSAGE_TYPES, **CONTROL_TYPES}
