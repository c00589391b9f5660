"""Transports: open_transport by scheme, ZeroMQ and WebSocket links on loopback, the memory pair."""

from __future__ import annotations

import contextlib
import math
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio
import trio.testing
import zmq
from stui.actors.errors import (
    MessageTooLarge,
    TransportClosed,
    TransportConnectError,
    UnsupportedAddress,
)
from stui.actors.exception_groups import collapse_single_group
from stui.actors.transport import (
    MemoryTransport,
    Transport,
    WsTransport,
    ZmqTransport,
    memory_transport_pair,
    open_transport,
)
from stui.actors.zmq_trio import ZmqPump, ZmqSocket, new_context
from stui.protocol import RemoteProtocolError
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = new_context()
    yield context
    context.destroy(linger=0)


async def zmq_echo(pump: ZmqPump) -> None:
    """ROUTER echo; b"multi" is answered with a 2-part message, b"text:..." with nothing special."""
    while True:
        ident, payload = await pump.receive()
        if payload == b"multi":
            await pump.send([ident, b"a", b"b"])
        else:
            await pump.send([ident, payload])


async def start_router(
    nursery: trio.Nursery, ctx: zmq.Context, endpoint: str = "tcp://127.0.0.1:*"
) -> tuple[str, ZmqPump]:
    zsock = ZmqSocket(ctx.socket(zmq.ROUTER))
    for _ in range(100):  # a just-closed socket's listener is released by libzmq's I/O thread
        try:
            zsock.socket.bind(endpoint)
            break
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE:
                raise
            await trio.sleep(0.05)
    address = zsock.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    pump = ZmqPump(zsock)
    await nursery.start(pump.run)
    nursery.start_soon(zmq_echo, pump)
    return address, pump


@pytest.fixture
async def zmq_address(ctx: zmq.Context, nursery: trio.Nursery) -> str:
    address, _ = await start_router(nursery, ctx)
    return address


async def ws_echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            message = await ws.get_message()
            if message == b"text please":
                await ws.send_message("some text")
            elif message == b"close please":
                await ws.aclose(code=1000, reason="bye")
                return
            elif message == b"big please":
                await ws.send_message(b"x" * 5000)
            else:
                await ws.send_message(message)
    except ConnectionClosed:
        pass


@pytest.fixture
async def ws_address(nursery: trio.Nursery) -> str:
    server = await nursery.start(serve_websocket, ws_echo, "127.0.0.1", 0, None)
    return f"ws://127.0.0.1:{server.port}/"


async def start_tcp_server(
    nursery: trio.Nursery, handler: Callable[[trio.SocketStream], Awaitable[None]]
) -> int:
    listeners = await nursery.start(trio.serve_tcp, handler, 0)
    return listeners[0].socket.getsockname()[1]


async def _cancel_after(scope: trio.CancelScope, checkpoints: int) -> None:
    for _ in range(checkpoints):
        await trio.lowlevel.checkpoint()
    scope.cancel()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- open_transport -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1:80", "udp://127.0.0.1:5555", "127.0.0.1:5555", "", "memory://x"]
)
async def test_unknown_scheme_is_a_typed_value_error(address: str) -> None:
    with pytest.raises(UnsupportedAddress) as info:
        async with open_transport(address):
            pytest.fail("opened")  # pragma: no cover
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://:x"])
async def test_malformed_zmq_address_is_a_connect_error(address: str) -> None:
    with pytest.raises(TransportConnectError):
        async with open_transport(address, connect_timeout=0.1):
            pytest.fail("opened")  # pragma: no cover


async def test_scheme_picks_the_transport(zmq_address: str, ws_address: str) -> None:
    async with open_transport(zmq_address) as zt:
        assert isinstance(zt, ZmqTransport)
    async with open_transport(ws_address) as wt:
        assert isinstance(wt, WsTransport)
    for t in (zt, wt):
        assert t.closed
        assert "closed" in repr(t)


# --- ZeroMQ ---------------------------------------------------------------------------------------


async def test_zmq_round_trip_many_in_flight(ctx: zmq.Context, zmq_address: str) -> None:
    async with open_transport(zmq_address, zmq_context=ctx) as t:
        assert isinstance(t, ZmqTransport) and "open" in repr(t)
        with trio.fail_after(10):
            for i in range(500):
                await t.send(b"%d" % i)
            assert [await t.receive() for _ in range(500)] == [b"%d" % i for i in range(500)]


async def test_zmq_with_a_private_context(zmq_address: str) -> None:
    async with open_transport(zmq_address) as t:
        await t.send(b"ping")
        with trio.fail_after(10):
            assert await t.receive() == b"ping"


