"""The compiled field converters agree with the reference checker, and `loads_strict` is strict.

The codec decides with the compiled converters and asks the reference checker only to explain a
refusal, so the two must accept exactly the same values and build exactly the same messages.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stui.protocol import (
    EvalMode,
    Evaluate,
    LocalProtocolError,
    Ping,
    ProtocolError,
    RemoteProtocolError,
    Welcome,
    encode,
    loads_strict,
)
from stui.protocol._fields import (
    DECODERS,
    ENCODERS,
    Invalid,
    compile_decoder,
    explain_from_wire,
    explain_to_wire,
)
from stui.protocol.codec import _plain_envelope

from .strategies import ALL_TYPES, FAST, any_message, cbor_values

_ODD_PYTHON_VALUES = st.one_of(
    cbor_values,
    st.sampled_from(
        [
            math.nan,
            math.inf,
            2**63,
            -(2**63) - 1,
            2**53 + 1,
            True,
            (),
            ("a",),
            (("k", "v"), ("k", "w")),
            (("k", 1),),
            EvalMode.DISPLAY,
            [1],
            {"a": "b"},
            b"x",
        ]
    ),
    st.tuples(cbor_values),
)


def _decode_both(cls: type, body: object) -> tuple[object, object]:
    """(compiled result or "refused", reference result or "refused")."""
    try:
        fast = DECODERS[cls](body)
    except (Invalid, LocalProtocolError):
        fast = "refused"
    try:
        slow = explain_from_wire(cls, body, cls.__name__)
    except ProtocolError:
        slow = "refused"
    return fast, slow


def test_every_message_class_is_compiled_both_ways() -> None:
    assert set(ALL_TYPES.values()) <= DECODERS.keys()
    assert set(ALL_TYPES.values()) <= ENCODERS.keys()
    assert compile_decoder(Ping) is DECODERS[Ping]  # compiled once, then reused


@FAST
@given(data=st.data())
def test_decoders_agree_on_damaged_bodies(data: st.DataObject) -> None:
    message = data.draw(any_message)
    cls = type(message)
    body = cbor2.loads(cbor2.loads(encode(message))["msg"])["body"]
    fast, slow = _decode_both(cls, copy.deepcopy(body))
    assert fast == slow == message  # the undamaged body
    keys = sorted(body)
    match data.draw(st.sampled_from(["replace", "remove", "add", "nest"])) if keys else "add":
        case "replace":
            body[data.draw(st.sampled_from(keys))] = data.draw(cbor_values)
        case "remove":
            del body[data.draw(st.sampled_from(keys))]
        case "add":
            body[data.draw(st.text(max_size=8))] = data.draw(cbor_values)
        case _:  # damage one level down: inside an array or a record, where there is one
            key = data.draw(st.sampled_from(keys))
            inner = body[key]
            if isinstance(inner, list) and inner:
                inner[data.draw(st.integers(0, len(inner) - 1))] = data.draw(cbor_values)
            elif isinstance(inner, dict) and inner:
                inner[data.draw(st.sampled_from(sorted(inner)))] = data.draw(cbor_values)
            else:
                body[key] = [inner]
    fast, slow = _decode_both(cls, body)
    assert fast == slow
    if fast != "refused":
        assert type(fast) is cls


@FAST
@given(data=st.data())
def test_encoders_agree_on_damaged_messages(data: st.DataObject) -> None:
    message = data.draw(any_message)
    cls = type(message)
    assert ENCODERS[cls](message) == explain_to_wire(cls, message, cls.__name__)
    names = [f.name for f in dataclasses.fields(cls)]
    if not names:
        return
    damaged = copy.copy(message)
    object.__setattr__(damaged, data.draw(st.sampled_from(names)), data.draw(_ODD_PYTHON_VALUES))
    try:
        fast = ENCODERS[cls](damaged)
    except Invalid:
        fast = "refused"
    try:
        slow = explain_to_wire(cls, damaged, cls.__name__)
    except LocalProtocolError:
        slow = "refused"
    assert fast == slow


def test_a_class_rule_is_enforced_on_decode_by_both() -> None:
    body = {"session_id": "s", "source": "x", "time_budget": 0.0}
    assert _decode_both(Evaluate, body) == ("refused", "refused")
    with pytest.raises(RemoteProtocolError, match="Evaluate: time_budget must be > 0"):
        explain_from_wire(Evaluate, body, "Evaluate")


def test_float_fields_take_exact_ints_only() -> None:
    assert _decode_both(Ping, {"timestamp": 2**53}) == (Ping(timestamp=2.0**53),) * 2
    for bad in (2**53 + 1, math.nan, math.inf, -math.inf, True, None):
        assert _decode_both(Ping, {"timestamp": bad}) == ("refused", "refused")
    assert ENCODERS[Ping](Ping(timestamp=3)) == {"timestamp": 3.0}


def test_metadata_round_trips_as_a_map_and_refuses_duplicates() -> None:
    w = Welcome(
        version=1,
        image_id="i",
        instance_id="n",
        image_name="",
        dialect="",
        dialect_version="",
        metadata=(("a", "1"), ("b", "2")),
    )
    assert ENCODERS[Welcome](w)["metadata"] == {"a": "1", "b": "2"}
    bad = dataclasses.replace(w, metadata=(("a", "1"), ("a", "2")))
    with pytest.raises(Invalid):
        ENCODERS[Welcome](bad)


# --------------------------------------------------------------------------------------------------
# loads_strict


def test_loads_strict_returns_any_single_item() -> None:
    assert loads_strict(cbor2.dumps({"a": [1, 2.5, None]})) == {"a": [1, 2.5, None]}
    assert loads_strict(bytearray(b"\x01")) == 1
    assert loads_strict(memoryview(b"\x62hi")) == "hi"


@pytest.mark.parametrize(
    ("data", "kwargs", "reason"),
    [
        (b"\x01\x02\x03", {}, "2 trailing bytes after CBOR"),
        (cbor2.dumps(cbor2.CBORTag(1, 0)), {}, "CBOR tag 1 is not allowed"),
        (cbor2.dumps(2**70), {}, "CBOR tag 2 is not allowed"),  # a bignum
        (cbor2.dumps(cbor2.CBORTag(40000, 0)), {"allow_bignums": True}, "CBOR tag 40000"),
        (b"\x81" * 5 + b"\x00", {"max_depth": 4}, "invalid CBOR"),
        (b"\xbf\xff", {}, "invalid CBOR"),  # indefinite map
        (bytes.fromhex("a2617801617802"), {}, "invalid CBOR"),  # duplicate key
        (b"", {}, "invalid CBOR"),
        ("text", {}, "expected bytes, got str"),
    ],
)
def test_loads_strict_refuses(data: bytes, kwargs: dict, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        loads_strict(data, **kwargs)
    assert reason in str(info.value)
    assert info.value.request_id is None


def test_loads_strict_allows_bignums_only_when_asked() -> None:
    assert loads_strict(cbor2.dumps(-(2**70)), allow_bignums=True) == -(2**70)
    assert loads_strict(b"\x81" * 5 + b"\x00", max_depth=6) == [[[[[0]]]]]


# --------------------------------------------------------------------------------------------------
# The hand-read frame envelope


def _envelope_agrees(data: bytes) -> None:
    """When `_plain_envelope` reads `data`, the general reader finds the very same map."""
    got = _plain_envelope(data)
    if got is None:
        return
    version, payload, sig = got
    expected = {"v": version, "msg": payload} | ({} if sig is None else {"sig": sig})
    assert loads_strict(data) == expected


def _head(major: int, n: int, size: int) -> bytes:
    """A head with a chosen argument size (0: in the initial byte), shortest or not."""
    if size == 0:
        return bytes((major << 5 | n,))
    return bytes((major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size],)) + n.to_bytes(size, "big")


def _head_sizes(n: int) -> list[int]:
    return [s for s in (0, 1, 2, 4, 8) if (n < 24 if s == 0 else n < 256**s)]


@st.composite
def _envelopes(draw: st.DrawFn) -> bytes:
    """Frame-like maps: keys in any order, sometimes repeated or foreign, heads of any size, values
    of the wrong type now and then, sometimes cut short or followed by junk."""
    keys = draw(st.permutations(["v", "msg", "sig"][: draw(st.integers(2, 3))]))
    if draw(st.integers(0, 3)) == 0:
        keys.insert(
            draw(st.integers(0, len(keys))), draw(st.sampled_from(["v", "msg", "sig", "x"]))
        )
    odd = draw(st.integers(0, 3)) == 0  # now and then a value of another major type
    entries = []
    for key in keys:
        if key in ("v", "x"):
            n = draw(st.integers(0, 300))
            major = draw(st.sampled_from([1, 3])) if odd else 0
            value = _head(major, n, draw(st.sampled_from(_head_sizes(n))))
            if major == 3:
                value = _head(3, 0, 0)
        else:
            blob = draw(st.binary(max_size=40))
            major = 3 if odd and draw(st.booleans()) else 2
            size = draw(st.sampled_from(_head_sizes(len(blob))))
            value = _head(major, len(blob), size) + blob
        entries.append(cbor2.dumps(key) + value)
    count = len(entries) if draw(st.integers(0, 3)) else draw(st.sampled_from([2, 3]))
    data = bytes((0xA0 | count,)) + b"".join(entries)
    if draw(st.integers(0, 3)) == 0:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=3))
    return data


@settings(FAST, max_examples=400)
@given(data=_envelopes())
def test_hand_read_envelope_agrees_with_cbor2(data: bytes) -> None:
    _envelope_agrees(data)


@FAST
@given(message=any_message, key=st.sampled_from([b"", b"k"]), rid=st.integers(0, 2**63 - 1))
def test_every_frame_we_write_is_read_by_hand(message: object, key: bytes, rid: int) -> None:
    raw = encode(message, request_id=rid, key=key)
    assert _plain_envelope(raw) is not None
    _envelope_agrees(raw)


def test_envelope_forms_left_to_the_general_path() -> None:
    plain = cbor2.dumps({"v": 1, "msg": b"p"})
    assert _plain_envelope(plain) == (1, b"p", None)
    assert _plain_envelope(cbor2.dumps({"msg": b"p", "v": 1, "sig": b"s"})) == (1, b"p", b"s")
    for other in (
        plain + b"\x00",  # trailing byte
        plain[:-1],  # truncated
        bytes.fromhex("a2617601617602"),  # "v" twice
        cbor2.dumps({"v": 1, "msg": "p"}),  # text, not bytes
        cbor2.dumps({"v": -1, "msg": b"p"}),
        cbor2.dumps({"v": 1, "msg": b"p", "x": 0}),
        bytes.fromhex("a261760163") + b"msg" + bytes.fromhex("5f4170ff"),  # indefinite bytes
        bytes.fromhex("a261761c") + b"\x63msg\x41p",  # reserved additional info
        cbor2.dumps(cbor2.CBORTag(55799, {"v": 1, "msg": b"p"})),
    ):
        assert _plain_envelope(other) is None, other.hex()
