"""Error ergonomics: each class of bad frame says what to fix, and carries the request id if it can."""

from __future__ import annotations

import re

import cbor2
import pytest
from stui.protocol import (
    ConnectImage,
    Evaluate,
    Hello,
    Inspect,
    Interrupt,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    SessionOpened,
    SignatureError,
    Welcome,
    decode,
    encode,
    peek_request_id,
)

from .helpers import frame_bytes

# (what is wrong, frame, words a person needs to act, recovered request id)
_CASES = [
    ("not CBOR", b"\x1c", ["frame", "invalid CBOR"], None),
    ("too big", b"\x00" * 11, ["11 bytes", "10-byte limit"], None),
    ("old version", frame_bytes(v=0, id=4), ["version 0", "this side speaks [1]"], 4),
    (
        "future version with new keys",
        cbor2.dumps({"v": 9, "msg": cbor2.dumps({"id": 5}), "new": 1}),
        ["version 9"],
        5,
    ),
    (
        "unknown type",
        frame_bytes(type="Frobnicate", id=6),
        ["unknown message type 'Frobnicate'"],
        6,
    ),
    (
        "wrong field type",
        frame_bytes(type="Interrupt", body={"target_id": "7"}, id=8),
        ["Interrupt.target_id", "64-bit integer", "text string"],
        8,
    ),
    (
        "nested field",
        frame_bytes(
            type="SessionOpened",
            body={"session": {"session_id": "s", "created_at": "x"}, "resumed": False},
            id=9,
        ),
        ["SessionOpened.session.created_at", "finite number"],
        9,
    ),
    (
        "missing field",
        frame_bytes(type="Evaluate", body={"session_id": "s"}, id=10),
        ["Evaluate", "missing ['source']"],
        10,
    ),
    (
        "bad enum",
        frame_bytes(type="Error", body={"code": "Oops", "message": ""}, id=11),
        ["Error.code", "'Oops'", "'InvalidRequest'"],
        11,
    ),
    (
        "class rule",
        frame_bytes(type="Complete", body={"session_id": "s", "source": "ab", "cursor": 3}, id=12),
        ["Complete", "cursor must lie within source"],
        12,
    ),
    ("bad id", frame_bytes(id="1"), ["'id'", "unsigned 63-bit integer"], None),
]


@pytest.mark.parametrize(
    ("what", "data", "words", "request_id"), _CASES, ids=[c[0] for c in _CASES]
)
def test_errors_say_what_to_fix(
    what: str, data: bytes, words: list[str], request_id: int | None
) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode(data, max_size=10 if what == "too big" else 4 << 20)
    for w in words:
        assert w in str(info.value), f"{what}: {info.value}"
    assert info.value.request_id == request_id


def test_protocol_error_base_cannot_be_raised_directly() -> None:
    with pytest.raises(TypeError, match="LocalProtocolError or RemoteProtocolError"):
        ProtocolError("x")
    assert SignatureError("x", request_id=3).request_id == 3


def test_peek_request_id_never_raises() -> None:
    assert peek_request_id(cbor2.dumps({"type": "Ping", "id": 42, "body": {}})) == 42
    for junk in (
        b"",
        b"\xff",
        cbor2.dumps([1]),
        cbor2.dumps({"id": -1}),
        cbor2.dumps({"id": True}),
    ):
        assert peek_request_id(junk) is None


# --------------------------------------------------------------------------------------------------
# Local errors: our own code asked for something the protocol cannot carry.


class NotAMessage:
    pass


_LOCAL = [
    (lambda: encode(NotAMessage()), "NotAMessage is not a protocol message"),
    (lambda: encode(Hello(client_id="c"), request_id=-1), "request_id -1 out of range"),
    (lambda: encode(Hello(client_id="c"), request_id=2**63), "out of range"),
    (lambda: encode(Hello(client_id="c"), version=-1), "version -1 out of range"),
    (lambda: encode(Hello(client_id="c", versions=[1])), "Hello.versions: expected a tuple"),
    (
        lambda: encode(Hello(client_id="c", versions=(2**64,))),
        "Hello.versions[0]: expected a 64-bit int",
    ),
    (
        lambda: encode(Hello(client_id="c", client_name=None)),
        "Hello.client_name: expected str, got NoneType",
    ),
    (lambda: encode(Hello(client_id="\ud800")), "cannot encode"),
    (
        lambda: encode(_welcome(metadata={"a": "1"})),
        "Welcome.metadata: expected a tuple of (str, str)",
    ),
    (
        lambda: encode(_welcome(metadata=(("a", "1"), ("a", "2")))),
        "Welcome.metadata: duplicate keys",
    ),
    (
        lambda: encode(Evaluate(session_id="s", source="", mode="display")),
        "Evaluate.mode: expected EvalMode",
    ),
    (
        lambda: encode(SessionOpened(session="s1", resumed=False)),
        "SessionOpened.session: expected SessionSummary",
    ),
    (lambda: encode(ConnectImage(address="tcp://x", key="k")), "ConnectImage.key: expected bytes"),
]


def _welcome(**kw: object) -> Welcome:
    base = dict(
        version=1, image_id="i", instance_id="n", image_name="", dialect="", dialect_version=""
    )
    return Welcome(**{**base, **kw})  # type: ignore[arg-type]


def test_class_checks_refuse_bad_values_at_construction() -> None:
    for build, words in [
        (lambda: ConnectImage(address="x", heartbeat_interval=0), "heartbeat_interval must be > 0"),
        (lambda: ConnectImage(address="x", heartbeat_misses=0), "heartbeat_misses must be >= 1"),
        (lambda: Hello(client_id="c", versions=()), "at least one protocol version"),
        (lambda: Evaluate(session_id="s", source="", time_budget=0), "time_budget must be > 0"),
        (lambda: Interrupt(target_id=-1), "target_id out of range"),
        (lambda: Inspect(session_id="s", handle=1, depth=9), "depth must be 0..8"),
    ]:
        with pytest.raises(LocalProtocolError, match=words):
            build()


@pytest.mark.parametrize(("call", "words"), _LOCAL, ids=[w for _, w in _LOCAL])
def test_encode_refuses_with_local_errors(call, words: str) -> None:
    with pytest.raises(LocalProtocolError, match=re.escape(words)):
        call()
