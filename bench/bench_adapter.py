"""Round-trip latency of the trio ZeroMQ adapter against a blocking pyzmq DEALER.

    python bench/bench_adapter.py [--messages 3000] [--rounds 5] [--size 200]

All clients talk to the same blocking ROUTER echo running in another process, over TCP loopback,
one request in flight at a time. Three clients are measured, in interleaved rounds so that load from
other processes hits all of them alike (figures on a shared machine are noisy; compare the ratios):

* blocking  — a plain pyzmq DEALER, `send` then blocking `recv` (the baseline, ratio 1.00);
* socket    — `ZmqSocket` under trio, one task (the adapter's wait/NOBLOCK/EVENTS path alone);
* transport — `open_transport` (a DEALER behind a `ZmqPump`): what an image actor uses; each round trip
  also crosses two tasks (caller → pump → caller).

Prints p50/p99 per client and the p50 ratio to blocking. Target: the adapter within 1.5x of blocking.

    python bench/bench_adapter.py --sockets 1000 [--seconds 5]

measures throughput instead: that many `open_transport` links (one DEALER + pump each, one shared
context) in one trio process, each pinging the echo in a loop; prints round trips per second.
Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import trio
import zmq
from _harness import free_port, percentile, raise_open_file_limit
from stui.actors.transport import open_transport
from stui.actors.zmq_trio import ZmqSocket, new_context


def _echo(port: int) -> None:
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(f"tcp://127.0.0.1:{port}")
    while True:
        router.send_multipart(router.recv_multipart())


def _blocking(ctx: zmq.Context, address: str, n: int, payload: bytes) -> list[float]:
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(address)
    dealer.send(payload)
    dealer.recv()  # warm up (connect)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        dealer.send(payload)
        dealer.recv()
        out.append(time.perf_counter() - t0)
    dealer.close()
    return out


async def _socket(ctx: zmq.Context, address: str, n: int, payload: bytes) -> list[float]:
    zsock = ZmqSocket(ctx.socket(zmq.DEALER))
    zsock.socket.connect(address)
    await zsock.send_multipart([payload])
    await zsock.recv_multipart()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await zsock.send_multipart([payload])
        await zsock.recv_multipart()
        out.append(time.perf_counter() - t0)
    zsock.close()
    return out


async def _transport(ctx: zmq.Context, address: str, n: int, payload: bytes) -> list[float]:
    async with open_transport(address, zmq_context=ctx) as t:
        await t.send(payload)
        await t.receive()
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            await t.send(payload)
            await t.receive()
            out.append(time.perf_counter() - t0)
    return out


async def _many(
    ctx: zmq.Context, address: str, sockets: int, seconds: float, payload: bytes
) -> int:
    done = 0

    async def pinger(task_status: trio.TaskStatus[None]) -> None:
        nonlocal done
        async with open_transport(address, zmq_context=ctx, connect_timeout=30) as t:
            task_status.started()
            await go.wait()
            while True:
                await t.send(payload)
                await t.receive()
                done += 1

    go = trio.Event()
    async with trio.open_nursery() as nursery:
        for _ in range(sockets):
            await nursery.start(pinger)
        go.set()
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages", type=int, default=3000, help="round trips per client per round"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=200, help="payload bytes")
    parser.add_argument("--sockets", type=int, default=0, help="throughput mode: this many links")
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput mode: duration")
    args = parser.parse_args()

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_echo, args=(port,), daemon=True)
    server.start()
    ctx = new_context()
    payload = b"x" * args.size
    samples: dict[str, list[float]] = {"blocking": [], "socket": [], "transport": []}
    try:
        if args.sockets:
            raise_open_file_limit()
            count = trio.run(_many, ctx, address, args.sockets, args.seconds, payload)
            print(
                f"{args.sockets} links, {args.seconds:.0f} s: {count / args.seconds:,.0f} round trips/s"
            )
            return
        for r in range(args.rounds):
            samples["blocking"] += _blocking(ctx, address, args.messages, payload)
            samples["socket"] += trio.run(_socket, ctx, address, args.messages, payload)
            samples["transport"] += trio.run(_transport, ctx, address, args.messages, payload)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        ctx.destroy(linger=0)
        server.terminate()
        server.join()

    base = statistics.median(samples["blocking"])
    print(
        f"\n{args.rounds} x {args.messages} round trips of {args.size} B, blocking ROUTER echo in another process"
    )
    print(f"{'client':<10} {'p50 us':>8} {'p99 us':>8} {'p50 ratio':>10}")
    for name, values in samples.items():
        p50 = statistics.median(values)
        print(f"{name:<10} {p50 * 1e6:8.0f} {percentile(values, 99) * 1e6:8.0f} {p50 / base:9.2f}x")


if __name__ == "__main__":
    main()