async def test_zmq_connect_timeout_when_nobody_listens() -> None:
    with pytest.raises(TransportConnectError, match="within"):
        async with open_transport(f"tcp://127.0.0.1:{free_port()}", connect_timeout=0.2):
            pytest.fail("opened")  # pragma: no cover


async def test_zmq_inproc_under_autojump_clock(
    ctx: zmq.Context, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Over inproc:// virtual time is safe: timeouts above the transport fire in virtual time."""
    address, _ = await start_router(nursery, ctx, "inproc://image")
    async with open_transport(address, zmq_context=ctx) as t:
        await t.send(b"hello")
        with trio.fail_after(1):
            assert await t.receive() == b"hello"
        with pytest.raises(trio.TooSlowError), trio.fail_after(60):
            await t.receive()


async def test_zmq_without_connect_wait_queues_until_the_peer_appears(
    ctx: zmq.Context, nursery: trio.Nursery
) -> None:
    """connect_timeout=None returns at once; with IMMEDIATE=1 the frame waits in the outbox."""
    async with open_transport("inproc://later", zmq_context=ctx, connect_timeout=None) as t:
        await t.send(b"early")
        await start_router(nursery, ctx, "inproc://later")
        with trio.fail_after(10):
            assert await t.receive() == b"early"


async def test_zmq_link_recovers_when_the_peer_comes_back(ctx: zmq.Context) -> None:
    """libzmq reconnects inside one transport's life. A frame sent around the drop may be lost with
    the old pipe (IMMEDIATE=1), so the client probes until the restarted peer answers."""
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    with trio.fail_after(20):
        async with open_transport(endpoint, zmq_context=ctx, connect_timeout=None) as t:
            async with trio.open_nursery() as first:
                await start_router(first, ctx, endpoint)
                await t.send(b"one")
                assert await t.receive() == b"one"
                first.cancel_scope.cancel()  # the image goes away (its socket is closed)
            async with trio.open_nursery() as second:
                await start_router(second, ctx, endpoint)
                answer = None
                while answer is None:
                    await t.send(b"probe")
                    with trio.move_on_after(0.2):
                        answer = await t.receive()
                assert answer == b"probe"
                second.cancel_scope.cancel()


async def test_zmq_multipart_reply_is_a_protocol_error_and_the_link_survives(
    zmq_address: str,
) -> None:
    async with open_transport(zmq_address) as t:
        await t.send(b"multi")
        with trio.fail_after(10):
            with pytest.raises(RemoteProtocolError, match="2 parts"):
                await t.receive()
            await t.send(b"fine")
            assert await t.receive() == b"fine"


async def test_zmq_aclose_is_idempotent_and_wakes_a_receiver(zmq_address: str) -> None:
    outcome: list[str] = []
    async with open_transport(zmq_address) as t:

        async def receiver() -> None:
            with pytest.raises(TransportClosed):
                await t.receive()
            outcome.append("closed")

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await trio.testing.wait_all_tasks_blocked()
                await t.aclose()
                await t.aclose()
        assert t.closed
        with pytest.raises(TransportClosed):
            await t.send(b"x")
        with pytest.raises(TransportClosed):
            await t.receive()
    assert outcome == ["closed"]


async def test_zmq_message_too_large_is_refused_locally(zmq_address: str) -> None:
    async with open_transport(zmq_address, max_message_size=100) as t:
        with pytest.raises(MessageTooLarge):
            await t.send(b"x" * 101)
        await t.send(b"x" * 100)
        with trio.fail_after(10):
            assert await t.receive() == b"x" * 100


@pytest.mark.parametrize("kind", ["zmq", "ws"])
async def test_body_exception_is_not_wrapped_in_a_group(
    kind: str, zmq_address: str, ws_address: str
) -> None:
    with pytest.raises(KeyError):
        async with open_transport(zmq_address if kind == "zmq" else ws_address):
            raise KeyError("mine")


# --- WebSocket ------------------------------------------------------------------------------------


async def test_ws_round_trip_and_concurrent_senders(ws_address: str) -> None:
    async with open_transport(ws_address) as t:
        assert "open" in repr(t)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for s in range(3):

                    async def sender(s: int = s) -> None:
                        for i in range(100):
                            await t.send(b"%d %d" % (s, i))

                    nursery.start_soon(sender)
            got: dict[int, list[int]] = {0: [], 1: [], 2: []}
            for _ in range(300):
                s, i = map(int, (await t.receive()).split())
                got[s].append(i)
    assert all(got[s] == list(range(100)) for s in got)


async def test_ws_cancelled_receives_lose_nothing(nursery: trio.Nursery) -> None:
    """Receives cancelled at random points: every message still arrives once, in order."""
    n = 1000

    async def burst(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            for i in range(n):
                await ws.send_message(b"%d" % i)
            await ws.get_message()  # until the client closes
        except ConnectionClosed:
            pass

    server = await nursery.start(serve_websocket, burst, "127.0.0.1", 0, None)
    rng = random.Random(3)
    got: list[int] = []
    cancelled = 0
    async with open_transport(f"ws://127.0.0.1:{server.port}/") as t:
        with trio.fail_after(20):
            while len(got) < n:
                with trio.CancelScope() as scope:
                    if rng.random() < 0.2:
                        scope.cancel()
                    else:
                        nursery.start_soon(_cancel_after, scope, rng.randrange(4))
                    got.append(int(await t.receive()))
                    scope.cancel()
                cancelled += scope.cancelled_caught
    assert got == list(range(n))
    assert cancelled > 0


async def test_ws_server_closes_cleanly(ws_address: str) -> None:
    async with open_transport(ws_address) as t:
        await t.send(b"close please")
        with trio.fail_after(10), pytest.raises(TransportClosed, match="1000"):
            await t.receive()
        assert t.closed
        with pytest.raises(TransportClosed):
            await t.send(b"more")


async def _accept_raw(stream: trio.SocketStream) -> WSConnection:
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        ws.receive_data(await stream.receive_some(65536))
        for event in ws.events():
            if isinstance(event, Request):
                await stream.send_all(ws.send(AcceptConnection()))
                return ws


@pytest.mark.parametrize("how", ["eof", "reset"])
async def test_ws_rude_disconnect_is_transport_closed(nursery: trio.Nursery, how: str) -> None:
    """The server sends one message, then drops the TCP stream without a close frame."""

    async def rude(stream: trio.SocketStream) -> None:
        ws = await _accept_raw(stream)
        await stream.send_all(ws.send(BytesMessage(data=b"last words")))
        if how == "reset":
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    port = await start_tcp_server(nursery, rude)
    async with open_transport(f"ws://127.0.0.1:{port}/") as t:
        with trio.fail_after(10):
            assert await t.receive() == b"last words"
            with pytest.raises(TransportClosed, match="1006"):
                await t.receive()
        with pytest.raises(TransportClosed):
            await t.send(b"anyone?")


async def test_ws_connect_refused_is_a_connect_error() -> None:
    with pytest.raises(TransportConnectError) as info:
        async with open_transport(f"ws://127.0.0.1:{free_port()}/"):
            pytest.fail("opened")  # pragma: no cover
    assert isinstance(info.value, TransportClosed)


async def test_ws_handshake_timeout_is_a_connect_error(nursery: trio.Nursery) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    port = await start_tcp_server(nursery, silent)
    with pytest.raises(TransportConnectError):
        async with open_transport(f"ws://127.0.0.1:{port}/", connect_timeout=0.2):
            pytest.fail("opened")  # pragma: no cover


async def test_ws_malformed_url_is_unsupported() -> None:
    with pytest.raises(UnsupportedAddress):
        async with open_transport("ws://127.0.0.1:notaport/"):
            pytest.fail("opened")  # pragma: no cover


async def test_ws_text_message_is_a_protocol_error_and_the_link_survives(ws_address: str) -> None:
    async with open_transport(ws_address) as t:
        await t.send(b"text please")
        with trio.fail_after(10):
            with pytest.raises(RemoteProtocolError, match="text"):
                await t.receive()
            await t.send(b"binary")
            assert await t.receive() == b"binary"


async def test_ws_oversized_incoming_message_closes_the_link(ws_address: str) -> None:
    async with open_transport(ws_address, max_message_size=1000) as t:
        with pytest.raises(MessageTooLarge):
            await t.send(b"x" * 1001)
        await t.send(b"big please")
        with trio.fail_after(10), pytest.raises(TransportClosed, match="1009"):
            await t.receive()


async def test_ws_aclose_is_idempotent(ws_address: str) -> None:
    async with open_transport(ws_address) as t:
        await t.aclose()
        await t.aclose()
        assert t.closed
        with pytest.raises(TransportClosed):
            await t.send(b"x")
        with pytest.raises(TransportClosed):
            await t.receive()


# --- memory pair ----------------------------------------------------------------------------------


async def test_memory_pair_round_trip_and_orderly_close() -> None:
    client, image = memory_transport_pair()
    assert isinstance(client, MemoryTransport) and "open" in repr(client)
    await client.send(b"hello")
    await client.send(b"bye")
    assert await image.receive() == b"hello"
    await image.send(b"welcome")
    assert await client.receive() == b"welcome"
    await client.aclose()
    await client.aclose()  # idempotent
    assert client.closed and "closed" in repr(client)
    assert await image.receive() == b"bye"  # what was sent before the close still arrives
    with pytest.raises(TransportClosed, match="other end"):
        await image.receive()
    with pytest.raises(TransportClosed, match="other end"):
        await image.send(b"anyone?")
    with pytest.raises(TransportClosed):
        await client.send(b"x")
    with pytest.raises(TransportClosed):
        await client.receive()


async def test_memory_pair_limits_and_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    client, image = memory_transport_pair(max_buffer_size=1, max_message_size=10)
    with pytest.raises(MessageTooLarge):
        await client.send(b"x" * 11)
    await client.send(b"1")
    with pytest.raises(trio.TooSlowError), trio.fail_after(5):
        await client.send(b"2")  # buffer full: backpressure, timed out in virtual time
    start = trio.current_time()
    with pytest.raises(trio.TooSlowError), trio.fail_after(3600):
        await client.receive()  # nothing from the image for an hour
    assert trio.current_time() - start == pytest.approx(3600)
    assert await image.receive() == b"1"


async def test_transport_is_a_closed_union() -> None:
    client, _ = memory_transport_pair()
    assert isinstance(client, Transport)
    assert set(Transport.__args__) == {ZmqTransport, WsTransport, MemoryTransport}


async def test_zmq_terminated_context_is_a_connect_error() -> None:
    context = new_context()
    context.term()
    with pytest.raises(TransportConnectError, match="socket"):
        async with open_transport("tcp://127.0.0.1:1", zmq_context=context):
            pytest.fail("opened")  # pragma: no cover


def test_collapse_single_group_keeps_real_groups() -> None:
    with pytest.raises(KeyError), collapse_single_group():
        raise ExceptionGroup("one", [KeyError("k")])
    with pytest.raises(ExceptionGroup), collapse_single_group():
        raise ExceptionGroup("two", [KeyError("k"), ValueError("v")])


# --- the actor's fast paths: send_nowait and receive_into ----------------------------------------


@pytest.mark.parametrize("kind", ["zmq", "ws", "memory"])
async def test_send_nowait_and_receive_into_deliver_in_order_then_report_the_close(
    kind: str, ctx: zmq.Context, zmq_address: str, ws_address: str
) -> None:
    """Frames queued with send_nowait come back (from an echo) to the handler in order, including one
    that arrived before receive_into started; a bad message (ZeroMQ multipart, WebSocket text) reaches
    the handler as a RemoteProtocolError and the link survives; closing ends receive_into with
    TransportClosed."""
    total = 60
    bad = {"zmq": b"multi", "ws": b"text please", "memory": None}[kind]
    expected = total + (bad is not None)
    got: list[bytes | RemoteProtocolError] = []
    arrived = trio.Event()

    def handler(item: bytes | RemoteProtocolError) -> None:
        got.append(item)
        if len(got) == expected:
            arrived.set()

    async with contextlib.AsyncExitStack() as stack:
        if kind == "memory":
            t, peer = memory_transport_pair(max_buffer_size=math.inf)

            async def echo() -> None:
                with contextlib.suppress(TransportClosed):
                    while True:
                        await peer.send(await peer.receive())

        else:
            address = zmq_address if kind == "zmq" else ws_address
            t = await stack.enter_async_context(open_transport(address, zmq_context=ctx))
        with trio.fail_after(10):
            async with trio.open_nursery() as inner:
                if kind == "memory":
                    inner.start_soon(echo)
                t.send_nowait(b"first")  # echoed before anyone receives: the handler still gets it
                await trio.sleep(0.1)

                async def reader() -> None:
                    with pytest.raises(TransportClosed):
                        await t.receive_into(handler)

                inner.start_soon(reader)
                for i in range(1, total):
                    t.send_nowait(b"m%d" % i)
                if bad is not None:
                    t.send_nowait(bad)
                await arrived.wait()
                await t.aclose()
                if kind == "memory":
                    await peer.aclose()
    frames = [g for g in got if isinstance(g, bytes)]
    assert frames == [b"first", *(b"m%d" % i for i in range(1, total))]
    assert len(got) - len(frames) == (bad is not None)
    with pytest.raises(TransportClosed):
        t.send_nowait(b"after close")


async def test_send_nowait_refuses_oversized_and_full(ctx: zmq.Context) -> None:
    client, _image = memory_transport_pair(max_buffer_size=1, max_message_size=10)
    with pytest.raises(MessageTooLarge):
        client.send_nowait(b"x" * 11)
    client.send_nowait(b"one")
    with pytest.raises(trio.WouldBlock):
        client.send_nowait(b"two")
    # ZeroMQ without a peer: the frame waits in the pump's outbox, which is bounded.
    async with open_transport(
        "tcp://127.0.0.1:1", zmq_context=ctx, connect_timeout=None, max_message_size=10
    ) as t:
        with pytest.raises(MessageTooLarge):
            t.send_nowait(b"x" * 11)
        with pytest.raises(trio.WouldBlock):
            for _ in range(100_000):
                t.send_nowait(b"x")
