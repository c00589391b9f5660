"""RouterLoop on its own: a real ROUTER on loopback, real DEALER peers, handlers written in the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import zmq
from stui.actors.zmq_trio import ZmqSocket

from stui.image.router import RouterLoop


class Peer:
    """A DEALER driven through the trio adapter (it owns its socket: one task, the test's)."""

    def __init__(self, context: zmq.Context, address: str) -> None:
        raw = context.socket(zmq.DEALER)
        raw.connect(address)
        self.socket = ZmqSocket(raw)

    async def send(self, *parts: bytes) -> None:
        await self.socket.send_multipart(list(parts))

    async def receive(self) -> list[bytes]:
        with trio.fail_after(5):
            return await self.socket.recv_multipart()


@pytest.fixture
async def start_router(
    nursery: trio.Nursery, zmq_context: zmq.Context
) -> AsyncIterator[Callable[..., Any]]:
    started: list[trio.CancelScope] = []

    async def start(
        handle: Callable[[RouterLoop, list[bytes]], None], **kw: object
    ) -> tuple[RouterLoop, Peer]:
        raw = zmq_context.socket(zmq.ROUTER)
        raw.bind("tcp://127.0.0.1:0")
        address = raw.getsockopt_string(zmq.LAST_ENDPOINT)
        holder: list[RouterLoop] = []
        loop = RouterLoop(ZmqSocket(raw), lambda parts: handle(holder[0], parts), **kw)  # type: ignore[arg-type]
        holder.append(loop)
        scope = trio.CancelScope()
        started.append(scope)

        async def run(task_status: trio.TaskStatus[None]) -> None:
            with scope:
                await loop.run(task_status=task_status)

        await nursery.start(run)
        return loop, Peer(zmq_context, address)

    yield start
    for scope in started:
        scope.cancel()


def echo(loop: RouterLoop, parts: list[bytes]) -> None:
    assert loop.send_nowait(parts)


async def test_answers_inline_in_order_beyond_one_batch(start_router):
    _loop, peer = await start_router(echo)
    # More than one round's batch, pipelined: every frame comes back, in order.
    for i in range(300):
        await peer.send(b"%d" % i)
    assert [await peer.receive() for _ in range(300)] == [[b"%d" % i] for i in range(300)]


async def test_send_nowait_from_another_task_wakes_the_sleeping_owner(start_router):
    seen: list[list[bytes]] = []
    loop, peer = await start_router(lambda _loop, parts: seen.append(parts))
    await peer.send(b"hello")
    with trio.fail_after(5):
        while not seen:
            await trio.sleep(0.001)
    identity = seen[0][0]
    # Each reply is queued by this task while the owner sleeps on the fd: only a kick sends it.
    # Many rounds, so each new wake scope (one per kick) is exercised, and the fd still works after.
    for i in range(100):
        await trio.sleep(0.002)
        assert loop.send_nowait([identity, b"late %d" % i])
        assert await peer.receive() == [b"late %d" % i]
    await peer.send(b"again")
    with trio.fail_after(5):
        while len(seen) < 2:
            await trio.sleep(0.001)
    assert seen[1] == [identity, b"again"]


async def test_a_message_of_more_parts_reaches_the_handler_whole(start_router):
    seen: list[list[bytes]] = []

    def handle(loop: RouterLoop, parts: list[bytes]) -> None:
        seen.append(parts)
        loop.send_nowait(parts)

    _loop, peer = await start_router(handle)
    await peer.send(b"a", b"b", b"c")
    await peer.send(b"d")
    assert await peer.receive() == [b"a", b"b", b"c"]
    assert await peer.receive() == [b"d"]
    assert [p[1:] for p in seen] == [[b"a", b"b", b"c"], [b"d"]]


async def test_outbox_bound_and_rounds(start_router):
    rounds = 0

    def count() -> None:
        nonlocal rounds
        rounds += 1

    def handle(loop: RouterLoop, parts: list[bytes]) -> None:
        # Three answers per frame into an outbox of two: the third is refused, not queued.
        assert loop.send_nowait([parts[0], b"1"])
        assert loop.send_nowait([parts[0], b"2"])
        assert not loop.send_nowait([parts[0], b"3"])

    seen_at: list[int] = []  # the round count when each frame was handled

    def handle_counted(loop: RouterLoop, parts: list[bytes]) -> None:
        seen_at.append(rounds)
        handle(loop, parts)

    loop, peer = await start_router(handle_counted, outbox_size=2, on_round=count)
    for _ in range(2):  # the owner sleeps between the two: each frame is in a round of its own
        await peer.send(b"x")
        assert await peer.receive() == [b"1"]
        assert await peer.receive() == [b"2"]
    # on_round ran before the first frame was handled, and again before the second.
    assert 1 <= seen_at[0] < seen_at[1], seen_at
    assert loop.pending == 0


async def test_stopped_loop_refuses_and_closes_its_socket(nursery, zmq_context):
    raw = zmq_context.socket(zmq.ROUTER)
    raw.bind("tcp://127.0.0.1:0")
    loop = RouterLoop(ZmqSocket(raw), lambda parts: None)
    stopped = trio.Event()

    async def run() -> None:
        with trio.CancelScope() as scope:
            nursery.start_soon(stop_soon, scope)
            await loop.run()
        stopped.set()

    async def stop_soon(scope: trio.CancelScope) -> None:
        await trio.sleep(0.01)
        scope.cancel()

    nursery.start_soon(run)
    with trio.fail_after(5):
        await stopped.wait()
    assert loop.closed and raw.closed
    assert not loop.send_nowait([b"id", b"x"])
