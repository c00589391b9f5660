"""The decoder on hostile input: only ever a checked Frame or a RemoteProtocolError, and quickly.

Generated cases first (random bytes, mutated valid frames, valid CBOR of the wrong shape at each level
of the envelope), then one hand-written case per category so a regression names its category.
"""

from __future__ import annotations

import math
import time

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stui.protocol import (
    MAX_DEPTH,
    Frame,
    Ping,
    RemoteProtocolError,
    SignatureError,
    encode,
)
from stui.protocol.codec import _TYPES

from .helpers import frame_bytes, outcome
from .strategies import FAST, any_message, cbor_values

_KEYS = st.sampled_from([b"", b"secret"])


def _assert_checked(result: object) -> None:
    """A frame that got through is a real, fully built message."""
    if isinstance(result, Frame):
        assert _TYPES[type(result.message).__name__] is type(result.message)
        assert 0 <= result.request_id < 2**63


# --------------------------------------------------------------------------------------------------
# Generated


@FAST
@given(data=st.binary(max_size=512), key=_KEYS)
def test_random_bytes(data: bytes, key: bytes) -> None:
    _assert_checked(outcome(data, key=key))


@st.composite
def _mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    n = len(raw)
    match draw(st.sampled_from(["flip", "truncate", "extend", "splice", "insert", "delete"])):
        case "flip":
            i = draw(st.integers(0, n - 1))
            bit = 1 << draw(st.integers(0, 7))
            return raw[:i] + bytes([raw[i] ^ bit]) + raw[i + 1 :]
        case "truncate":
            return raw[: draw(st.integers(0, n - 1))]
        case "extend":
            return raw + draw(st.binary(min_size=1, max_size=16))
        case "splice":
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(i, n))
            return raw[:i] + draw(st.binary(max_size=16)) + raw[j:]
        case "insert":
            i = draw(st.integers(0, n))
            return raw[:i] + draw(st.binary(min_size=1, max_size=8)) + raw[i:]
        case _:
            i = draw(st.integers(0, n - 1))
            return raw[:i] + raw[i + draw(st.integers(1, 8)) :]


@FAST
@given(data=st.data(), key=_KEYS, request_id=st.integers(0, 2**63 - 1))
def test_mutated_frames(data: st.DataObject, key: bytes, request_id: int) -> None:
    raw = encode(data.draw(any_message), request_id=request_id, key=key)
    mutated = data.draw(_mutated(raw))
    result = outcome(mutated, key=key)
    _assert_checked(result)
    if key and mutated != raw:  # nothing altered gets past a signature check
        assert isinstance(result, RemoteProtocolError)


@FAST
@given(data=st.data(), key=_KEYS)
def test_mutated_payloads_in_valid_frames(data: st.DataObject, key: bytes) -> None:
    """Mutate the payload, then wrap (and sign) it properly, so the damage reaches the payload parser."""
    raw = cbor2.loads(encode(data.draw(any_message), request_id=3))["msg"]
    result = outcome(frame_bytes(payload=data.draw(_mutated(raw)), key=key), key=key)
    _assert_checked(result)


@FAST
@given(value=cbor_values)
def test_wrong_shapes_at_every_level(value: object) -> None:
    for data in (
        cbor2.dumps(value),  # as the frame
        frame_bytes(payload=cbor2.dumps(value)),  # as the payload
        frame_bytes(body=value, type="Evaluate"),  # as a body
        frame_bytes(body={"timestamp": value}),  # as a field
        frame_bytes(v=value),
        frame_bytes(id=value),
        frame_bytes(type=value),
    ):
        _assert_checked(outcome(data))


@FAST
@given(data=st.data())
def test_valid_bodies_with_one_field_damaged(data: st.DataObject) -> None:
    """A real message's body with one field replaced, removed or added: wrong types must be caught."""
    message = data.draw(any_message)
    body = cbor2.loads(cbor2.loads(encode(message))["msg"])["body"]
    name = type(message).__name__
    keys = sorted(body)
    match data.draw(st.sampled_from(["replace", "remove", "add"])) if keys else "add":
        case "replace":
            body[data.draw(st.sampled_from(keys))] = data.draw(cbor_values)
        case "remove":
            del body[data.draw(st.sampled_from(keys))]
        case _:
            body[data.draw(st.text(max_size=8))] = data.draw(cbor_values)
    result = outcome(frame_bytes(body=body, type=name, id=11))
    _assert_checked(result)
    if isinstance(result, RemoteProtocolError):
        assert result.request_id == 11  # the payload was readable, so the id is known


# --------------------------------------------------------------------------------------------------
# Hand-written, one or more per category. Each names what the error message must mention.

_PING_PAYLOAD = cbor2.dumps({"type": "Ping", "id": 7, "body": {"timestamp": 1.5}})


