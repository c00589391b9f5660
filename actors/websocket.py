"""The WebSocket transport: one binary WebSocket message per protocol frame, over trio-websocket.

trio-websocket already gives a message-based, cancellation-atomic receive (`get_message` takes from a
memory channel). Two of its behaviours need care, and this module is where that care lives:

* `send_message` writes to the TCP stream directly. Cancelled half-way through a large message (the peer
  stopped reading), it leaves half a frame on the wire and the connection can only be dropped. So
  `WsTransport.send` only queues the message; one writer task, which nobody cancels while the link is
  up, writes the queue out. A cancelled `send` then means "not queued", as with the ZeroMQ transport.
* Close paths on rude disconnects have had bugs upstream (trio-websocket #74, #96, #134, #182). Every way
  the link can end (clean close, reset, EOF, a message over `max_message_size`, our own `aclose`) is
  turned into `TransportClosed` here, and the tests exercise each path.

Text messages are not stui frames: receiving one raises `RemoteProtocolError` (the link stays up).
trio-websocket has no keepalive of its own; liveness is the heartbeat's job above, as for ZeroMQ.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit

import trio
from stui.protocol import RemoteProtocolError
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    connect_websocket_url,
)

from .errors import MessageTooLarge, TransportClosed, TransportConnectError, UnsupportedAddress
from .exception_groups import collapse_single_group

__all__ = ["WsTransport", "open_ws_transport"]


async def receive_loop(
    transport: Any, handler: Callable[[bytes | RemoteProtocolError], None]
) -> NoReturn:
    """Call `transport.receive()` forever and hand each message (or its `RemoteProtocolError`) to
    `handler`: `receive_into` for transports whose frames arrive in the caller's task anyway.

    Raises:
        TransportClosed: from `receive()`, when the link is gone.

    Cancellation: safe: a message `receive()` returned reaches `handler` before the next checkpoint.
    """
    while True:
        try:
            data = await transport.receive()
        except RemoteProtocolError as exc:
            handler(exc)
            continue
        handler(data)


def _describe(exc: ConnectionClosed) -> str:
    reason = exc.reason
    text = f"WebSocket closed: code {reason.code} ({reason.name})"
    return f"{text}: {reason.reason}" if reason.reason else text


class WsTransport:
    """A WebSocket client link. Made by `open_ws_transport` (or `open_transport` with ws:// / wss://).

    Any number of tasks may call `send` and `receive` concurrently; sends go out in the order they were
    queued, received messages are handed out in arrival order.

    Attributes:
        address: the URL connected to.
        max_message_size: the largest message sent or accepted, in bytes.
    """

    def __init__(
        self,
        ws: WebSocketConnection,
        *,
        address: str,
        max_message_size: int,
        outbox_size: int = 64,
        disconnect_timeout: float = 2.0,
    ) -> None:
        self._ws = ws
        self.address = address
        self.max_message_size = max_message_size
        self._disconnect_timeout = disconnect_timeout
        self._out_send, self._out_recv = trio.open_memory_channel[bytes](outbox_size)
        self._closed = False
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<WsTransport {self.address} {'closed' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """Whether the link is gone (closed by either side, or broken)."""
        return self._closed or self._ws.closed is not None or self._error is not None

    def _closed_error(self) -> TransportClosed:
        if self._error is not None:
            err = self._error
            if isinstance(err, ConnectionClosed):
                return TransportClosed(_describe(err))
            return TransportClosed(f"WebSocket writer failed: {err!r}")
        if self._ws.closed is not None and not self._closed:
            reason = self._ws.closed
            return TransportClosed(f"WebSocket closed: code {reason.code} ({reason.name})")
        return TransportClosed("WebSocket transport is closed")

    async def send(self, data: bytes) -> None:
        """Queue one binary message for sending.

        Returning means queued for the writer task, not delivered; a message queued when the link
        drops is lost with it.

        Args:
            data: the message.

        Raises:
            MessageTooLarge: `data` is over `max_message_size` (nothing was queued).
            TransportClosed: the link is gone.

        Cancellation: if cancelled, the message was not queued; otherwise it was.
        """
        MessageTooLarge.check(data, self.max_message_size)
        if self.closed:
            await trio.lowlevel.checkpoint()
            raise self._closed_error()
        try:
            await self._out_send.send(bytes(data))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self._closed_error() from self._error

    def send_nowait(self, data: bytes) -> None:
        """Queue one binary message for sending without waiting (the actor's fast path: no yield).

        Args:
            data: the message.

        Raises:
            trio.WouldBlock: the outbox is full (nothing was queued; use `send`).
            MessageTooLarge: `data` is over `max_message_size`.
            TransportClosed: the link is gone.
        """
        MessageTooLarge.check(data, self.max_message_size)
        if self.closed:
            raise self._closed_error()
        try:
            self._out_send.send_nowait(bytes(data))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self._closed_error() from self._error

    async def receive_into(
        self, handler: Callable[[bytes | RemoteProtocolError], None]
    ) -> NoReturn:
        """Hand every incoming message to `handler` until the link closes (see `receive_loop`).

        Raises:
            TransportClosed: the link is gone.

        Cancellation: safe; no message is lost between `receive` and `handler`.
        """
        await receive_loop(self, handler)

    async def receive(self) -> bytes:
        """Wait for the next binary message.

        Returns:
            The message.

        Raises:
            TransportClosed: the link is gone (clean close, reset, message too big, or `aclose`).
            RemoteProtocolError: the peer sent a text message (the link stays up).

        Cancellation: if cancelled, no message was taken.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise self._closed_error()
        try:
            message = await self._ws.get_message()
        except ConnectionClosed as exc:
            raise TransportClosed(_describe(exc)) from exc
        if isinstance(message, str):
            raise RemoteProtocolError("received a text WebSocket message; stui frames are binary")
        return message

    async def aclose(self) -> None:
        """Close the link (WebSocket close handshake, bounded by the disconnect timeout). Idempotent.

        Cancellation: the transport is closed even if cancelled; only the close handshake is cut short.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        self._out_send.close()
        with trio.move_on_after(self._disconnect_timeout):
            await self._ws.aclose()

    async def _write_loop(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # The only task that writes to the WebSocket. It is never cancelled while the link is up, so
        # it never leaves half a message on the wire; it ends when the outbox closes or the link dies.
        task_status.started()
        async with self._out_recv:
            try:
                async for data in self._out_recv:
                    await self._ws.send_message(data)
            except Exception as exc:
                # ConnectionClosed, or anything unexpected: either way the link is unusable.
                self._error = exc


@asynccontextmanager
async def open_ws_transport(
    url: str,
    *,
    max_message_size: int,
    connect_timeout: float | None = 5.0,
    disconnect_timeout: float = 2.0,
    ssl_context: ssl.SSLContext | None = None,
    message_queue_size: int = 64,
    outbox_size: int = 64,
) -> AsyncIterator[WsTransport]:
    """Connect to a WebSocket URL and yield a `WsTransport`; close it on exit.

    Built on `connect_websocket_url` with our own nursery rather than `open_websocket_url`: the latter
    (0.12.2) hangs past its connect timeout when a server accepts TCP and never answers the opening
    handshake, because its nursery waits for the reader task it started.

    Args:
        url: a ws:// or wss:// URL.
        max_message_size: the largest message sent or accepted; a bigger incoming message makes
            trio-websocket close the link with code 1009.
        connect_timeout: seconds for TCP connect plus the opening handshake; None waits forever.
        disconnect_timeout: seconds allowed for the closing handshake.
        ssl_context: for wss://; None uses the default context.
        message_queue_size: received messages trio-websocket buffers before it stops reading.
        outbox_size: messages `send` queues before it waits.

    Yields:
        The open transport.

    Raises:
        TransportConnectError: refused, unreachable, rejected by the server, or timed out.
        UnsupportedAddress: the URL is malformed.

    Cancellation: cancelling the connect attempt leaves nothing open. On exit the link is closed,
    whatever ended the body; the body's exceptions come out as themselves, not in a group.
    """
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("expected ws://host[:port]/path or wss://...")
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UnsupportedAddress(f"malformed WebSocket URL {url!r}: {exc}") from exc
    failure: BaseException | None = None
    with collapse_single_group():
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(math.inf if connect_timeout is None else connect_timeout):
                    ws = await connect_websocket_url(
                        nursery,
                        url,
                        ssl_context,
                        max_message_size=max_message_size,
                        message_queue_size=message_queue_size,
                    )
            except (OSError, HandshakeError, ConnectionClosed, trio.TooSlowError) as exc:
                failure = exc
                nursery.cancel_scope.cancel()
            else:
                transport = WsTransport(
                    ws,
                    address=url,
                    max_message_size=max_message_size,
                    outbox_size=outbox_size,
                    disconnect_timeout=disconnect_timeout,
                )
                await nursery.start(transport._write_loop)
                try:
                    yield transport
                finally:
                    with trio.CancelScope(shield=True):
                        await transport.aclose()
                    nursery.cancel_scope.cancel()
    if failure is not None:
        if isinstance(failure, trio.TooSlowError):
            raise TransportConnectError(
                f"no WebSocket connection to {url} within {connect_timeout} s"
            )
        detail = failure.__cause__ if failure.__cause__ is not None else failure
        raise TransportConnectError(f"cannot connect to {url}: {detail!r}") from failure
