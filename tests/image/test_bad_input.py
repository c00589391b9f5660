"""Bad input never crashes the image nor stops it serving: garbage, truncation, bad signatures, size."""

from __future__ import annotations

import random

import cbor2
import pytest
import trio
import trio_websocket
from stui.protocol import (
    AttachSession,
    CreateSession,
    ErrorCode,
    EvalResult,
    Evaluate,
    Hello,
    Ping,
    Pong,
    SystemInfo,
    decode,
    encode,
    sign,
)

from tests.image.client import Client, expect_error
from tests.image.conftest import Harness

KEY = bytes(range(32))


async def healthy(client: Client) -> None:
    """A normal session and evaluation still work on this client."""
    opened = await client.request(CreateSession())
    result = await client.request(Evaluate(session_id=opened.session.session_id, source="3 + 4"))
    assert isinstance(result, EvalResult) and result.print_string == "7", result


async def stats(client: Client) -> dict[str, int]:
    reply = await client.request(SystemInfo())
    return {k: int(v) for k, v in reply.metadata if v.isdigit()}


async def test_garbage_barrage_then_normal_evaluation(harness):
    info, _ = await harness.start(key=KEY)
    client = await harness.connect(info, key=KEY)
    rng = random.Random(1234)
    valid = encode(Evaluate(session_id="a" * 32, source="3 + 4"), request_id=77, key=KEY)
    barrage = [rng.randbytes(rng.randrange(0, 300)) for _ in range(100)]
    barrage += [valid[:cut] for cut in range(0, len(valid), 3)]  # truncated CBOR
    barrage += [cbor2.dumps(x) for x in (None, 1, "x", [1, 2], {"v": 1}, {"v": 1, "msg": 5})]
    barrage += [cbor2.dumps({"v": 1, "msg": b"\xa0"})]  # an empty payload map: no id
    for data in barrage:
        await client.link.send(data)
    # Bad signatures: a different key, and no signature at all. The request id is readable.
    await client.send(Ping(timestamp=1.0), rid=901, key=b"wrong key")
    await client.send(Ping(timestamp=1.0), rid=902, key=b"")
    assert (
        "bad signature"
        in expect_error(await client.wait_for(901), ErrorCode.PERMISSION_DENIED).message
    )
    assert (
        "unsigned" in expect_error(await client.wait_for(902), ErrorCode.PERMISSION_DENIED).message
    )
    # Unknown message type and wrong field types, with a readable id: InvalidRequest replies.
    payload = cbor2.dumps({"type": "FormatDisk", "id": 903, "body": {}})
    await client.link.send(encode_raw(payload))
    payload = cbor2.dumps({"type": "Ping", "id": 904, "body": {"timestamp": "soon"}})
    await client.link.send(encode_raw(payload))
    assert (
        "FormatDisk" in expect_error(await client.wait_for(903), ErrorCode.INVALID_REQUEST).message
    )
    expect_error(await client.wait_for(904), ErrorCode.INVALID_REQUEST)
    await healthy(client)
    counters = await stats(client)
    assert counters["frames_dropped"] >= 100
    assert counters["frames_rejected"] >= 4
    # A client that never sent garbage is served as usual.
    await healthy(await harness.connect(info, key=KEY))


def encode_raw(payload: bytes) -> bytes:
    return cbor2.dumps({"v": 1, "msg": payload, "sig": sign(KEY, payload)})


async def test_signatures_required_when_a_key_is_set(harness):
    info, _ = await harness.start(key=KEY)
    unsigned = await harness.connect(info, hello=False)
    refused = await unsigned.request(Hello(client_id="intruder"))
    expect_error(refused, ErrorCode.PERMISSION_DENIED)
    wrong = await harness.connect(info, hello=False, key=b"x" * 32)
    rid = await wrong.send(Hello(client_id="intruder"))
    # Its reply is signed with the image's key, which this client cannot check: read it unchecked.
    with trio.fail_after(10):
        data = await wrong.link.receive()
    frame = decode(data)
    assert frame.request_id == rid and frame.signed
    expect_error(frame.message, ErrorCode.PERMISSION_DENIED)
    signed = await harness.connect(info, key=KEY)
    pong = await signed.request(Ping(timestamp=3.0))
    assert isinstance(pong, Pong)


async def test_oversized_frame_does_not_hurt_the_image(harness):
    info, _ = await harness.start(max_frame_size=2048)
    big = await harness.connect(info)
    opened = await big.request(CreateSession())
    await big.send(Evaluate(session_id=opened.session.session_id, source="'" + "x" * 4000 + "'"))
    # ZeroMQ drops the peer's connection, WebSocket closes with 1009: either way, others go on.
    await healthy(await harness.connect(info))


async def test_text_websocket_message_closes_the_connection(zmq_context, runtime_dir, nursery):
    harness = Harness(nursery, zmq_context, runtime_dir, "ws")
    try:
        info, _ = await harness.start()
        client = await harness.connect(info)
        await client.link.send_text("hello?")
        with pytest.raises(trio_websocket.ConnectionClosed):
            with trio.fail_after(10):
                await client.link.receive()
        assert client.link.ws.closed.code == 1003
        again = await harness.connect(info)
        await healthy(again)
        assert (await stats(again))["frames_dropped"] == 1
    finally:
        with trio.CancelScope(shield=True):
            await harness.aclose()


async def test_websocket_wrong_path_is_rejected(zmq_context, runtime_dir, nursery):
    harness = Harness(nursery, zmq_context, runtime_dir, "ws")
    try:
        info, _ = await harness.start()
        wrong = info.ws_address.rsplit("/", 1)[0] + "/elsewhere"
        with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
            async with trio_websocket.open_websocket_url(wrong):
                pass  # pragma: no cover - the handshake must fail
        assert rejected.value.status_code == 404
    finally:
        with trio.CancelScope(shield=True):
            await harness.aclose()


async def test_zmq_messages_with_extra_parts_are_dropped(zmq_harness):
    info, _ = await zmq_harness.start()
    client = await zmq_harness.connect(info)
    await client.link.send_parts([b"", encode(Ping(timestamp=1.0), request_id=5)])
    await client.link.send_parts([b"a", b"b", b"c"])
    await healthy(client)
    assert (await stats(client))["frames_dropped"] == 2


async def test_rude_websocket_disconnect_frees_its_requests(zmq_context, runtime_dir, nursery):
    harness = Harness(nursery, zmq_context, runtime_dir, "ws")
    try:
        info, _ = await harness.start()
        rude = await harness.connect(info, client_id="rude")
        opened = await rude.request(CreateSession())
        sid = opened.session.session_id
        await rude.send(Evaluate(session_id=sid, source="[true] whileTrue"))
        await trio.sleep(0.05)
        await rude.link.ws._stream.aclose()  # TCP gone, no closing handshake
        other = await harness.connect(info, client_id="someone-else")
        assert (await other.request(AttachSession(session_id=sid))).resumed
        # The loop stopped when the server saw the connection die, so the session is free.
        with trio.fail_after(10):
            result = await other.request(Evaluate(session_id=sid, source="3 + 4"))
        assert isinstance(result, EvalResult) and result.print_string == "7"
        reply = await other.request(SystemInfo())
        assert reply.clients == 1
    finally:
        with trio.CancelScope(shield=True):
            await harness.aclose()