def _wrap(payload_hex: str) -> bytes:
    return frame_bytes(payload=bytes.fromhex(payload_hex))


def _nested(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"


_CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "invalid CBOR"),
    ("not a map", cbor2.dumps([1, 2]), "expected a CBOR map, got an array"),
    ("truncated", frame_bytes()[:-3], "invalid CBOR"),
    ("trailing bytes", frame_bytes() + b"\x00", "1 trailing bytes"),
    ("trailing bytes in payload", _wrap(_PING_PAYLOAD.hex() + "f6"), "payload: 1 trailing bytes"),
    ("deep nesting", _nested(10_000), "depth"),
    ("deep nesting in payload", frame_bytes(payload=_nested(MAX_DEPTH + 1)), "depth"),
    (
        "deep nesting in body",
        frame_bytes(body={"timestamp": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}),
        "depth",
    ),
    ("huge array length", bytes.fromhex("9bffffffffffffffff"), "invalid CBOR"),
    ("huge map length", bytes.fromhex("bb00000000ffffffff"), "invalid CBOR"),
    (
        "huge byte string length",
        bytes.fromhex("a261760163") + b"msg" + bytes.fromhex("5b7fffffffffffffff"),
        "invalid CBOR",
    ),
    ("huge text string length", bytes.fromhex("7bffffffffffffffff"), "invalid CBOR"),
    ("indefinite map", bytes.fromhex("bf617601ff"), "indefinite"),
    ("indefinite byte string", bytes.fromhex("a2617601636d73675f4100ff"), "indefinite"),
    ("indefinite text in payload", _wrap("a364747970657f6450696e67ff626964076462f6"), "indefinite"),
    ("duplicate frame key", bytes.fromhex("a3617601617602636d736740"), "Duplicate"),
    (
        "duplicate body key",
        _wrap("a364747970656450696e676269640764626f6479a26174016174f6"),
        "Duplicate",
    ),
    ("integer map key", bytes.fromhex("a10101"), "key must be a text string"),
    ("byte string map key", cbor2.dumps({b"v": 1, "msg": b""}), "map keys must be text strings"),
    ("tag on the frame", cbor2.dumps(cbor2.CBORTag(55799, {"v": 1})), "tag 55799"),
    ("datetime tag in a field", frame_bytes(body={"timestamp": cbor2.CBORTag(1, 0)}), "tag 1"),
    ("bignum tag as id", frame_bytes(id=cbor2.CBORTag(2, b"\x07")), "tag 2"),
    (
        "shared-reference cycle",
        frame_bytes(body=cbor2.CBORTag(28, [cbor2.CBORTag(29, 0)])),
        "is not allowed",
    ),
    ("unknown tag", frame_bytes(body={"timestamp": cbor2.CBORTag(9999, 1)}), "tag 9999"),
    (
        "NaN timestamp (half)",
        _wrap("a364747970656450696e676269640764626f6479a16974696d657374616d70f97e00"),
        "finite number",
    ),
    ("infinite timestamp", frame_bytes(body={"timestamp": math.inf}), "finite number"),
    ("undefined", frame_bytes(body={"timestamp": cbor2.undefined}), "simple value"),
    ("simple value", frame_bytes(body={"timestamp": cbor2.CBORSimpleValue(16)}), "simple value"),
    ("invalid UTF-8", _wrap("a1647479706562c328"), "invalid CBOR"),
    ("reserved additional info", bytes.fromhex("1c"), "invalid CBOR"),
    ("stray break", bytes.fromhex("ff"), "invalid CBOR"),
    ("missing msg", cbor2.dumps({"v": 1}), "missing ['msg']"),
    (
        "unknown frame key",
        cbor2.dumps({"v": 1, "msg": _PING_PAYLOAD, "x": 0}),
        "unknown keys ['x']",
    ),
    ("msg not bytes", cbor2.dumps({"v": 1, "msg": "Ping"}), "'msg' a byte string"),
    (
        "v not an int",
        cbor2.dumps({"v": "1", "msg": _PING_PAYLOAD}),
        "'v' must be an unsigned integer",
    ),
    ("sig too short", cbor2.dumps({"v": 1, "msg": _PING_PAYLOAD, "sig": b"x"}), "32-byte"),
    ("wrong version", frame_bytes(v=2), "protocol version 2 not supported"),
    ("version 0", frame_bytes(v=0), "protocol version 0 not supported"),
    ("payload not a map", frame_bytes(payload=cbor2.dumps("Ping")), "payload: expected a CBOR map"),
    (
        "payload missing body",
        frame_bytes(payload=cbor2.dumps({"type": "Ping", "id": 1})),
        "missing ['body']",
    ),
    ("negative id", frame_bytes(id=-1), "'id' must be an unsigned 63-bit integer"),
    ("id beyond 63 bits", frame_bytes(id=2**63), "'id' must be an unsigned 63-bit integer"),
    ("unknown type", frame_bytes(type="Evaluat"), "unknown message type 'Evaluat'"),
    ("type not text", frame_bytes(type=1), "unknown message type 1"),
    ("body not a map", frame_bytes(body=[1.5]), "Ping: expected a map, got an array"),
    ("missing field", frame_bytes(body={}), "Ping: missing ['timestamp']"),
    ("unknown field", frame_bytes(body={"timestamp": 1.0, "x": 1}), "Ping: unknown keys ['x']"),
    (
        "bool for int",
        frame_bytes(type="Interrupt", body={"target_id": True}),
        "Interrupt.target_id: expected a 64-bit integer, got a boolean",
    ),
    (
        "float for int",
        frame_bytes(type="Interrupt", body={"target_id": 1.0}),
        "expected a 64-bit integer, got a float",
    ),
    (
        "int for bool",
        frame_bytes(type="ListSessions", body={"all_clients": 1}),
        "ListSessions.all_clients: expected a boolean",
    ),
    ("int too big for a float", frame_bytes(body={"timestamp": 2**60}), "finite number"),
    (
        "text for bytes",
        frame_bytes(type="ConnectImage", body={"address": "a", "key": "k"}),
        "ConnectImage.key: expected a byte string, got a text string",
    ),
    (
        "bytes for text",
        frame_bytes(type="CloseSession", body={"session_id": b"s"}),
        "CloseSession.session_id: expected a text string, got a byte string",
    ),
    (
        "null for required text",
        frame_bytes(type="CloseSession", body={"session_id": None}),
        "expected a text string, got null",
    ),
    (
        "unknown enum value",
        frame_bytes(type="Evaluate", body={"session_id": "s", "source": "1", "mode": "print"}),
        "'print' is not one of 'execute', 'display'",
    ),
    (
        "array expected",
        frame_bytes(type="SessionList", body={"sessions": {}}),
        "SessionList.sessions: expected an array",
    ),
    (
        "bad item in array",
        frame_bytes(type="SessionList", body={"sessions": [{"session_id": 5}]}),
        "SessionList.sessions[0].session_id",
    ),
    (
        "metadata not text to text",
        frame_bytes(
            type="SystemInfoReply",
            body={
                "image_name": "",
                "dialect": "",
                "dialect_version": "",
                "uptime": 0,
                "sessions": 0,
                "clients": 0,
                "metadata": {"a": 1},
            },
        ),
        "metadata: expected a map of text to text",
    ),
    (
        "class check refuses value",
        frame_bytes(type="Inspect", body={"session_id": "s", "expression": "x", "handle": 1}),
        "exactly one of expression and handle",
    ),
    (
        "empty session id",
        frame_bytes(type="CloseSession", body={"session_id": ""}),
        "session_id must be 1..128",
    ),
]


