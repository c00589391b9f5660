"""HMAC-SHA256 signatures: any change to a signed frame is refused where a key is configured."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stui.protocol import (
    SIGNATURE_SIZE,
    Evaluate,
    Frame,
    RemoteProtocolError,
    SignatureError,
    decode,
    encode,
    sign,
    verify,
)

from .helpers import outcome
from .strategies import FAST, any_message

KEY = b"image-key-0123456789"
_MSG = Evaluate(session_id="s1", source="3 + 4")


def _parts(raw: bytes) -> tuple[bytes, bytes]:
    frame = cbor2.loads(raw)
    return frame["msg"], frame["sig"]


def test_signature_is_hmac_sha256_of_the_payload_bytes() -> None:
    payload, sig = _parts(encode(_MSG, request_id=5, key=KEY))
    assert len(sig) == SIGNATURE_SIZE
    assert sig == sign(KEY, payload)
    assert verify(KEY, payload, sig) and not verify(b"other", payload, sig)


@FAST
@given(data=st.data())
def test_flipping_any_payload_byte_is_refused(data: st.DataObject) -> None:
    payload, sig = _parts(encode(data.draw(any_message), request_id=9, key=KEY))
    i = data.draw(st.integers(0, len(payload) - 1))
    bad = payload[:i] + bytes([payload[i] ^ data.draw(st.integers(1, 255))]) + payload[i + 1 :]
    with pytest.raises(SignatureError, match="bad signature"):
        decode(cbor2.dumps({"v": 1, "msg": bad, "sig": sig}), key=KEY)


@FAST
@given(data=st.data())
def test_flipping_any_signature_byte_is_refused(data: st.DataObject) -> None:
    payload, sig = _parts(encode(data.draw(any_message), request_id=9, key=KEY))
    i = data.draw(st.integers(0, SIGNATURE_SIZE - 1))
    bad = sig[:i] + bytes([sig[i] ^ data.draw(st.integers(1, 255))]) + sig[i + 1 :]
    with pytest.raises(SignatureError, match="bad signature") as info:
        decode(cbor2.dumps({"v": 1, "msg": payload, "sig": bad}), key=KEY)
    assert info.value.request_id == 9  # the payload is intact, so the id is recovered


@FAST
@given(data=st.data())
def test_changing_any_byte_of_a_signed_frame_is_refused(data: st.DataObject) -> None:
    raw = encode(data.draw(any_message), request_id=1, key=KEY)
    i = data.draw(st.integers(0, len(raw) - 1))
    bad = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    assert isinstance(outcome(bad, key=KEY), RemoteProtocolError)


def test_unsigned_frame_refused_where_a_key_is_configured() -> None:
    with pytest.raises(SignatureError, match="unsigned frame refused") as info:
        decode(encode(_MSG, request_id=12), key=KEY)
    assert info.value.request_id == 12


def test_wrong_key_refused() -> None:
    with pytest.raises(SignatureError, match="different key") as info:
        decode(encode(_MSG, request_id=13, key=b"not the key"), key=KEY)
    assert info.value.request_id == 13


def test_signed_frame_accepted_by_a_receiver_without_key() -> None:
    """Signing is the receiver's policy: with no key it cannot check, so it accepts and says so."""
    assert decode(encode(_MSG, request_id=14, key=KEY)) == Frame(
        version=1, request_id=14, message=_MSG, signed=True
    )


def test_signature_error_is_a_remote_protocol_error() -> None:
    """Callers that catch RemoteProtocolError also catch signature failures."""
    assert issubclass(SignatureError, RemoteProtocolError)


def test_signature_checked_before_the_payload_is_parsed() -> None:
    """Garbage under a bad signature is a signature error, not a CBOR error: no parsing happens first."""
    raw = cbor2.dumps({"v": 1, "msg": b"\xff\xff", "sig": b"\x00" * 32})
    with pytest.raises(SignatureError) as info:
        decode(raw, key=KEY)
    assert info.value.request_id is None
