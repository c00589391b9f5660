"""Liveness of one image link: the heartbeat policy, the loop that drives it, and the status machine.

Rules of this module:

- The policy (`HeartbeatPolicy`) and the status machine (`LinkState`) are pure: they never sleep, send or
  read a clock except the wall clock stamped on events. All the timing lives in `HeartbeatScheduler`,
  which uses only trio's clock, so `autojump_clock` runs hours of heartbeats in milliseconds.
- A heartbeat is a protocol `Ping` answered by `Pong`, sent through the actor's ordinary request path. The
  image answers Pings beside evaluation (docs/architecture.md), so a long evaluation never looks like a
  dead link — the most common complaint about comparable tools (NOTES.md).
- No task per link. A `Heartbeat` is the (synchronous) state of one link's heartbeat; one
  `HeartbeatScheduler` task fires the heartbeats of every link of a supervisor from a timer heap. Why:
  with a task per link, each beat of an idle link cost two task wake-ups and two cancel scopes (trio
  wakes a sleeping task by cancelling its sleep) on top of the Ping's own round trip, which was about
  40% of the client's CPU with 1,000 idle images (bench_scale), plus a task's memory per image. The
  actor sends the Ping without waiting (`send_ping`) and reports its Pong (`Heartbeat.pong`) from its
  reader; the next firing, one interval later, judges a Ping still unanswered as missed.

Theory of operation. Every `interval` seconds one Ping goes out and may take at most `interval` to be
answered (a Pong for an earlier Ping is not an answer: it is late and dropped). An answer slower than `late_fraction * interval` is *late*. Health is then:

    HEALTHY   answered on time
    WARNING   answered late, or one Ping missed
    CRITICAL  two or more Pings missed in a row
    (lost)    `misses` Pings missed in a row: `run_heartbeat` returns and the actor drops the link.

A frozen image (SIGSTOP) that answered its last Ping just before freezing is declared lost when the
`misses`-th following Ping times out, i.e. at most (misses + 1) * interval after it froze.

Any frame from the image is a sign of life, as in Erlang's distribution ticks (net_ticktime): a Ping
left unanswered for its interval is a miss only if nothing else came from the image in that time
either (`Heartbeat.heard`). An image that keeps sending replies or transcript output while its Pongs
queue behind them (every session busy, the machine saturated) is slow, reported WARNING, not lost;
a killed or frozen one sends nothing and is declared lost exactly as before.

The status machine is the table `TRANSITIONS`:

    UNKNOWN → CONNECTED → (RECONNECTING ↔ CONNECTED) → DISCONNECTED (clean stop) | FAILED (gave up)

Every change is returned as an `ImageStatusChanged` / `ImageHealthChanged` control event for the caller
to publish; a move the table does not allow is a bug and raises.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import trio
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    ImageHealthChanged,
    ImageStatusChanged,
)

__all__ = ["TRANSITIONS", "Heartbeat", "HeartbeatPolicy", "HeartbeatScheduler", "LinkState"]

log = logging.getLogger("stui.actors.heartbeat")

_S = ConnectionStatus

#: Allowed status moves. DISCONNECTED and FAILED are final for one actor's life.
TRANSITIONS: dict[ConnectionStatus, frozenset[ConnectionStatus]] = {
    _S.UNKNOWN: frozenset({_S.CONNECTED, _S.RECONNECTING, _S.DISCONNECTED, _S.FAILED}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.DISCONNECTED, _S.FAILED}),
    _S.RECONNECTING: frozenset({_S.CONNECTED, _S.DISCONNECTED, _S.FAILED}),
    _S.DISCONNECTED: frozenset(),
    _S.FAILED: frozenset(),
}


@dataclass(slots=True)
class HeartbeatPolicy:
    """Health from round-trip times and consecutive misses. No I/O, no clock.

    Attributes:
        interval: seconds between Pings, and the longest a Pong may take.
        misses: consecutive misses that mean the link is lost.
        late_fraction: an answer slower than `late_fraction * interval` counts as late (WARNING).
        health: the current verdict.
        rtt: the last measured round trip in seconds, None before the first answer.
        missed: consecutive Pings missed so far.
    """

    interval: float = 1.0
    misses: int = 3
    late_fraction: float = 0.5
    health: ConnectionHealth = ConnectionHealth.UNKNOWN
    rtt: float | None = None
    missed: int = 0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.misses < 1 or not 0 < self.late_fraction <= 1:
            raise ValueError(
                "HeartbeatPolicy needs interval > 0, misses >= 1, 0 < late_fraction <= 1"
            )

    @property
    def lost(self) -> bool:
        """True once `misses` Pings in a row went unanswered."""
        return self.missed >= self.misses

    def answered(self, rtt: float) -> ConnectionHealth:
        """A Pong came back after `rtt` seconds. Returns the new health."""
        self.rtt = rtt
        self.missed = 0
        late = rtt > self.late_fraction * self.interval
        self.health = ConnectionHealth.WARNING if late else ConnectionHealth.HEALTHY
        return self.health

    def late_but_alive(self) -> ConnectionHealth:
        """A Ping went unanswered for a whole interval, but the image sent something else meanwhile:
        it is alive and slow. Returns the new health (WARNING); the count of misses starts over."""
        self.missed = 0
        self.health = ConnectionHealth.WARNING
        return self.health

    def missed_one(self) -> ConnectionHealth:
        """A Ping went unanswered for a whole interval. Returns the new health."""
        self.missed += 1
        self.health = ConnectionHealth.WARNING if self.missed == 1 else ConnectionHealth.CRITICAL
        return self.health

    def reset(self) -> None:
        """Forget everything: a new connection starts with unknown health."""
        self.health = ConnectionHealth.UNKNOWN
        self.rtt = None
        self.missed = 0


class Heartbeat:
    """The heartbeat of one link: fired by a `HeartbeatScheduler`, told about Pongs by the link.

    Each firing judges the Ping sent at the previous firing (still unanswered: a miss, unless the link
    `heard` some other frame since it was sent) and sends the next one. Everything is synchronous;
    nothing here may block.

    Args:
        policy: the health policy (interval, misses); reset here, updated in place.
        send_ping: sends one Ping without waiting; called from the scheduler's task. It must not raise
            (a link that cannot send loses the Ping, which then counts as missed).
        on_health: called with (health, rtt) after every Ping, answered or missed.
        on_lost: called once when `policy.misses` Pings in a row went unanswered; the heartbeat then
            stops.

    Attributes:
        stopped: no more firings (lost, or `stop()`).
    """

    __slots__ = (
        "_heard",
        "_on_health",
        "_on_lost",
        "_send_ping",
        "_sent_at",
        "_waiting",
        "policy",
        "stopped",
    )

    def __init__(
        self,
        policy: HeartbeatPolicy,
        *,
        send_ping: Callable[[], None],
        on_health: Callable[[ConnectionHealth, float | None], None],
        on_lost: Callable[[], None],
    ) -> None:
        policy.reset()
        self.policy = policy
        self._send_ping = send_ping
        self._on_health = on_health
        self._on_lost = on_lost
        self._waiting = False
        self._heard = False
        self._sent_at = 0.0
        self.stopped = False

    def heard(self) -> None:
        """Something (any frame) came from the image: called by the link for every frame it receives,
        so it must stay this cheap."""
        self._heard = True

    def stop(self) -> None:
        """No more firings and no more health reports (the link is gone). Idempotent."""
        self.stopped = True

    def fire(self, now: float) -> float | None:
        """Judge the last Ping and send the next. Returns when to fire again, None once stopped."""
        if self.stopped:
            return None
        policy = self.policy
        if self._waiting:  # unanswered for a whole interval
            if self._heard:  # ... but the image spoke meanwhile: slow, not gone
                self._on_health(policy.late_but_alive(), policy.rtt)
            else:
                health = policy.missed_one()
                self._on_health(health, policy.rtt)
                if policy.lost:
                    self.stopped = True
                    self._on_lost()
                    return None
        self._waiting = True
        self._heard = False
        self._sent_at = now
        self._send_ping()
        return now + policy.interval

    def pong(self, now: float) -> None:
        """The Pong answering the latest Ping arrived at `now` (trio time)."""
        if self.stopped or not self._waiting:
            return
        self._waiting = False
        health = self.policy.answered(now - self._sent_at)
        self._on_health(health, self.policy.rtt)


class HeartbeatScheduler:
    """Fires the `Heartbeat`s of many links from one task: a heap of firing times.

    Run `run()` in a nursery (the supervisor does, once; a stand-alone actor runs a private one) and
    `add()` heartbeats to it. A heartbeat stays scheduled until it stops.

    Heartbeats due within `slack` seconds of each other fire together, so the task wakes at most about
    1/slack times a second however many links there are. A Ping may thus go out up to `slack` early,
    which shortens the time its answer is given by as much; keep `slack` far below the intervals.

    Args:
        slack: seconds a firing may be brought forward to share a wake-up with another.
    """

    def __init__(self, *, slack: float = 0.005) -> None:
        if slack < 0:
            raise ValueError("slack must be >= 0")
        self.slack = slack
        self._heap: list[tuple[float, int, Heartbeat]] = []
        self._order = itertools.count()  # ties in time fire in the order they were added
        self._sleep: trio.CancelScope | None = None

    def __len__(self) -> int:
        """Heartbeats scheduled (stopped ones leave at their next due time)."""
        return len(self._heap)

    def add(self, heartbeat: Heartbeat, *, first: float | None = None) -> None:
        """Schedule a heartbeat; its first Ping goes out at trio time `first` (default: now)."""
        at = trio.current_time() if first is None else first
        heapq.heappush(self._heap, (at, next(self._order), heartbeat))
        if self._sleep is not None and at < self._sleep.deadline:
            self._sleep.deadline = at  # wake the task earlier

    def fire_due(self, now: float) -> float:
        """Fire every heartbeat due by `now + slack`. Returns the next due time (inf when none).

        A heartbeat whose callbacks raise is stopped and logged; the others carry on.
        """
        heap, horizon = self._heap, now + self.slack
        while heap and heap[0][0] <= horizon:
            _, _, heartbeat = heapq.heappop(heap)
            try:
                again = heartbeat.fire(now)
            except Exception:
                log.exception("heartbeat failed; it is stopped")
                heartbeat.stop()
                continue
            if again is not None:
                heapq.heappush(heap, (again, next(self._order), heartbeat))
        return heap[0][0] if heap else math.inf

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Fire heartbeats when they are due, forever.

        Cancellation: the way to stop it; heartbeats simply stop firing.
        """
        task_status.started()
        while True:
            due = self.fire_due(trio.current_time())
            with trio.CancelScope(deadline=due) as self._sleep:
                await trio.sleep_forever()
            self._sleep = None


