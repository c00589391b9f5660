"""`serve_image`: run one reference image on a ZeroMQ ROUTER and/or a WebSocket endpoint.

The server is the transports and the life cycle; what a request means is `stui.image.dispatcher`'s job.

ZeroMQ: one ROUTER socket, owned by a `RouterLoop` task (stui.image.router), the only code that ever
calls into the socket (NOTES.md). It hands each `[identity, payload]` message to the dispatcher
synchronously and sends the answers in the same scheduling round, so a Ping never waits for a hand-off
between tasks; replies that finish later are queued with `send_nowait`.

WebSocket: trio-websocket's `serve_websocket` on `ws://host:port/path`; other paths are rejected with
404; one client per connection; binary messages are frames, text messages are dropped and counted. Each
connection has a reader (the handler task) and a writer task fed by a bounded queue.

Life cycle. `serve_image` binds everything, writes the connection file, then reports the *actual*
addresses through `task_status.started(ImageServerInfo(...))` and serves until cancelled. The serving
machinery runs under a shielded cancel scope, so when `serve_image` is cancelled the clients can still be
told: it queues `ImageShutdown` to every client that said Hello, lets the transports flush for at most
`config.shutdown_grace` seconds, then cancels the machinery and removes the connection file. It never
calls `trio.run` and installs no signal handlers (the CLI does that), so a process can run hundreds of
images, optionally sharing one ZeroMQ context (`zmq_context=`).
"""

from __future__ import annotations

import functools
import itertools
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import trio
import trio_websocket
import zmq

from stui import paths
from stui.actors.exception_groups import single_leaf
from stui.actors.zmq_trio import ZmqSocket, new_context
from stui.image.client_state import ClientConnection
from stui.image.config import ImageServerConfig, ImageServerInfo
from stui.image.connection_file import (
    load_or_create_image_id,
    remove_connection_file,
    write_connection_file,
)
from stui.image.dispatcher import RequestDispatcher
from stui.image.router import RouterLoop

__all__ = ["serve_image"]

# Frames queued towards one WebSocket client before further ones are dropped (and counted).
_WS_OUTBOX = 1024
# Frames queued towards all ZeroMQ clients before further ones are dropped (and counted).
_ZMQ_OUTBOX = 10_000


