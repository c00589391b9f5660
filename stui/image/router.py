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
`wait_readable` — only when it sleeps there: answers queued by the handler itself are flushed right
after it returns, so the common case costs no cancel scope at all. The owner asks `ZMQ_EVENTS` before
every receive and after its last zmq call of a round, before sleeping, because any zmq call may
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

# Plain ints: pyzmq's constants are IntFlags, and IntFlag's `&` goes through the enum machinery.
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_RCVMORE = int(zmq.RCVMORE)
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)


class RouterLoop:
    """Owns a bound ROUTER socket; calls `handle(parts)` for each message it receives.

    Args:
        socket: the ROUTER, bound, not used by anything else from now on.
        handle: called synchronously, in the owning task, with each received multipart message. It
            must not block or raise; it may call `send_nowait`.
        outbox_size: frames queued for sending before `send_nowait` refuses more.
        on_round: called at the start of every round, before the first message of the round is
            handled (the dispatcher bounds the Smalltalk it runs inline per round with it).
    """

    def __init__(
        self,
        socket: ZmqSocket,
        handle: Callable[[list[bytes]], None],
        *,
        outbox_size: int = 10_000,
        on_round: Callable[[], None] | None = None,
    ) -> None:
        self.socket = socket
        self._handle = handle
        self._on_round = on_round
        self._outbox: deque[list[bytes]] = deque()
        self._outbox_size = outbox_size
        self._wake: trio.CancelScope | None = None
        # True only while the owner sleeps on the fd: the one time a kick is needed.
        self._sleeping = False
        self._closed = False

    @property
    def pending(self) -> int:
        """Frames queued and not yet handed to libzmq."""
        return len(self._outbox)

    @property
    def closed(self) -> bool:
        return self._closed

    def send_nowait(self, parts: list[bytes]) -> bool:
        """Queue one message for sending; False (dropped) when the outbox is full or the loop stopped.

        Called from the handler (the owner is running and flushes right after it) this only queues;
        called from another task while the owner sleeps on the fd, it also kicks the owner awake.
        """
        if self._closed or len(self._outbox) >= self._outbox_size:
            return False
        self._outbox.append(parts)
        if self._sleeping:
            self._sleeping = False
            assert self._wake is not None
            self._wake.cancel()
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the socket until cancelled; closes it on the way out.

        Raises:
            zmq.ZMQError: the socket failed (e.g. its context was terminated under it).

        Cancellation: stops the loop and closes the socket; queued frames are discarded.
        """
        task_status.started()
        fd = self.socket.fd
        try:
            while True:
                # One wake scope serves every sleep until a kick cancels it (entering a cancel scope
                # per sleep cost ~5 us a message). A kick that lands after the fd already woke us is
                # delivered at the next await below: everything between two awaits is synchronous, so
                # it only costs one more round.
                with trio.CancelScope() as self._wake:
                    while True:
                        if self._exchange():
                            await trio.lowlevel.checkpoint()
                            continue
                        self._sleeping = True
                        try:
                            await trio.lowlevel.wait_readable(fd)
                        finally:
                            self._sleeping = False
        finally:
            self._wake = None
            self._sleeping = False
            self._closed = True
            self._outbox.clear()
            self.socket.close()

    def _flush(self, sock: zmq.Socket, limit: int) -> int:
        outbox = self._outbox
        sent = 0
        while outbox and sent < limit:
            parts = outbox[0]
            try:
                if len(parts) == 2:  # [identity, payload]: pyzmq's send_multipart costs ~1.5 us more
                    sock.send(parts[0], _MORE_NOBLOCK)
                    sock.send(parts[1], _NOBLOCK)
                else:
                    sock.send_multipart(parts, _NOBLOCK)
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
        """One round: send what is queued; receive and handle what is there; send the answers.

        Returns True when there is work left for another round (after a checkpoint), False when
        ZMQ_EVENTS, asked after the round's last zmq call, says there is nothing to do (so sleeping on
        the edge-triggered fd is safe). Asking EVENTS before each receive is cheaper than a receive
        that fails (pyzmq builds a zmq.Again for it). Frames that arrive while the answers are sent
        wait for the next round, after the other tasks had their turn: a client that answers fast
        must not keep the loop to itself (measured: a ping-ponging client then got ~8 round trips per
        round, the evaluations of other sessions 35% less time).
        """
        sock = self.socket.socket
        outbox = self._outbox
        if self._on_round is not None:
            self._on_round()
        sent = self._flush(sock, _BATCH) if outbox else 0
        received = 0
        while True:
            events = sock.get(_EVENTS)
            if not events & _POLLIN:
                break
            if received == _BATCH:
                if outbox:
                    self._flush(sock, _BATCH)
                return True
            try:
                # A ROUTER prefixes every message with the sender's identity: two parts at least.
                parts = [sock.recv(_NOBLOCK), sock.recv(_NOBLOCK)]
                while sock.get(_RCVMORE):
                    parts.append(sock.recv(_NOBLOCK))
            except zmq.Again:  # EVENTS said readable; never seen, but never spin on it either
                return True
            received += 1
            self._handle(parts)
        if outbox:
            sent += self._flush(sock, _BATCH)
            events = sock.get(_EVENTS)  # sending may have consumed the fd's notification
            if events & _POLLIN:
                return True
        return bool(outbox) and (sent >= _BATCH or bool(events & _POLLOUT))
