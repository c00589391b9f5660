"""Liveness of one image link: the heartbeat policy, the loop that drives it, and the status machine.

Rules of this module:

- The policy (`HeartbeatPolicy`) and the status machine (`LinkState`) are pure: they never sleep, send or
  read a clock except the wall clock stamped on events. All the timing lives in `run_heartbeat`, which uses
  only trio's clock, so `autojump_clock` runs hours of heartbeats in milliseconds.
- A heartbeat is a protocol `Ping` answered by `Pong`, sent through the actor's ordinary request path. The
  image answers Pings beside evaluation (docs/architecture.md), so a long evaluation never looks like a
  dead link — the most common complaint about comparable tools (NOTES.md).

Theory of operation. Every `interval` seconds one Ping goes out and may take at most `interval` to be
answered. An answer slower than `late_fraction * interval` is *late*. Health is then:

    HEALTHY   answered on time
    WARNING   answered late, or one Ping missed
    CRITICAL  two or more Pings missed in a row
    (lost)    `misses` Pings missed in a row: `run_heartbeat` returns and the actor drops the link.

A frozen image (SIGSTOP) that answered its last Ping just before freezing is declared lost when the
`misses`-th following Ping times out, i.e. at most (misses + 1) * interval after it froze.

The status machine is the table `TRANSITIONS`:

    UNKNOWN → CONNECTED → (RECONNECTING ↔ CONNECTED) → DISCONNECTED (clean stop) | FAILED (gave up)

Every change is returned as an `ImageStatusChanged` / `ImageHealthChanged` control event for the caller
to publish; a move the table does not allow is a bug and raises.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    ImageHealthChanged,
    ImageStatusChanged,
)

__all__ = ["TRANSITIONS", "HeartbeatPolicy", "LinkState", "run_heartbeat"]

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


async def run_heartbeat(
    ping: Callable[[], Awaitable[object]],
    policy: HeartbeatPolicy,
    on_health: Callable[[ConnectionHealth, float | None], None],
) -> None:
    """Ping every `policy.interval` seconds until the link is declared lost, then return.

    Args:
        ping: sends one Ping and waits for its Pong. It is cancelled when the interval runs out, so it
            must leave nothing behind when cancelled (the actor's request path drops the late Pong).
            An exception from it (e.g. `ImageDisconnected`) propagates.
        policy: the health policy; updated in place.
        on_health: called with (health, rtt) after every Ping, answered or missed.

    Cancellation: safe at any point; the policy then reflects the Pings finished so far.
    """
    while True:
        start = trio.current_time()
        with trio.move_on_after(policy.interval) as scope:
            await ping()
        if scope.cancelled_caught:
            health = policy.missed_one()
        else:
            health = policy.answered(trio.current_time() - start)
        on_health(health, policy.rtt)
        if policy.lost:
            return
        await trio.sleep_until(start + policy.interval)


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
