"""A scripted stand-in for an image, over memory transports, for state-machine tests under autojump_clock.

It speaks the real codec (every frame goes through `protocol.encode`/`decode`), so the actor under test
sees real frames; but its behaviour is scripted and controllable from the test: freeze (stop answering,
like SIGSTOP), kill (drop every link, like kill -9), restart (new instance_id, sessions gone), refuse
connections, answer Hello with garbage, evaluate slowly. Integration tests use the real server instead.

Evaluation language: "sleep:N" sleeps N seconds then answers; "fail" answers a ZeroDivide error;
"print:TEXT" writes TEXT to the transcript first; digits and + - * are computed; anything else echoes.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator

import cbor2
import trio
from stui.actors.errors import TransportClosed, TransportConnectError
from stui.actors.transport import MemoryTransport, memory_transport_pair
from stui.protocol import (
    AttachSession,
    CloseSession,
    Complete,
    CompletionItem,
    Completions,
    CreateSession,
    Error,
    ErrorCode,
    ErrorDetails,
    EvalResult,
    Evaluate,
    Hello,
    ImageShutdown,
    Inspect,
    Inspection,
    Interrupt,
    InterruptAck,
    ListSessions,
    Ping,
    Pong,
    SessionClosed,
    SessionExpired,
    SessionList,
    SessionOpened,
    SessionSummary,
    SystemInfo,
    SystemInfoReply,
    TranscriptOutput,
    Welcome,
    decode,
    encode,
)

_ids = itertools.count(1)


class FakeImage:
    def __init__(self, nursery: trio.Nursery, *, name: str = "fake", key: bytes = b"") -> None:
        self.nursery = nursery
        self.name = name
        self.key = key
        self.image_id = f"img-{name}"
        self.instance_id = f"inst-{next(_ids)}"
        self.sessions: dict[str, SessionSummary] = {}
        self.frozen = False
        self.refuse = False
        self.garbage_hellos = 0
        self.hello_reply: object | None = None
        self.ignore: set[type] = set()  # request types left unanswered
        self.received: list[object] = []
        self.links: list[MemoryTransport] = []
        self.connections = 0
        self.hellos: list[Hello] = []
        self._running: dict[tuple[int, int], trio.CancelScope] = {}
        self._thaw = trio.Event()

    # -- controls ---------------------------------------------------------------------------------

    def freeze(self) -> None:
        self.frozen = True
        self._thaw = trio.Event()

    def thaw(self) -> None:
        self.frozen = False
        self._thaw.set()

    def kill(self) -> None:
        for link in self.links:
            link._closed = True
            link._send_channel.close()
            link._receive_channel.close()
        self.links.clear()

    def restart(self) -> None:
        self.kill()
        self.instance_id = f"inst-{next(_ids)}"
        self.sessions.clear()

    def restart_in_place(self) -> None:
        """A new process on the same address, reached by the old links (ZeroMQ reconnects under
        the client's feet): sessions gone, a new instance id, no link closed."""
        self.instance_id = f"inst-{next(_ids)}"
        self.sessions.clear()

    async def shutdown_announce(self, reason: str = "bye") -> None:
        for link in list(self.links):
            with contextlib.suppress(TransportClosed):
                await link.send(encode(ImageShutdown(reason=reason), key=self.key))

    async def inject(self, data: bytes) -> None:
        """Send raw bytes to every connected client."""
        for link in list(self.links):
            with contextlib.suppress(TransportClosed):
                await link.send(data)

    async def expire(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        for link in list(self.links):
            with contextlib.suppress(TransportClosed):
                await link.send(
                    encode(SessionExpired(session_id=session_id, reason="idle"), key=self.key)
                )

    # -- the actor's link factory -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open_link(self) -> AsyncIterator[MemoryTransport]:
        if self.refuse:
            await trio.lowlevel.checkpoint()
            raise TransportConnectError("refused (fake)")
        client, server = memory_transport_pair(max_buffer_size=1000)
        self.connections += 1
        self.links.append(server)
        self.nursery.start_soon(self._serve_link, server, self.connections)
        try:
            yield client
        finally:
            await client.aclose()

    # -- serving ------------------------------------------------------------------------------------

    async def _serve_link(self, link: MemoryTransport, conn: int) -> None:
        async with trio.open_nursery() as nursery:
            try:
                while True:
                    data = await link.receive()
                    if self.frozen:
                        await self._thaw.wait()
                        if link not in self.links:
                            return
                    frame = decode(data, key=self.key)
                    self.received.append(frame.message)
                    if type(frame.message) in self.ignore:
                        continue
                    await self._handle(link, nursery, conn, frame.request_id, frame.message)
            except TransportClosed:
                pass
            finally:
                nursery.cancel_scope.cancel()

    async def _reply(self, link: MemoryTransport, rid: int, message: object) -> None:
        with contextlib.suppress(TransportClosed):
            await link.send(encode(message, request_id=rid, key=self.key))

    def _summary(self, name: str) -> SessionSummary:
        sid = f"s{next(_ids)}"
        summary = SessionSummary(session_id=sid, name=name, created_at=float(next(_ids)))
        self.sessions[sid] = summary
        return summary

    async def _handle(
        self, link: MemoryTransport, nursery: trio.Nursery, conn: int, rid: int, msg: object
    ) -> None:
        match msg:
            case Hello():
                self.hellos.append(msg)
                if self.garbage_hellos > 0:
                    self.garbage_hellos -= 1
                    with contextlib.suppress(TransportClosed):
                        await link.send(b"\xff\x00garbage")
                    return
                if self.hello_reply is not None:
                    await self._reply(link, rid, self.hello_reply)
                    return
                await self._reply(
                    link,
                    rid,
                    Welcome(
                        version=1,
                        image_id=self.image_id,
                        instance_id=self.instance_id,
                        image_name=self.name,
                        dialect="fake",
                        dialect_version="1.0",
                        capabilities=("interrupt",),
                    ),
                )
            case Ping(timestamp=ts):
                await self._reply(
                    link, rid, Pong(timestamp=ts, image_time=0.0, instance_id=self.instance_id)
                )
            case CreateSession(name=name):
                await self._reply(
                    link, rid, SessionOpened(session=self._summary(name), resumed=False)
                )
            case AttachSession(session_id=sid):
                if sid in self.sessions:
                    await self._reply(
                        link, rid, SessionOpened(session=self.sessions[sid], resumed=True)
                    )
                else:
                    await self._reply(
                        link, rid, Error(code=ErrorCode.SESSION_NOT_FOUND, message=f"no {sid}")
                    )
            case CloseSession(session_id=sid):
                if self.sessions.pop(sid, None) is None:
                    await self._reply(
                        link, rid, Error(code=ErrorCode.SESSION_NOT_FOUND, message=f"no {sid}")
                    )
                else:
                    await self._reply(link, rid, SessionClosed(session_id=sid))
            case ListSessions():
                await self._reply(link, rid, SessionList(sessions=tuple(self.sessions.values())))
            case Evaluate():
                nursery.start_soon(self._evaluate, link, conn, rid, msg)
            case Interrupt(target_id=target):
                scope = self._running.pop((conn, target), None)
                if scope is not None:
                    scope.cancel()
                await self._reply(
                    link, rid, InterruptAck(target_id=target, was_running=scope is not None)
                )
            case Inspect(session_id=sid):
                await self._reply(
                    link, rid, Inspection(class_name="Object", print_string=f"an Object in {sid}")
                )
            case Complete(source=source, cursor=cursor):
                await self._reply(
                    link,
                    rid,
                    Completions(
                        start=0, items=(CompletionItem(text=source[:cursor] + "Foo", kind="class"),)
                    ),
                )
            case SystemInfo():
                await self._reply(
                    link,
                    rid,
                    SystemInfoReply(
                        image_name=self.name,
                        dialect="fake",
                        dialect_version="1.0",
                        uptime=1.0,
                        sessions=len(self.sessions),
                        clients=1,
                    ),
                )
            case _:
                await self._reply(
                    link, rid, Error(code=ErrorCode.UNSUPPORTED_OPERATION, message="nope")
                )

    async def _evaluate(self, link: MemoryTransport, conn: int, rid: int, msg: Evaluate) -> None:
        if msg.session_id not in self.sessions:
            await self._reply(
                link, rid, Error(code=ErrorCode.SESSION_NOT_FOUND, message=msg.session_id)
            )
            return
        source = msg.source
        if source == "refuse":  # the image refuses the request itself
            await self._reply(
                link, rid, Error(code=ErrorCode.INVALID_REQUEST, message="too many requests")
            )
            return
        if source == "pong":  # a reply of the wrong type
            await self._reply(link, rid, Pong(timestamp=0.0, image_time=0.0))
            return
        if source == "badreply":  # a malformed reply whose request id can still be read
            payload = cbor2.dumps({"type": "EvalResult", "id": rid, "body": {"print_string": 5}})
            with contextlib.suppress(TransportClosed):
                await link.send(cbor2.dumps({"v": 1, "msg": payload}))
            return
        with trio.CancelScope() as scope:
            self._running[(conn, rid)] = scope
            if source.startswith("sleep:"):
                await trio.sleep(float(source[6:]))
            elif source.startswith("print:"):
                await self._reply(
                    link, 0, TranscriptOutput(session_id=msg.session_id, text=source[6:])
                )
        self._running.pop((conn, rid), None)
        if scope.cancelled_caught:
            await self._reply(link, rid, Error(code=ErrorCode.INTERRUPTED, message="interrupted"))
            return
        if source == "fail":
            await self._reply(
                link,
                rid,
                Error(
                    code=ErrorCode.EVALUATION_ERROR,
                    message="ZeroDivide",
                    details=ErrorDetails(error_class="ZeroDivide", stack=("SmallInteger>>/",)),
                ),
            )
            return
        arithmetic = source and set(source) <= set("0123456789+-* ")
        text = str(eval(source)) if arithmetic else source  # digits and + - * only
        await self._reply(link, rid, EvalResult(print_string=text, class_name="SmallInteger"))
