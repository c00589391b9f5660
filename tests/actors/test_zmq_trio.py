"""The trio adapter for pyzmq, over real sockets on loopback (and inproc for the many-sockets test)."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import trio
import trio.testing
import zmq
from stui.actors.errors import TransportClosed
from stui.actors.zmq_trio import (
    DEFAULT_MAX_MESSAGE_SIZE,
    FdPoller,
    ZmqPump,
    ZmqSocket,
    new_context,
)
from zmq.utils.monitor import parse_monitor_message

# Every test is bounded: a lost wake-up must fail the test, not hang the suite.
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = new_context()
    yield context
    context.destroy(linger=0)


def router_dealer(ctx: zmq.Context, **dealer_kw: int) -> tuple[ZmqSocket, ZmqSocket]:
    router = ZmqSocket(ctx.socket(zmq.ROUTER))
    port = router.socket.bind_to_random_port("tcp://127.0.0.1")
    dealer = ZmqSocket(ctx.socket(zmq.DEALER), **dealer_kw)
    dealer.socket.connect(f"tcp://127.0.0.1:{port}")
    return router, dealer


async def echo(pump: ZmqPump) -> None:
    """A ROUTER echo: every [identity, payload] goes back to its sender."""
    while True:
        try:
            msg = await pump.receive()
        except TransportClosed:
            return
        await pump.send(msg)


@pytest.fixture
async def echo_pair(ctx: zmq.Context) -> AsyncIterator[tuple[ZmqPump, ZmqPump]]:
    """(router pump running an echo, dealer pump), both running."""
    router, dealer = router_dealer(ctx)
    rpump, dpump = ZmqPump(router), ZmqPump(dealer)
    async with trio.open_nursery() as nursery:
        await nursery.start(rpump.run)
        await nursery.start(dpump.run)
        nursery.start_soon(echo, rpump)
        yield rpump, dpump
        nursery.cancel_scope.cancel()


# --- context and ZmqSocket -----------------------------------------------------------------------


def test_new_context_raises_max_sockets_and_is_not_the_global_instance() -> None:
    context = new_context(max_sockets=5000)
    try:
        assert context.get(zmq.MAX_SOCKETS) == 5000
        assert context is not zmq.Context.instance()
    finally:
        context.term()


def test_socket_options_linger_and_maxmsgsize(ctx: zmq.Context) -> None:
    zsock = ZmqSocket(ctx.socket(zmq.DEALER), max_message_size=12345)
    assert zsock.socket.getsockopt(zmq.LINGER) == 0
    assert zsock.socket.getsockopt(zmq.MAXMSGSIZE) == 12345
    assert ZmqSocket(ctx.socket(zmq.DEALER)).max_message_size == DEFAULT_MAX_MESSAGE_SIZE
    zsock.close()
    zsock.close()  # idempotent
    assert zsock.closed


async def test_zmq_socket_round_trip_over_tcp(ctx: zmq.Context) -> None:
    router, dealer = router_dealer(ctx)
    with trio.fail_after(10):
        for i in range(200):
            await dealer.send_multipart([b"req %d" % i])
            ident, payload = await router.recv_multipart()
            assert payload == b"req %d" % i
            await router.send_multipart([ident, b"rep %d" % i])
            assert await dealer.recv_multipart() == [b"rep %d" % i]


async def test_zmq_socket_closed_raises_transport_closed(ctx: zmq.Context) -> None:
    _router, dealer = router_dealer(ctx)
    dealer.close()
    with pytest.raises(TransportClosed):
        await dealer.send_multipart([b"x"])
    with pytest.raises(TransportClosed):
        await dealer.recv_multipart()
    with pytest.raises(TransportClosed):
        await dealer.wait_for(zmq.POLLIN)


async def test_zmq_socket_close_wakes_a_waiting_receiver(ctx: zmq.Context) -> None:
    _router, dealer = router_dealer(ctx)
    async with trio.open_nursery() as nursery:

        async def closer() -> None:
            await trio.testing.wait_all_tasks_blocked()
            dealer.close()

        nursery.start_soon(closer)
        with pytest.raises(TransportClosed), trio.fail_after(10):
            await dealer.recv_multipart()


async def test_zmq_socket_cancelled_receive_loses_nothing(ctx: zmq.Context) -> None:
    """Thousands of receives cancelled at random points: every message arrives exactly once, in order."""
    router, dealer = router_dealer(ctx)
    n = 3000
    rng = random.Random(5)
    await dealer.send_multipart([b"hello"])
    ident, _ = await router.recv_multipart()
    got: list[int] = []
    cancelled = 0

    async def sender() -> None:
        for i in range(n):
            await router.send_multipart([ident, str(i).encode()])
            if i % 7 == 0:
                await trio.sleep(0)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            while len(got) < n:
                with trio.CancelScope() as scope:
                    nursery.start_soon(_cancel_after, scope, rng.randrange(4))
                    got.append(int((await dealer.recv_multipart())[0]))
                    scope.cancel()  # stop the canceller from hitting the next round
                cancelled += scope.cancelled_caught
    assert got == list(range(n))
    assert cancelled > 0  # the test really exercised cancellation


async def _cancel_after(scope: trio.CancelScope, checkpoints: int) -> None:
    for _ in range(checkpoints):
        await trio.lowlevel.checkpoint()
    scope.cancel()


async def test_oversized_message_is_dropped_with_the_connection(ctx: zmq.Context) -> None:
    """MAXMSGSIZE: a frame over the limit never reaches the receiver; libzmq drops the connection.

    libzmq counts this as a protocol error and does *not* reconnect that endpoint (measured with
    libzmq 4.3.5): the link is dead until the actor, told by its heartbeat, opens a new transport.
    """
    router, dealer = router_dealer(ctx, max_message_size=1000)
    monitor = ZmqSocket(dealer.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED))
    with trio.fail_after(10):
        await dealer.send_multipart([b"hello"])
        ident, _ = await router.recv_multipart()
        await router.send_multipart([ident, b"x" * 1000])  # at the limit: delivered
        assert await dealer.recv_multipart() == [b"x" * 1000]
        await router.send_multipart([ident, b"x" * 1001])
        await router.send_multipart([ident, b"after"])
        event = parse_monitor_message(await monitor.recv_multipart())
        assert event["event"] == zmq.EVENT_DISCONNECTED
    with trio.move_on_after(0.2):
        await dealer.recv_multipart()
        pytest.fail("a frame arrived after the oversized one")
    dealer.socket.disable_monitor()
    monitor.close()


async def test_many_sockets_in_one_context() -> None:
    """MAX_SOCKETS raised: 1,100 DEALERs in one context all do a round trip (the default refuses)."""
    default = zmq.Context()
    made: list[zmq.Socket] = []
    try:
        with pytest.raises(zmq.ZMQError):
            for _ in range(1100):
                made.append(default.socket(zmq.DEALER))
        assert len(made) < 1100
    finally:
        default.destroy(linger=0)

    context = new_context()
    try:
        router = ZmqPump(ZmqSocket(context.socket(zmq.ROUTER)))
        router.socket.socket.bind("inproc://many")
        dealers = [ZmqSocket(context.socket(zmq.DEALER)) for _ in range(1100)]
        answered = 0

        async def client(i: int, zsock: ZmqSocket) -> None:
            nonlocal answered
            zsock.socket.connect("inproc://many")
            await zsock.send_multipart([b"%d" % i])
            assert await zsock.recv_multipart() == [b"%d" % i]
            zsock.close()
            answered += 1

        with trio.fail_after(25):
            async with trio.open_nursery() as nursery:
                await nursery.start(router.run)
                nursery.start_soon(echo, router)
                async with trio.open_nursery() as clients:
                    for i, zsock in enumerate(dealers):
                        clients.start_soon(client, i, zsock)
                nursery.cancel_scope.cancel()
        assert answered == 1100
    finally:
        context.destroy(linger=0)


# --- ZmqPump --------------------------------------------------------------------------------------


async def test_pump_round_trip(echo_pair: tuple[ZmqPump, ZmqPump]) -> None:
    _rpump, dpump = echo_pair
    with trio.fail_after(10):
        for i in range(300):
            await dpump.send([b"m%d" % i])
            assert await dpump.receive() == [b"m%d" % i]


async def test_pump_many_messages_both_directions_concurrently(ctx: zmq.Context) -> None:
    """Several tasks send on each side while others receive; everything arrives, per-sender in order."""
    router, dealer = router_dealer(ctx)
    rpump, dpump = ZmqPump(router, inbox_size=16), ZmqPump(dealer, outbox_size=8, inbox_size=16)
    n, senders = 1500, 3
    got_by_router: dict[int, list[int]] = {s: [] for s in range(senders)}
    got_by_dealer: dict[int, list[int]] = {s: [] for s in range(senders)}

    async def dealer_sender(s: int) -> None:
        for i in range(n):
            await dpump.send([b"%d %d" % (s, i)])

    async def router_sender(ident: bytes, s: int) -> None:
        for i in range(n):
            await rpump.send([ident, b"%d %d" % (s, i)])

    async def collect(pump: ZmqPump, into: dict[int, list[int]], count: int) -> None:
        for _ in range(count):
            s, i = map(int, (await pump.receive())[-1].split())
            into[s].append(i)

    with trio.fail_after(25):
        async with trio.open_nursery() as nursery:
            await nursery.start(rpump.run)
            await nursery.start(dpump.run)
            await dpump.send([b"hello"])
            ident = (await rpump.receive())[0]
            async with trio.open_nursery() as work:
                work.start_soon(collect, rpump, got_by_router, n * senders)
                work.start_soon(collect, dpump, got_by_dealer, n * senders)
                for s in range(senders):
                    work.start_soon(dealer_sender, s)
                    work.start_soon(router_sender, ident, s)
            nursery.cancel_scope.cancel()
    for s in range(senders):
        assert got_by_router[s] == list(range(n))
        assert got_by_dealer[s] == list(range(n))


async def test_pump_cancelled_receives_and_sends_lose_and_duplicate_nothing(
    ctx: zmq.Context,
) -> None:
    """Receives cancelled at random points lose nothing; a cancelled send was not sent, others were."""
    router, dealer = router_dealer(ctx)
    rpump, dpump = ZmqPump(router, inbox_size=4), ZmqPump(dealer, outbox_size=2, inbox_size=4)
    n = 3000
    rng = random.Random(7)
    got: list[int] = []
    sent: list[int] = []
    cancelled_receives = cancelled_sends = 0

    async def server_sender(ident: bytes) -> None:
        for i in range(n):
            await rpump.send([ident, str(i).encode()])

    with trio.fail_after(25):
        async with trio.open_nursery() as nursery:
            await nursery.start(rpump.run)
            await nursery.start(dpump.run)
            await dpump.send([b"hello"])
            ident = (await rpump.receive())[0]
            nursery.start_soon(server_sender, ident)
            while len(got) < n:
                with trio.CancelScope() as scope:
                    nursery.start_soon(_cancel_after, scope, rng.randrange(4))
                    got.append(int((await dpump.receive())[0]))
                    scope.cancel()
                cancelled_receives += scope.cancelled_caught
            for i in range(n):
                with trio.CancelScope() as scope:
                    if rng.random() < 0.2:
                        scope.cancel()  # already cancelled on entry: must not be sent
                    else:
                        nursery.start_soon(_cancel_after, scope, rng.randrange(3))
                    await dpump.send([str(i).encode()])
                    sent.append(i)
                    scope.cancel()
                cancelled_sends += scope.cancelled_caught
            await dpump.send([b"end"])
            received_by_server: list[int] = []
            while (payload := (await rpump.receive())[1]) != b"end":
                received_by_server.append(int(payload))
            nursery.cancel_scope.cancel()
    assert got == list(range(n))
    assert received_by_server == sent
    assert cancelled_receives > 0
    assert cancelled_sends > 0


async def test_pump_backpressure_send_nowait_and_receive_nowait(ctx: zmq.Context) -> None:
    _router, dealer = router_dealer(ctx)
    dealer.socket.setsockopt(zmq.IMMEDIATE, 1)  # no peer yet: nothing leaves the outbox
    dealer.socket.disconnect(dealer.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    pump = ZmqPump(dealer, outbox_size=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(pump.run)
        pump.send_nowait([b"1"])
        await pump.send([b"2"])
        with pytest.raises(trio.WouldBlock):
            pump.send_nowait([b"3"])
        with pytest.raises(trio.WouldBlock):
            pump.receive_nowait()
        assert pump.statistics() == (2, 0)
        with trio.move_on_after(0.05) as scope:
            await pump.send([b"3"])  # waits: the outbox is full
        assert scope.cancelled_caught
        assert pump.statistics() == (2, 0)  # the cancelled send queued nothing
        nursery.cancel_scope.cancel()


async def test_pump_close_wakes_waiters_and_closes_socket(ctx: zmq.Context) -> None:
    _router, dealer = router_dealer(ctx)
    pump = ZmqPump(dealer)
    results: list[str] = []

    async def waiter() -> None:
        try:
            await pump.receive()
        except TransportClosed:
            results.append("closed")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(pump.run)
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            pump.close()
            pump.close()  # idempotent
    assert results == ["closed"]
    assert pump.closed and dealer.closed
    with pytest.raises(TransportClosed):
        await pump.send([b"x"])
    with pytest.raises(TransportClosed):
        pump.send_nowait([b"x"])
    with pytest.raises(TransportClosed):
        await pump.receive()
    with pytest.raises(RuntimeError):
        await pump.run()


async def test_pump_inbox_survives_close(echo_pair: tuple[ZmqPump, ZmqPump]) -> None:
    """Frames already received stay receivable after the pump stops; then TransportClosed."""
    _rpump, dpump = echo_pair
    with trio.fail_after(10):
        for i in range(3):
            await dpump.send([b"%d" % i])
        while dpump.statistics()[1] < 3:
            await trio.sleep(0.001)
    dpump.close()
    assert [await dpump.receive() for _ in range(3)] == [[b"0"], [b"1"], [b"2"]]
    with pytest.raises(TransportClosed):
        await dpump.receive()


def test_pump_closed_before_run_closes_the_socket(ctx: zmq.Context) -> None:
    zsock = ZmqSocket(ctx.socket(zmq.DEALER))
    pump = ZmqPump(zsock)
    pump.close()
    assert zsock.closed
    with pytest.raises(ValueError):
        ZmqPump(ZmqSocket(ctx.socket(zmq.DEALER)), outbox_size=0)


async def test_pump_context_terminated_fails_pump_and_waiters() -> None:
    """Terminating the context under a running pump: run() and every waiter raise TransportClosed."""
    context = new_context()
    dealer = ZmqSocket(context.socket(zmq.DEALER))
    dealer.socket.connect("tcp://127.0.0.1:1")
    pump = ZmqPump(dealer)
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await pump.receive()
        except TransportClosed as exc:
            errors.append(exc)

    async def run_pump() -> None:
        try:
            await pump.run()
        except TransportClosed as exc:
            errors.append(exc)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_pump)
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            await trio.to_thread.run_sync(context.term)  # returns once the pump closed its socket
    assert len(errors) == 2
    assert all(isinstance(e.__cause__, zmq.ZMQError) for e in errors)


async def test_pump_blocked_sender_completes_when_the_peer_appears(ctx: zmq.Context) -> None:
    """A send waiting on a full outbox goes through once the connection is up (IMMEDIATE=1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dealer = ZmqSocket(ctx.socket(zmq.DEALER))
    dealer.socket.setsockopt(zmq.IMMEDIATE, 1)
    dealer.socket.setsockopt(zmq.RECONNECT_IVL, 20)
    dealer.socket.connect(f"tcp://127.0.0.1:{port}")
    pump = ZmqPump(dealer, outbox_size=1)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(pump.run)
            await pump.send([b"first"])
            done = trio.Event()

            async def second() -> None:
                await pump.send([b"second"])  # parks: the outbox is full and nobody listens
                done.set()

            nursery.start_soon(second)
            await trio.testing.wait_all_tasks_blocked()
            assert not done.is_set()
            router = ZmqSocket(ctx.socket(zmq.ROUTER))
            router.socket.bind(f"tcp://127.0.0.1:{port}")
            assert (await router.recv_multipart())[1] == b"first"
            assert (await router.recv_multipart())[1] == b"second"
            await done.wait()
            nursery.cancel_scope.cancel()


async def test_pump_socket_closed_behind_its_back_stops_it(ctx: zmq.Context) -> None:
    """Misuse (closing the socket a pump owns) ends the pump with TransportClosed, not a hang."""
    _router, dealer = router_dealer(ctx)
    pump = ZmqPump(dealer)
    with trio.fail_after(10), pytest.raises(ExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            await nursery.start(pump.run)
            await trio.testing.wait_all_tasks_blocked()
            dealer.close()
    assert info.group_contains(TransportClosed)
    with pytest.raises(TransportClosed):
        await pump.receive()


async def test_pump_deliver_to_calls_the_handler_in_the_owning_task(ctx: zmq.Context) -> None:
    """Messages already in the inbox go to the handler first, later ones are handed over by the
    owner task itself; cancelling deliver_to puts later messages back in the inbox; a second handler
    is refused; a handler that closes the pump stops it."""
    router, dealer = router_dealer(ctx)
    rpump, dpump = ZmqPump(router), ZmqPump(dealer)
    got: list[tuple[bytes, object]] = []
    owner: list[object] = []

    async def run_dealer(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        owner.append(trio.lowlevel.current_task())
        await dpump.run(task_status=task_status)

    def handler(parts: list[bytes]) -> None:
        got.append((parts[0], trio.lowlevel.current_task()))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(rpump.run)
            await nursery.start(run_dealer)
            nursery.start_soon(echo, rpump)
            await dpump.send([b"early"])
            while dpump.statistics()[1] == 0:  # wait until the echo sits in the dealer's inbox
                await trio.sleep(0.01)
            scope = trio.CancelScope()

            async def deliver() -> None:
                with scope:
                    await dpump.deliver_to(handler)

            nursery.start_soon(deliver)
            for i in range(20):
                await dpump.send([b"m%d" % i])
            while len(got) < 21:
                await trio.sleep(0.01)
            with pytest.raises(RuntimeError):
                await dpump.deliver_to(handler)
            scope.cancel()
            await trio.sleep(0.01)
            await dpump.send([b"late"])
            assert await dpump.receive() == [b"late"]  # back to inbox mode
            assert [m for m, _ in got] == [b"early", *(b"m%d" % i for i in range(20))]
            assert all(task is owner[0] for _, task in got[1:])  # no hand-off to another task

            def closing_handler(parts: list[bytes]) -> None:
                dpump.close()

            async def deliver_until_closed() -> None:
                with pytest.raises(TransportClosed):
                    await dpump.deliver_to(closing_handler)

            nursery.start_soon(deliver_until_closed)
            await trio.sleep(0.01)
            await dpump.send([b"stop"])
            while not dpump.closed:
                await trio.sleep(0.01)
            assert dealer.closed  # the owner closed the socket as run() returned
            nursery.cancel_scope.cancel()


# --- FdPoller -------------------------------------------------------------------------------------


@pytest.mark.skipif(not FdPoller.available(), reason="FdPoller needs epoll")
async def test_pumps_sharing_an_fd_poller_run_without_watcher_tasks(ctx: zmq.Context) -> None:
    """Several dealer pumps watched by one FdPoller: concurrent round trips all complete (no lost
    wake-up), no pump starts a watcher task of its own, closed pumps leave the poller, and stopping
    the poller stops the pumps still on it with TransportClosed."""
    poller = FdPoller()
    router = ZmqSocket(ctx.socket(zmq.ROUTER))
    port = router.socket.bind_to_random_port("tcp://127.0.0.1")
    rpump = ZmqPump(router)
    dealers = []
    for _ in range(8):
        sock = ZmqSocket(ctx.socket(zmq.DEALER))
        sock.socket.connect(f"tcp://127.0.0.1:{port}")
        dealers.append(ZmqPump(sock, poller=poller))
    with trio.fail_after(20):
        async with trio.open_nursery() as outer:
            await outer.start(rpump.run)
            outer.start_soon(echo, rpump)
            poller_scope = trio.CancelScope()

            async def run_poller(*, task_status: trio.TaskStatus[None]) -> None:
                with poller_scope:
                    await poller.run(task_status=task_status)

            await outer.start(run_poller)
            failures: list[BaseException] = []

            async def run_pump(pump: ZmqPump, *, task_status: trio.TaskStatus[None]) -> None:
                try:
                    await pump.run(task_status=task_status)
                except TransportClosed as exc:
                    failures.append(exc)

            async with trio.open_nursery() as pumps:
                for pump in dealers:
                    await pumps.start(run_pump, pump)
                assert len(poller) == len(dealers)
                # one task per pump (its owner), which starts no watcher task in its own nursery
                assert len(pumps.child_tasks) == len(dealers)
                assert all(
                    not nursery.child_tasks
                    for task in pumps.child_tasks
                    for nursery in task.child_nurseries
                )

                async def ping_pong(pump: ZmqPump, k: int) -> None:
                    for i in range(200):
                        await pump.send([b"%d-%d" % (k, i)])
                        assert await pump.receive() == [b"%d-%d" % (k, i)]

                async with trio.open_nursery() as clients:
                    for k, pump in enumerate(dealers):
                        clients.start_soon(ping_pong, pump, k)
                dealers[0].close()
                await trio.sleep(0.05)
                assert len(poller) == len(dealers) - 1 and dealers[0].socket.closed
                poller_scope.cancel()
            assert poller.closed and len(poller) == 0
            assert len(failures) == len(dealers) - 1
            assert all("FdPoller" in str(f) for f in failures)
            with pytest.raises(TransportClosed):
                poller.register(12345, lambda: None)
            outer.cancel_scope.cancel()


@pytest.mark.skipif(not FdPoller.available(), reason="FdPoller needs epoll")
async def test_pump_on_a_poller_rearms_only_after_a_notification(ctx: zmq.Context) -> None:
    """The heartbeat pattern: the dealer sends (a wake-up by a kick alone, which leaves the poller's
    one-shot entry armed and re-arms nothing), and the answer comes later, when the owner sleeps
    again; so do frames nobody asked for. Every one must still wake the owner, and the entry is
    re-armed once per notification, not once per look at the socket."""
    poller = FdPoller()
    rearms = notifications = 0
    real_rearm, real_register = poller.rearm, poller.register

    def counting_rearm(fd: int) -> bool:
        nonlocal rearms
        rearms += 1
        return real_rearm(fd)

    def counting_register(fd: int, wake: Callable[[], None]) -> None:
        def counted() -> None:
            nonlocal notifications
            notifications += 1
            wake()

        real_register(fd, counted)

    poller.rearm = counting_rearm  # type: ignore[method-assign]
    poller.register = counting_register  # type: ignore[method-assign]
    router, dealer = router_dealer(ctx)
    dpump = ZmqPump(dealer, poller=poller)
    got: list[list[bytes]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await nursery.start(dpump.run)
        nursery.start_soon(dpump.deliver_to, got.append)
        rounds = 20
        for i in range(rounds):
            dpump.send_nowait([b"ping %d" % i])
            ident, payload = await router.recv_multipart()
            assert payload == b"ping %d" % i
            await trio.testing.wait_all_tasks_blocked()  # the dealer's owner is asleep again
            await router.send_multipart([ident, b"pong %d" % i])
            with trio.fail_after(5):
                while len(got) < i + 1:
                    await trio.sleep(0.001)
        for i in range(5):  # unsolicited frames
            await router.send_multipart([ident, b"event %d" % i])
        with trio.fail_after(5):
            while len(got) < rounds + 5:
                await trio.sleep(0.001)
        assert got == [[b"pong %d" % i] for i in range(rounds)] + [
            [b"event %d" % i] for i in range(5)
        ]
        # One re-arm per notification (a reply or an event), none for the wake-ups by a send: looking
        # at the socket after every wake-up would have re-armed more than twice per round.
        assert rearms <= notifications
        assert rearms < 2 * rounds
        nursery.cancel_scope.cancel()
    router.close()
