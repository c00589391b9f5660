"""Transports: how an image actor moves frames (bytes) to and from one image.

`Transport = ZmqTransport | WsTransport | MemoryTransport` is a closed union of concrete classes with the
same three calls: `send(bytes)`, `receive() -> bytes` and an idempotent `aclose()`. Every way a link can
end surfaces as `TransportClosed` (`TransportConnectError` when it never came up), so the actor has one
thing to catch to fail its pending requests. `open_transport(address)` picks the class with a `match` on
the address scheme; there is no ABC and no registry.

ZeroMQ choices for the client DEALER socket (the actor's link to one image), and why:

* A DEALER `connect` never fails: libzmq connects, and reconnects after a drop, in the background. So
  `open_transport` waits up to `connect_timeout` for the connection to be *established* (see IMMEDIATE)
  and raises `TransportConnectError` otherwise; after that a dead or frozen peer is invisible to this
  layer, and liveness is the heartbeat's job above.
* `IMMEDIATE=1`: frames are only queued to a completed connection. Without it libzmq queues frames for
  a peer that is away and delivers them after a reconnect, possibly to a restarted image, and the
  actor has already failed the requests they carry: stale requests after reconnect would be wrong.
  With it, frames queued in libzmq's pipe when the connection drops are discarded with the pipe (so
  a frame sent just as the link drops may be lost), and a frame sent once libzmq has noticed the drop
  waits in the pump's outbox (bounded; `send` then waits) and goes out after libzmq's reconnect. IMMEDIATE
  also makes "writable" mean "connected", which is what the connect wait above uses.
* A fresh socket per (re)connection: the actor re-enters `open_transport` after declaring a link lost,
  so nothing queued for the old link (in libzmq or the outbox) can reach a new one. libzmq's own
  reconnects (`RECONNECT_IVL` 100 ms, backing off to `RECONNECT_IVL_MAX` 2 s) only cover short blips
  inside one transport's life; an outage longer than the heartbeat's patience is the actor's to handle.
* `SNDHWM`/`RCVHWM` 1000 frames (libzmq's default, stated explicitly) plus the pump's 1000-frame
  outbox and inbox: enough for many requests in flight, bounded so a stuck peer creates backpressure
  instead of unbounded memory. `LINGER=0` and `MAXMSGSIZE` come from `ZmqSocket`.
* `inproc://` ignores IMMEDIATE (libzmq attaches the pipe at connect, even before the bind), so it
  is "connected" at once and frames wait for the binder.
* Several transports should share one context (`zmq_context=`): each context starts an I/O thread.
  Without one, the transport makes and terminates its own; `inproc://` needs the binder's context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import NoReturn

import trio
import zmq
from stui.protocol import RemoteProtocolError

from .errors import MessageTooLarge, TransportClosed, TransportConnectError, UnsupportedAddress
from .exception_groups import collapse_single_group
from .fd_limits import descriptors_exhausted, fd_exhaustion_hint
from .websocket import WsTransport, open_ws_transport, receive_loop
from .zmq_trio import DEFAULT_MAX_MESSAGE_SIZE, FdPoller, ZmqPump, ZmqSocket, new_context

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MemoryTransport",
    "Transport",
    "WsTransport",
    "ZmqTransport",
    "memory_transport_pair",
    "open_transport",
]

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2000
HWM = 1000


def _multipart_error(parts: list[bytes]) -> RemoteProtocolError:
    return RemoteProtocolError(f"expected a 1-part ZeroMQ message, got {len(parts)} parts")


class ZmqTransport:
    """A ZeroMQ DEALER link to one image, run by a `ZmqPump` in a task `open_transport` owns.

    Any number of tasks may call `send` and `receive` concurrently; none of them touches the socket.

    Attributes:
        address: the endpoint connected to.
        max_message_size: the largest frame sent or accepted, in bytes.
    """

    def __init__(self, pump: ZmqPump, *, address: str, max_message_size: int) -> None:
        self._pump = pump
        self.address = address
        self.max_message_size = max_message_size
        self._closed = False

    def __repr__(self) -> str:
        return f"<ZmqTransport {self.address} {'closed' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """Whether the transport was closed (or its socket failed)."""
        return self._closed or self._pump.closed

    async def send(self, data: bytes) -> None:
        """Queue one frame for the image.

        Returning means queued, not delivered: ZeroMQ reports nothing, and a frame queued while the peer
        is away waits for the reconnect (see the module docstring). Waits while the outbox is full.

        Args:
            data: the frame.

        Raises:
            MessageTooLarge: `data` is over `max_message_size` (nothing was queued).
            TransportClosed: the transport is closed.

        Cancellation: if cancelled, the frame was not queued; otherwise it was.
        """
        MessageTooLarge.check(data, self.max_message_size)
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise TransportClosed(f"transport to {self.address} is closed")
        await self._pump.send((data,))

    def send_nowait(self, data: bytes) -> None:
        """Queue one frame for the image without waiting (no yield: the caller is about to wait for
        the reply anyway, and a yield here is one more scheduler round per request).

        Args:
            data: the frame.

        Raises:
            trio.WouldBlock: the outbox is full (nothing was queued; use `send`).
            MessageTooLarge: `data` is over `max_message_size`.
            TransportClosed: the transport is closed.
        """
        MessageTooLarge.check(data, self.max_message_size)
        if self._closed:
            raise TransportClosed(f"transport to {self.address} is closed")
        self._pump.send_nowait((data,))

    async def receive_into(
        self, handler: Callable[[bytes | RemoteProtocolError], None]
    ) -> NoReturn:
        """Hand every frame from the image to `handler` until the link closes, instead of `receive`.

        The handler is called synchronously by the task that owns the socket, as each frame comes out
        of it (`ZmqPump.deliver_to`): no task switch between the socket and the handler. A multipart
        message reaches it as a `RemoteProtocolError`. The handler must not block or raise (an
        exception ends the link and comes out of `open_transport`). Call it from one task, once.

        Raises:
            TransportClosed: the link is gone.

        Cancellation: safe; frames that arrive afterwards wait for `receive` again.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise TransportClosed(f"transport to {self.address} is closed")

        def on_message(parts: list[bytes]) -> None:
            if len(parts) == 1:
                handler(parts[0])
            else:
                handler(_multipart_error(parts))

        await self._pump.deliver_to(on_message)

    async def receive(self) -> bytes:
        """Wait for the next frame from the image.

        Returns:
            The frame.

        Raises:
            TransportClosed: the transport is closed.
            RemoteProtocolError: the peer sent a multipart message (stui frames are single-part); the
                link stays usable.

        Cancellation: if cancelled, no frame was taken; a frame taken is always returned.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise TransportClosed(f"transport to {self.address} is closed")
        parts = await self._pump.receive()
        if len(parts) != 1:
            raise _multipart_error(parts)
        return parts[0]

    def _close(self) -> None:
        self._closed = True
        self._pump.close()

    async def aclose(self) -> None:
        """Close the transport; the owning task closes the socket (unsent frames are dropped). Idempotent.

        Cancellation: the transport is closed even if cancelled.
        """
        self._close()
        await trio.lowlevel.checkpoint()


class MemoryTransport:
    """One end of an in-process link made by `memory_transport_pair()`, for tests.

    Behaves like the real transports as the actor sees them, with no sockets and no real time, so tests
    can run under `autojump_clock`. Closing one end is an orderly close: the other end still receives
    what was already sent, then `TransportClosed`; sending to a closed end raises `TransportClosed`.

    Attributes:
        max_message_size: the largest message `send` accepts.
    """

    def __init__(
        self,
        send_channel: trio.MemorySendChannel[bytes],
        receive_channel: trio.MemoryReceiveChannel[bytes],
        *,
        max_message_size: int,
    ) -> None:
        self._send_channel = send_channel
        self._receive_channel = receive_channel
        self.max_message_size = max_message_size
        self.address = "memory://"
        self._closed = False

    def __repr__(self) -> str:
        return f"<MemoryTransport {'closed' if self._closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """Whether this end was closed."""
        return self._closed

    async def send(self, data: bytes) -> None:
        """Send one message to the other end, waiting while its buffer is full.

        Args:
            data: the message.

        Raises:
            MessageTooLarge: `data` is over `max_message_size`.
            TransportClosed: either end is closed.

        Cancellation: if cancelled, the message was not sent.
        """
        MessageTooLarge.check(data, self.max_message_size)
        try:
            await self._send_channel.send(bytes(data))
        except trio.ClosedResourceError:
            raise TransportClosed("memory transport is closed") from None
        except trio.BrokenResourceError:
            raise TransportClosed("the other end of the memory transport is closed") from None

    def send_nowait(self, data: bytes) -> None:
        """Send one message to the other end without waiting.

        Raises:
            trio.WouldBlock: the other end's buffer is full.
            MessageTooLarge: `data` is over `max_message_size`.
            TransportClosed: either end is closed.
        """
        MessageTooLarge.check(data, self.max_message_size)
        try:
            self._send_channel.send_nowait(bytes(data))
        except trio.ClosedResourceError:
            raise TransportClosed("memory transport is closed") from None
        except trio.BrokenResourceError:
            raise TransportClosed("the other end of the memory transport is closed") from None

    async def receive_into(
        self, handler: Callable[[bytes | RemoteProtocolError], None]
    ) -> NoReturn:
        """Hand every message to `handler` until the link closes (see `websocket.receive_loop`).

        Raises:
            TransportClosed: this end is closed, or the other end is and everything was received.

        Cancellation: safe; no message is lost.
        """
        await receive_loop(self, handler)

    async def receive(self) -> bytes:
        """Wait for the next message from the other end.

        Returns:
            The message.

        Raises:
            TransportClosed: this end is closed, or the other end is closed and everything it sent
                has been received.

        Cancellation: if cancelled, no message was taken.
        """
        try:
            return await self._receive_channel.receive()
        except trio.ClosedResourceError:
            raise TransportClosed("memory transport is closed") from None
        except trio.EndOfChannel:
            raise TransportClosed("the other end of the memory transport is closed") from None

    async def aclose(self) -> None:
        """Close this end. Idempotent.

        Cancellation: closed even if cancelled.
        """
        self._closed = True
        self._send_channel.close()
        self._receive_channel.close()
        await trio.lowlevel.checkpoint()


Transport = ZmqTransport | WsTransport | MemoryTransport


def memory_transport_pair(
    *, max_buffer_size: int | float = 64, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> tuple[MemoryTransport, MemoryTransport]:
    """Make two connected `MemoryTransport`s: what one sends, the other receives.

    Args:
        max_buffer_size: messages buffered in each direction before `send` waits (may be math.inf).
        max_message_size: the largest message either end accepts to send.

    Returns:
        The two ends, e.g. (client, image).
    """
    a_send, b_receive = trio.open_memory_channel[bytes](max_buffer_size)
    b_send, a_receive = trio.open_memory_channel[bytes](max_buffer_size)
    return (
        MemoryTransport(a_send, a_receive, max_message_size=max_message_size),
        MemoryTransport(b_send, b_receive, max_message_size=max_message_size),
    )


def _with_hint(message: str, hint: str) -> str:
    return f"{message}: {hint}" if hint else message


async def _run_pump(pump: ZmqPump, *, task_status: trio.TaskStatus[None]) -> None:
    # A socket failure (context terminated) is stored in the pump and raised by every later send and
    # receive as TransportClosed; it must not also crash the caller's `async with` body.
    try:
        await pump.run(task_status=task_status)
    except TransportClosed:
        pass


@asynccontextmanager
async def _open_zmq(
    address: str,
    *,
    max_message_size: int,
    zmq_context: zmq.Context | None,
    connect_timeout: float | None,
    zmq_poller: FdPoller | None = None,
) -> AsyncIterator[ZmqTransport]:
    ctx = new_context() if zmq_context is None else zmq_context
    try:
        try:
            zsock = ZmqSocket(ctx.socket(zmq.DEALER), max_message_size=max_message_size)
        except zmq.ZMQError as exc:  # too many sockets, fd limit, terminated context
            raise TransportConnectError(
                _with_hint(f"cannot create a ZeroMQ socket: {exc}", fd_exhaustion_hint())
            ) from exc
        try:
            sock = zsock.socket
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
            sock.setsockopt(zmq.SNDHWM, HWM)
            sock.setsockopt(zmq.RCVHWM, HWM)
            if not address.startswith("inproc://") and descriptors_exhausted():
                # libzmq would retry opening the connection's socket silently until the timeout.
                # Probed before connect(): after it, libzmq's I/O thread may already hold the last
                # descriptor for this very connection, and the probe would refuse a working link.
                raise TransportConnectError(
                    _with_hint(
                        f"cannot connect to {address}: no file descriptor left for the connection",
                        fd_exhaustion_hint(),
                    )
                )
            try:
                sock.connect(address)
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EPROTONOSUPPORT:
                    raise UnsupportedAddress(
                        f"ZeroMQ cannot connect to {address!r}: {exc}"
                    ) from exc
                raise TransportConnectError(f"cannot connect to {address!r}: {exc}") from exc
            if connect_timeout is not None:
                # With IMMEDIATE=1 a DEALER is writable only once a connection is established.
                with trio.move_on_after(connect_timeout):
                    await zsock.wait_for(zmq.POLLOUT)
                if not zsock.socket.getsockopt(zmq.EVENTS) & zmq.POLLOUT:
                    raise TransportConnectError(
                        _with_hint(
                            f"no connection to {address} within {connect_timeout} s",
                            fd_exhaustion_hint(),
                        )
                    )
            pump = ZmqPump(zsock, outbox_size=HWM, inbox_size=HWM, poller=zmq_poller)
        except BaseException:
            zsock.close()
            raise
        transport = ZmqTransport(pump, address=address, max_message_size=max_message_size)
        with collapse_single_group():
            async with trio.open_nursery() as nursery:
                await nursery.start(_run_pump, pump)
                try:
                    yield transport
                finally:
                    transport._close()  # the pump's task closes the socket as it ends
    finally:
        if zmq_context is None:
            ctx.term()


@asynccontextmanager
async def open_transport(
    address: str,
    *,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    zmq_context: zmq.Context | None = None,
    connect_timeout: float | None = 5.0,
    zmq_poller: FdPoller | None = None,
) -> AsyncIterator[Transport]:
    """Open a link to an image, chosen by the address scheme, and close it on exit.

    `tcp://`, `ipc://`, `inproc://` give a `ZmqTransport` (DEALER, connecting); `ws://`, `wss://` give a
    `WsTransport`. See the module docstring for the ZeroMQ socket options and what "connected" means.

    Args:
        address: e.g. "tcp://127.0.0.1:5555", "ipc:///run/user/1000/stui/alpha", "ws://host:8765/".
        max_message_size: the largest frame sent or accepted (ZeroMQ MAXMSGSIZE, WebSocket
            max_message_size); sending more raises `MessageTooLarge`.
        zmq_context: the ZeroMQ context to use (share one across transports: each context has an I/O
            thread; `inproc://` requires the binder's). None makes a private one, terminated on exit.
        connect_timeout: seconds to wait for the connection (ZeroMQ: until established; WebSocket: TCP
            plus handshake). None: ZeroMQ does not wait at all, WebSocket waits forever.
        zmq_poller: a running `FdPoller` (shared by many transports) to watch the ZeroMQ socket,
            instead of a watcher task per transport; ignored for WebSocket.

    Yields:
        The transport, ready for `send` and `receive`.

    Raises:
        UnsupportedAddress: no transport speaks the scheme, or the address is malformed.
        TransportConnectError: the link could not be established in time.

    Cancellation: cancelling while connecting leaves nothing open. On exit the link is closed and any
    helper task ended, whatever ended the body; exceptions from the body come out as themselves, not
    wrapped in an exception group.
    """
    scheme, sep, _ = address.partition("://")
    match scheme.lower() if sep else "":
        case "tcp" | "ipc" | "inproc":
            async with _open_zmq(
                address,
                max_message_size=max_message_size,
                zmq_context=zmq_context,
                connect_timeout=connect_timeout,
                zmq_poller=zmq_poller,
            ) as zmq_transport:
                yield zmq_transport
        case "ws" | "wss":
            async with open_ws_transport(
                address,
                max_message_size=max_message_size,
                connect_timeout=connect_timeout,
            ) as ws_transport:
                yield ws_transport
        case _:
            raise UnsupportedAddress(
                f"unsupported address {address!r}: expected tcp://, ipc://, inproc://, ws:// or wss://"
            )
