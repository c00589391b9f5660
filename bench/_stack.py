"""The bench's view of the full stui stack: a supervisor, images connected to it, requests through it.

Everything a scenario does with `stui.open_supervisor` goes through here, so the scenarios read as
measurements and the embedding API is used in one place:

- `open_bench_supervisor()` opens a supervisor (no session store unless given) with a connect timeout
  long enough for thousands of handshakes on two shared cores.
- `connect_all()` connects many images concurrently and times each connection.
- `StackOps` sends a `Ping` or a trivial `Evaluate` to one image the way the REPL does.
- `EventLog` records every control event with the monotonic time it was seen, for failure detection.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio
from stui.actors import Supervisor, SupervisorConfig, open_supervisor
from stui.protocol import (
    ConnectionStatus,
    ImageHealthChanged,
    ImageStatusChanged,
    Ping,
    Pong,
)

__all__ = [
    "ConnectTiming",
    "EventLog",
    "StackOps",
    "connect_all",
    "open_bench_supervisor",
    "stack_operations",
]


@contextlib.asynccontextmanager
async def open_bench_supervisor(
    *,
    connect_timeout: float = 60.0,
    event_buffer: int = 1_000_000,
    store: Any = None,
    **config: Any,
) -> AsyncIterator[Supervisor]:
    """A supervisor configured for benches: no store, generous connect timeout, large event buffers.

    Args:
        connect_timeout: seconds a single connection (TCP + handshake + first session) may take; when
            thousands connect at once the last handshakes queue behind the first.
        event_buffer: events a subscriber may fall behind by (failure runs watch every status change
            of thousands of images: nothing may be dropped).
        store: an open session store to persist through (the switch bench measures with one).
        **config: any other `SupervisorConfig` field.

    Cancellation: leaving the block stops every actor (the supervisor's own shutdown).
    """
    cfg = SupervisorConfig(connect_timeout=connect_timeout, event_buffer=event_buffer, **config)
    async with open_supervisor(cfg, store=store) as sup:
        yield sup


@dataclass(frozen=True, slots=True)
class ConnectTiming:
    """When one image finished connecting, in seconds after the first connect started."""

    name: str
    done_at: float
    ok: bool
    error: str = ""


async def connect_all(
    sup: Supervisor,
    targets: Sequence[tuple[str, str, bytes]],
    *,
    heartbeat_interval: float,
    heartbeat_misses: int = 3,
    concurrency: int = 0,
    tick: Callable[[int], None] | None = None,
) -> list[ConnectTiming]:
    """Connect every (name, address, key) target at once (or `concurrency` at a time) and time each.

    A failed connection is recorded (ok False, with the error), not raised: a scale run wants to know
    how many made it.

    Cancellation: connections already made stay supervised; the rest are abandoned.
    """
    limiter = trio.CapacityLimiter(concurrency if concurrency > 0 else math.inf)
    timings: list[ConnectTiming] = []
    t0 = time.perf_counter()

    async def one(name: str, address: str, key: bytes) -> None:
        async with limiter:
            try:
                await sup.connect(
                    address,
                    name=name,
                    key=key,
                    heartbeat_interval=heartbeat_interval,
                    heartbeat_misses=heartbeat_misses,
                )
            except Exception as exc:
                timings.append(
                    ConnectTiming(
                        name, time.perf_counter() - t0, False, f"{type(exc).__name__}: {exc}"
                    )
                )
            else:
                timings.append(ConnectTiming(name, time.perf_counter() - t0, True))
            if tick is not None:
                tick(1)

    async with trio.open_nursery() as nursery:
        for name, address, key in targets:
            nursery.start_soon(one, name, address, key)
    timings.sort(key=lambda t: t.done_at)
    return timings


@dataclass(frozen=True, slots=True)
class StackOps:
    """Requests to one image through the supervisor, as callables for a timed loop."""

    sup: Supervisor
    image: str

    async def ping(self) -> None:
        """A heartbeat-style `Ping` through the image's actor (request id matching, CBOR, transport)."""
        reply = await self.sup.actor(self.image).request(Ping(timestamp=time.time()))
        if not isinstance(reply, Pong):
            raise RuntimeError(f"Ping answered with {reply!r}")

    async def evaluate(self) -> None:
        """`3 + 4` evaluated in the image's active session, exactly as the REPL does it."""
        result = await self.sup.evaluate("3 + 4", image=self.image)
        if result.print_string != "7":
            raise RuntimeError(f"3 + 4 answered {result.print_string!r}")


async def stack_operations(
    sup: Supervisor, image: Any, transport: str, *, heartbeat_interval: float = 1.0
) -> StackOps:
    """Connect one farm image (a `FarmImage`) and return the operations to time against it."""
    await sup.connect(
        image.address(transport), name=image.name, heartbeat_interval=heartbeat_interval
    )
    return StackOps(sup, image.name)


@dataclass
class EventLog:
    """Every status and health change the supervisor publishes, stamped with `time.perf_counter()`.

    Run `collect` in a nursery before the events of interest happen; `drain()`, then read `status` /
    `health`.
    """

    status: list[tuple[float, ImageStatusChanged]] = field(default_factory=list)
    health: list[tuple[float, ImageHealthChanged]] = field(default_factory=list)
    other: int = 0
    dropped: int = 0
    _subscription: Any = None

    async def collect(
        self, sup: Supervisor, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Record events until cancelled or the supervisor closes.

        Cancellation: the way to stop it; everything seen so far is kept.
        """
        async with sup.subscribe() as events:
            self._subscription = events
            task_status.started()
            try:
                async for event in events:
                    self._record(time.perf_counter(), event)
            finally:
                self.dropped = events.dropped
                self._subscription = None

    def drain(self) -> None:
        """Record every event already published but not yet picked up by `collect` (which may lag
        behind on a saturated machine). Call it before reading the log."""
        sub = self._subscription
        if sub is None:
            return
        now = time.perf_counter()
        while True:
            try:
                event = sub.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            self._record(now, event)

    def _record(self, now: float, event: Any) -> None:
        match event:
            case ImageStatusChanged():
                self.status.append((now, event))
            case ImageHealthChanged():
                self.health.append((now, event))
            case _:
                self.other += 1

    def left_connected(self, *, after: float = 0.0, before: float = math.inf) -> set[str]:
        """Names of images that moved away from CONNECTED within [after, before)."""
        return {
            ev.name
            for t, ev in self.status
            if after <= t < before and ev.old is ConnectionStatus.CONNECTED
        }

    def first_status(self, name: str, new: Any, *, after: float) -> float | None:
        """perf_counter time of the first change of image `name` to status `new` at or after `after`."""
        for t, ev in self.status:
            if t >= after and ev.name == name and ev.new == new:
                return t
        return None
