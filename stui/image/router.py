"""The image's ZeroMQ ROUTER loop: one owning task that receives, *answers inline*, and sends.

Why not `stui.actors.zmq_trio.ZmqPump`? The pump hands received frames to another task through a deque,
and that task hands replies back the same way: a Ping then crosses three trio scheduling rounds (pump →
reader → pump) before its Pong leaves. While an evaluation runs, every round includes one evaluation
slice (0.5 ms), so the hand-offs alone added ~1.5 ms to each heartbeat (measured: median Ping round trip
0.5 ms idle, 2.7 ms beside one `[true] whileTrue`). Here the owning task calls the handler
synchronously for each frame it takes off the socket and flushes the outbox right after, so a Pong
leaves in the same round its Ping arrived.

The rules of `stui.actors.zmq_trio` still hold, and its `ZmqSocket` supplies the socket options (LINGER,
MAXMSGSIZE) and the fd: only this task calls into the socket; other tasks (evaluations finishing,
the expiry sweeper) queue frames with `send_nowait` and *kick* the owner by cancelling its
`wait_readable`; after each round the owner asks `ZMQ_EVENTS` before sleeping, because any zmq call may
consume the edge-triggered fd notification. Everything between two awaits is synchronous, so a frame is
in libzmq, in the outbox, or handled: never lost to a cancellation. A ROUTER never blocks on send (it
drops frames for a peer past its high-water mark), so the outbox drains at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import trio
import zmq

from stui.actors.zmq_trio import ZmqSocket

__all__ = ["RouterLoop"]

# Frames moved in each direction per round before the owner yields to other tasks.
_BATCH = 64


class RouterLoop:
    """Owns a bound ROUTER socket; calls `handle(parts)` for each message it receives.

    Args:
        socket: the ROUTER, bound, not used by anything else from now on.
        handle: called synchronously, in the owning task, with each received multipart message. It
            must not block or raise; it may call `send_nowait`.
        outbox_size: frames queued for sending before `send_nowait` refuses more.
    """

    def __init__(
        self,
        socket: ZmqSocket,
        handle: Callable[[list[bytes]], None],
        *,
        outbox_size: int = 10_000,
    ) -> None:
        self.socket = socket
        self._handle = handle
        self._outbox: deque[list[bytes]] = deque()
        self._outbox_size = outbox_size
        self._wake: trio.CancelScope | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Frames queued and not yet handed to libzmq."""
        return len(self._outbox)

    @property
    def closed(self) -> bool:
        return self._closed

    def send_nowait(self, parts: list[bytes]) -> bool:
        """Queue one message for sending; False (dropped) when the outbox is full or the loop stopped."""
        if self._closed or len(self._outbox) >= self._outbox_size:
            return False
        self._outbox.append(parts)
        if self._wake is not None:
            self._wake.cancel()
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the socket until cancelled; closes it on the way out.

        Raises:
            zmq.ZMQError: the socket failed (e.g. its context was terminated under it).

        Cancellation: stops the loop and closes the socket; queued frames are discarded.
        """
        task_status.started()
        try:
            while True:
                if self._exchange():
                    await trio.lowlevel.checkpoint()
                    continue
                with trio.CancelScope() as self._wake:
                    await trio.lowlevel.wait_readable(self.socket.fd)
                self._wake = None
        finally:
            self._wake = None
            self._closed = True
            self._outbox.clear()
            self.socket.close()

    def _flush(self, sock: zmq.Socket) -> int:
        outbox = self._outbox
        sent = 0
        while outbox and sent < _BATCH:
            try:
                sock.send_multipart(outbox[0], zmq.NOBLOCK)
            except zmq.Again:
                break
            except zmq.ZMQError as e:
                if e.errno == zmq.EHOSTUNREACH:  # only with ROUTER_MANDATORY; drop, as ROUTER does
                    outbox.popleft()
                    continue
                raise
            outbox.popleft()
            sent += 1
        return sent

    def _exchange(self) -> bool:
        """One round: send what is queued, receive and handle, send the answers. True: go again soon."""
        sock = self.socket.socket
        sent = self._flush(sock)
        received = 0
        while received < _BATCH:
            try:
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            received += 1
            self._handle(parts)
        sent += self._flush(sock)
        if received == _BATCH or sent >= _BATCH:
            return True
        events = sock.getsockopt(zmq.EVENTS)
        return bool(events & zmq.POLLIN or (self._outbox and events & zmq.POLLOUT))
