"""Scenario 1, round trip: one image, sequential requests, next to raw baselines measured in the same run.

    python bench/bench_roundtrip.py                       # zmq, 5 s per method
    python bench/bench_roundtrip.py --transport ws --duration 10

Methods, each a strictly sequential request loop (one message in flight):

    baseline-zmq     blocking pyzmq DEALER  ->  blocking ROUTER echo (another process)
    baseline-ws      raw trio-websocket client -> trio-websocket echo (another process)       [ws only]
    adapter          stui's trio adapter (`ZmqSocket`, one task) -> the same ROUTER echo        [zmq]
    pump             `ZmqPump` (owner task + caller task, as the actor uses it) -> ROUTER echo [zmq]
    transport        `open_transport()` (what the image actor uses) -> the same echo
    stack-ping       supervisor -> image actor -> adapter -> CBOR -> reference image -> back: Ping
    stack-eval       the same with `Evaluate("3 + 4")`
    stub-ping        the same client stack against a stub image (bench/_baselines.py: decodes the
    stub-eval        request, answers at once, no Smalltalk): what the client side alone costs

The methods are interleaved in `--rounds` short blocks (order rotated each round) so that load from other
processes lands on all of them alike, and the ratios are taken between numbers of this one run. Targets:
stack within 2x the raw blocking pyzmq baseline, the adapter alone within 1.5x.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trio
import zmq
from _baselines import BlockingDealer, EchoServer, sample_payload, ws_round_trips
from _harness import LatencyStats, Run, base_parser, progress
from _image_farm import ImageFarm
from _stack import StackOps, open_bench_supervisor, stack_operations

#: A blocking baseline runs in slices this long, yielding to trio in between, so the supervisor's
#: heartbeat (running in the same process) is never held up long enough to look late.
_BLOCKING_SLICE = 0.05


async def _timed_loop(op: Callable[[], Awaitable[object]], duration: float) -> list[float]:
    samples: list[float] = []
    clock = time.perf_counter
    end = clock() + duration
    while True:
        t0 = clock()
        await op()
        t1 = clock()
        samples.append(t1 - t0)
        if t1 >= end:
            return samples


async def _blocking_in_slices(
    dealer: BlockingDealer, payload: bytes, duration: float
) -> list[float]:
    samples: list[float] = []
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        samples += dealer.round_trips(payload, duration=min(_BLOCKING_SLICE, duration))
        await trio.sleep(0)
    return samples


async def _measure(run: Run) -> dict[str, list[float]]:
    args = run.args
    payload = sample_payload()
    methods: dict[str, Callable[[float], Awaitable[list[float]]]] = {}
    async with AsyncExitStack() as astack:
        zecho = astack.enter_context(EchoServer("zmq"))
        dealer = BlockingDealer(zecho.address)
        astack.callback(dealer.close)
        dealer.round_trips(payload, duration=0.0, warmup=200)
        methods["baseline-zmq"] = lambda d: _blocking_in_slices(dealer, payload, d)

        if args.transport == "ws":
            from trio_websocket import open_websocket_url

            wecho = astack.enter_context(EchoServer("ws"))
            ws = await astack.enter_async_context(open_websocket_url(wecho.address))
            methods["baseline-ws"] = lambda d: ws_round_trips(ws, payload, duration=d)
            echo_address = wecho.address
        else:
            from stui.actors.zmq_trio import ZmqPump, ZmqSocket, new_context

            ctx = new_context()
            astack.callback(ctx.term)
            raw = ZmqSocket(ctx.socket(zmq.DEALER))
            astack.callback(raw.close)
            raw.socket.connect(zecho.address)

            async def adapter_op() -> None:
                await raw.send_multipart([payload])
                await raw.recv_multipart()

            methods["adapter"] = lambda d: _timed_loop(adapter_op, d)

            pump_sock = ZmqSocket(ctx.socket(zmq.DEALER))
            pump_sock.socket.connect(zecho.address)
            pump = ZmqPump(pump_sock)
            # The pump's owner task runs in its own nursery, closed (pump first) before the context
            # is terminated: ctx.term() blocks until every socket is closed by its owner.
            pump_nursery = await astack.enter_async_context(trio.open_nursery())
            await pump_nursery.start(pump.run)
            astack.callback(pump.close)

            async def pump_op() -> None:
                await pump.send([payload])
                await pump.receive()

            methods["pump"] = lambda d: _timed_loop(pump_op, d)
            echo_address = zecho.address

        transport_op = await _open_transport_op(astack, echo_address, payload)
        methods["transport"] = lambda d: _timed_loop(transport_op, d)

        farm = astack.enter_context(ImageFarm(1, transport=args.transport, prefix="rt"))
        sup = await astack.enter_async_context(open_bench_supervisor())
        ops = await stack_operations(
            sup, farm.images[0], args.transport, heartbeat_interval=args.heartbeat_interval
        )
        methods["stack-ping"] = lambda d: _timed_loop(ops.ping, d)
        methods["stack-eval"] = lambda d: _timed_loop(ops.evaluate, d)

        stub = astack.enter_context(EchoServer(f"stub-{args.transport}"))
        await sup.connect(stub.address, name="stub", heartbeat_interval=args.heartbeat_interval)
        stub_ops = StackOps(sup, "stub")
        methods["stub-ping"] = lambda d: _timed_loop(stub_ops.ping, d)
        methods["stub-eval"] = lambda d: _timed_loop(stub_ops.evaluate, d)

        # Warm every path up (JIT-free Python still has caches, and TCP has slow start).
        for fn in methods.values():
            await fn(0.05)

        samples: dict[str, list[float]] = {name: [] for name in methods}
        names = list(methods)
        per_block = args.duration / args.rounds
        with progress(
            args.duration * len(names), "round trips", enabled=run.show_progress, unit="s"
        ) as bar:
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    samples[name] += await methods[name](per_block)
                    bar.update(per_block)
    return samples


async def _open_transport_op(
    astack: AsyncExitStack, address: str, payload: bytes
) -> Callable[[], Awaitable[object]]:
    """A round trip through `open_transport()`, the link an image actor owns (ZeroMQ or WebSocket)."""
    from stui.actors.transport import open_transport

    transport = await astack.enter_async_context(open_transport(address))

    async def op() -> None:
        await transport.send(payload)
        await transport.receive()

    return op


def _report(run: Run, samples: dict[str, list[float]]) -> None:
    stats = {name: LatencyStats.from_seconds(s) for name, s in samples.items()}
    run.record("latency", stats)
    base_name = "baseline-ws" if run.args.transport == "ws" else "baseline-zmq"
    zmq_base = stats["baseline-zmq"]
    for name, st in stats.items():
        run.metric(f"{name} p50", st.p50_us, "µs")
        run.metric(f"{name} p99", st.p99_us, "µs")
    ratios: dict[str, float] = {}
    for name, st in stats.items():
        ratios[f"{name}/baseline-zmq"] = st.p50_us / zmq_base.p50_us
        if base_name != "baseline-zmq":
            ratios[f"{name}/{base_name}"] = st.p50_us / stats[base_name].p50_us
    run.record("ratios_p50", ratios)
    if "adapter" in stats:
        r = ratios["adapter/baseline-zmq"]
        run.metric("adapter / baseline (p50)", r, "x", target="< 1.5x", ok=r < 1.5)
    if "transport" in stats:
        r = stats["transport"].p50_us / stats[base_name].p50_us
        run.metric(f"transport / {base_name} (p50)", r, "x")
    for op in ("stack-ping", "stack-eval"):
        r = stats[op].p50_us / zmq_base.p50_us
        run.metric(f"{op} / baseline-zmq (p50)", r, "x", target="< 2x", ok=r < 2)
        if base_name != "baseline-zmq":
            r = stats[op].p50_us / stats[base_name].p50_us
            run.metric(f"{op} / {base_name} (p50)", r, "x")

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax1, ax2 = fig.subplots(1, 2)
        names = list(stats)
        ax1.bar(names, [stats[n].p50_us for n in names], label="p50")
        ax1.scatter(
            names,
            [stats[n].p99_us for n in names],
            color="black",
            marker="_",
            s=400,
            label="p99",
            zorder=3,
        )
        ax1.set_yscale("log")
        ax1.set_ylabel("round trip (µs, log)")
        ax1.tick_params(axis="x", rotation=30)
        ax1.legend()
        ax1.set_title("p50 (bars) and p99 per method")
        for n in names:
            xs = sorted(s * 1e6 for s in samples[n])
            ys = [i / len(xs) for i in range(1, len(xs) + 1)]
            ax2.plot(xs, ys, label=n)
        ax2.set_xscale("log")
        ax2.set_xlabel("round trip (µs, log)")
        ax2.set_ylabel("fraction of requests")
        ax2.set_title("latency CDF")
        ax2.legend(fontsize=7)

    run.plot(draw, figsize=(12, 5))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], duration=5.0)
    parser.add_argument(
        "--rounds", type=int, default=10, help="interleaved blocks per method (spreads the noise)"
    )
    args = parser.parse_args(argv)
    if args.images != 1:
        parser.error("the round-trip scenario uses exactly one image (--images 1)")
    run = Run("roundtrip", args)
    samples = trio.run(_measure, run)
    _report(run, samples)
    run.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
