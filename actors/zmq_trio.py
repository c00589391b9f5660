"""A small trio adapter for pyzmq: one owning task per socket, and a pump for everybody else.

pyzmq only integrates with asyncio, and the off-the-shelf bridges lose messages on cancellation or are
slow (see ../shared/NOTES.md: zmq-anyio drops the next message after a cancelled receive, which is exactly
what a heartbeat timeout does). This module is the hand-written alternative. Its rules come from how
libzmq signals readiness:

* A socket's `ZMQ_FD` is a notification fd, not the data: it becomes readable when libzmq has *commands*
  for the socket, and any zmq call on the socket (send, recv, getsockopt(EVENTS)) may process those
  commands and consume the notification. So "fd readable" does not mean "a message is there", and "a
  message is there" does not mean "fd readable". The only safe pattern is: try the operation with
  NOBLOCK; on EAGAIN check `ZMQ_EVENTS`; sleep on the fd only if EVENTS says not ready; after every
  wake-up check EVENTS again.
* Because every call can consume the notification, two tasks using one socket can miss each other's
  wake-ups (measured: about one round in 300). One task owns a socket; nobody else calls into it.
* A message is lost if a cancellation lands between the non-blocking receive and the hand-off to the
  caller. So each operation does `checkpoint_if_cancelled()` *before* touching the socket and
  `cancel_shielded_checkpoint()` *after* it: a cancelled call did nothing; a completed call returns.

`ZmqSocket` applies these rules for code that uses a socket from one task only (a blocking request loop,
a benchmark, the connect wait in `open_transport`).

`ZmqPump` solves the ownership problem of an actor, which must wait for incoming frames *and* send frames
for other tasks at any moment. `ZmqPump.run()` is the owning task: it is the only code that calls into the
socket. It sleeps (`trio.lowlevel.wait_task_rescheduled`, rescheduled directly), and two things wake it:

* a *kick*: `await pump.send(parts)` appends to the outbox (waiting while it is full: backpressure) and
  reschedules the sleeping owner; so does a receiver that frees space in a full inbox;
* the fd: a small watcher task, started by `run()`, waits in `wait_readable(ZMQ_FD)`, wakes the owner
  when the fd fires, and then waits until the owner has looked at the socket before watching again. It
  makes no zmq call, so the owner stays the socket's only user. Or, when the pump is given a running
  `FdPoller`, that poller's one task watches the fds of many pumps (an epoll set, one-shot entries the
  owner re-arms synchronously after its look at the socket that follows a notification): no watcher
  task and no watcher steps per pump.

The owner then sends what it can, moves received messages into the inbox while it has room (when the
inbox is full it stops reading, so ZeroMQ's own high-water marks push back on the peer), checks EVENTS
and sleeps again. A consumer that handles frames synchronously can instead call `deliver_to(handler)`:
from then on the owner calls the handler with each frame as it takes it from the socket, with no inbox
and no wake-up of a receiving task in between (the image actor decodes and dispatches that way; it
saves one task switch per frame, a good part of a round trip that is only a few switches long).

The first version cancelled the owner's `wait_readable` to kick it; a cancellation costs about three
times an unpark (a Cancelled exception unwinds the wait), and the watcher made the pumped round trip
about 1.3x faster (bench/bench_adapter.py).

A deque plus `trio.lowlevel.ParkingLot` is used instead of memory channels because the owner must never
block on a hand-off: a full inbox must not stop it from sending, and a full outbox must not stop it from
receiving. Everything the owner does between two awaits is synchronous, so a frame is either still in
libzmq, or in a deque, or returned to a caller: never lost to a cancellation.

Sockets get `LINGER=0` (closing or terminating never hangs on unsent frames) and `MAXMSGSIZE` (a peer that
sends a bigger frame is disconnected by libzmq before the frame is buffered). Contexts come from
`new_context()`, never `zmq.Context.instance()`: no global state, and `MAX_SOCKETS` is raised from the
default 1,023 so one process can talk to thousands of images.
"""

from __future__ import annotations

import contextlib
import select
from collections import deque
from collections.abc import Callable, Sequence
from typing import NoReturn

import trio
import zmq

from .errors import TransportClosed

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "FdPoller", "ZmqPump", "ZmqSocket", "new_context"]

#: Default cap on one received frame (libzmq MAXMSGSIZE); the protocol's `MAX_FRAME_SIZE` is the same.
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

# How many frames the pump moves in each direction before it yields to other tasks.
_BATCH = 64