@pytest.mark.parametrize(("case", "data", "expected"), _CASES, ids=[c[0] for c in _CASES])
def test_hand_written_bad_frames(case: str, data: bytes, expected: str) -> None:
    start = time.perf_counter()
    result = outcome(data)
    assert time.perf_counter() - start < 1.0
    assert isinstance(result, RemoteProtocolError) and not isinstance(result, SignatureError), (
        result
    )
    assert expected in str(result), f"{case}: {result}"


def test_oversized_frame_refused_before_parsing() -> None:
    result = outcome(b"\xff" * 101, max_size=100)
    assert isinstance(result, RemoteProtocolError)
    assert "101 bytes exceeds the 100-byte limit" in str(result)


def test_default_size_limit_is_4_mib() -> None:
    big = frame_bytes(type="TranscriptOutput", body={"session_id": None, "text": "x" * (4 << 20)})
    assert "exceeds the 4194304-byte limit" in str(outcome(big))


@pytest.mark.parametrize(
    "data", [bytearray(encode(Ping(timestamp=1.0))), memoryview(encode(Ping(timestamp=1.0)))]
)
def test_bytes_like_input_accepted(data: bytes) -> None:
    assert outcome(data) == Frame(
        version=1, request_id=0, message=Ping(timestamp=1.0), signed=False
    )


def test_non_bytes_input_refused() -> None:
    assert "frame must be bytes, got str" in str(outcome("\xa0"))


def test_no_cbor_tag_gets_through() -> None:
    """cbor2 decodes some tags itself (bignums, dates, shared references); every one must be refused."""
    for tag in range(70_000):
        result = outcome(cbor2.dumps(cbor2.CBORTag(tag, {"v": 1})))
        assert isinstance(result, RemoteProtocolError) and f"tag {tag}" in str(result)
