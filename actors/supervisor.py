"""The supervisor: image actors started and stopped at any time, restarted when they crash, and one
place for front ends to send requests and commands to.

Theory of operation. Each connected image has a *slot*: its spec, its session cache and link state
(both outlive any one actor), its restart budget, and one task, `_run_slot`, running under its own cancel
scope in the supervisor's nursery. The slot task runs one `ImageActor` after another:

- The first actor is started with `fail_fast`: `connect()` returns once the image answered the
  handshake and has an active session, or raises (an unreachable address is the caller's error, not a
  background retry loop). Errors before that point surface from `connect()`.
- A link loss is *not* a crash: the actor reconnects by itself with backoff.
- `serve()` returning is a clean stop (OTP *transient* restart type): the slot ends.
- `ImageFailed` (the image refused us for good) marks the image FAILED at once.
- Any other exception is a crash: the slot counts it in its own `RestartWindow` (default 5 restarts in
  30 s) and starts a new actor on the same cache after a jittered backoff. An image that exhausts its
  budget becomes FAILED and stays listed (requests to it raise `ImageFailed`) until it is disconnected.

Budgets are per image (NOTES.md: a global intensity would let two flapping images out of a thousand take
everything down), and every slot catches everything its actor raises, so one image's crash never
disturbs another image or the supervisor.

Shutdown (leaving `open_supervisor`): a stop message to every actor in reverse start order, a wait of
up to `shutdown_timeout` for them to finish, then cancellation of whatever is left; then the event bus
closes (subscribers' iterations end) and the supervisor's ZeroMQ context is destroyed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio
from stui.protocol import (
    CleanupImageSessions,
    CleanupReport,
    Completions,
    ConnectImage,
    ConnectionHealth,
    ConnectionStatus,
    ContextSwitched,
    ControlCommand,
    ControlReply,
    DisconnectImage,
    EvalMode,
    EvalResult,
    GetImageConnectionStatus,
    GetImageSessionStats,
    ImageConnectionStatus,
    ImageSessions,
    ImageSessionStats,
    Inspection,
    InterruptAck,
    ListImageSessions,
    SessionRecord,
    SessionStatus,
    SessionSummary,
    SwitchImageContext,
)
from stui.protocol.codec import MAX_FRAME_SIZE

from . import persistence
from .backoff import Backoff, RestartWindow
from .errors import ImageDisconnected, ImageFailed, ImageNotFound, SessionError, StuiError
from .events import DEFAULT_BUFFER, EventBus, Subscription
from .exception_groups import single_leaf
from .heartbeat import HeartbeatScheduler, LinkState
from .image import ActorSettings, ImageActor, LinkFactory
from .session_cache import SessionCache

if TYPE_CHECKING:
    import zmq

    from stui.sessions.store import SessionStore

    from .zmq_trio import FdPoller

__all__ = ["Supervisor", "SupervisorConfig", "open_supervisor"]

log = logging.getLogger("stui.actors.supervisor")


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorConfig:
    """Knobs of a supervisor and the actors it starts. The defaults suit interactive use.

    Attributes:
        client_id: the id presented in Hello to every image (sessions are owned per client id);
            None for a fresh random id per supervisor. Give a stable one to re-attach sessions of an
            earlier run.
        connect_timeout: seconds for a transport to connect plus the handshake.
        reconnect_initial: first delay before reconnecting a lost link (jittered, doubling).
        reconnect_max: cap on the reconnect delay.
        max_restarts: crashes of one image's actor tolerated within `restart_period`...
        restart_period: ...seconds; beyond that the image is FAILED.
        restart_initial: first delay before restarting a crashed actor (jittered, doubling).
        restart_max: cap on the restart delay.
        shutdown_timeout: seconds actors get to stop on their own before being cancelled.
        event_buffer: default buffer of a subscription (drop-oldest beyond it).
        max_message_size: the largest frame sent or accepted, in bytes.
        max_sockets: ZeroMQ MAX_SOCKETS of the supervisor's context.
    """

    client_id: str | None = None
    connect_timeout: float = 5.0
    reconnect_initial: float = 0.1
    reconnect_max: float = 5.0
    max_restarts: int = 5
    restart_period: float = 30.0
    restart_initial: float = 0.1
    restart_max: float = 5.0
    shutdown_timeout: float = 2.0
    event_buffer: int = DEFAULT_BUFFER
    max_message_size: int = MAX_FRAME_SIZE
    max_sockets: int = 65536

    def actor_settings(self) -> ActorSettings:
        return ActorSettings(
            connect_timeout=self.connect_timeout,
            reconnect_initial=self.reconnect_initial,
            reconnect_max=self.reconnect_max,
            max_message_size=self.max_message_size,
        )


@dataclass(slots=True, eq=False)
class _Slot:
    """One image under supervision: everything that outlives a single actor."""

    spec: ConnectImage
    order: int
    cache: SessionCache
    link: LinkState
    window: RestartWindow
    backoff: Backoff
    client_id: str = ""
    open_link: LinkFactory | None = None
    actor: ImageActor | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)
    restarts: int = 0
    stopping: bool = False
    serving: bool = False  # an actor's serve() is running (else the slot waits to restart one)
    #: (image id, active session, notes) last written to the store by a switch: an unchanged context
    #: is not written again, so flipping between images costs no disk write until something changed.
    persisted_context: tuple[str, str | None, tuple[tuple[str, str], ...]] | None = None

    @property
    def name(self) -> str:
        return self.link.name


class Supervisor:
    """Routes requests and commands to image actors and keeps them alive. Built by `open_supervisor`.

    Every method is safe to call from any task of the trio run that opened the supervisor. Images are
    named by their local name (given to `connect`, or the name the image announces) or by image id;
    `image=None` means the current image.

    Attributes:
        config: the configuration.
        client_id: this supervisor's id; each link presents `client_id/<name or address>` in Hello.
        store: the session store, or None when nothing is persisted.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        config: SupervisorConfig,
        *,
        store: SessionStore | None,
        zmq_context: zmq.Context | None,
    ) -> None:
        self.config = config
        self.client_id = config.client_id or uuid.uuid4().hex
        self.store = store
        self._nursery = nursery
        self._zmq_context = zmq_context
        self._bus = EventBus()
        self._slots: dict[str, _Slot] = {}
        self._connecting: set[str] = set()  # names given to connect() calls still in progress
        self._order = 0
        self._current: str | None = None
        self._closing = False
        # One task fires the heartbeats of every image (actors/heartbeat.py says why), and one watches
        # the fds of every ZeroMQ link (actors/zmq_trio.py, FdPoller).
        self._heartbeats = HeartbeatScheduler()
        nursery.start_soon(self._heartbeats.run)
        self._zmq_poller: FdPoller | None = None
        if zmq_context is not None:
            from .zmq_trio import FdPoller  # pyzmq is loaded already: there is a context

            if FdPoller.available():
                self._zmq_poller = FdPoller()
                nursery.start_soon(self._zmq_poller.run)

    # ----------------------------------------------------------------------------------------------
    # Images: connect, disconnect, look up

    async def connect(
        self,
        address: str,
        *,
        name: str = "",
        key: bytes = b"",
        heartbeat_interval: float = 1.0,
        heartbeat_misses: int = 3,
        open_link: LinkFactory | None = None,
    ) -> ImageConnectionStatus:
        """Start supervising an image and wait until it is connected with an active session.

        The first image connected becomes the current one.

        Args:
            address: tcp://, ipc://, inproc://, ws:// or wss:// address of the image.
            name: local name; by default the name the image announces (made unique with a suffix).
            key: HMAC key for signing frames (from the image's connection file), b"" for none.
            heartbeat_interval: seconds between heartbeats for this image.
            heartbeat_misses: heartbeats missed in a row before the link is declared lost.
            open_link: replaces the transport (tests and embedders with their own links).

        Returns:
            The image's status (CONNECTED).

        Raises:
            StuiError: an image is already connected under `name`, or the supervisor is closing.
            ImageDisconnected: the image could not be reached within `connect_timeout`.
            ImageFailed: the image refused this client (protocol version, signing key).
            ImageProtocolError: the address does not answer like a stui image.
            UnsupportedAddress: the address scheme is not supported.

        Cancellation: nothing stays behind; a half-connected actor is stopped.
        """
        if self._closing:
            raise StuiError("the supervisor is shutting down")
        if name and (name in self._slots or name in self._connecting):
            raise StuiError(f"an image named {name!r} is already connected")
        spec = ConnectImage(
            address=address,
            name=name,
            key=key,
            heartbeat_interval=heartbeat_interval,
            heartbeat_misses=heartbeat_misses,
        )
        self._order += 1
        slot = _Slot(
            spec=spec,
            order=self._order,
            cache=SessionCache(),
            link=LinkState(image_id="", name=name or address),
            window=RestartWindow(self.config.max_restarts, self.config.restart_period),
            backoff=Backoff(
                self.config.restart_initial,
                max(self.config.restart_max, self.config.restart_initial),
            ),
            client_id=self._link_client_id(name or address),
            open_link=open_link,
        )
        self._connecting.add(name)
        try:
            actor: ImageActor = await self._nursery.start(self._run_slot, slot)
        except BaseException as exc:
            leaf = single_leaf(exc)
            if leaf is not exc and isinstance(leaf, Exception):
                raise leaf from None
            raise
        finally:
            self._connecting.discard(name)
        final = actor.name
        if final in self._slots:  # the announced name is taken: make it unique
            n = 2
            while f"{final}-{n}" in self._slots:
                n += 1
            final = f"{final}-{n}"
        actor.name = slot.link.name = final
        slot.spec = replace(spec, name=final)
        self._slots[final] = slot
        if self._current is None:
            self._current = final
        return self.status(final)

    def _link_client_id(self, label: str) -> str:
        """The Hello client id of one link: the supervisor's id plus the image's name (or address).

        An image treats a second connection with the same client id as the same client reconnecting
        and drops the first, so two links of one supervisor (say, an image reached over ZeroMQ and
        over WebSocket) need distinct ids; each stays stable across reconnects and actor restarts
        (and across runs, given a stable `SupervisorConfig.client_id` and the same names).
        """
        client_id = f"{self.client_id}/{label}"
        if len(client_id) > 128:
            digest = hashlib.sha256(label.encode()).hexdigest()[:32]
            client_id = f"{self.client_id[:95]}/{digest}"
        return client_id

    async def _run_slot(self, slot: _Slot, *, task_status: trio.TaskStatus[ImageActor]) -> None:
        """Run actor after actor for one image until a clean stop, failure or cancellation."""
        first = True
        try:
            with slot.scope:
                while not slot.stopping:
                    actor = ImageActor(
                        slot.spec,
                        client_id=slot.client_id,
                        bus=self._bus,
                        cache=slot.cache,
                        link=slot.link,
                        settings=self.config.actor_settings(),
                        store=self.store,
                        zmq_context=self._zmq_context,
                        open_link=slot.open_link,
                        heartbeats=self._heartbeats,
                        zmq_poller=self._zmq_poller,
                    )
                    slot.actor = actor
                    slot.serving = True
                    try:
                        if first:
                            await actor.serve(fail_fast=True, task_status=task_status)
                        else:
                            await actor.serve()
                        return  # clean stop: transient children are not restarted
                    except Exception as exc:
                        leaf = single_leaf(exc)
                        slot.serving = False
                        if first and not actor.started:
                            raise  # before started(): surfaces from connect()
                        first = False
                        if slot.stopping:
                            return
                        if not self._may_restart(slot, leaf):
                            return
                        if actor.connections:
                            slot.backoff.reset()
                        await trio.sleep(slot.backoff.next_delay())
        finally:
            slot.done.set()

    def _may_restart(self, slot: _Slot, exc: BaseException) -> bool:
        """Count a crash against the slot's budget; mark the image FAILED when it must not restart."""
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ImageFailed):
            self._fail(slot, reason)
            return False
        if not slot.window.record(trio.current_time()):
            self._fail(
                slot,
                f"restart budget exhausted ({self.config.max_restarts} restarts in "
                f"{self.config.restart_period} s); last crash: {reason}",
            )
            return False
        slot.restarts += 1
        log.warning("image %s: actor crashed (%s); restart %d", slot.name, reason, slot.restarts)
        self._bus.publish(slot.link.move(ConnectionStatus.RECONNECTING, f"actor crashed: {reason}"))
        return True

    def _fail(self, slot: _Slot, reason: str) -> None:
        log.error("image %s failed: %s", slot.name, reason)
        self._bus.publish(slot.link.move(ConnectionStatus.FAILED, reason))
        self._bus.publish(slot.link.set_health(ConnectionHealth.UNKNOWN, None))

    async def disconnect(self, image: str | None = None) -> ImageConnectionStatus:
        """Stop supervising an image: stop its actor (cancelled after `shutdown_timeout`), forget it.

        Sessions stay open on the image, so a later `connect` with the same `client_id` (or the
        session store) can re-attach them. Pending requests fail with `ImageDisconnected`.

        Returns:
            The image's last status (DISCONNECTED, or FAILED if it had failed).

        Raises:
            ImageNotFound: no such image.

        Cancellation: the stop goes on in the background (the image's task ends on its own or at
        `shutdown_timeout`); the image may still be listed until then.
        """
        slot = self._slot(image)
        await self._stop_slots([slot])
        self._slots.pop(slot.name, None)
        if self._current == slot.name:
            self._current = next(iter(self._slots), None)
        return self._snapshot(slot)

    async def _stop_slots(self, slots: list[_Slot]) -> None:
        """Stop the slots one after the other in the given order: a stop message and a wait for the
        actor to finish, until `shutdown_timeout` (for all of them together) has passed; then every
        slot still running is cancelled at once.

        Cancelling the stragglers together rather than one by one matters with thousands of images:
        waiting for each cancelled slot in turn took minutes at 5,000 images (bench_scale), as every
        wait lasts a few scheduler rounds of a busy process.
        """
        deadline = trio.current_time() + self.config.shutdown_timeout
        late: list[_Slot] = []
        for slot in slots:
            slot.stopping = True
            if slot.actor is not None and slot.serving:
                slot.actor.stop()
            else:  # waiting to restart a crashed actor: nothing to stop gracefully
                slot.scope.cancel()
            if not late:
                with trio.move_on_at(deadline):
                    await slot.done.wait()
            if slot.done.is_set():
                self._publish_stopped(slot)
            else:
                late.append(slot)
        if not late:
            return
        names = ", ".join(slot.name for slot in late[:5]) + (", ..." if len(late) > 5 else "")
        log.warning("%d image(s) did not stop in time: cancelled (%s)", len(late), names)
        for slot in late:
            slot.scope.cancel()
        for slot in late:
            await slot.done.wait()
            self._publish_stopped(slot)

    def _publish_stopped(self, slot: _Slot) -> None:
        if slot.link.status is not ConnectionStatus.FAILED:
            self._bus.publish(
                slot.link.move(ConnectionStatus.DISCONNECTED, "disconnected on request")
            )

    async def _shutdown(self) -> None:
        self._closing = True
        slots = sorted(self._slots.values(), key=lambda s: s.order, reverse=True)
        await self._stop_slots(slots)
        self._bus.close()

    def _slot(self, image: str | None) -> _Slot:
        if image is None:
            if self._current is None:
                raise ImageNotFound("no image is current: connect one first")
            image = self._current
        slot = self._slots.get(image)
        if slot is None:
            for candidate in self._slots.values():
                if candidate.link.image_id == image:
                    return candidate
            raise ImageNotFound(f"no image {image!r} (known: {', '.join(self._slots) or 'none'})")
        return slot

    def _actor(self, image: str | None) -> ImageActor:
        slot = self._slot(image)
        if slot.actor is None:  # pragma: no cover - a slot gets its actor before it is listed
            raise ImageDisconnected(f"image {slot.name!r} has no actor")
        return slot.actor

    def actor(self, image: str | None = None) -> ImageActor:
        """The current actor of an image (for front ends that want its counters or session cache).

        Raises:
            ImageNotFound: no such image.
        """
        return self._actor(image)

    @property
    def current(self) -> str | None:
        """The name of the current image (where requests go when no image is named)."""
        return self._current

    def _snapshot(self, slot: _Slot) -> ImageConnectionStatus:
        if slot.actor is not None:
            return slot.actor.status(restarts=slot.restarts)
        return ImageConnectionStatus(  # pragma: no cover - see _actor
            image_id=slot.link.image_id or slot.name,
            name=slot.name,
            address=slot.spec.address,
            status=slot.link.status,
            health=slot.link.health,
            since=slot.link.since,
            restarts=slot.restarts,
        )

    def status(self, image: str | None = None) -> ImageConnectionStatus:
        """A snapshot of one image's link (the current image by default).

        Raises:
            ImageNotFound: no such image.
        """
        return self._snapshot(self._slot(image))

    def images(self) -> list[ImageConnectionStatus]:
        """Every supervised image (FAILED ones included), in connection order."""
        return [self._snapshot(s) for s in sorted(self._slots.values(), key=lambda s: s.order)]

    # ----------------------------------------------------------------------------------------------
    # Requests, routed to the current image unless one is named

    async def evaluate(
        self,
        source: str,
        *,
        image: str | None = None,
        session: str | None = None,
        mode: EvalMode = EvalMode.DISPLAY,
        timeout: float | None = None,
        time_budget: float | None = None,
    ) -> EvalResult:
        """Evaluate Smalltalk source in a session of an image (active session of the current image by
        default).

        Args:
            source: the code.
            image: image name or id; None for the current image.
            session: session id; None for the image's active session.
            mode: DISPLAY (print it) or EXECUTE (do it).
            timeout: seconds to wait for the answer (None: as long as the link lives).
            time_budget: seconds the image lets the evaluation run (None: the image's default).

        Returns:
            The image's `EvalResult` (print string, class name, handle for inspection).

        Raises:
            ImageNotFound: no such image (or none current).
            EvaluationError: the code failed in the image; `.details.error_class` names the error.
            SessionError: no such session.
            ImageDisconnected: the link is down or went down before the answer (not retried).
            ImageFailed: the image is FAILED.
            RequestTimeout: `timeout` ran out (the evaluation may still be running: `interrupt()`).

        Cancellation: if cancelled after the request was sent, the image may still run it; its late
        answer is dropped.
        """
        return await self._actor(image).evaluate(
            source, session=session, mode=mode, timeout=timeout, time_budget=time_budget
        )

    async def interrupt(self, image: str | None = None) -> tuple[InterruptAck, ...]:
        """Interrupt every evaluation this client has running on the image; each of them then raises
        `EvaluationError` with code Interrupted.

        Returns:
            One acknowledgement per evaluation that was in flight.

        Cancellation: interrupts not yet sent are not sent; the evaluations may keep running.
        """
        return await self._actor(image).interrupt()

    async def inspect(
        self,
        expression: str | None = None,
        handle: int | None = None,
        *,
        image: str | None = None,
        session: str | None = None,
        depth: int = 1,
        timeout: float | None = None,
    ) -> Inspection:
        """Inspect the value of `expression`, or the object behind `handle` (from an EvalResult or a
        Slot). Raises as `evaluate()`.

        Cancellation: as `evaluate()`.
        """
        return await self._actor(image).inspect(
            expression=expression, handle=handle, session=session, depth=depth, timeout=timeout
        )

    async def complete(
        self,
        source: str,
        cursor: int,
        *,
        image: str | None = None,
        session: str | None = None,
        timeout: float | None = 0.5,
    ) -> Completions:
        """Completions for the word ending at `cursor` in `source`. Raises as `evaluate()`.

        Cancellation: as `evaluate()`.
        """
        return await self._actor(image).complete(source, cursor, session=session, timeout=timeout)

    # ----------------------------------------------------------------------------------------------
    # Sessions

    async def new_session(self, image: str | None = None, name: str = "") -> SessionSummary:
        """Create a session on an image and make it that image's active session.

        Cancellation: the image may still create the session; it is then not in the cache (a later
        `actor().list_image_sessions()` shows it).
        """
        return await self._actor(image).new_session(name)

    async def attach_session(self, session_id: str, image: str | None = None) -> SessionSummary:
        """Take up an existing session of the image (e.g. from an earlier run) and make it active.

        Raises:
            SessionError: the image has no such session.

        Cancellation: the active session stays as it was unless the image answered first.
        """
        return await self._actor(image).attach_session(session_id)

    async def close_session(self, session_id: str, image: str | None = None) -> None:
        """Close a session on the image. Closing the active session leaves the image with none until
        `new_session` or `use_session`.

        Cancellation: the image may still close the session; it stays in the cache until then.
        """
        await self._actor(image).close_session(session_id)

    def use_session(self, session_id: str, image: str | None = None) -> None:
        """Make one of this client's sessions on the image the active one.

        Raises:
            SessionError: this client holds no such session on that image (sessions never cross
                images).
        """
        self._actor(image).use_session(session_id)

    def sessions(self, image: str | None = None) -> tuple[SessionRecord, ...]:
        """This client's sessions on an image (current by default), from the session cache."""
        slot = self._slot(image)
        return slot.cache.records(slot.link.image_id or slot.name)

    def active_session(self, image: str | None = None) -> str | None:
        """The active session of an image (current by default)."""
        return self._slot(image).cache.active

    async def switch(self, image: str, *, preserve_context: bool = True) -> ImageConnectionStatus:
        """Make `image` the current image.

        With `preserve_context` the outgoing image's active session and notes are saved (and
        persisted when there is a store) and the incoming image's saved context is restored.

        Raises:
            ImageNotFound: no such image.

        Cancellation: the current image changes only at the end; a context saved before the cancel
        stays saved.
        """
        target = self._slot(image)
        old = self._slots.get(self._current) if self._current is not None else None
        if preserve_context and old is not None and old is not target:
            saved = old.cache.preserve(now=time.time())
            key = (old.cache.image_id, saved.active_session, saved.notes)
            if self.store is not None and key != old.persisted_context:
                try:
                    await persistence.save_context(self.store, old.cache.image_id, saved)
                except Exception:
                    log.warning("session store: save_context failed", exc_info=True)
                else:
                    old.persisted_context = key
        if preserve_context:
            if target.cache.saved is None and target.cache.active and target.cache.image_id:
                loaded = await self._persist(
                    persistence.load_context, target.cache.image_id, target.cache.active
                )
                target.cache.restore(loaded)
                if loaded is not None:  # what the store holds need not be written back unchanged
                    target.persisted_context = (
                        target.cache.image_id,
                        loaded.active_session,
                        tuple(sorted(loaded.notes)),  # in the order preserve() gives them
                    )
            else:
                target.cache.restore()
        from_id = (old.link.image_id or old.name) if old is not None else None
        self._current = target.name
        self._bus.publish(
            ContextSwitched(
                from_image_id=from_id,
                to_image_id=target.link.image_id or target.name,
                at=time.time(),
            )
        )
        return self._snapshot(target)

    async def _persist(self, fn: Any, *args: Any) -> Any:
        if self.store is None:
            return None
        try:
            return await fn(self.store, *args)
        except Exception:
            log.warning("session store: %s failed", fn.__name__, exc_info=True)
            return None

    async def cleanup_sessions(
        self, image: str | None = None, *, force: bool = False, preserve_active: bool = True
    ) -> CleanupReport:
        """Forget sessions the image lost (orphaned); with `force` also close live ones on the image,
        except the active one when `preserve_active`. The store's cleanup runs too when there is one.

        Cancellation: sessions already closed stay closed; the rest are kept.
        """
        slot = self._slot(image)
        image_id = slot.link.image_id or slot.name
        closed: list[str] = []
        kept: list[str] = []
        for entry in slot.cache:
            sid = entry.session_id
            if entry.status is SessionStatus.ORPHANED:
                slot.cache.remove(sid)
                closed.append(sid)
            elif force and not (preserve_active and sid == slot.cache.active):
                with contextlib.suppress(SessionError, ImageDisconnected):
                    if slot.actor is not None:
                        await slot.actor.close_session(sid)
                slot.cache.remove(sid)
                closed.append(sid)
            else:
                kept.append(sid)
        if self.store is not None and slot.link.image_id:
            report = await self._persist(
                lambda store, *a: store.cleanup_orphaned_sessions(
                    a[0], force=force, preserve_active=preserve_active
                ),
                slot.link.image_id,
            )
            if report is not None:
                closed.extend(s for s in report.closed if s not in closed)
        return CleanupReport(image_id=image_id, closed=tuple(closed), kept=tuple(kept))

    async def list_sessions(
        self, image: str | None = None, *, include_disconnected: bool = False
    ) -> ImageSessions:
        """Sessions of one image (by name or id) or, with `image=None`, of every image.

        Without `include_disconnected` only connected images' live sessions are listed; with it also
        those of images that are down, and (with a store) sessions the store remembers that are not
        in any cache (detached, orphaned, closed).

        Cancellation: only a read of the store is abandoned; nothing changes.
        """
        slots = [self._slot(image)] if image is not None else list(self._slots.values())
        records: list[SessionRecord] = []
        for slot in sorted(slots, key=lambda s: s.order):
            if not include_disconnected and slot.link.status is not ConnectionStatus.CONNECTED:
                continue
            for record in slot.cache.records(slot.link.image_id or slot.name):
                if include_disconnected or record.status is SessionStatus.ACTIVE:
                    records.append(record)
        if include_disconnected and self.store is not None:
            seen = {r.session_id for r in records}
            image_id = self._slot(image).link.image_id if image is not None else None
            stored = await self._persist(
                lambda store, *a: store.list_image_sessions(a[0], include_disconnected=True),
                image_id,
            )
            records.extend(r for r in stored or () if r.session_id not in seen)
        return ImageSessions(sessions=tuple(records))

    async def session_stats(self, image: str | None = None) -> ImageSessionStats:
        """Counts over this client's sessions on an image.

        Cancellation: nothing to undo (no I/O).
        """
        slot = self._slot(image)
        return slot.cache.stats(slot.link.image_id or slot.name)

    # ----------------------------------------------------------------------------------------------
    # The control union

    async def command(self, command: ControlCommand) -> ControlReply:
        """Carry out any control command (the front ends' language; see stui.protocol.control).

        Returns:
            `ImageConnectionStatus` for ConnectImage, DisconnectImage, SwitchImageContext and
            GetImageConnectionStatus; `ImageSessions`, `ImageSessionStats` or `CleanupReport` for the
            session queries.

        Raises:
            as the method each command maps to.

        Cancellation: as the method the command maps to.
        """
        match command:
            case ConnectImage():
                return await self.connect(
                    command.address,
                    name=command.name,
                    key=command.key,
                    heartbeat_interval=command.heartbeat_interval,
                    heartbeat_misses=command.heartbeat_misses,
                )
            case DisconnectImage(image_id=image_id):
                return await self.disconnect(image_id)
            case SwitchImageContext(
                from_image_id=from_id, to_image_id=to_id, preserve_context=keep
            ):
                if from_id is not None and from_id != self._current:
                    self._current = self._slot(from_id).name
                return await self.switch(to_id, preserve_context=keep)
            case CleanupImageSessions(image_id=image_id, force=force, preserve_active=keep):
                return await self.cleanup_sessions(image_id, force=force, preserve_active=keep)
            case ListImageSessions(image_id=image_id, include_disconnected=all_):
                return await self.list_sessions(image_id, include_disconnected=all_)
            case GetImageSessionStats(image_id=image_id):
                return await self.session_stats(image_id)
            case GetImageConnectionStatus(image_id=image_id):
                return self.status(image_id)
            case _:
                raise StuiError(f"not a control command: {command!r}")

    # ----------------------------------------------------------------------------------------------
    # Events

    def subscribe(self, maxlen: int | None = None) -> Subscription:
        """A subscription to every control event from now on (status and health changes, restarts,
        orphaned sessions, transcript output, context switches).

        Use as `async with sup.subscribe() as events: async for event in events: ...`. A subscriber
        that falls more than `maxlen` events behind loses the oldest; `Subscription.dropped` counts
        them. Iteration ends when the supervisor closes.
        """
        return self._bus.subscribe(maxlen or self.config.event_buffer)

    def events(self, maxlen: int | None = None) -> Subscription:
        """Same as `subscribe()`, for `async for event in sup.events(): ...`."""
        return self.subscribe(maxlen)

    @property
    def bus(self) -> EventBus:
        """The event bus (publish counters, subscriber count)."""
        return self._bus


@contextlib.asynccontextmanager
async def open_supervisor(
    config: SupervisorConfig | None = None, *, store: SessionStore | None = None
) -> AsyncIterator[Supervisor]:
    """Open a supervisor for the duration of an `async with` block.

    Args:
        config: knobs; None for the defaults.
        store: an open session store (`stui.sessions.open_session_store`) to persist images, sessions
            and history in; None persists nothing.

    Yields:
        The supervisor.

    Cancellation: leaving the block for any reason stops every image actor (stop messages in reverse
    start order, then cancellation after `shutdown_timeout`) and closes every subscription.
    """
    from .zmq_trio import new_context

    config = config or SupervisorConfig()
    context = new_context(config.max_sockets)
    try:
        async with trio.open_nursery() as nursery:
            supervisor = Supervisor(nursery, config, store=store, zmq_context=context)
            try:
                yield supervisor
            finally:
                with trio.CancelScope(shield=True):
                    await supervisor._shutdown()
                nursery.cancel_scope.cancel()
    finally:
        context.destroy(linger=0)
