"""Frames: messages to bytes and untrusted bytes back to checked messages.

A frame is one ZeroMQ message or one binary WebSocket message holding one CBOR map:

    frame   = {"v": uint, "msg": bstr, ? "sig": bstr .size 32}
    payload = {"type": tstr, "id": uint, "body": {* tstr => any}}      ; the bytes inside "msg"

The version sits outside the payload so a peer can refuse a version it does not speak before reading
anything else; the signature covers the payload bytes exactly as sent (see `protocol.signing`).

Decoding trusts nothing: the size is capped before CBOR is touched, cbor2 runs with a depth limit, no
indefinite lengths, no duplicate keys and no tags, trailing bytes are refused (`loads_strict`, which the
session store uses for its blobs too), and every field is checked against the message class's
annotations (no unknown keys, no missing required keys, exact types). Every failure is a
`RemoteProtocolError` (or `SignatureError`) whose text says what was wrong and where; its `request_id`
is set whenever the payload's id could be read, so the receiver can answer with an `Error`.

Speed (bench/bench_codec.py): field checking runs through converters compiled once per class at import
(`protocol._fields`); the slower, field-naming reference checker runs only to explain a refusal. The
envelope around the payload is written by hand, and read by hand when it has the plain form every
encoder writes (`_plain_envelope`); any other bytes go through cbor2 and get its verdict. What is left
of a heartbeat's few microseconds is mostly cbor2 reading the payload.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from ._fields import (
    check_keys,
    compile_decoder,
    compile_encoder,
    explain_from_wire,
    explain_to_wire,
    wire_type,
)
from .control import CONTROL_TYPES
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError, SignatureError
from .messages import MESSAGE_TYPES, PROTOCOL_VERSION, SUPPORTED_VERSIONS
from .signing import SIGNATURE_SIZE, sign, verify

__all__ = [
    "MAX_DEPTH",
    "MAX_FRAME_SIZE",
    "Frame",
    "decode",
    "encode",
    "loads_strict",
    "peek_request_id",
]

#: Default cap on one frame's size in bytes. Transports enforce the same cap (ZeroMQ MAXMSGSIZE).
MAX_FRAME_SIZE = 4 * 1024 * 1024
#: Deepest container nesting a frame or payload may have (the deepest message needs 4).
MAX_DEPTH = 16
_MAX_UINT = 2**63 - 1
_FRAME_KEYS = frozenset({"v", "msg", "sig"})
_FRAME_REQUIRED = frozenset({"v", "msg"})
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
    cls = type(message)
    found = _ENCODERS.get(cls)
    if found is None:
        raise LocalProtocolError(f"{cls.__qualname__} is not a protocol message")
    name, encode_body = found
    if type(request_id) is not int or not 0 <= request_id <= _MAX_UINT:
        raise LocalProtocolError(f"request_id {request_id!r} out of range 0..2**63-1")
    if type(version) is not int or not 0 <= version <= _MAX_UINT:
        raise LocalProtocolError(f"version {version!r} out of range")
    try:
        body = encode_body(message)
    except Exception:  # the compiled check said no: let the reference checker name the field
        body = explain_to_wire(cls, message, name)
    try:
        body_bytes = cbor2.dumps(body)
    except (ValueError, TypeError, cbor2.CBOREncodeError) as e:  # e.g. a lone surrogate in a str
        raise LocalProtocolError(f"{name}: cannot encode ({e})") from None
    # The two maps around the body are written by hand: the same bytes cbor2.dumps writes for
    # {"type": name, "id": request_id, "body": body} and {"v": version, "msg": payload[, "sig": sig]}
    # (keys in that order, shortest heads), without building the dicts. The exact-bytes test vectors
    # hold this to cbor2's output.
    payload = b"".join((_PAYLOAD_HEADS[cls], _head(0, request_id), _BODY_KEY, body_bytes))
    if key:
        return b"".join(
            (
                _SIGNED_FRAME_HEAD,
                _head(0, version),
                _MSG_KEY,
                _head(2, len(payload)),
                payload,
                _SIG_KEY_AND_HEAD,
                sign(key, payload),
            )
        )
    return b"".join((_FRAME_HEAD, _head(0, version), _MSG_KEY, _head(2, len(payload)), payload))


def _head(major: int, n: int) -> bytes:
    """The CBOR head of major type `major` with argument `n` (0 <= n < 2**64), in shortest form."""
    if n < 24:
        return _SMALL_HEADS[major][n]
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x10000:
        return bytes((major << 5 | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((major << 5 | 26,)) + n.to_bytes(4, "big")
    return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")


_SMALL_HEADS = [[bytes((major << 5 | n,)) for n in range(24)] for major in range(8)]
_FRAME_HEAD = b"\xa2" + cbor2.dumps("v")  # map(2), "v"
_SIGNED_FRAME_HEAD = b"\xa3" + cbor2.dumps("v")  # map(3), "v"
_MSG_KEY = cbor2.dumps("msg")
_SIG_KEY_AND_HEAD = cbor2.dumps("sig") + _head(2, SIGNATURE_SIZE)
_BODY_KEY = cbor2.dumps("body")
# The fast path of `_plain_envelope` spells these lengths as literals (6 and 6 + 32).
assert len(_SIG_KEY_AND_HEAD) == 6 and SIGNATURE_SIZE == 32


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
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise RemoteProtocolError(f"frame must be bytes, got {type(data).__name__}")
        data = bytes(data)  # a memoryview's len() counts items, not bytes
    if len(data) > max_size:
        raise RemoteProtocolError(f"frame of {len(data)} bytes exceeds the {max_size}-byte limit")
    envelope = _plain_envelope(data)
    if envelope is not None:
        version, payload, sig = envelope
        if version not in versions:
            raise _unsupported_version(version, payload, versions)
    else:  # any other form, or not a frame at all: the general path, which says what is wrong
        outer = _cbor_map(data, "frame")
        if (
            type(v := outer.get("v")) is int and v not in versions
        ):  # before the keys: v2 may add some
            raise _unsupported_version(v, outer.get("msg"), versions)
        check_keys(outer, required=_FRAME_REQUIRED, allowed=_FRAME_KEYS, where="frame")
        version, payload, sig = outer["v"], outer["msg"], outer.get("sig")
        if type(version) is not int or type(payload) is not bytes:
            raise RemoteProtocolError(
                "frame: 'v' must be an unsigned integer and 'msg' a byte string holding the payload,"
                f" got {wire_type(version)} and {wire_type(payload)}",
                request_id=peek_request_id(payload) if type(payload) is bytes else None,
            )
    if sig is not None and (type(sig) is not bytes or len(sig) != SIGNATURE_SIZE):
        raise RemoteProtocolError(
            f"frame: 'sig' must be a {SIGNATURE_SIZE}-byte string (HMAC-SHA256), got {wire_type(sig)}"
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
    if inner.keys() != _PAYLOAD_KEYS:
        check_keys(inner, required=_PAYLOAD_KEYS, allowed=_PAYLOAD_KEYS, where="payload")
    name, rid, body = inner["type"], inner["id"], inner["body"]
    if type(rid) is not int or not 0 <= rid <= _MAX_UINT:
        raise RemoteProtocolError("payload: 'id' must be an unsigned 63-bit integer")
    if type(name) is not str or name not in _TYPES:
        raise RemoteProtocolError(f"unknown message type {name!r}", request_id=rid)
    cls = _TYPES[name]
    try:
        message = _DECODERS[cls](body)
    except Exception:  # the compiled check said no: let the reference checker say what and where
        try:
            message = explain_from_wire(cls, body, name)
        except ProtocolError as e:
            raise RemoteProtocolError(str(e), request_id=rid) from None
    return Frame(version, rid, message, sig is not None)  # positional: measurably faster


def _unsupported_version(
    version: int, payload: object, versions: tuple[int, ...]
) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"protocol version {version} not supported (this side speaks {list(versions)});"
        " negotiate with Hello.versions and send the version Welcome chose",
        request_id=peek_request_id(payload) if type(payload) is bytes else None,
    )


def _plain_envelope(data: bytes) -> tuple[int, bytes, bytes | None] | None:
    """(v, msg, sig) of a frame in the plain form, read by hand; None for anything else.

    The plain form is what every reasonable encoder writes: a definite map of 2 or 3 entries whose
    keys are "v", "msg" and optionally "sig" in any order (each key once), "v" an unsigned integer,
    "msg" and "sig" definite byte strings, and nothing after the map. Such bytes are exactly the
    frames `loads_strict` would read as {"v": int, "msg": bytes[, "sig": bytes]}, so reading them here
    changes no verdict; it saves a trip through cbor2 per frame. Everything else (other keys, tags,
    indefinite lengths, trailing bytes, truncation, ...) returns None, and the caller takes the
    general path, which finds and names the problem.
    """
    end = len(data)
    # First the exact layout `encode` writes ("v" as a one-byte integer, then "msg", then "sig" if
    # signed): a few slice compares instead of the loop below, which reads any key order. Anything
    # else, including these bytes with a different verdict in mind, goes on to the loop.
    if end > 10 and data[1:3] == b"\x61v" and data[3] < 24 and data[4:8] == b"\x63msg":
        head = data[8]
        if 0x40 <= head < 0x58:
            start, stop = 9, 9 + head - 0x40
        elif head == 0x58:
            start, stop = 10, 10 + data[9]
        elif head == 0x59:
            start, stop = 11, 11 + (data[9] << 8 | data[10])
        else:
            start = stop = 0
        if start:
            if stop == end and data[0] == 0xA2:
                return data[3], data[start:stop], None
            if stop + 38 == end and data[0] == 0xA3 and data.startswith(_SIG_KEY_AND_HEAD, stop):
                return data[3], data[start:stop], data[stop + 6 :]
    return _any_order_envelope(data)


def _any_order_envelope(data: bytes) -> tuple[int, bytes, bytes | None] | None:
    """`_plain_envelope` without its fast path: the keys in any order, each head in any definite form.
    (Separate so the tests can hold the fast path to it.)"""
    end = len(data)
    if end < 6 or (count := data[0]) not in (0xA2, 0xA3):
        return None
    version = payload = sig = None
    pos = 1
    for _ in range(count - 0xA0):
        if data.startswith(b"\x61v", pos) and version is None:
            version, pos = _read_argument(data, pos + 2, 0)
            if version is None:
                return None
        elif data.startswith(b"\x63msg", pos) and payload is None:
            payload, pos = _read_bytes(data, pos + 4)
            if payload is None:
                return None
        elif data.startswith(b"\x63sig", pos) and sig is None:
            sig, pos = _read_bytes(data, pos + 4)
            if sig is None:
                return None
        else:
            return None
    if pos != end or version is None or payload is None:
        return None
    return version, payload, sig


def _read_argument(data: bytes, pos: int, major: int) -> tuple[int | None, int]:
    """The argument of the head at `pos` if it has major type `major` and a definite argument."""
    if pos >= len(data) or data[pos] >> 5 != major:
        return None, pos
    info = data[pos] & 0x1F
    if info < 24:
        return info, pos + 1
    if info > 27:  # 28..30 reserved, 31 indefinite
        return None, pos
    size = 1 << (info - 24)
    if pos + 1 + size > len(data):
        return None, pos
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _read_bytes(data: bytes, pos: int) -> tuple[bytes | None, int]:
    """The definite byte string at `pos`, if there is one and it fits in `data`."""
    size, start = _read_argument(data, pos, 2)
    if size is None or start + size > len(data):
        return None, pos
    return data[start : start + size], start + size


def peek_request_id(payload: bytes) -> int | None:
    """The request id of a payload, or None when it cannot be read. Never raises."""
    try:
        inner = _cbor_map(payload, "payload")
    except ProtocolError:
        return None
    rid = inner.get("id")
    return rid if type(rid) is int and 0 <= rid <= _MAX_UINT else None


def loads_strict(
    data: bytes | bytearray | memoryview,
    *,
    max_depth: int = MAX_DEPTH,
    allow_bignums: bool = False,
) -> Any:
    """Decode one CBOR item from untrusted bytes, refusing everything the protocol refuses.

    cbor2 runs with `max_depth`, no indefinite lengths, no duplicate map keys, only text or byte
    strings as map keys, strict UTF-8 and no tags (cbor2's own tag decoders for dates, shared
    references, sets, ... are overridden too); bytes after the item are refused, which `cbor2.loads`
    would silently ignore. The caller checks the shape of what comes back. No size limit: cap the
    input before calling.

    Args:
        data: the bytes, holding exactly one CBOR item.
        max_depth: deepest container nesting accepted.
        allow_bignums: also accept tags 2 and 3 (integers beyond 64 bits), for stored data such as
            a session's workspace; frames never carry them.

    Returns:
        The decoded item: None, bool, int, float, str, bytes, list, dict, or a `cbor2.CBORSimpleValue`
        / `cbor2.undefined`.

    Raises:
        RemoteProtocolError: with the reason, which reads well after "<what>: ": "invalid CBOR (...)",
            "CBOR tag 1 is not allowed", "2 trailing bytes after CBOR", "expected bytes, got str".
    """
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise RemoteProtocolError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            stream,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            strict_hashable_types=True,
            str_errors="strict",
            tag_hook=_refuse_tag,
            semantic_decoders=_REFUSE_TAGS_BUT_BIGNUMS if allow_bignums else _REFUSE_TAGS,
        ).decode()
    except Exception as e:  # cbor2 raises a handful of types (CBORDecodeError, ValueError, ...)
        if isinstance(e.__cause__, _TagRefused):
            raise RemoteProtocolError(str(e.__cause__)) from None
        raise RemoteProtocolError(f"invalid CBOR ({e})") from None
    if (end := stream.tell()) != len(data):
        raise RemoteProtocolError(f"{len(data) - end} trailing bytes after CBOR")
    return value


def _cbor_map(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = loads_strict(data)
    except RemoteProtocolError as e:
        raise RemoteProtocolError(f"{where}: {e}") from None
    if type(value) is not dict:
        raise RemoteProtocolError(f"{where}: expected a CBOR map, got {wire_type(value)}")
    return value


class _TagRefused(ValueError):
    pass


# cbor2 6.x calls `tag_hook(tag, immutable)` for unknown tags and each semantic decoder with
# `(content, immutable)` after the tag's content is decoded (within the depth and size limits). Both
# are given `*args` so a signature change in cbor2 cannot turn a refusal into a TypeError.
def _refuse_tag(tag: Any, *_args: Any) -> Any:
    raise _TagRefused(f"CBOR tag {getattr(tag, 'tag', '?')} is not allowed")


def _refuse_semantic_tag(tag: int) -> Callable[..., Any]:
    def refuse(*_args: Any) -> Any:
        raise _TagRefused(f"CBOR tag {tag} is not allowed")

    return refuse


# No field of any message is tagged, so every tag is refused. The tags cbor2 would otherwise decode
# itself (dates, bignums, decimals, shared references that build cycles, regular expressions, MIME,
# sets, ...) are overridden here and refused; any other tag reaches `_refuse_tag`. tests/protocol
# checks that no tag in 0..70000 gets through.
_REFUSE_TAGS = {
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
_REFUSE_TAGS_BUT_BIGNUMS = {t: refuse for t, refuse in _REFUSE_TAGS.items() if t not in (2, 3)}

_TYPES: dict[str, type] = {**MESSAGE_TYPES, **CONTROL_TYPES}
#: Per class: its wire name and compiled body encoder; per class: its compiled body decoder.
_ENCODERS: dict[type, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    cls: (name, compile_encoder(cls)) for name, cls in _TYPES.items()
}
#: Per class: the start of its payload map, up to the request id: map(3), "type", its name, "id".
_PAYLOAD_HEADS: dict[type, bytes] = {
    cls: b"\xa3" + cbor2.dumps("type") + cbor2.dumps(name) + cbor2.dumps("id")
    for name, cls in _TYPES.items()
}
_DECODERS: dict[type, Callable[[Any], Any]] = {cls: compile_decoder(cls) for cls in _TYPES.values()}