# Plain ints for the pump's hot loop: pyzmq returns EVENTS as an IntFlag, and IntFlag's `&` goes through
# the enum machinery (measured 2.8 us for getsockopt + `&` against 1.8 us with plain ints).
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_NOBLOCK = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)


def new_context(max_sockets: int = 65536) -> zmq.Context:
    """Create a new ZeroMQ context with `MAX_SOCKETS` raised.

    A fresh context rather than `zmq.Context.instance()` keeps the library free of global state (two
    supervisors in one process do not share one). The default limit of 1,023 sockets per context is
    far below the process's fd limit and below the number of images stui aims to hold open.

    Args:
        max_sockets: the most sockets the context will create.

    Returns:
        The context. The caller owns it: close every socket, then call `ctx.term()` (with `LINGER=0`
        on all sockets, as `ZmqSocket` sets, term does not hang).
    """
    ctx = zmq.Context()
    try:
        ctx.set(zmq.MAX_SOCKETS, max_sockets)
    except Exception:
        ctx.term()
        raise
    return ctx


def _recv_parts(sock: zmq.Socket) -> list[bytes]:
    # recv_multipart without its per-call lookup of zmq.RCVMORE (an enum). The other parts of a
    # multipart message are all there once the first one is.
    parts = [sock.recv(_NOBLOCK)]
    while sock.get(_RCVMORE):
        parts.append(sock.recv(_NOBLOCK))
    return parts


def _closed_error(exc: BaseException | None, what: str) -> TransportClosed:
    err = TransportClosed(f"{what} is closed" if exc is None else f"{what} failed: {exc}")
    err.__cause__ = exc
    return err


