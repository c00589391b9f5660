"""The event bus: control events from image actors and the supervisor to any number of subscribers.

Publishing never blocks and never fails. Each subscriber has its own bounded buffer; when a subscriber
falls behind, its *oldest* undelivered event is dropped and counted (`Subscription.dropped`), so the most
recent state always gets through and a slow REPL toolbar or a stuck embedding program can never stall an
image actor. (A trio memory channel would either block the publisher or refuse the newest event; neither
is acceptable here, hence a deque and a parking lot.)

Everything runs in one trio thread: `publish` is a plain function that actors call between checkpoints.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

import trio
from stui.protocol import ControlEvent

__all__ = ["DEFAULT_BUFFER", "EventBus", "Subscription"]

#: Events a subscriber may fall behind by before the oldest are dropped.
DEFAULT_BUFFER = 1024


class Subscription:
    """One subscriber's view of the bus: an async iterator over `ControlEvent`s.

    Use it as an async context manager (it unsubscribes on exit) or iterate it directly and call
    `close()` when done. Iteration ends after the bus closes and the buffer is drained.

    Attributes:
        maxlen: buffer size; beyond it the oldest event is dropped.
        dropped: events dropped because this subscriber was too slow.
        delivered: events handed to this subscriber.
    """

    def __init__(self, bus: EventBus, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError("a subscription needs a buffer of at least one event")
        self.maxlen = maxlen
        self.dropped = 0
        self.delivered = 0
        self._bus: EventBus | None = bus
        self._buffer: deque[ControlEvent] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._ended = False

    def _push(self, event: ControlEvent) -> None:
        if len(self._buffer) >= self.maxlen:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._lot.unpark_all()

    def _end(self) -> None:
        self._ended = True
        self._bus = None
        self._lot.unpark_all()

    def receive_nowait(self) -> ControlEvent:
        """The oldest buffered event.

        Raises:
            trio.WouldBlock: nothing buffered yet.
            trio.EndOfChannel: the subscription or the bus is closed and the buffer is empty.
        """
        if self._buffer:
            self.delivered += 1
            return self._buffer.popleft()
        if self._ended:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> ControlEvent:
        """Wait for the next event.

        Raises:
            trio.EndOfChannel: the subscription or the bus is closed and the buffer is empty.

        Cancellation: safe; no event is lost when the wait is cancelled.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                event = self.receive_nowait()
            except trio.WouldBlock:
                await self._lot.park()
                continue
            await trio.lowlevel.cancel_shielded_checkpoint()
            return event

    def pending(self) -> int:
        """Events buffered and not yet received."""
        return len(self._buffer)

    def close(self) -> None:
        """Unsubscribe. Buffered events can still be received; then iteration ends. Idempotent."""
        if self._bus is not None:
            self._bus._subscribers.discard(self)
        self._end()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ControlEvent:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Fan-out of control events to subscribers with bounded, drop-oldest buffers.

    Attributes:
        published: events published so far.
    """

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._closed = False
        self.published = 0

    def subscribe(self, maxlen: int = DEFAULT_BUFFER) -> Subscription:
        """A new subscription that receives every event published from now on."""
        sub = Subscription(self, maxlen)
        if self._closed:
            sub._end()
        else:
            self._subscribers.add(sub)
        return sub

    def publish(self, event: ControlEvent | None) -> None:
        """Hand `event` to every subscriber. Never blocks; `None` is ignored (for callers that publish
        the optional result of a state change directly)."""
        if event is None or self._closed:
            return
        self.published += 1
        for sub in self._subscribers:
            sub._push(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def dropped(self) -> int:
        """Events dropped across the current subscribers."""
        return sum(sub.dropped for sub in self._subscribers)

    def close(self) -> None:
        """End every subscription (after they drain their buffers). Idempotent."""
        self._closed = True
        subs, self._subscribers = self._subscribers, set()
        for sub in subs:
            sub._end()
