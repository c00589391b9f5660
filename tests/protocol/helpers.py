"""Building frames by hand: what a foreign or hostile encoder might put on the wire."""

from __future__ import annotations

from typing import Any

import cbor2
from stui.protocol import Frame, ProtocolError, RemoteProtocolError, decode, sign


def frame_bytes(
    body: Any = None,
    *,
    type: Any = "Ping",
    id: Any = 7,
    v: Any = 1,
    key: bytes = b"",
    payload: bytes | None = None,
) -> bytes:
    """A frame around a hand-made payload (`body` defaults to a valid Ping body)."""
    if payload is None:
        if body is None:
            body = {"timestamp": 1.5}
        payload = cbor2.dumps({"type": type, "id": id, "body": body})
    frame: dict[str, Any] = {"v": v, "msg": payload}
    if key:
        frame["sig"] = sign(key, payload)
    return cbor2.dumps(frame)


def outcome(data: Any, *, key: bytes = b"", max_size: int | None = None) -> Frame | ProtocolError:
    """Decode; return the Frame or the ProtocolError. Any other exception fails the calling test."""
    try:
        if max_size is None:
            return decode(data, key=key)
        return decode(data, key=key, max_size=max_size)
    except ProtocolError as e:
        assert isinstance(e, RemoteProtocolError), f"decode raised a local error: {e!r}"
        assert str(e), "a protocol error must say what was wrong"
        return e