@dataclass(slots=True)
class LinkState:
    """Status and health of one image link, as the rest of stui sees it.

    Attributes:
        image_id: the image's stable id ("" until the first Welcome; the local name is used then).
        name: the local name of the image.
        status: where the link stands (see `TRANSITIONS`).
        health: the heartbeat's verdict; UNKNOWN whenever the link is not connected.
        rtt: last heartbeat round trip in seconds.
        since: wall-clock time (Unix seconds) of the last status change.
        reason: why the last status change happened.
    """

    image_id: str
    name: str
    status: ConnectionStatus = ConnectionStatus.UNKNOWN
    health: ConnectionHealth = ConnectionHealth.UNKNOWN
    rtt: float | None = None
    since: float = 0.0
    reason: str = ""

    def move(self, new: ConnectionStatus, reason: str) -> ImageStatusChanged | None:
        """Change status. Returns the event to publish, or None if `new` is the current status.

        Raises:
            RuntimeError: the table does not allow the move (a bug in the caller).
        """
        old = self.status
        if new is old:
            return None
        if new not in TRANSITIONS[old]:
            raise RuntimeError(f"image {self.name!r}: status {old.name} cannot become {new.name}")
        self.status, self.since, self.reason = new, time.time(), reason
        return ImageStatusChanged(
            image_id=self.image_id or self.name,
            name=self.name,
            old=old,
            new=new,
            reason=reason,
            at=self.since,
        )

    def set_health(self, new: ConnectionHealth, rtt: float | None) -> ImageHealthChanged | None:
        """Record the heartbeat's verdict. Returns the event to publish when the health changed."""
        old = self.health
        self.health, self.rtt = new, rtt
        if new is old:
            return None
        return ImageHealthChanged(
            image_id=self.image_id or self.name,
            name=self.name,
            old=old,
            new=new,
            rtt=rtt,
            at=time.time(),
        )
