"""Requests in flight on one image link: the pending table, matched by request id.

An image actor lets any number of tasks make requests at once over one link. Each request becomes a
`Call`: a fresh request id, the message, and a one-shot slot for its outcome. The caller registers the
call in the table, hands it to the link itself (the `send` function the actor passes: encode, then
queue the frame in the transport, whose own outbox is the backlog) and waits on the slot; the actor's
reader completes the call whose id a reply carries. So:

- a reply for an id nobody waits for any more (the caller timed out or was cancelled) is *late*: it
  is dropped and counted, never delivered to another caller;
- failing the whole table at once (`fail_all`, when the link is lost) wakes every caller immediately,
  including those still waiting for room in the transport's outbox.

There used to be a mailbox here and a writer task that took calls out of it and sent them. The
transports already accept sends from any number of tasks, so that task was one more hand-off per
request (two scheduler rounds on a round trip that takes only a few) without buying anything: the
caller sending its own frame keeps the same cancellation promise ("cancelled before it was queued: not
sent") and backpressure comes from the transport's bounded outbox.

No I/O here: the table only touches trio primitives, so it is exercised through the actor's tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
from stui.protocol import Reply, Request

from .errors import RequestTimeout

__all__ = ["Call", "CallTable"]


class Call:
    """One request in flight: the message, its id, and the slot its outcome lands in.

    The slot is a one-shot wake-up rather than a `trio.Event`: the one caller that waits is rescheduled
    directly by whoever completes or fails the call. An Event (with its ParkingLot and OrderedDict) per
    call, plus the objects of `park()`, was most of what a round trip allocated outside the codec, and
    every heartbeat Ping made one although nobody waits for it.

    Attributes:
        request_id: the id the request is sent with, and its reply carries.
        message: the request.
        finished: True once `reply` or `error` is set.
        on_done: called (synchronously, by whichever task completes or fails the call) once it is
            done; for calls nobody awaits, such as heartbeat Pings.
    """

    __slots__ = ("_waiter", "error", "finished", "message", "on_done", "reply", "request_id")

    def __init__(
        self,
        request_id: int,
        message: Request,
        on_done: Callable[[Call], None] | None = None,
    ) -> None:
        self.request_id = request_id
        self.message = message
        self.finished = False
        self.reply: Reply | None = None
        self.error: Exception | None = None
        self.on_done = on_done
        self._waiter: trio.lowlevel.Task | None = None

    def complete(self, reply: Reply) -> None:
        if not self.finished:
            self.reply = reply
            self._finish()

    def fail(self, error: Exception) -> None:
        if not self.finished:
            self.error = error
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter)
        if self.on_done is not None:
            self.on_done(self)

    async def wait(self) -> None:
        """Wait until the call is finished. One task at a time.

        Cancellation: a cancelled wait raises and leaves the call unfinished (its owner abandons it).
        Once the call is finished the waiter is already rescheduled, so a cancellation arriving after
        that cannot take the outcome away: the wait returns normally.
        """
        if self.finished:  # failed while being sent: one schedule point, nothing to lose
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self._waiter is not None:
            raise RuntimeError("another task is already waiting for this call")
        self._waiter = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def _abort_wait(self, _: object) -> trio.lowlevel.Abort:
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED


class CallTable:
    """The pending table of one actor (see the module docstring).

    Attributes:
        late_replies: replies that arrived for calls nobody waits for any more.
    """

    def __init__(self) -> None:
        self.late_replies = 0
        self._next_id = 0
        self._pending: dict[int, Call] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def new_id(self) -> int:
        """A request id never used before on this table (ids grow across reconnections)."""
        self._next_id += 1
        return self._next_id

    def in_flight(self, kind: type) -> list[int]:
        """The ids of pending calls whose message is a `kind`."""
        return [c.request_id for c in self._pending.values() if isinstance(c.message, kind)]

    def register(self, message: Request, on_done: Callable[[Call], None]) -> Call:
        """Register a call nobody awaits: its outcome goes to `on_done`. The caller sends it, and
        `abandon`s it when it stops caring (its late reply is then dropped and counted)."""
        call = Call(self.new_id(), message, on_done)
        self._pending[call.request_id] = call
        return call

    def abandon(self, call: Call) -> None:
        """Forget a registered call without completing it (a reply for it is late from now on)."""
        if self._pending.get(call.request_id) is call:
            del self._pending[call.request_id]

    async def call(
        self,
        message: Request,
        timeout: float | None,
        what: str,
        send: Callable[[Call], Awaitable[None]],
    ) -> Reply:
        """Register a call, hand it to `send` and wait for its outcome.

        Args:
            message: the request.
            timeout: seconds to wait (sending included); None waits until the call completes or fails.
            what: the image's name, for the timeout's message (formatted only then).
            send: encodes the call and queues its frame on the link; it may instead fail the call
                (`Call.fail` or `fail_all`), which the caller then sees.

        Returns:
            The reply (an `Error` reply too: interpreting it is the caller's business).

        Raises:
            RequestTimeout: `timeout` ran out; the call is abandoned and its late reply dropped.
            Exception: whatever the call was failed with (`ImageDisconnected` on link loss, ...).

        Cancellation: the call is abandoned: not sent if `send` had not queued it yet, and its reply
        dropped otherwise.
        """
        call = Call(self.new_id(), message)
        self._pending[call.request_id] = call
        try:
            if timeout is None:  # no cancel scope at all: most calls (the REPL's, the bench's)
                await send(call)
                await call.wait()
            else:
                with trio.fail_after(timeout):
                    await send(call)
                    await call.wait()
        except trio.TooSlowError:
            raise RequestTimeout(
                f"image {what!r}: no answer to {type(message).__name__} within {timeout} s"
            ) from None
        finally:
            if self._pending.get(call.request_id) is call:
                del self._pending[call.request_id]
        if call.error is not None:
            raise call.error
        assert call.reply is not None
        return call.reply

    def complete(self, request_id: int, reply: Reply) -> bool:
        """Deliver a reply. Returns False (and counts it late) when nobody waits for that id."""
        call = self._pending.pop(request_id, None)
        if call is None:
            self.late_replies += 1
            return False
        call.complete(reply)
        return True

    def fail(self, request_id: int, error: Exception) -> bool:
        """Fail one call. Returns False when nobody waits for that id."""
        call = self._pending.pop(request_id, None)
        if call is None:
            return False
        call.fail(error)
        return True

    def fail_all(self, make_error: Callable[[], Exception]) -> int:
        """Fail every pending call at once, each with its own exception. Returns how many."""
        pending, self._pending = self._pending, {}
        for call in pending.values():
            call.fail(make_error())
        return len(pending)