class ZmqSocket:
    """A zmq.Socket of any type made awaitable under trio, for use by ONE owning task.

    Only one task may call into this object (or into the wrapped socket) at a time, ever: ZMQ_FD is
    edge-triggered and a second user can steal the first one's wake-up. Code that needs several tasks
    to send and receive uses a `ZmqPump`, which owns the socket.

    Construction sets `LINGER=0` and `MAXMSGSIZE`. Closing is synchronous and idempotent.

    Args:
        socket: a freshly created socket (not yet used by any other code).
        max_message_size: largest frame accepted from a peer (libzmq MAXMSGSIZE); a peer that sends a
            bigger one is disconnected (and, for a connecting socket, reconnected) by libzmq.

    Attributes:
        socket: the wrapped socket, for setting options and binding/connecting. Never send or receive
            on it directly.
        fd: its ZMQ_FD.
    """

    def __init__(
        self, socket: zmq.Socket, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    ) -> None:
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, max_message_size)
        self.socket = socket
        self.fd: int = socket.getsockopt(zmq.FD)
        self.max_message_size = max_message_size
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether `close()` was called (or the socket was closed under us)."""
        return self._closed or self.socket.closed

    def close(self) -> None:
        """Close the socket, discarding unsent frames (LINGER=0). Idempotent; not a checkpoint.

        Tells trio first (`notify_closing`), so a wait on the fd in progress raises instead of watching
        a recycled fd number.
        """
        if self._closed:
            return
        self._closed = True
        try:
            trio.lowlevel.notify_closing(self.fd)
        except RuntimeError:  # not inside trio (e.g. cleanup after trio.run returned)
            pass
        self.socket.close(linger=0)

    def _check_open(self) -> None:
        if self.closed:
            raise TransportClosed("ZeroMQ socket is closed")

    async def wait_for(self, flag: int) -> None:
        """Sleep until `ZMQ_EVENTS` has `flag` (zmq.POLLIN or zmq.POLLOUT) set.

        Checks EVENTS before sleeping and after every wake-up, because the fd only tells that libzmq
        has news, not which.

        Args:
            flag: zmq.POLLIN or zmq.POLLOUT.

        Raises:
            TransportClosed: the socket is closed or its context was terminated.

        Cancellation: safe at any point; nothing is consumed.
        """
        self._check_open()
        try:
            while not int(self.socket.getsockopt(_EVENTS)) & flag:
                await trio.lowlevel.wait_readable(self.fd)
        except (zmq.ZMQError, trio.ClosedResourceError) as exc:
            raise _closed_error(exc, "ZeroMQ socket") from exc
        except trio.BrokenResourceError as exc:  # pragma: no cover - fd vanished under trio
            raise _closed_error(exc, "ZeroMQ socket") from exc

    async def _sleep_unless(self, flag: int) -> None:
        # Called after an operation failed with EAGAIN (which may have consumed the fd's
        # notification): ask EVENTS before sleeping; after a wake-up the caller retries the operation
        # itself, which answers the same question as EVENTS one call sooner.
        try:
            if not int(self.socket.getsockopt(_EVENTS)) & flag:
                await trio.lowlevel.wait_readable(self.fd)
        except (zmq.ZMQError, trio.ClosedResourceError) as exc:
            raise _closed_error(exc, "ZeroMQ socket") from exc

    async def send_multipart(self, parts: Sequence[bytes]) -> None:
        """Send one multipart message, waiting while the socket cannot take it (HWM, no peer yet).

        Args:
            parts: the frames.

        Raises:
            TransportClosed: the socket is closed or its context was terminated.

        Cancellation: if cancelled, nothing was sent. Once sent, the call returns normally.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check_open()
        while True:
            try:
                # libzmq accepts a multipart message atomically: once the first frame is in, so are
                # the rest, so EAGAIN here means nothing of it was queued.
                if len(parts) == 1:  # skip send_multipart's per-part checks
                    self.socket.send(parts[0], _NOBLOCK)
                else:
                    self.socket.send_multipart(parts, _NOBLOCK)
                break
            except zmq.Again:
                pass
            except zmq.ZMQError as exc:
                raise _closed_error(exc, "ZeroMQ socket") from exc
            await self._sleep_unless(zmq.POLLOUT)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def recv_multipart(self) -> list[bytes]:
        """Receive one multipart message.

        Returns:
            Its frames.

        Raises:
            TransportClosed: the socket is closed or its context was terminated.

        Cancellation: if cancelled, nothing was received (the message stays in the socket for the
        next call). A message taken from the socket is always returned.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check_open()
        sock = self.socket
        waited = False
        try:
            # EVENTS before every sleep and after every wake-up; receiving only when it says POLLIN
            # also spares the exception an empty NOBLOCK receive raises.
            while True:
                if int(sock.getsockopt(_EVENTS)) & _POLLIN:
                    try:
                        parts = _recv_parts(sock)
                        break
                    except zmq.Again:  # pragma: no cover - EVENTS said there was one
                        continue
                await trio.lowlevel.wait_readable(self.fd)
                waited = True
        except (zmq.ZMQError, trio.ClosedResourceError) as exc:
            raise _closed_error(exc, "ZeroMQ socket") from exc
        if (
            not waited
        ):  # a call that slept has yielded already; one schedule point per call is enough
            await trio.lowlevel.cancel_shielded_checkpoint()
        return parts


class FdPoller:
    """Watches the ZMQ_FDs of many pumps from one task, instead of a watcher task per pump.

    Why: with a watcher task per socket, every notification costs two task steps of the watcher (wake
    up, then re-arm once the owner has looked) on top of the owner's own; with a thousand idle images
    that was about a third of the client's heartbeat CPU, plus a task's memory per socket. Here one task
    waits on an epoll set of its own (Linux: `FdPoller.available()`); each fd is registered one-shot,
    so a notification disarms it until its owner has looked at the socket and calls `rearm(fd)` (one
    synchronous epoll_ctl, no task switch). Level-triggered, so a notification that arrives between the
    owner's look and the re-arm is reported at once, never lost. The poller makes no zmq call: the
    owner stays its socket's only user.

    Run `run()` in a nursery before pumps use it; when it stops, every registered pump is woken and
    stops with `TransportClosed`.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake: dict[int, Callable[[], None]] = {}
        self._closed = False

    @staticmethod
    def available() -> bool:
        """Whether this platform has epoll (elsewhere pumps keep their own watcher tasks)."""
        return hasattr(select, "epoll")

    @property
    def closed(self) -> bool:
        """Whether the poller has stopped."""
        return self._closed

    def __len__(self) -> int:
        """Fds registered."""
        return len(self._wake)

    def register(self, fd: int, wake: Callable[[], None]) -> None:
        """Call `wake()` (from the poller's task) when `fd` is readable; armed at once.

        Raises:
            TransportClosed: the poller has stopped.
        """
        if self._closed:
            raise TransportClosed("the FdPoller has stopped")
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLONESHOT)
        self._wake[fd] = wake

    def rearm(self, fd: int) -> bool:
        """Watch `fd` again after its notification was handled. False once the poller has stopped."""
        if self._closed:
            return False
        try:
            self._epoll.modify(fd, select.EPOLLIN | select.EPOLLONESHOT)
        except OSError:  # the fd was closed under us: the owner sees its socket closed next
            return False
        return True

    def unregister(self, fd: int) -> None:
        """Stop watching `fd` (before closing it: epoll would otherwise keep a stale entry). Idempotent."""
        if self._wake.pop(fd, None) is not None and not self._closed:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Wake the owner of every fd that becomes readable, until cancelled.

        Cancellation: the way to stop it; the epoll set is closed and every registered pump woken (they
        then stop with `TransportClosed`).
        """
        try:
            task_status.started()
            while True:
                await trio.lowlevel.wait_readable(self._epoll.fileno())
                for fd, _ in self._epoll.poll(0):
                    wake = self._wake.get(fd)
                    if wake is not None:
                        wake()
        finally:
            self._closed = True
            with contextlib.suppress(RuntimeError):
                trio.lowlevel.notify_closing(self._epoll.fileno())
            self._epoll.close()
            for wake in list(self._wake.values()):
                wake()
            self._wake.clear()


class ZmqPump:
    """Runs a `ZmqSocket` in one owning task and lets any number of tasks send and receive.

    Start `run()` in a nursery (`await nursery.start(pump.run)`); that task becomes the socket's only
    user and closes it when it ends. Other tasks call `send()` / `receive()`. With a ROUTER socket the
    frames are `[identity, payload]` both ways; with a DEALER just `[payload]`. A ROUTER silently drops
    frames for identities that are gone; do not set ROUTER_MANDATORY, whose EHOSTUNREACH would stop the
    pump (any socket error other than EAGAIN does).

    Args:
        socket: the socket to own. Nobody else may touch it once the pump exists.
        outbox_size: frames queued for sending before `send()` waits.
        inbox_size: frames received but not yet taken before the pump stops reading (then libzmq's
            RCVHWM, and after it the peer's SNDHWM, hold the rest).
        poller: a running `FdPoller` to watch the socket's fd instead of a watcher task of the pump's
            own (what a process with many sockets wants).
    """

    def __init__(
        self,
        socket: ZmqSocket,
        *,
        outbox_size: int = 1000,
        inbox_size: int = 1000,
        poller: FdPoller | None = None,
    ) -> None:
        if outbox_size < 1 or inbox_size < 1:
            raise ValueError("outbox_size and inbox_size must be >= 1")
        self.socket = socket
        self._outbox: deque[Sequence[bytes]] = deque()
        self._inbox: deque[list[bytes]] = deque()
        self._outbox_size = outbox_size
        self._inbox_size = inbox_size
        self._out_space = trio.lowlevel.ParkingLot()
        self._in_ready = trio.lowlevel.ParkingLot()
        # The owner's task while it sleeps (None while it runs): a kick reschedules it directly.
        self._sleeping_owner: trio.lowlevel.Task | None = None
        self._abort_sleep = self._sleep_aborted  # one bound method, not one per sleep
        self._fd_fired = False  # the poller reported the fd since the owner last re-armed it
        self._watcher_lot = trio.lowlevel.ParkingLot()  # the fd watcher waits here for the owner
        self._running = False
        self._closed = False
        self._error: BaseException | None = None
        self._deliver: Callable[[list[bytes]], None] | None = None
        self._poller = poller

    @property
    def closed(self) -> bool:
        """Whether the pump has stopped (or `close()` was called); sends then raise TransportClosed."""
        return self._closed

    def _kick(self) -> None:
        # Wake the owner if it is asleep. If it is not asleep it is between two checkpoints of its
        # loop and will see the new state before it sleeps again.
        #
        # The owner sleeps in a bare wait_task_rescheduled, not a ParkingLot: an idle pump sleeps from
        # one heartbeat to the next, a second, so whatever one sleep allocates outlives the young GC
        # generations; park() made twice the objects (its coroutine, an abort closure with its cell and
        # tuple), and at a thousand links the collector tracing those survivors was a fifth of the
        # client's heartbeat CPU.
        task = self._sleeping_owner
        if task is not None:
            self._sleeping_owner = None
            trio.lowlevel.reschedule(task)

    def _on_fd(self) -> None:
        # The FdPoller saw the fd readable; its one-shot entry stays disarmed until the owner re-arms it.
        self._fd_fired = True
        self._kick()

    def _sleep_aborted(self, _: object) -> trio.lowlevel.Abort:
        self._sleeping_owner = None
        return trio.lowlevel.Abort.SUCCEEDED

    def close(self) -> None:
        """Stop the pump. Safe from any task; idempotent; not a checkpoint.

        The owner closes the socket as `run()` returns (or here, if `run()` never started). Frames still
        in the outbox are discarded; frames already in the inbox can still be received.
        """
        if self._closed:
            return
        self._closed = True
        self._kick()
        self._in_ready.unpark_all()
        self._out_space.unpark_all()
        if not self._running:
            self.socket.close()

    def _raise_closed(self) -> NoReturn:
        raise _closed_error(self._error, "ZeroMQ pump")

    def send_nowait(self, parts: Sequence[bytes]) -> None:
        """Queue one multipart message for sending without waiting.

        Args:
            parts: the frames.

        Raises:
            trio.WouldBlock: the outbox is full.
            TransportClosed: the pump has stopped.
        """
        if self._closed:
            self._raise_closed()
        if len(self._outbox) >= self._outbox_size:
            raise trio.WouldBlock
        self._outbox.append(parts)
        self._kick()

    async def send(self, parts: Sequence[bytes]) -> None:
        """Queue one multipart message for sending, waiting while the outbox is full.

        Returning means the message is queued, not that it left the machine: ZeroMQ gives no delivery
        report, and frames still queued when the pump stops are discarded. Liveness is the business of
        the heartbeat above.

        Args:
            parts: the frames (kept by reference until sent: do not mutate them).

        Raises:
            TransportClosed: the pump has stopped (before or while waiting).

        Cancellation: if cancelled, the message was not queued; otherwise it was.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        parked = False
        while True:
            if self._closed:
                self._raise_closed()
            if len(self._outbox) < self._outbox_size:
                break
            await self._out_space.park()
            parked = True
        self._outbox.append(parts)
        self._kick()
        if not parked:  # every call yields once, but one yield is enough
            await trio.lowlevel.cancel_shielded_checkpoint()

    def receive_nowait(self) -> list[bytes]:
        """Take one received multipart message without waiting.

        Returns:
            Its frames.

        Raises:
            trio.WouldBlock: nothing has arrived.
            TransportClosed: the pump has stopped and everything it received has been taken.
        """
        if not self._inbox:
            if self._closed:
                self._raise_closed()
            raise trio.WouldBlock
        if len(self._inbox) >= self._inbox_size:
            self._kick()  # the owner stopped reading because we were full
        return self._inbox.popleft()

    async def receive(self) -> list[bytes]:
        """Wait for and take one received multipart message.

        Returns:
            Its frames.

        Raises:
            TransportClosed: the pump has stopped and everything it received has been taken.

        Cancellation: if cancelled, no message was taken; a message taken is always returned.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._inbox:
            msg = self.receive_nowait()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return msg
        while not self._inbox:
            if self._closed:
                self._raise_closed()
            await self._in_ready.park()
        # park() was the checkpoint; no await between taking the message and returning it.
        return self.receive_nowait()

    async def deliver_to(self, handler: Callable[[list[bytes]], None]) -> NoReturn:
        """Have the owner hand every received message to `handler`, until the pump stops.

        Messages already in the inbox go first, then the owner calls `handler(parts)` for each message
        as it takes it from the socket. The handler runs in the owning task, synchronously: it must not
        block, must not touch the socket, and should not raise (an exception stops the pump and comes
        out of `run()`). After this, `receive()` gets nothing. Only one handler, once.

        Raises:
            TransportClosed: the pump has stopped.
            RuntimeError: a handler is already set.

        Cancellation: cancelling the wait removes the handler (later messages queue in the inbox
            again); no message is lost.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._deliver is not None:
            raise RuntimeError("ZmqPump.deliver_to() already has a handler")
        self._deliver = handler
        parked = False
        try:
            while self._inbox:
                handler(self._inbox.popleft())
            self._kick()  # the owner may have stopped reading at a full inbox
            while not self._closed:
                await self._in_ready.park()
                parked = True
        finally:
            self._deliver = None
        if not parked:
            await trio.lowlevel.cancel_shielded_checkpoint()
        self._raise_closed()

    def statistics(self) -> tuple[int, int]:
        """Return (frames waiting in the outbox, frames waiting in the inbox)."""
        return len(self._outbox), len(self._inbox)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the socket: send queued frames and receive incoming ones until closed or cancelled.

        Args:
            task_status: `started()` is called once the pump accepts work.

        Raises:
            TransportClosed: the socket failed (e.g. its context was terminated); waiting senders and
                receivers get the same error. A pump that is closed or cancelled returns (or raises
                Cancelled) and closes the socket.
            RuntimeError: `run()` was already started, or the pump was closed before it started.

        Cancellation: cancelling `run()` stops the pump and closes the socket; frames already in the
        inbox stay receivable; frames in the outbox are discarded.
        """
        if self._running or self._closed:
            raise RuntimeError("ZmqPump.run() can only be started once, on an open pump")
        self._running = True
        error: BaseException | None = None
        poller, fd = self._poller, self.socket.fd
        owner = trio.lowlevel.current_task()
        try:
            async with trio.open_nursery() as nursery:
                if poller is None:
                    nursery.start_soon(self._watch_fd)
                else:
                    poller.register(fd, self._on_fd)
                task_status.started()
                try:
                    while not self._closed:
                        busy = self._exchange()
                        # The owner has looked at the socket since the fd last fired: watch it again.
                        # (A poller entry that has not fired is still armed: a wake-up by a kick alone,
                        # such as every heartbeat's Ping, needs no epoll_ctl.)
                        if poller is None:
                            self._watcher_lot.unpark_all()
                        elif self._fd_fired:
                            self._fd_fired = False
                            if not poller.rearm(fd):
                                self._error = TransportClosed(
                                    "the FdPoller watching this socket stopped"
                                )
                                break
                        if busy:
                            await trio.lowlevel.checkpoint()
                        elif not self._closed:
                            # Inline, not a helper coroutine: one object fewer per sleep (see _kick).
                            self._sleeping_owner = owner
                            await trio.lowlevel.wait_task_rescheduled(self._abort_sleep)
                except zmq.ZMQError as exc:
                    error = exc
                finally:
                    if poller is not None:
                        poller.unregister(fd)  # before the socket (and so its fd) is closed
                    nursery.cancel_scope.cancel()
            if error is None:
                error = self._error  # the watcher's, if it failed
            if error is not None:
                self._error = error
                raise _closed_error(error, "ZeroMQ pump") from error
        finally:
            self._closed = True
            self.socket.close()
            self._in_ready.unpark_all()
            self._out_space.unpark_all()

    async def _watch_fd(self) -> None:
        # Waits on ZMQ_FD for the owner and makes no zmq call itself, so the owner stays the socket's
        # only user. Rescheduling the owner costs a third of cancelling its wait.
        try:
            while True:
                await trio.lowlevel.wait_readable(self.socket.fd)
                self._kick()
                await self._watcher_lot.park()  # until the owner has consumed the notification
        except (trio.ClosedResourceError, trio.BusyResourceError) as exc:
            self._error = exc  # someone closed the socket or waits on its fd behind our back
            self._closed = True
            self._kick()

    def _exchange(self) -> bool:
        """Move frames between the deques and the socket without blocking.

        Returns:
            True if there may be more to do right away (after yielding), False if the owner should sleep
            until the fd or a kick wakes it.
        """
        sock = self.socket.socket
        outbox, inbox = self._outbox, self._inbox
        sent = 0
        while outbox and sent < _BATCH:
            parts = outbox[0]
            try:
                if len(parts) == 1:  # what a DEALER sends: skip send_multipart's per-part checks
                    sock.send(parts[0], _NOBLOCK)
                else:
                    sock.send_multipart(parts, _NOBLOCK)
            except zmq.Again:
                break
            outbox.popleft()
            sent += 1
        if sent:
            self._out_space.unpark_all()
        # The calls above may have consumed the fd's notification: from here on ask EVENTS, which
        # also spares the exception an empty NOBLOCK receive raises.
        events = int(sock.getsockopt(_EVENTS))
        received = 0
        deliver = self._deliver
        while events & _POLLIN and len(inbox) < self._inbox_size and received < _BATCH:
            try:
                received_parts = _recv_parts(sock)
            except zmq.Again:  # pragma: no cover - EVENTS said there was one
                break
            received += 1
            if deliver is not None:
                deliver(received_parts)
                if self._closed:  # the handler closed the pump: stop touching the socket
                    return False
            else:
                inbox.append(received_parts)
            events = int(sock.getsockopt(_EVENTS))
        if received and deliver is None:
            self._in_ready.unpark_all()
        if sent == _BATCH or received == _BATCH:
            return True
        return bool(
            (outbox and events & _POLLOUT) or (len(inbox) < self._inbox_size and events & _POLLIN)
        )
