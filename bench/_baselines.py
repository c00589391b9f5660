"""Raw echo baselines: the fastest a round trip can be on this machine, measured in the same run.

Every ratio the bench reports ("the stack is 1.7x the baseline") divides by one of these:

- **zmq**: a plain blocking pyzmq DEALER client against a blocking ROUTER echo in another process.
  No trio, no CBOR decoding, no actor: the floor for a ZeroMQ round trip.
- **ws**: a plain trio-websocket client against a trio-websocket echo server in another process.

And one in-between peer, to split the stack's cost into client side and image side:

- **stub**: a *stub image*, a blocking pyzmq ROUTER (or trio-websocket server) that speaks just enough of
  the protocol for the image actor (Hello, CreateSession, AttachSession, Ping, Evaluate answered "7") and
  nothing else: no sessions, no Smalltalk. The full client stack against it costs what the client costs.

The echo servers run as subprocesses of this file (`python bench/_baselines.py zmq|ws`), print their
address on the first line of stdout and echo until killed. `EchoServer` starts and stops them.

Run it directly to see the baselines alone: `python bench/_baselines.py measure --duration 3`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "BlockingDealer",
    "EchoServer",
    "blocking_dealer_latencies",
    "sample_payload",
    "trio_ws_latencies",
    "ws_round_trips",
]

_HERE = Path(__file__).resolve()
_MAX_MSG = 4 * 1024 * 1024


def sample_payload() -> bytes:
    """A real encoded frame (an `Evaluate` of `3 + 4`, ~110 bytes): what the stack sends per request."""
    from stui.protocol import Evaluate, encode

    return encode(Evaluate(session_id="s" * 22, source="3 + 4"), request_id=123_456)


class EchoServer:
    """An echo server in a child process; use as a context manager.

    Args:
        kind: "zmq" (blocking ROUTER echo), "ws" (trio-websocket echo), "stub-zmq" or "stub-ws" (the
            stub image over ZeroMQ or WebSocket).

    Attributes:
        address: tcp://127.0.0.1:PORT or ws://127.0.0.1:PORT/stui, known once entered.
    """

    def __init__(self, kind: str) -> None:
        if kind not in ("zmq", "ws", "stub-zmq", "stub-ws"):
            raise ValueError(f"unknown echo server kind {kind!r}")
        self.kind = kind
        self.address = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EchoServer:
        self._proc = subprocess.Popen(
            [sys.executable, str(_HERE), "serve-" + self.kind],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{self.kind} echo server did not start")
        self.address = line
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None


# --------------------------------------------------------------------------------------------------
# Clients


class BlockingDealer:
    """A plain blocking pyzmq DEALER connected to `address`: the baseline client. Close it when done."""

    def __init__(self, address: str) -> None:
        import zmq

        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, _MAX_MSG)
        self._sock.setsockopt(zmq.RCVTIMEO, 5_000)
        self._sock.connect(address)

    def round_trips(self, payload: bytes, *, duration: float, warmup: int = 0) -> list[float]:
        """Sequential round trips of `payload` for at least `duration` s (after `warmup` untimed ones).

        Returns:
            One time in seconds per round trip (at least one).
        """
        send, recv, clock = self._sock.send, self._sock.recv, time.perf_counter
        for _ in range(warmup):
            send(payload)
            recv()
        samples: list[float] = []
        end = clock() + duration
        while True:
            t0 = clock()
            send(payload)
            recv()
            t1 = clock()
            samples.append(t1 - t0)
            if t1 >= end:
                return samples

    def close(self) -> None:
        self._sock.close(linger=0)
        self._ctx.term()


def blocking_dealer_latencies(
    address: str, payload: bytes, *, duration: float, warmup: int = 200
) -> list[float]:
    """Round-trip times (seconds) of a blocking DEALER sending `payload` to the ROUTER echo at `address`."""
    dealer = BlockingDealer(address)
    try:
        return dealer.round_trips(payload, duration=duration, warmup=warmup)
    finally:
        dealer.close()


async def ws_round_trips(
    ws: Any, payload: bytes, *, duration: float, warmup: int = 0
) -> list[float]:
    """Sequential round trips of `payload` over an open trio-websocket connection to an echo server.

    Cancellation: cancelling stops the measurement; the connection may hold one unread echo.
    """
    for _ in range(warmup):
        await ws.send_message(payload)
        await ws.get_message()
    samples: list[float] = []
    clock = time.perf_counter
    end = clock() + duration
    while True:
        t0 = clock()
        await ws.send_message(payload)
        await ws.get_message()
        t1 = clock()
        samples.append(t1 - t0)
        if t1 >= end:
            return samples


async def trio_ws_latencies(
    url: str, payload: bytes, *, duration: float, warmup: int = 200
) -> list[float]:
    """Round-trip times (seconds) of a raw trio-websocket client echoing `payload` (binary) via `url`.

    Cancellation: cancelling stops the measurement and closes the connection.
    """
    from trio_websocket import open_websocket_url

    async with open_websocket_url(url, max_message_size=_MAX_MSG) as ws:
        return await ws_round_trips(ws, payload, duration=duration, warmup=warmup)


# --------------------------------------------------------------------------------------------------
# Servers (child processes)


def _serve_zmq(answer: Callable[[bytes], bytes | None] | None = None) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, _MAX_MSG)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(f"tcp://127.0.0.1:{port}", flush=True)
    if answer is None:
        while True:
            sock.send_multipart(sock.recv_multipart(copy=False), copy=False)
    while True:
        identity, data = sock.recv_multipart()
        reply = answer(data)
        if reply is not None:
            sock.send_multipart([identity, reply])


def _stub_answer() -> Callable[[bytes], bytes | None]:
    """The stub image's whole brain: one reply per request, decoded and encoded with stui.protocol."""
    from stui.protocol import (
        AttachSession,
        CreateSession,
        EvalResult,
        Evaluate,
        Hello,
        Ping,
        Pong,
        SessionOpened,
        SessionSummary,
        Welcome,
        decode,
        encode,
    )

    session = SessionSummary(session_id="stub-session", name="main")
    welcome = Welcome(
        version=1,
        image_id="stub",
        instance_id="stub-1",
        image_name="stub",
        dialect="stub",
        dialect_version="0",
    )

    def answer(data: bytes) -> bytes | None:
        frame = decode(data)
        match frame.message:
            case Hello():
                reply: Any = welcome
            case CreateSession() | AttachSession():
                reply = SessionOpened(session=session, resumed=False)
            case Ping(timestamp=ts):
                reply = Pong(timestamp=ts, image_time=time.time())
            case Evaluate():
                reply = EvalResult(print_string="7", class_name="SmallInteger")
            case _:
                return None
        return encode(reply, request_id=frame.request_id)

    return answer


