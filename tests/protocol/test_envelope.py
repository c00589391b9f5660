"""The envelope reader's fast path (the layout `encode` writes) against its general loop.

`_plain_envelope` tries a few slice compares first and otherwise runs `_any_order_envelope`; the fast
path may only ever give the answer the loop gives. Held here on frames `encode` makes (signed or not,
small and large payloads), on every truncation and single-byte change of them, and on hand-written
layouts the fast path must leave to the loop.
"""

from __future__ import annotations

from unittest import mock

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stui.protocol import Evaluate, Ping, codec, encode
from stui.protocol.codec import _any_order_envelope, _plain_envelope

from .strategies import FAST, any_message

_KEYS = st.sampled_from([b"", b"secret"])


def _same(data: bytes) -> None:
    assert _plain_envelope(data) == _any_order_envelope(data)


def _fast(data: bytes) -> None:
    """`_plain_envelope` answers without the loop, and what the loop would answer."""
    expected = _any_order_envelope(data)
    assert expected is not None
    with mock.patch.object(
        codec, "_any_order_envelope", side_effect=AssertionError("the loop ran")
    ):
        assert _plain_envelope(data) == expected


@FAST
@given(any_message, st.integers(0, 2**63 - 1), _KEYS)
def test_encoded_frames_read_the_same(msg: object, rid: int, key: bytes) -> None:
    data = encode(msg, request_id=rid, key=key)
    assert _plain_envelope(data) is not None
    _same(data)
    if len(data) < 0x10000:  # a payload of 64 KiB or more has a 4-byte head: the loop reads it
        _fast(data)


@FAST
@given(any_message, _KEYS, st.data())
def test_mutated_frames_read_the_same(msg: object, key: bytes, data: st.DataObject) -> None:
    frame = encode(msg, request_id=7, key=key)
    pos = data.draw(st.integers(0, len(frame) - 1))
    byte = data.draw(st.integers(0, 255))
    _same(frame[:pos] + bytes([byte]) + frame[pos + 1 :])  # one byte changed
    _same(frame[:pos])  # truncated
    _same(frame + bytes([byte]))  # a trailing byte


@pytest.mark.parametrize("size", [0, 23, 24, 255, 256, 70_000])
@pytest.mark.parametrize("key", [b"", b"secret"])
def test_every_payload_length_head(size: int, key: bytes) -> None:
    data = encode(Evaluate(session_id="s", source="x" * size), request_id=1, key=key)
    assert _plain_envelope(data) is not None
    _same(data)
    if size < 0xFF00:
        _fast(data)


@pytest.mark.parametrize(
    "frame",
    [
        {"msg": b"payload", "v": 1},  # other key order
        {"v": 1, "sig": b"s" * 32, "msg": b"payload"},
        {"v": 1, "msg": b"payload", "sig": b"short"},  # a signature of the wrong size
        {"v": 24, "msg": b"payload"},  # a version beyond the one-byte form
        {"v": 1, "msg": "text"},  # msg not a byte string
        {"v": 1},
        {"v": 1, "msg": b"payload", "x": 1},
    ],
)
def test_other_layouts_go_to_the_loop(frame: dict[str, object]) -> None:
    _same(cbor2.dumps(frame))


def test_non_shortest_heads_read_the_same() -> None:
    payload = b"p" * 5
    # "msg" with a 1-byte and a 2-byte length head although 5 fits in the initial byte
    for head in (b"\x58\x05", b"\x59\x00\x05"):
        data = b"\xa2\x61v\x01\x63msg" + head + payload
        assert _plain_envelope(data) == (1, payload, None)
        _same(data)
        _fast(data)
    ping = encode(Ping(timestamp=1.0), request_id=3)
    _same(ping[:-1] + b"\x00")  # a last byte changed inside the payload: still an envelope
