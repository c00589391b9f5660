"""How much Smalltalk runs between two looks at the sockets, across every image of one trio run.

trio polls for I/O once per scheduling round, and a round runs every runnable task once. With N
sessions busy (in one image, or in the hundreds of images a bench farm runs in one `trio.run`), a round
held N evaluation slices, so a Ping waited for about N x 0.5 ms before its router even saw it
(measured, one process, all images busy: N=10 5.5 ms, N=50 26-52 ms, N=100 ~100 ms at p99).

The gate bounds the Smalltalk run per round instead: slices are charged to a *window* of `budget`
seconds; once it is spent, one task (the leader) yields to the next round (an I/O poll comes first, so
the routers run) and opens a new window there, waking a few of the others, which wait in FIFO order
meanwhile. So a Ping
waits about one window, however many sessions are busy, and evaluations still get all the CPU the
routers leave. The parked tasks cost nothing while they wait; only the leader takes a step per round.
Measured (one process, N images each with a session in `[true] whileTrue`, raw DEALER pinging one):
Ping p50 2.1-2.2 ms and p99 2.5-4 ms for N = 10, 50, 100; evaluation throughput 1-1.5% lower (share
of the run spent in slices 0.967-0.975 against 0.977-0.987 without the gate, N = 10 and 100).
A first slice run inline where its frame arrives (stui.image.dispatcher) runs only when nobody waits
at the gate, and is charged like any other: with many receiving tasks in one run (a router per image,
a reader per WebSocket client) they would otherwise add an uncharged slice each per round.

One gate per trio run (a `RunVar`, not process state): every image served in that run shares it.
"""

from __future__ import annotations

import math
import time

import trio

__all__ = ["ROUND_BUDGET", "SliceGate", "slice_gate"]

#: Seconds of evaluation per scheduling round, across every image of the run (4 slices of 0.5 ms).
ROUND_BUDGET = 0.002


class SliceGate:
    """The per-round budget of evaluation slices (see the module docstring).

    Args:
        budget: seconds of slices per round.
        slice_seconds: the usual slice length: how many waiting tasks a new round wakes.
    """

    def __init__(self, budget: float = ROUND_BUDGET, slice_seconds: float = 0.0005) -> None:
        self.budget = budget
        self._wake = max(1, math.ceil(budget / slice_seconds))
        self._used = 0.0  # seconds of slices in the current window
        self._last = -math.inf  # perf_counter() at the end of the last slice
        self._lot = trio.lowlevel.ParkingLot()
        self._leader = False

    def _spent(self) -> bool:
        if time.perf_counter() - self._last >= self.budget:
            self._used = 0.0  # no slice for a whole budget: a quiet spell, not one long round
        return self._used >= self.budget

    def waiting(self) -> bool:
        """True while tasks wait for a turn (a slice started elsewhere would jump their queue)."""
        return bool(self._lot)

    def charge(self, seconds: float) -> None:
        """Count a slice that just ran after `turn`."""
        self._used += seconds
        self._last = time.perf_counter()

    async def turn(self) -> None:
        """Return when a slice may run now; it must run (and be charged) before the next checkpoint.

        Does not yield while the window has room (the caller has just passed a checkpoint). A task
        that calls `turn` must call `leave` once it calls it no more.

        Cancellation: safe; a cancelled leader still opens the new window and wakes the next tasks.
        """
        while self._spent():
            if self._leader:
                await self._lot.park()
                continue
            self._leader = True
            try:
                await trio.lowlevel.checkpoint()  # the next round: the sockets were polled first
            finally:
                self._leader = False
                self._used = 0.0
                self._lot.unpark(count=self._wake)
            return

    def leave(self) -> None:
        """The caller runs no more slices (its evaluation ended): wake one waiting task.

        Waiting tasks are woken by a leader, and a leader arises only when a running task finds the
        window spent; if every running task ended before that, the waiting ones would wait forever.
        """
        self._lot.unpark(count=1)


_GATE: trio.lowlevel.RunVar[SliceGate] = trio.lowlevel.RunVar("stui.image.slice_gate")


def slice_gate(slice_seconds: float) -> SliceGate:
    """This trio run's gate, made by the first image that asks."""
    try:
        return _GATE.get()
    except LookupError:
        gate = SliceGate(ROUND_BUDGET, slice_seconds)
        _GATE.set(gate)
        return gate