def _serve_ws(answer: Callable[[bytes], bytes | None] | None = None) -> None:
    import trio
    from trio_websocket import serve_websocket

    async def handler(request) -> None:  # type: ignore[no-untyped-def]
        ws = await request.accept()
        try:
            while True:
                data = await ws.get_message()
                reply = data if answer is None else answer(data)
                if reply is not None:
                    await ws.send_message(reply)
        except Exception:
            return  # the client went away

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_websocket(
                    handler,
                    "127.0.0.1",
                    0,
                    ssl_context=None,
                    max_message_size=_MAX_MSG,
                    task_status=task_status,
                )
            )
            print(f"ws://127.0.0.1:{server.port}/stui", flush=True)

    trio.run(main)


def _measure(duration: float) -> None:
    import trio
    from _harness import LatencyStats, human_us

    payload = sample_payload()
    with EchoServer("zmq") as zs:
        z = LatencyStats.from_seconds(
            blocking_dealer_latencies(zs.address, payload, duration=duration)
        )
    with EchoServer("ws") as ws:
        w = LatencyStats.from_seconds(
            trio.run(lambda: trio_ws_latencies(ws.address, payload, duration=duration))
        )
    for name, s in (("blocking DEALER/ROUTER", z), ("trio-websocket", w)):
        print(f"{name:24} n={s.count:6}  p50 {human_us(s.p50_us):>9}  p99 {human_us(s.p99_us):>9}")


if __name__ == "__main__":
    sys.path.insert(0, str(_HERE.parent))
    from _image_farm import _die_with_parent

    _die_with_parent()  # an echo server never outlives the bench that started it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", choices=("serve-zmq", "serve-ws", "serve-stub-zmq", "serve-stub-ws", "measure")
    )
    parser.add_argument("--duration", type=float, default=3.0)
    ns = parser.parse_args()
    try:
        match ns.what:
            case "serve-zmq":
                _serve_zmq()
            case "serve-ws":
                _serve_ws()
            case "serve-stub-zmq":
                _serve_zmq(_stub_answer())
            case "serve-stub-ws":
                _serve_ws(_stub_answer())
            case "measure":
                _measure(ns.duration)
    except KeyboardInterrupt:
        pass
