"""Every message of every union survives encode → decode unchanged, signed and unsigned."""

from __future__ import annotations

import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stui.protocol import (
    PROTOCOL_VERSION,
    ControlMessage,
    Frame,
    LocalProtocolError,
    Message,
    Ping,
    Welcome,
    decode,
    encode,
)

from .strategies import ALL_TYPES, CONTROL_TYPES, FAST, MESSAGE_TYPES, message_of

_KEYS = st.one_of(st.just(b""), st.binary(min_size=1, max_size=64))
_IDS = st.one_of(st.integers(0, 2**16), st.integers(0, 2**63 - 1))


def test_every_union_member_is_registered() -> None:
    """The unions, the type tables and the strategies agree: nothing can be left uncovered."""
    union_members = set(typing.get_args(Message)) | set(typing.get_args(ControlMessage))
    assert {cls.__name__ for cls in union_members} == set(ALL_TYPES)
    assert len(ALL_TYPES) == len(MESSAGE_TYPES) + len(CONTROL_TYPES)  # no name shared by both


@pytest.mark.parametrize("name", sorted(ALL_TYPES))
@FAST
@given(data=st.data(), request_id=_IDS, key=_KEYS)
def test_round_trip(name: str, data: st.DataObject, request_id: int, key: bytes) -> None:
    message = data.draw(message_of(ALL_TYPES[name]))
    frame = decode(encode(message, request_id=request_id, key=key), key=key)
    assert frame == Frame(
        version=PROTOCOL_VERSION, request_id=request_id, message=message, signed=bool(key)
    )
    assert type(frame.message) is type(message)


@FAST
@given(request_id=_IDS)
def test_encoding_is_deterministic(request_id: int) -> None:
    """Same message, same bytes: vectors can be exact and signatures reproducible."""
    m = Welcome(
        version=1,
        image_id="i",
        instance_id="n",
        image_name="alpha",
        dialect="stui",
        dialect_version="0.1",
        metadata=(("b", "1"), ("a", "2")),
    )
    assert encode(m, request_id=request_id, key=b"k") == encode(m, request_id=request_id, key=b"k")


def test_int_in_float_field_travels_as_float() -> None:
    frame = decode(encode(Ping(timestamp=3)))
    assert frame.message.timestamp == 3.0 and type(frame.message.timestamp) is float


@pytest.mark.parametrize(
    "bad",
    [
        Ping(timestamp=float("nan")),
        Ping(timestamp=float("inf")),
        Ping(timestamp=2**60),  # an int a float cannot hold exactly
        Ping(timestamp="1"),  # type: ignore[arg-type]
        Welcome(
            version=True,  # type: ignore[arg-type]
            image_id="i",
            instance_id="n",
            image_name="",
            dialect="",
            dialect_version="",
        ),
    ],
)
def test_encode_refuses_values_the_peer_would_refuse(bad: object) -> None:
    with pytest.raises(LocalProtocolError, match=r"Ping\.timestamp|Welcome\.version"):
        encode(bad)