async def serve_image(
    config: ImageServerConfig,
    *,
    zmq_context: zmq.Context | None = None,
    task_status: trio.TaskStatus[ImageServerInfo] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve one image until cancelled.

    Args:
        config: what to serve and the limits.
        zmq_context: a ZeroMQ context to create the ROUTER in (share one across many images); by default
            the image makes its own (`stui.actors.zmq_trio.new_context()`) and destroys it at the end.
        task_status: receives the `ImageServerInfo` (actual bound addresses, ids, connection file) once
            the image accepts connections.

    Raises:
        zmq.ZMQError: the ZeroMQ address cannot be bound.
        OSError: the WebSocket address cannot be bound, or the connection file cannot be written.
        Both surface from `nursery.start(serve_image, ...)`, before the image is reported started.

    Cancellation: cancelling is the way to stop the image. Clients that said Hello get `ImageShutdown`
    (bounded by `config.shutdown_grace`), then every request is stopped, the sockets are closed and the
    connection file is removed, before this returns (raising Cancelled).
    """
    server = _ImageServer(config, zmq_context)
    await server.serve(task_status)


class _ImageServer:
    def __init__(self, config: ImageServerConfig, zmq_context: zmq.Context | None) -> None:
        self.config = config
        self.image_id = (
            load_or_create_image_id(config.state_dir)
            if config.state_dir is not None
            else secrets.token_hex(16)
        )
        self.instance_id = secrets.token_hex(16)
        self._given_context = zmq_context
        self._own_context: zmq.Context | None = None
        self._router: RouterLoop | None = None
        self._dispatcher: RequestDispatcher | None = None
        self._connection_file: Path | None = None
        self._ws_numbers = itertools.count(1)
        self._ws_outboxes: dict[int, tuple[trio.MemorySendChannel[bytes], trio.Event]] = {}
        self._closing = False
        self._started = False

    async def serve(self, task_status: trio.TaskStatus[ImageServerInfo]) -> None:
        machinery = trio.CancelScope(shield=True)
        try:
            try:
                await self._serve_in(machinery, task_status)
            except BaseExceptionGroup as group:
                # A start that failed (address in use, unwritable directory) surfaces as the plain
                # error, not wrapped in our nurseries' groups, so callers can catch OSError.
                leaf = single_leaf(group)
                if (
                    isinstance(leaf, Exception)
                    and not isinstance(leaf, ExceptionGroup)
                    and not self._started
                ):
                    raise leaf from None
                raise
        finally:
            remove_connection_file(self._connection_file)
            if self._own_context is not None:
                self._own_context.destroy(linger=0)

    async def _serve_in(
        self, machinery: trio.CancelScope, task_status: trio.TaskStatus[ImageServerInfo]
    ) -> None:
        async with trio.open_nursery() as outer:
            try:
                info = await outer.start(self._run_machinery, machinery)
                self._started = True
                task_status.started(info)
                await trio.sleep_forever()
            finally:
                if self._started:
                    with (
                        trio.CancelScope(shield=True),
                        trio.move_on_after(self.config.shutdown_grace),
                    ):
                        await self._tell_clients_goodbye()
                machinery.cancel()

    async def _run_machinery(
        self, machinery: trio.CancelScope, task_status: trio.TaskStatus[ImageServerInfo]
    ) -> None:
        with machinery:
            async with trio.open_nursery() as nursery:
                dispatcher = RequestDispatcher(
                    self.config,
                    image_id=self.image_id,
                    instance_id=self.instance_id,
                    nursery=nursery,
                )
                self._dispatcher = dispatcher
                zmq_address = ws_address = None
                if self.config.zmq_address is not None:
                    zmq_address = await self._start_zmq(nursery, self.config.zmq_address)
                if self.config.ws_address is not None:
                    ws_address = await self._start_ws(nursery, self.config.ws_address)
                dispatcher.transports = tuple(
                    t for t, a in (("zmq", zmq_address), ("ws", ws_address)) if a is not None
                )
                if self.config.write_connection_file:
                    self._connection_file = write_connection_file(
                        self.config.connection_dir or paths.runtime_dir(),
                        image_name=self.config.name,
                        image_id=self.image_id,
                        instance_id=self.instance_id,
                        zmq_address=zmq_address,
                        ws_address=ws_address,
                        key=self.config.key,
                    )
                nursery.start_soon(dispatcher.sweep_forever)
                task_status.started(
                    ImageServerInfo(
                        name=self.config.name,
                        image_id=self.image_id,
                        instance_id=self.instance_id,
                        zmq_address=zmq_address,
                        ws_address=ws_address,
                        connection_file=self._connection_file,
                    )
                )

    async def _tell_clients_goodbye(self) -> None:
        """Queue ImageShutdown to every client and wait until the transports have sent it."""
        if self._dispatcher is None:
            return
        self._closing = True
        self._dispatcher.broadcast_shutdown("image stopping")
        waiting = []
        for outbox, done in self._ws_outboxes.values():
            outbox.close()  # the writer sends what is queued, then closes the WebSocket politely
            waiting.append(done)
        for done in waiting:
            await done.wait()
        while self._router is not None and not self._router.closed and self._router.pending:
            await trio.sleep(0.001)
        await trio.sleep(0.01)  # let libzmq's I/O thread put the last frames on the wire

    # ----------------------------------------------------------------------------------------------
    # ZeroMQ

    async def _start_zmq(self, nursery: trio.Nursery, address: str) -> str:
        context = self._given_context
        if context is None:
            context = self._own_context = new_context()
        raw = context.socket(zmq.ROUTER)
        try:
            socket = ZmqSocket(raw, max_message_size=self.config.max_frame_size)
            raw.bind(address)
            bound = raw.getsockopt_string(zmq.LAST_ENDPOINT)
        except BaseException:
            raw.close(linger=0)
            raise
        assert self._dispatcher is not None
        router = RouterLoop(
            socket,
            self._zmq_message,
            outbox_size=_ZMQ_OUTBOX,
            on_round=self._dispatcher.new_round,
        )
        self._router = router
        await nursery.start(router.run)
        return bound

    def _zmq_message(self, parts: list[bytes]) -> None:
        dispatcher, router = self._dispatcher, self._router
        assert dispatcher is not None and router is not None
        if len(parts) != 2:  # not [identity, payload]: not from a DEALER speaking our protocol
            dispatcher.stats.frames_received += 1
            dispatcher.stats.frames_dropped += 1
            return
        identity, data = parts
        key = ("zmq", identity)
        conn = dispatcher.connections.get(key)  # known peers need no deliver callable built
        if conn is None:
            conn = dispatcher.connection_for(key, functools.partial(_zmq_deliver, router, identity))
        dispatcher.handle_frame(conn, data)

    # ----------------------------------------------------------------------------------------------
    # WebSocket

    async def _start_ws(self, nursery: trio.Nursery, address: str) -> str:
        url = urlsplit(address)
        host = url.hostname or "127.0.0.1"
        path = url.path or "/"
        handler = functools.partial(self._ws_handler, path)
        server = await nursery.start(
            functools.partial(
                trio_websocket.serve_websocket,
                handler,
                host,
                url.port or 0,
                None,
                handler_nursery=nursery,
                message_queue_size=4,
                max_message_size=self.config.max_frame_size,
                connect_timeout=10,
                disconnect_timeout=max(self.config.shutdown_grace, 0.1),
            )
        )
        shown_host = f"[{host}]" if ":" in host else host
        return f"ws://{shown_host}:{server.port}{path}"

    async def _ws_handler(self, path: str, request: trio_websocket.WebSocketRequest) -> None:
        dispatcher = self._dispatcher
        assert dispatcher is not None
        if urlsplit(request.path).path != path:
            await request.reject(404, body=b"stui images listen on " + path.encode())
            return
        try:
            ws = await request.accept()
        except trio_websocket.ConnectionClosed:
            return
        number = next(self._ws_numbers)
        channel, queued = trio.open_memory_channel[bytes](_WS_OUTBOX)
        outbox = _WsOutbox(channel)
        writer_done = trio.Event()
        conn = ClientConnection(key=("ws", number), deliver=outbox.deliver)
        self._ws_outboxes[number] = (channel, writer_done)
        try:
            async with trio.open_nursery() as tasks:
                tasks.start_soon(_ws_writer, ws, queued, writer_done)
                try:
                    while True:
                        message = await ws.get_message()
                        if isinstance(message, str):  # protocol.md §2: binary only; close
                            dispatcher.stats.frames_received += 1
                            dispatcher.stats.frames_dropped += 1
                            await ws.aclose(code=1003, reason="stui frames are binary messages")
                            break
                        # Answers produced right away (Pong, Welcome, session bookkeeping) are
                        # sent from here, saving the hand-off to the writer task; what requests
                        # running in tasks produce goes through the writer, in order.
                        outbox.inline = []
                        dispatcher.new_round()  # get_message was a checkpoint
                        dispatcher.handle_frame(conn, message)
                        answers, outbox.inline = outbox.inline, None
                        for data in answers:
                            await ws.send_message(data)
                except trio_websocket.ConnectionClosed:
                    pass
                # The peer is gone: stop writing. (When we are saying goodbye, the writer is the one
                # that closed the WebSocket and has finished already.)
                if not self._closing:
                    tasks.cancel_scope.cancel()
        finally:
            self._ws_outboxes.pop(number, None)
            channel.close()
            dispatcher.connection_lost(conn)
            writer_done.set()


def _zmq_deliver(router: RouterLoop, identity: bytes, data: bytes) -> bool:
    return router.send_nowait([identity, data])


class _WsOutbox:
    """Where a WebSocket connection's outgoing frames go: a list while its own handler is answering
    a frame (the handler sends those itself), else the writer task's queue."""

    __slots__ = ("channel", "inline")

    def __init__(self, channel: trio.MemorySendChannel[bytes]) -> None:
        self.channel = channel
        self.inline: list[bytes] | None = None

    def deliver(self, data: bytes) -> bool:
        if self.inline is not None:
            self.inline.append(data)
            return True
        try:
            self.channel.send_nowait(data)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True


async def _ws_writer(
    ws: trio_websocket.WebSocketConnection,
    queued: trio.MemoryReceiveChannel[bytes],
    done: trio.Event,
) -> None:
    """Send queued frames in order; when the queue is closed (shutdown), close the WebSocket."""
    try:
        async with queued:
            async for data in queued:
                await ws.send_message(data)
        await ws.aclose()
    except trio_websocket.ConnectionClosed:
        pass
    finally:
        done.set()
