"""tests/protocol/vectors.json is current, and every vector behaves as it says."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
from stui.protocol import ProtocolError, decode, encode

from . import make_vectors
from .strategies import ALL_TYPES

VECTORS: list[dict[str, Any]] = json.loads(make_vectors.PATH.read_text(encoding="utf-8"))


def _key(v: dict[str, Any]) -> bytes:
    return bytes.fromhex(v["key"]) if v["key"] else b""


def test_file_is_up_to_date() -> None:
    """Fails after a protocol change until `python -m tests.protocol.make_vectors` is run."""
    assert make_vectors.render() == make_vectors.PATH.read_text(encoding="utf-8")


def test_vectors_cover_every_message_signed_and_unsigned() -> None:
    ok = [v for v in VECTORS if v["expect"] == "ok"]
    assert {v["type"] for v in ok} == set(ALL_TYPES)
    assert any(v["key"] for v in ok) and any(not v["key"] for v in ok)
    assert {"RemoteProtocolError", "SignatureError"} <= {v["expect"] for v in VECTORS}
    assert len({v["name"] for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("v", [v for v in VECTORS if v["expect"] == "ok"], ids=lambda v: v["name"])
def test_valid_vector(v: dict[str, Any]) -> None:
    raw = bytes.fromhex(v["hex"])
    frame = decode(raw, key=_key(v))
    assert type(frame.message).__name__ == v["type"]
    assert frame.request_id == v["request_id"]
    assert frame.signed == (b"sig" in raw and "sig" in cbor2.loads(raw))
    reencoded = encode(frame.message, request_id=frame.request_id, key=_key(v))
    assert make_vectors._body(frame.message) == v["body"]
    if v["exact"]:
        assert reencoded == raw  # our encoder writes exactly these bytes


@pytest.mark.parametrize("v", [v for v in VECTORS if v["expect"] != "ok"], ids=lambda v: v["name"])
def test_invalid_vector(v: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(bytes.fromhex(v["hex"]), key=_key(v))
    assert type(info.value).__name__ == v["expect"]
    assert info.value.request_id == v["request_id"]


def test_diagnostic_notation() -> None:
    d = make_vectors.diag
    assert (
        d({"a": [None, True, False, -1, 1.0e300, b"\x01"]})
        == "{\"a\": [null, true, false, -1, 1.0e+300, h'01']}"
    )
    assert (d(float("nan")), d(float("inf")), d(float("-inf"))) == ("NaN", "Infinity", "-Infinity")
    assert d({"msg": b"\xff"}) == "{\"msg\": h'ff'}"  # not CBOR: shown as plain bytes
    assert d(cbor2.CBORTag(1, 0)) == "1(0)"
    assert make_vectors._diag_bytes(b"\x1c") is None


def test_main_writes_the_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "vectors.json"
    monkeypatch.setattr(make_vectors, "PATH", target)
    make_vectors.main()
    assert json.loads(target.read_text(encoding="utf-8")) == VECTORS
