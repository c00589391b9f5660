"""ImageActor: one trio actor per Smalltalk image, the sole owner of that image's link.

Theory of operation. `ImageActor.serve()` loops over *connections*. Each connection is:

    open transport → Hello/Welcome handshake → reader task → re-attach (or create) sessions
    → CONNECTED (and, the first time, `task_status.started(actor)`) → heartbeat task

Requests come from any task through `request()`: the caller registers a `Call` (actors/calls.py) under a
fresh id in the pending table, encodes it (signed when the image has a key) and queues the frame on the
transport itself (every transport takes sends from any number of tasks), then waits for its reply slot.
The reader task is the only one that receives: it decodes each frame (never trusting it: a bad frame is
counted and dropped, or fails just the request it names), completes the pending call with the same id,
and turns image events into control events on the bus. Many requests are
in flight at once; each caller may put its own timeout on its wait, and a reply that comes after the
caller gave up is dropped.

When the link is lost — the transport says so, the heartbeat misses `misses` Pongs in a row, or the image
announces its shutdown — `_lose_link` fails *every* pending request at once with `ImageDisconnected` (an
evaluation is never retried behind the caller's back: it may or may not have run), cancels the
connection's tasks, publishes RECONNECTING, and the loop tries again after a capped, jittered exponential
backoff. On the next Welcome a changed `instance_id` means the image process restarted: the actor
re-attaches every cached session, re-creates those the image lost (keeping their names and notes), and
publishes `ImageRestarted` with the lost ids plus one `SessionOrphaned` per lost session.

What ends `serve()`:
- a stop request (`stop()`): it returns normally (a clean stop; the
  supervisor does not restart it);
- `ImageFailed`: the image refused us for good (no common protocol version, wrong signing key);
- `ImageDisconnected` when `fail_fast` is set and the very first connection could not be made;
- anything else is a crash (a bug, or a peer that is not a stui image): the supervisor restarts the actor
  within its budget.

Persistence is optional: with a session store the actor records the image on Welcome, the sessions it
opens, each evaluation's source in the history (before sending it), and reachability changes. A failing
store is logged and never takes the link down.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import trio
from stui.protocol import (
    AttachSession,
    CloseSession,
    Complete,
    Completions,
    ConnectImage,
    ConnectionHealth,
    ConnectionStatus,
    CreateSession,
    Error,
    ErrorCode,
    EvalMode,
    EvalResult,
    Evaluate,
    Hello,
    ImageConnectionStatus,
    ImageRestarted,
    ImageShutdown,
    Inspect,
    Inspection,
    Interrupt,
    InterruptAck,
    ListSessions,
    Ping,
    Pong,
    RemoteProtocolError,
    Reply,
    Request,
    SessionClosed,
    SessionExpired,
    SessionList,
    SessionOpened,
    SessionOrphaned,
    SessionSummary,
    SignatureError,
    SystemInfo,
    SystemInfoReply,
    TranscriptOutput,
    TranscriptReceived,
    Welcome,
    decode,
    encode,
)
from stui.protocol.codec import MAX_FRAME_SIZE
from stui.protocol.errors import LocalProtocolError
from stui.protocol.messages import REPLY_TYPES

from . import persistence
from .backoff import Backoff
from .calls import Call, CallTable
from .errors import (
    EvaluationError,
    ImageDisconnected,
    ImageFailed,
    ImageProtocolError,
    RemoteError,
    RequestTimeout,
    SessionError,
    TransportClosed,
    TransportError,
    UnsupportedAddress,
)
from .events import EventBus
from .heartbeat import Heartbeat, HeartbeatPolicy, HeartbeatScheduler, LinkState
from .session_cache import SessionCache

if TYPE_CHECKING:
    import zmq

    from .zmq_trio import FdPoller

__all__ = ["ActorSettings", "ImageActor", "LinkFactory"]

log = logging.getLogger("stui.actors.image")

#: Opens one link to the image: an async context manager yielding a transport (see actors.transport).
LinkFactory = Callable[[], contextlib.AbstractAsyncContextManager[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorSettings:
    """Timing and size knobs of an image actor (the supervisor fills them from `SupervisorConfig`).

    Attributes:
        connect_timeout: seconds to open the transport and finish the handshake; also the timeout of the
            actor's own session requests while (re)connecting.
        reconnect_initial: first reconnection delay in seconds (nominal; jittered).
        reconnect_max: cap on the reconnection delay.
        max_message_size: largest frame sent or accepted, in bytes.
        client_name: sent in Hello.
        client_version: sent in Hello.
    """

    connect_timeout: float = 5.0
    reconnect_initial: float = 0.1
    reconnect_max: float = 5.0
    max_message_size: int = MAX_FRAME_SIZE
    client_name: str = "stui"
    client_version: str = ""


#: Error codes that mean "the code failed in the image" (EvaluationError) rather than "the image
#: refused the request" (RemoteError).
_EVALUATION_CODES = frozenset(
    {
        ErrorCode.EVALUATION_ERROR,
        ErrorCode.INTERRUPTED,
        ErrorCode.TIMEOUT,
        ErrorCode.OBJECT_NOT_FOUND,
    }
)

_STOPPABLE = frozenset(
    {ConnectionStatus.UNKNOWN, ConnectionStatus.CONNECTED, ConnectionStatus.RECONNECTING}
)


class ImageActor:
    """The actor for one image. Create it, run `serve()` in a nursery (with `nursery.start`), then call
    its request methods from any task of the same trio run.

    Attributes:
        spec: what to connect to and how (address, name, key, heartbeat).
        cache: the sessions this client holds on the image; may be shared with a later actor.
        link: status and health, shared with the supervisor (and a later actor after a restart).
        bad_frames: frames from the image that failed to decode or verify.
        connections: successful handshakes so far.
        started: whether `serve()` reported itself started (first connection set up).
    """

    def __init__(
        self,
        spec: ConnectImage,
        *,
        client_id: str,
        bus: EventBus | None = None,
        cache: SessionCache | None = None,
        link: LinkState | None = None,
        settings: ActorSettings | None = None,
        store: Any = None,
        zmq_context: zmq.Context | None = None,
        open_link: LinkFactory | None = None,
        heartbeats: HeartbeatScheduler | None = None,
        zmq_poller: FdPoller | None = None,
    ) -> None:
        """
        Args:
            spec: address, local name, signing key and heartbeat settings.
            client_id: the stable id this client presents in Hello (per supervisor or per store).
            bus: where status changes, restarts, orphaned sessions and transcript output go.
            cache: a session cache to continue (after a restart of the actor), else a new one.
            link: a link state to continue, else a new one (status UNKNOWN).
            settings: timing and size knobs.
            store: an open session store (stui.sessions), or None for no persistence.
            zmq_context: the supervisor's ZeroMQ context for tcp/ipc/inproc addresses.
            open_link: opens a transport; by default `actors.transport.open_transport` on the address.
            heartbeats: the scheduler that fires this actor's heartbeats (the supervisor's, shared by
                all its actors); None runs a private one in each connection.
            zmq_poller: a running `FdPoller` shared by the supervisor's ZeroMQ links (see
                actors/zmq_trio.py); None gives each link a watcher task of its own.
        """
        self.spec = spec
        self.name = spec.name or spec.address
        self.client_id = client_id
        self.settings = settings or ActorSettings()
        self.cache = cache if cache is not None else SessionCache()
        self.link = link if link is not None else LinkState(image_id="", name=self.name)
        self.welcome: Welcome | None = None
        self.bad_frames = 0
        self.connections = 0
        self.started = False
        self._bus = bus if bus is not None else EventBus()
        self._store = store
        self._zmq_context = zmq_context
        self._open_link_factory = open_link
        self._calls = CallTable()
        # Bound once: every request, and every heartbeat's Ping, passes one of them.
        self._send_call_fn = self._send_call
        self._on_ping_done_fn = self._on_ping_done
        self._link_up = False  # a connection's reader is running and requests may be sent
        self._transport: Any = None  # the connection's transport while the link is up
        self._conn_scope: trio.CancelScope | None = None  # the connection's tasks
        self._conn_nursery: trio.Nursery | None = None
        self._link_scope: trio.CancelScope | None = None  # the connection and its transport
        self._serve_scope: trio.CancelScope | None = None
        self._lost_reason: str | None = None
        self._stop_requested = False
        self._heartbeats = heartbeats
        self._zmq_poller = zmq_poller
        self._heartbeat: Heartbeat | None = None  # this connection's
        self._ping_call: Call | None = None  # the heartbeat Ping awaiting its Pong
        self._crash_error: Exception | None = None
        self._policy = HeartbeatPolicy(
            interval=spec.heartbeat_interval, misses=spec.heartbeat_misses
        )

    # ----------------------------------------------------------------------------------------------
    # Life cycle

    async def serve(
        self,
        *,
        fail_fast: bool = False,
        task_status: trio.TaskStatus[ImageActor] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, keep the link alive, reconnect when it drops, until stopped.

        Args:
            fail_fast: raise `ImageDisconnected` if the first connection cannot be made, instead of
                retrying (what `Supervisor.connect` wants: an unreachable address is an error to the
                caller, not a background retry loop).
            task_status: started with this actor once the first handshake and session set-up are done.

        Raises:
            ImageDisconnected: `fail_fast` and the first connection failed.
            ImageFailed: the image refused this client for good.
            ImageProtocolError: the peer does not speak the protocol (a crash: restartable).

        Cancellation: every pending request fails with `ImageDisconnected`; the transport is closed.
        """
        backoff = Backoff(
            initial=self.settings.reconnect_initial,
            maximum=max(self.settings.reconnect_max, self.settings.reconnect_initial),
        )
        started = False
        try:
            with trio.CancelScope() as self._serve_scope:
                while not self._stop_requested:
                    self._lost_reason = None
                    try:
                        started = await self._connection(started, task_status, backoff)
                    except UnsupportedAddress:
                        raise
                    except TransportError as exc:
                        self._lost_reason = f"{type(exc).__name__}: {exc}"
                    except trio.TooSlowError:
                        self._lost_reason = (
                            f"no Welcome within {self.settings.connect_timeout} s (connect timeout)"
                        )
                    if self._stop_requested:
                        break
                    reason = self._lost_reason or "link closed"
                    self._fail_pending(reason)
                    if fail_fast and not started:
                        raise ImageDisconnected(f"cannot connect to {self.spec.address}: {reason}")
                    self._publish(self.link.move(ConnectionStatus.RECONNECTING, reason))
                    self._set_health(ConnectionHealth.UNKNOWN, None)
                    await self._persist(persistence.mark_unreachable, self.cache.image_id)
                    await self._orphan_overdue()
                    await trio.sleep(backoff.next_delay())
        finally:
            self._link_up = False
            self._fail_pending("the image actor stopped")
            if self._stop_requested and self.link.status in _STOPPABLE:
                self._publish(
                    self.link.move(ConnectionStatus.DISCONNECTED, "disconnected on request")
                )

    def stop(self) -> None:
        """Ask the actor to stop: when connected, fail what is pending and end the connection's tasks
        (the transport is then closed gracefully); otherwise cancel the connect or reconnect wait.
        `serve()` then returns. Idempotent; never blocks."""
        self._stop_requested = True
        if self._link_up and self._conn_scope is not None:
            self._link_up = False
            self._fail_pending(f"image {self.name!r} disconnected")
            self._conn_scope.cancel()
            return
        if self._conn_scope is not None:
            self._conn_scope.cancel()
        if self._serve_scope is not None:
            self._serve_scope.cancel()

    async def _connection(
        self, started: bool, task_status: trio.TaskStatus[ImageActor], backoff: Backoff
    ) -> bool:
        """One connection, from opening the transport to losing it. Returns whether `started` was
        called (now or earlier)."""
        # Cancelled by _lose_link: a lost link is closed without ceremony (a frozen WebSocket peer
        # would otherwise hold up the close handshake); a stop closes it gracefully.
        with trio.CancelScope() as self._link_scope:
            async with self._open_link() as transport:
                with trio.fail_after(self.settings.connect_timeout):
                    welcome = await self._handshake(transport)
                try:
                    async with trio.open_nursery() as nursery:
                        self._conn_scope = nursery.cancel_scope
                        self._conn_nursery = nursery
                        self._transport = transport
                        self._link_up = True
                        nursery.start_soon(self._reader, transport)
                        try:
                            await self._after_welcome(welcome)
                        except ImageDisconnected:  # the link dropped while setting up
                            nursery.cancel_scope.cancel()
                            return started
                        self._publish(
                            self.link.move(ConnectionStatus.CONNECTED, "handshake complete")
                        )
                        backoff.reset()
                        if not started:
                            started = self.started = True
                            task_status.started(self)
                        self._start_heartbeat(nursery)
                finally:
                    self._link_up = False
                    self._conn_scope = None
                    self._conn_nursery = None
                    self._transport = None
                    if self._heartbeat is not None:
                        self._heartbeat.stop()
                        self._heartbeat = None
                    self._ping_call = None
        self._link_scope = None
        if self._crash_error is not None:
            error, self._crash_error = self._crash_error, None
            raise error
        return started

    def _open_link(self) -> contextlib.AbstractAsyncContextManager[Any]:
        if self._open_link_factory is not None:
            return self._open_link_factory()
        from .transport import open_transport  # the transports load pyzmq and trio-websocket

        return open_transport(
            self.spec.address,
            max_message_size=self.settings.max_message_size,
            zmq_context=self._zmq_context,
            connect_timeout=self.settings.connect_timeout,
            zmq_poller=self._zmq_poller,
        )

    async def _handshake(self, transport: Any) -> Welcome:
        """Send Hello and wait for the Welcome answering it (frames for other ids are ignored)."""
        hello = Hello(
            client_id=self.client_id,
            client_name=self.settings.client_name,
            client_version=self.settings.client_version,
        )
        rid = self._calls.new_id()
        await transport.send(encode(hello, request_id=rid, key=self.spec.key))
        while True:
            data = await transport.receive()
            try:
                frame = decode(data, key=self.spec.key, max_size=self.settings.max_message_size)
            except SignatureError as exc:
                raise ImageFailed(
                    f"image {self.name!r} refused: its frames fail signature checks ({exc}); "
                    "wrong key?"
                ) from None
            except RemoteProtocolError as exc:
                raise ImageProtocolError(
                    f"{self.spec.address} does not speak the stui protocol: {exc}"
                ) from None
            if frame.request_id != rid:
                self.bad_frames += isinstance(frame.message, REPLY_TYPES)
                continue
            match frame.message:
                case Welcome() as welcome:
                    return welcome
                case Error(code=ErrorCode.PROTOCOL_VERSION | ErrorCode.PERMISSION_DENIED) as err:
                    raise ImageFailed(f"image {self.name!r} refused Hello: {err.message}")
                case Error() as err:
                    raise ImageProtocolError(f"image {self.name!r} refused Hello: {err.message}")
                case other:
                    raise ImageProtocolError(
                        f"image {self.name!r} answered Hello with {type(other).__name__}"
                    )

    async def _after_welcome(self, welcome: Welcome) -> None:
        """Adopt the image's identity, then make the cached sessions live on this connection."""
        self.welcome = welcome
        self.connections += 1
        self.link.image_id = welcome.image_id
        self.cache.image_id = welcome.image_id
        if not self.spec.name and self.name == self.spec.address:
            self.name = self.link.name = welcome.image_name or self.spec.address
        old_instance = self.cache.instance_id
        self.cache.instance_id = welcome.instance_id
        await self._persist(persistence.record_image, self, welcome)
        if not len(self.cache):
            await self._restore_from_store()
        lost = await self._reattach_sessions()
        if self.cache.active is None:
            await self._open_session(CreateSession(name="main"))
        if old_instance and old_instance != welcome.instance_id:
            self._publish(
                ImageRestarted(
                    image_id=welcome.image_id,
                    name=self.name,
                    old_instance_id=old_instance,
                    new_instance_id=welcome.instance_id,
                    lost_sessions=lost,
                    at=time.time(),
                )
            )

    async def _restore_from_store(self) -> None:
        """Put the sessions the store remembers for this image into the (empty) cache, to re-attach."""
        records = await self._persist(persistence.sessions_to_restore, self.cache.image_id)
        for record in records or ():
            with contextlib.suppress(LocalProtocolError):
                self.cache.add(
                    SessionSummary(session_id=record.session_id, name=record.name), now=time.time()
                )

    async def _orphan_overdue(self) -> None:
        """Ask the store which sessions have now been unreachable past its grace period."""
        overdue = await self._persist(persistence.orphan_overdue, self.cache.image_id)
        for session_id in overdue or ():
            self.cache.mark_orphaned(session_id)
            self._publish(
                SessionOrphaned(
                    image_id=self.cache.image_id,
                    session_id=session_id,
                    reason="the image was unreachable past the grace period",
                    at=time.time(),
                )
            )

    async def _reattach_sessions(self) -> tuple[str, ...]:
        """AttachSession for every cached session; re-create the ones the image lost. Returns the lost
        ids."""
        lost: list[str] = []
        for session_id in self.cache.session_ids():
            reply = await self._internal(AttachSession(session_id=session_id))
            match reply:
                case SessionOpened(session=summary):
                    self.cache.add(summary, now=time.time())
                    await self._persist(persistence.record_session, self, summary)
                case (
                    Error(code=ErrorCode.SESSION_NOT_FOUND)
                    | Error(code=ErrorCode.PERMISSION_DENIED)
                ):
                    lost.append(session_id)
                    old = self.cache.get(session_id)
                    new = await self._internal(CreateSession(name=old.name if old else ""))
                    if isinstance(new, SessionOpened):  # the replacement carries on: close the old
                        self.cache.replace(session_id, new.session, now=time.time())
                        await self._persist(persistence.record_session, self, new.session)
                        await self._persist(
                            persistence.close_session, self.cache.image_id, session_id
                        )
                    else:
                        self.cache.remove(session_id)
                        await self._persist(
                            persistence.orphan_session, self.cache.image_id, session_id
                        )
                    self._publish(
                        SessionOrphaned(
                            image_id=self.cache.image_id,
                            session_id=session_id,
                            reason="the image no longer has this session",
                            at=time.time(),
                        )
                    )
                case other:
                    raise ImageProtocolError(f"AttachSession answered with {other!r}")
        return tuple(lost)

    async def _internal(self, message: Request) -> Reply:
        """A request made by the actor itself while setting up a connection."""
        try:
            return await self._send_and_wait(message, self.settings.connect_timeout)
        except RequestTimeout:
            self._lose_link(f"{type(message).__name__} not answered while connecting")
            await trio.sleep_forever()  # cancelled by _lose_link
            raise  # pragma: no cover

    # ----------------------------------------------------------------------------------------------
    # The connection's tasks

    async def _reader(self, transport: Any) -> None:
        """Feed every incoming frame to `_on_message` until the link closes.

        stui's transports do it with `receive_into` (for ZeroMQ the socket's owning task then calls
        `_on_message` itself, one task switch less per reply); a transport from an embedder's
        `open_link` may have only `receive`.
        """
        receive_into = getattr(transport, "receive_into", None)
        try:
            if receive_into is not None:
                await receive_into(self._on_message)
            while True:
                try:
                    data = await transport.receive()
                except RemoteProtocolError as exc:
                    self._on_message(exc)
                else:
                    self._on_message(data)
        except TransportClosed as exc:
            self._lose_link(f"transport closed: {exc}")

    def _on_message(self, data: bytes | RemoteProtocolError) -> None:
        """One message from the image: decode it (never trusting it) and dispatch it. Synchronous, and
        never raises for anything the image sent: it may run inside the transport's own task."""
        # Any frame is a sign of life: late Pongs from an image that answers requests mean slow, not gone.
        heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.heard()
        if isinstance(data, RemoteProtocolError):  # e.g. a text WebSocket message
            self.bad_frames += 1
            log.debug("image %s: bad message dropped: %s", self.name, data)
            return
        try:
            frame = decode(data, key=self.spec.key, max_size=self.settings.max_message_size)
        except RemoteProtocolError as exc:
            self.bad_frames += 1
            log.debug("image %s: bad frame dropped: %s", self.name, exc)
            if exc.request_id:
                self._calls.fail(
                    exc.request_id,
                    ImageProtocolError(f"image {self.name!r} sent a bad reply: {exc}"),
                )
            return
        self._dispatch(frame.request_id, frame.message)

    def _dispatch(self, request_id: int, message: Any) -> None:
        match message:
            case _ if isinstance(message, REPLY_TYPES):  # first: by far the most frequent
                self._calls.complete(request_id, message)
            case TranscriptOutput(session_id=sid, text=text):
                self._publish(
                    TranscriptReceived(
                        image_id=self.cache.image_id, session_id=sid, text=text, at=time.time()
                    )
                )
            case SessionExpired(session_id=sid, reason=reason):
                if self._store is not None and self._conn_nursery is not None:
                    self._conn_nursery.start_soon(
                        self._persist, persistence.orphan_session, self.cache.image_id, sid
                    )
                self.cache.mark_orphaned(sid)
                self._publish(
                    SessionOrphaned(
                        image_id=self.cache.image_id, session_id=sid, reason=reason, at=time.time()
                    )
                )
            case ImageShutdown(reason=reason):
                self._lose_link(f"image shut down: {reason}")
            case _:  # a Request from the image, or a control message: not for a client
                self.bad_frames += 1

    async def _send_call(self, call: Call) -> None:
        """Encode a call and queue its frame on the link, in the caller's own task.

        A call that cannot be encoded or is too large fails alone; a closed transport loses the link
        (which fails every pending call, this one included).
        """
        # A caller cancelled already sends nothing (the queueing below does not check for it).
        await trio.lowlevel.checkpoint_if_cancelled()
        transport = self._transport
        if transport is None or not self._link_up:
            call.fail(ImageDisconnected(f"image {self.name!r} is not connected"))
            return
        try:
            data = encode(call.message, request_id=call.request_id, key=self.spec.key)
            send_nowait = getattr(transport, "send_nowait", None)  # an embedder's may have none
            try:
                if send_nowait is None:
                    raise trio.WouldBlock
                # No yield when there is room: the caller waits for the reply right after.
                send_nowait(data)
            except trio.WouldBlock:
                await transport.send(data)
        except TransportClosed as exc:
            if transport is self._transport:  # not a transport an earlier connection left behind
                self._lose_link(f"transport closed: {exc}")
            call.fail(ImageDisconnected(f"image {self.name!r}: transport closed: {exc}"))
        except (LocalProtocolError, TransportError, ValueError) as exc:
            call.fail(ImageProtocolError(f"cannot send {type(call.message).__name__}: {exc}"))

    def _start_heartbeat(self, nursery: trio.Nursery) -> None:
        """Schedule this connection's heartbeat on the supervisor's scheduler (or a private one)."""
        heartbeat = Heartbeat(
            self._policy,
            send_ping=self._send_ping,
            on_health=self._set_health,
            on_lost=lambda: self._lose_link(f"{self._policy.missed} heartbeats missed in a row"),
        )
        self._heartbeat = heartbeat
        scheduler = self._heartbeats
        if scheduler is None:
            scheduler = HeartbeatScheduler()
            nursery.start_soon(scheduler.run)
        scheduler.add(heartbeat)

    def _send_ping(self) -> None:
        """Send one heartbeat Ping without waiting (called by the heartbeat scheduler's task).

        The previous Ping, if still unanswered, is abandoned: its Pong would be late. A Ping that finds
        the transport's outbox full is not sent and will count as missed.
        """
        if self._ping_call is not None:
            self._calls.abandon(self._ping_call)
            self._ping_call = None
        transport = self._transport
        if transport is None or not self._link_up:
            return
        call = self._calls.register(Ping(timestamp=time.time()), self._on_ping_done_fn)
        self._ping_call = call
        send_nowait = getattr(transport, "send_nowait", None)
        if send_nowait is None:  # an embedder's transport: send from a task of the connection
            if self._conn_nursery is not None:
                self._conn_nursery.start_soon(self._send_call, call)
            return
        try:
            send_nowait(encode(call.message, request_id=call.request_id, key=self.spec.key))
        except trio.WouldBlock:
            pass
        except TransportClosed as exc:
            self._lose_link(f"transport closed: {exc}")

    def _on_ping_done(self, call: Call) -> None:
        if call is not self._ping_call:
            return
        self._ping_call = None
        match call.reply:
            case Pong(instance_id=instance) if instance and instance != self.cache.instance_id:
                # Another process answers at this address (restarted within a heartbeat): it knows
                # nothing of our Hello, so handshake again; the Welcome will report the restart.
                self._lose_link(f"image restarted (instance {instance[:8]} answered the heartbeat)")
            case Pong():
                if self._heartbeat is not None:
                    self._heartbeat.pong(trio.current_time())
            case None:  # failed: the link went down, _lose_link has run
                pass
            case other:  # not a stui image after all: a crash, as any protocol violation
                self._crash(ImageProtocolError(f"Ping answered with {type(other).__name__}"))

    def _crash(self, error: Exception) -> None:
        """End the connection with `error` raised from `serve()` (called where raising is not
        possible: in the transport's or the scheduler's task)."""
        if self._crash_error is None:
            self._crash_error = error
        if self._link_scope is not None:
            self._link_scope.cancel()

    def _lose_link(self, reason: str) -> None:
        """The link is gone: fail everything pending now, and end the connection's tasks."""
        if self._lost_reason is None:
            self._lost_reason = reason
        self._link_up = False
        self._fail_pending(reason)
        if (
            self.link.status is ConnectionStatus.CONNECTED
        ):  # tell subscribers now, not after the close
            self._publish(self.link.move(ConnectionStatus.RECONNECTING, reason))
            self._set_health(ConnectionHealth.UNKNOWN, None)
        if self._link_scope is not None:
            self._link_scope.cancel()

    def _fail_pending(self, reason: str) -> None:
        self._calls.fail_all(lambda: ImageDisconnected(f"image {self.name!r}: {reason}"))

    # ----------------------------------------------------------------------------------------------
    # Requests

    @property
    def late_replies(self) -> int:
        """Replies that arrived after their caller stopped waiting (dropped)."""
        return self._calls.late_replies

    @property
    def pending(self) -> int:
        """Requests in flight."""
        return len(self._calls)

    def _check_ready(self) -> None:
        match self.link.status:
            case ConnectionStatus.CONNECTED if self._link_up:
                return
            case ConnectionStatus.FAILED:
                raise ImageFailed(f"image {self.name!r} has failed: {self.link.reason}")
            case status:
                raise ImageDisconnected(
                    f"image {self.name!r} is {status.value}: {self.link.reason}"
                )

    async def request(self, message: Request, *, timeout: float | None = None) -> Reply:
        """Send one request and wait for its reply. An `Error` reply is returned, not raised.

        Args:
            message: any protocol request except Hello (the actor does the handshake itself).
            timeout: seconds to wait for the reply; None waits as long as the link lives.

        Raises:
            ImageDisconnected: the link is down now, or went down before the reply came.
            ImageFailed: the image is FAILED.
            RequestTimeout: `timeout` ran out; a late reply is dropped.
            ImageProtocolError: the reply frame was invalid.

        Cancellation: if cancelled before its frame was queued on the transport, nothing is sent;
        afterwards the image may still run the request and its late reply is dropped.
        """
        self._check_ready()
        return await self._send_and_wait(message, timeout)

    async def _send_and_wait(self, message: Request, timeout: float | None) -> Reply:
        if not self._link_up:
            raise ImageDisconnected(f"image {self.name!r} is not connected")
        return await self._calls.call(message, timeout, self.name, self._send_call_fn)

    def _session_for(self, session: str | None) -> str:
        sid = session or self.cache.active
        if sid is None:
            raise SessionError(f"image {self.name!r} has no active session")
        return sid

    @staticmethod
    def _raise_for(reply: Reply, expected: type | tuple[type, ...], what: str) -> None:
        match reply:
            case Error(code=ErrorCode.SESSION_NOT_FOUND) as err:
                raise SessionError(f"{what}: {err.message}", err)
            case Error(code=code) as err if code in _EVALUATION_CODES:
                raise EvaluationError(f"{what}: {err.code.value}: {err.message}", err)
            case Error() as err:  # the image refused the request itself (limits, bad input, ...)
                raise RemoteError(f"{what} refused: {err.code.value}: {err.message}", err)
            case _ if not isinstance(reply, expected):
                raise ImageProtocolError(f"{what} answered with {type(reply).__name__}")

    async def evaluate(
        self,
        source: str,
        *,
        session: str | None = None,
        mode: EvalMode = EvalMode.DISPLAY,
        timeout: float | None = None,
        time_budget: float | None = None,
    ) -> EvalResult:
        """Evaluate `source` in a session (the active one by default).

        The source goes to the history (when a store is attached) before it is sent.

        Raises:
            EvaluationError: the image answered an `Error` (a Smalltalk error, syntax error, interrupt,
                its time budget); `.error.details` has the Smalltalk error class and stack.
            SessionError: no such session on the image, or no active session.
            ImageDisconnected, ImageFailed, RequestTimeout: see `request()`.

        Cancellation: as `request()`; an evaluation is never resent.
        """
        sid = self._session_for(session)
        self._check_ready()
        if self._store is not None:  # no coroutine to make and await on the hot path without one
            await self._persist(persistence.add_history, self.cache.image_id, sid, source)
        reply = await self.request(
            Evaluate(session_id=sid, source=source, mode=mode, time_budget=time_budget),
            timeout=timeout,
        )
        self.cache.touch(sid, now=time.time())
        self._raise_for(reply, EvalResult, "evaluation")
        assert isinstance(reply, EvalResult)
        self.cache.set_note(sid, "last_source", source)
        self.cache.set_note(sid, "last_result", reply.print_string)
        return reply

    async def inspect(
        self,
        *,
        expression: str | None = None,
        handle: int | None = None,
        session: str | None = None,
        depth: int = 1,
        timeout: float | None = None,
    ) -> Inspection:
        """Inspect an expression's value or a handle's object (exactly one of the two).

        Raises:
            EvaluationError, SessionError, ImageDisconnected, RequestTimeout: as `evaluate()`.
            LocalProtocolError: neither or both of `expression` and `handle`.

        Cancellation: as `request()`.
        """
        sid = self._session_for(session)
        msg = Inspect(session_id=sid, expression=expression, handle=handle, depth=depth)
        reply = await self.request(msg, timeout=timeout)
        self._raise_for(reply, Inspection, "inspection")
        assert isinstance(reply, Inspection)
        return reply

    async def complete(
        self, source: str, cursor: int, *, session: str | None = None, timeout: float | None = 0.5
    ) -> Completions:
        """Completions for the word ending at `cursor` in `source`.

        Raises:
            RequestTimeout: `timeout` ran out (completion is interactive: keep it short).
            EvaluationError, SessionError, ImageDisconnected: as `evaluate()`.

        Cancellation: as `request()`.
        """
        sid = self._session_for(session)
        reply = await self.request(
            Complete(session_id=sid, source=source, cursor=cursor), timeout=timeout
        )
        self._raise_for(reply, Completions, "completion")
        assert isinstance(reply, Completions)
        return reply

    async def interrupt(self, *, timeout: float | None = None) -> tuple[InterruptAck, ...]:
        """Interrupt every evaluation of this client running on the image.

        Each interrupted `evaluate()` then fails with `EvaluationError` (code Interrupted).

        Returns:
            one acknowledgement per evaluation that was in flight.

        Cancellation: interrupts not yet sent are not sent; the evaluations may keep running.
        """
        targets = self._calls.in_flight(Evaluate)
        acks: list[InterruptAck] = []
        for target in targets:
            reply = await self.request(
                Interrupt(target_id=target),
                timeout=timeout if timeout is not None else self.settings.connect_timeout,
            )
            self._raise_for(reply, InterruptAck, "interrupt")
            assert isinstance(reply, InterruptAck)
            acks.append(reply)
        return tuple(acks)

    async def system_info(self, *, timeout: float | None = None) -> SystemInfoReply:
        """Ask the image about itself.

        Cancellation: as `request()`.
        """
        reply = await self.request(SystemInfo(), timeout=timeout or self.settings.connect_timeout)
        self._raise_for(reply, SystemInfoReply, "system info")
        assert isinstance(reply, SystemInfoReply)
        return reply

    # ----------------------------------------------------------------------------------------------
    # Sessions

    async def _open_session(self, message: CreateSession | AttachSession) -> SessionSummary:
        reply = await (
            self._internal(message)
            if not self._ready()
            else self.request(message, timeout=self.settings.connect_timeout)
        )
        match reply:
            case SessionOpened(session=summary):
                self.cache.add(summary, now=time.time())
                await self._persist(persistence.record_session, self, summary)
                return summary
            case Error() as err:
                raise SessionError(f"image {self.name!r}: {err.message}", err)
            case other:
                raise ImageProtocolError(f"{type(message).__name__} answered with {other!r}")

    def _ready(self) -> bool:
        return self.link.status is ConnectionStatus.CONNECTED and self._link_up

    async def new_session(self, name: str = "", *, activate: bool = True) -> SessionSummary:
        """Create a session on the image; it becomes the active one unless `activate` is False.

        Raises:
            SessionError: the image refused (e.g. its session limit).
            ImageDisconnected, ImageFailed, RequestTimeout: see `request()`.

        Cancellation: as `request()`; a session the image created after all is not cached.
        """
        self._check_ready()
        summary = await self._open_session(CreateSession(name=name))
        if activate:
            self.cache.set_active(summary.session_id)
        return summary

    async def attach_session(self, session_id: str, *, activate: bool = True) -> SessionSummary:
        """Take up an existing session of the image (e.g. one created by an earlier stui run).

        Raises:
            SessionError: the image has no such session.

        Cancellation: as `request()`; the active session changes only once the image answered.
        """
        self._check_ready()
        summary = await self._open_session(AttachSession(session_id=session_id))
        if activate:
            self.cache.set_active(summary.session_id)
        return summary

    async def close_session(self, session_id: str) -> None:
        """Close a session on the image and forget it. Closing the active one leaves none active.

        Raises:
            SessionError: the image has no such session (it is forgotten locally anyway).

        Cancellation: as `request()`; the session stays cached unless the image answered.
        """
        reply = await self.request(
            CloseSession(session_id=session_id), timeout=self.settings.connect_timeout
        )
        self.cache.remove(session_id)
        await self._persist(persistence.close_session, self.cache.image_id, session_id)
        self._raise_for(reply, SessionClosed, "close session")

    async def list_image_sessions(self, *, all_clients: bool = False) -> tuple[SessionSummary, ...]:
        """The sessions the image itself reports (this client's, or every client's).

        Cancellation: as `request()` (a read: nothing changes).
        """
        reply = await self.request(
            ListSessions(all_clients=all_clients), timeout=self.settings.connect_timeout
        )
        self._raise_for(reply, SessionList, "list sessions")
        assert isinstance(reply, SessionList)
        return reply.sessions

    def use_session(self, session_id: str) -> None:
        """Make a cached session the active one.

        Raises:
            SessionError: this client holds no such session on the image.
        """
        try:
            self.cache.set_active(session_id)
        except KeyError:
            raise SessionError(f"image {self.name!r} has no session {session_id!r} here") from None

    # ----------------------------------------------------------------------------------------------
    # Status and events

    def status(self, *, restarts: int = 0) -> ImageConnectionStatus:
        """A snapshot of the link."""
        return ImageConnectionStatus(
            image_id=self.link.image_id or self.name,
            name=self.name,
            address=self.spec.address,
            status=self.link.status,
            health=self.link.health,
            rtt=self.link.rtt,
            instance_id=self.cache.instance_id,
            since=self.link.since,
            pending=len(self._calls),
            restarts=restarts,
        )

    def _publish(self, event: Any) -> None:
        if event is not None:
            if hasattr(event, "name") and event.name != self.name:
                event = replace(event, name=self.name)
            self._bus.publish(event)

    def _set_health(self, health: ConnectionHealth, rtt: float | None) -> None:
        self._publish(self.link.set_health(health, rtt))

    async def _persist(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store operation if there is a store; a failing store is logged, never fatal."""
        if self._store is None:
            return None
        try:
            return await fn(self._store, *args)
        except Exception:
            log.warning("session store: %s failed", fn.__name__, exc_info=True)
            return None
