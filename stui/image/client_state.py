"""What the image keeps per client connection and per running request, and the counters it shows.

A connection is one ZeroMQ identity or one WebSocket (protocol.md §2). Its state is plain data; the
dispatcher (stui.image.dispatcher) is the only code that changes it, always from trio tasks of the one
server, so nothing here locks except the slice lock, which is a fairness device, not a mutex.

A request that runs Smalltalk (Evaluate, Inspect) or may take a while (Complete) is an `InFlight`
record: its cancel scope (to stop it while it waits), its evaluation (to interrupt it while it runs),
why it was stopped, and the event that tells it its turn in the session queue has come.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from stui.image.sessions import Session

__all__ = [
    "ClientConnection",
    "InFlight",
    "ServerStats",
    "abandon_evaluation",
    "cancel_request",
    "leave_queue",
]


@dataclass(slots=True)
class ServerStats:
    """Counters shown in `SystemInfoReply.metadata` (as decimal strings)."""

    frames_received: int = 0
    frames_rejected: int = 0
    frames_dropped: int = 0
    frames_unsent: int = 0
    requests_refused: int = 0
    evaluations: int = 0
    sessions_expired: int = 0

    def as_metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, str(getattr(self, name))) for name in self.__slots__)  # type: ignore[attr-defined]


@dataclass(eq=False, slots=True)
class InFlight:
    """A request of one connection that runs in its own task (Evaluate, Inspect, Complete)."""

    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    evaluation: Any = None
    stop_reason: str | None = None
    #: Set when this request reaches the head of its session's queue.
    turn: trio.Event = field(default_factory=trio.Event)


@dataclass(eq=False, slots=True)
class ClientConnection:
    """One client connection: a ZeroMQ identity or one WebSocket.

    Attributes:
        key: the transport's name for the peer, e.g. ("zmq", identity) or ("ws", 7).
        deliver: queues one encoded frame to the peer without waiting; returns False when it had to
            drop it (the transport's queue is full or closed).
        client_id: the `Hello.client_id`, None until the client said Hello.
        version: the protocol version agreed in the handshake.
        in_flight: request id → the running or waiting request, for Interrupt and the in-flight limit.
        slice_lock: evaluations of this connection take turns on it, one slice each.
        last_seen: trio clock reading of the last frame from this peer.
    """

    key: Hashable
    deliver: Callable[[bytes], bool]
    client_id: str | None = None
    version: int = 0
    in_flight: dict[int, InFlight] = field(default_factory=dict)
    slice_lock: trio.Lock = field(default_factory=trio.Lock)
    last_seen: float = 0.0


def _interrupt_quietly(evaluation: Any, reason: str) -> None:
    try:
        evaluation.interrupt(reason)
    except Exception:
        pass


def cancel_request(record: InFlight) -> None:
    """Stop a request wherever it is: a running evaluation at its next slice, a waiting one now."""
    if record.stop_reason is None:
        record.stop_reason = "Interrupted"
    if record.evaluation is not None:
        _interrupt_quietly(record.evaluation, "Interrupted")
    else:
        record.scope.cancel()


def leave_queue(session: Session, record: InFlight) -> None:
    """Take `record` out of its session's queue; wake the next one if it was running."""
    queue = session.queue
    if not queue:
        return
    if queue[0] is record:
        queue.popleft()
        if queue:
            queue[0].turn.set()
        return
    try:
        queue.remove(record)
    except ValueError:
        pass


def abandon_evaluation(evaluation: Any) -> None:
    """Unwind an unfinished evaluation now (its ensure: blocks run); never raises."""
    try:
        evaluation.close()
    except Exception:
        pass
