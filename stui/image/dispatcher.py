"""The image's protocol brain: one state per client connection, and every request answered.

Transports (stui.image.server) hand each incoming frame to `RequestDispatcher.handle_frame` *synchronously*,
from the task that received it, and give every connection a `deliver(bytes)` callable that queues an
outgoing frame without waiting. That split decides the latency story:

* The frame is decoded exactly once, in the receiving task. `Ping`, `Hello`, `Interrupt` and the session
  bookkeeping (create, attach, close, list, SystemInfo) are answered right there, before the receiving
  task looks at the next frame, so they never wait behind an evaluation.
* `Evaluate` and `Inspect` run Smalltalk. An evaluation advances in slices of `config.slice_seconds`
  (the evaluator is a greenlet that yields when its slice is used up) with a trio checkpoint between
  slices; Transcript output collected during a slice is sent as `TranscriptOutput` events before the next
  slice runs. Slices after the first run in a task of the request's own (in the server's nursery).
* The *first* slice of an `Evaluate` runs inline, in the receiving task, when the evaluation could start
  at once anyway (its session has nothing queued, its connection's slice lock is free) and the receiving
  task has not yet spent its inline allowance (about one slice per round: the transport calls
  `new_round` after each of its checkpoints). Most REPL evaluations finish within it and are answered
  right there: a task start, three checkpoints and a kick of the router are saved (measured: server
  CPU per `3 + 4` 335 -> 230 us, round trip p50 420 -> 300 us). One that does not finish is handed,
  suspended, to a task that goes on slicing it, so the receiving task still serves other frames
  between any two slices, as before.
* `Complete` runs no Smalltalk (it reads names and selectors) and is answered inline.
* One evaluation at a time per session: later ones wait in the session's queue, in arrival order
  (queueing, not refusing, so a client may pipeline). Sessions run concurrently with each other.

Fairness against a flooding client: a connection may have at most `max_in_flight_per_client` requests
waiting or running, beyond which it gets `Error(InvalidRequest)` at once (cheap to produce); and the
evaluations of one connection take turns on that connection's *slice lock* (FIFO), so every connection
runs at most one slice per scheduling round however many evaluations it has started (an inline first
slice needs the lock free, and the receiving task runs about one inline slice per round); and every
image of the trio run shares one `SliceGate` (stui.image.slice_gate), which bounds the slices run
between two polls of the sockets, however many sessions are busy. ZeroMQ's ROUTER
fair-queues incoming frames across peers, and every WebSocket has its own reading task, so a flood of
cheap requests cannot hide the frames of other clients either.

Requests before `Hello`: `Ping` is answered (a heartbeat needs no handshake) and `Hello` starts the
session; anything else gets `Error(InvalidRequest, "say Hello first")`. A connection gets state (a slot
in the connection table, bounded by `max_clients`) only once it has said Hello, so garbage from unknown
peers costs nothing but a counter.

Bad frames: a frame that does not decode gets `Error(InvalidRequest)` — `Error(PermissionDenied)` when the
signature is missing or wrong — if its request id could be read, and is dropped otherwise; both are
counted (`frames_rejected`, `frames_dropped`) and shown in `SystemInfoReply.metadata`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import trio

import stui
from stui.image.client_state import (
    ClientConnection,
    InFlight,
    ServerStats,
    abandon_evaluation,
    cancel_request,
    leave_queue,
)
from stui.image.config import ImageServerConfig
from stui.image.sessions import Session, SessionLimitReached, SessionTable
from stui.image.slice_gate import slice_gate
from stui.image.smalltalk import Failure, SmalltalkImage, Success
from stui.image.smalltalk.evaluation import Evaluation
from stui.protocol import (
    SUPPORTED_VERSIONS,
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
    LocalProtocolError,
    Ping,
    Pong,
    RemoteProtocolError,
    Request,
    SessionClosed,
    SessionExpired,
    SessionList,
    SessionOpened,
    SignatureError,
    Slot,
    SystemInfo,
    SystemInfoReply,
    TranscriptOutput,
    Welcome,
    decode,
    encode,
)

__all__ = ["CAPABILITIES", "DIALECT", "RequestDispatcher"]

DIALECT = "stui-smalltalk"
CAPABILITIES = ("sessions", "interrupt", "inspect", "complete", "transcript", "time-budget")


class RequestDispatcher:
    """Answers every request of one image.

    Args:
        config: the image's configuration (limits, key, name).
        image_id: the stable image id.
        instance_id: this run's id.
        nursery: where request tasks run; the server cancels it to stop them.
        image: the Smalltalk image whose workspaces sessions get; a new one by default.
    """

    def __init__(
        self,
        config: ImageServerConfig,
        *,
        image_id: str,
        instance_id: str,
        nursery: trio.Nursery,
        image: SmalltalkImage | None = None,
    ) -> None:
        self.config = config
        self.image_id = image_id
        self.instance_id = instance_id
        self.image = (
            image
            if image is not None
            else SmalltalkImage(
                name=config.name, handle_limit=config.max_handles, max_depth=config.max_depth
            )
        )
        self.sessions = SessionTable(
            max_sessions=config.max_sessions, max_per_client=config.max_sessions_per_client
        )
        self.stats = ServerStats()
        self.connections: dict[Hashable, ClientConnection] = {}
        self.transports: tuple[str, ...] = ()
        self._nursery = nursery
        self._started = trio.current_time()
        self._by_client_id: dict[str, ClientConnection] = {}
        # Seconds of Smalltalk the receiving task may still run inline before its next checkpoint.
        self._inline_left = config.slice_seconds
        # Shared by every image of this trio run: bounds the slices run between two I/O polls.
        self._gate = slice_gate(config.slice_seconds)

    # ----------------------------------------------------------------------------------------------
    # Entry points for the transports

    def connection_for(self, key: Hashable, deliver: Callable[[bytes], bool]) -> ClientConnection:
        """The known connection for `key`, or a fresh one (kept only once it says Hello)."""
        conn = self.connections.get(key)
        if conn is None:
            conn = ClientConnection(key=key, deliver=deliver)
        return conn

    def new_round(self) -> None:
        """The receiving task is back from a checkpoint: it may run about one slice inline again.

        Transports call it before handling the frames of each round (the ZeroMQ router before each
        batch, a WebSocket reader before each message). A transport that never calls it only loses
        the inline fast path: evaluations then all run in tasks.
        """
        self._inline_left = self.config.slice_seconds

    def connection_lost(self, conn: ClientConnection) -> None:
        """The peer went away (WebSocket closed, or its client id came back elsewhere).

        Forgets the connection and stops its requests: nobody is left to read their replies.
        """
        self._forget(conn)
        for record in conn.in_flight.values():
            cancel_request(record)

    def handle_frame(self, conn: ClientConnection, data: bytes) -> None:
        """Decode one frame from `conn` and answer it (now, or from a task it starts). Never raises."""
        self.stats.frames_received += 1
        conn.last_seen = trio.current_time()
        try:
            frame = decode(data, key=self.config.key, max_size=self.config.max_frame_size)
        except SignatureError as e:
            self._reject(conn, e.request_id, ErrorCode.PERMISSION_DENIED, str(e))
            return
        except RemoteProtocolError as e:
            self._reject(conn, e.request_id, ErrorCode.INVALID_REQUEST, str(e))
            return
        rid, msg = frame.request_id, frame.message
        try:
            self._dispatch(conn, rid, msg)
        except Exception as e:  # a bug here must cost one request, never the server
            self._send(
                conn, rid, Error(code=ErrorCode.INTERNAL_ERROR, message=f"{type(e).__name__}: {e}")
            )

    def broadcast_shutdown(self, reason: str) -> None:
        """Queue `ImageShutdown` to every client that said Hello."""
        for conn in list(self.connections.values()):
            self._send(conn, 0, ImageShutdown(reason=reason, restarting=False))

    async def sweep_forever(self) -> None:
        """Expire idle sessions, sending `SessionExpired` to their clients, forever.

        Cancellation: safe at any point.
        """
        expiry = self.config.session_idle_expiry
        period = min(max(expiry / 4, 0.01), 5.0)
        while True:
            await trio.sleep(period)
            self.sweep(trio.current_time())

    def sweep(self, now: float) -> None:
        """One expiry pass at trio time `now`."""
        expiry = self.config.session_idle_expiry
        for session in self.sessions.take_expired(now=now, idle_expiry=expiry):
            self.stats.sessions_expired += 1
            conn = self._by_client_id.get(session.client_id)
            if conn is not None:
                self._send(
                    conn,
                    0,
                    SessionExpired(
                        session_id=session.session_id,
                        reason=f"idle for more than {expiry:g} s",
                    ),
                )

    # ----------------------------------------------------------------------------------------------
    # Sending

    def _send(self, conn: ClientConnection, rid: int, msg: Any) -> None:
        try:
            data = encode(msg, request_id=rid, key=self.config.key, version=conn.version or 1)
        except LocalProtocolError:
            # A value that breaks a field rule (a bug, or an odd print string): answer, never crash.
            data = encode(
                Error(code=ErrorCode.INTERNAL_ERROR, message="reply could not be encoded"),
                request_id=rid,
                key=self.config.key,
            )
        if not conn.deliver(data):
            self.stats.frames_unsent += 1

    def _reject(self, conn: ClientConnection, rid: int | None, code: ErrorCode, text: str) -> None:
        if rid is None:
            self.stats.frames_dropped += 1
            return
        self.stats.frames_rejected += 1
        self._send(conn, rid, Error(code=code, message=text))

    # ----------------------------------------------------------------------------------------------
    # Connection table

    def _register(self, conn: ClientConnection, client_id: str) -> None:
        if conn.key not in self.connections:
            if len(self.connections) >= self.config.max_clients:
                idle = [c for c in self.connections.values() if not c.in_flight]
                if idle:
                    self._forget(min(idle, key=lambda c: c.last_seen))
            self.connections[conn.key] = conn
        old = conn.client_id
        if old is not None and old != client_id and self._by_client_id.get(old) is conn:
            del self._by_client_id[old]
        previous = self._by_client_id.get(client_id)
        if previous is not None and previous is not conn:
            # The same client on a new connection: it restarted or reconnected, and nobody is left
            # to read the old connection's replies (ZeroMQ never tells us a peer went away). Stop
            # its requests so its sessions are free for the new connection at once.
            self.connection_lost(previous)
        conn.client_id = client_id
        self._by_client_id[client_id] = conn

    def _forget(self, conn: ClientConnection) -> None:
        if self.connections.get(conn.key) is conn:
            del self.connections[conn.key]
        if conn.client_id is not None and self._by_client_id.get(conn.client_id) is conn:
            del self._by_client_id[conn.client_id]

    # ----------------------------------------------------------------------------------------------
    # Dispatch

    def _dispatch(self, conn: ClientConnection, rid: int, msg: Any) -> None:
        match msg:
            case Ping(timestamp=ts):
                self._send(
                    conn,
                    rid,
                    Pong(timestamp=ts, image_time=time.time(), instance_id=self.instance_id),
                )
                return
            case Hello():
                self._hello(conn, rid, msg)
                return
        if not isinstance(msg, Request):
            self._reject(
                conn, rid, ErrorCode.INVALID_REQUEST, f"{type(msg).__name__} is not a request"
            )
            return
        client_id = conn.client_id
        if client_id is None or self.connections.get(conn.key) is not conn:
            self._reject(conn, rid, ErrorCode.INVALID_REQUEST, "say Hello first")
            return
        if rid in conn.in_flight:
            self._reject(
                conn, rid, ErrorCode.INVALID_REQUEST, f"request id {rid} is already in flight"
            )
            return
        match msg:
            case Evaluate() | Inspect() | Complete():  # the commonest first
                self._start_task(conn, rid, msg)
            case CreateSession(name=name):
                self._create_session(conn, rid, client_id, name)
            case AttachSession(session_id=sid):
                self._attach_session(conn, rid, client_id, sid)
            case CloseSession(session_id=sid):
                self._close_session(conn, rid, client_id, sid)
            case ListSessions(all_clients=all_clients):
                sessions = self.sessions if all_clients else self.sessions.for_client(client_id)
                summaries = tuple(s.summary() for s in sessions)
                self._send(conn, rid, SessionList(sessions=summaries))
            case SystemInfo():
                self._send(conn, rid, self._system_info())
            case Interrupt(target_id=target):
                self._interrupt(conn, rid, target)

    def _hello(self, conn: ClientConnection, rid: int, hello: Hello) -> None:
        common = set(hello.versions) & set(SUPPORTED_VERSIONS)
        if not common:
            self._send(
                conn,
                rid,
                Error(
                    code=ErrorCode.PROTOCOL_VERSION,
                    message=(
                        f"no common protocol version: the client offers {sorted(hello.versions)},"
                        f" this image speaks {list(SUPPORTED_VERSIONS)}"
                    ),
                ),
            )
            return
        conn.version = max(common)
        self._register(conn, hello.client_id)
        self._send(
            conn,
            rid,
            Welcome(
                version=conn.version,
                image_id=self.image_id,
                instance_id=self.instance_id,
                image_name=self.config.name,
                dialect=DIALECT,
                dialect_version=stui.__version__,
                capabilities=CAPABILITIES,
                metadata=(
                    ("pid", str(os.getpid())),
                    ("transports", ",".join(self.transports)),
                    ("signed", "true" if self.config.key else "false"),
                    *self._limits(),
                ),
            ),
        )

    def _system_info(self) -> SystemInfoReply:
        return SystemInfoReply(
            image_name=self.config.name,
            dialect=DIALECT,
            dialect_version=stui.__version__,
            uptime=trio.current_time() - self._started,
            sessions=len(self.sessions),
            clients=len(self.connections),
            metadata=(
                ("image_id", self.image_id),
                ("instance_id", self.instance_id),
                ("pid", str(os.getpid())),
                *self._limits(),
                *self.stats.as_metadata(),
            ),
        )

    def _limits(self) -> tuple[tuple[str, str], ...]:
        """The limits a client can run into (protocol.md §10), as metadata entries."""
        c = self.config
        return (
            ("max_sessions", str(c.max_sessions)),
            ("max_sessions_per_client", str(c.max_sessions_per_client)),
            ("max_in_flight_per_client", str(c.max_in_flight_per_client)),
            ("max_frame_size", str(c.max_frame_size)),
            ("max_handles", str(c.max_handles)),
            ("max_source_size", str(c.max_source_size)),
            ("session_idle_expiry", f"{c.session_idle_expiry:g}"),
            ("eval_time_budget", f"{c.eval_time_budget:g}"),
            ("max_depth", str(self.image.vm.max_depth)),
        )

    # ----------------------------------------------------------------------------------------------
    # Sessions

    def _now(self) -> tuple[float, float]:
        return time.time(), trio.current_time()

    def _create_session(self, conn: ClientConnection, rid: int, client_id: str, name: str) -> None:
        wall, now = self._now()
        try:
            session = self.sessions.create(
                client_id=client_id,
                name=name,
                workspace=self.image.new_workspace(),
                wall=wall,
                now=now,
            )
        except SessionLimitReached as e:
            self._send(conn, rid, Error(code=ErrorCode.INVALID_REQUEST, message=str(e)))
            return
        self._send(conn, rid, SessionOpened(session=session.summary(), resumed=False))

    def _attach_session(self, conn: ClientConnection, rid: int, client_id: str, sid: str) -> None:
        wall, now = self._now()
        try:
            session = self.sessions.attach(sid, client_id=client_id, wall=wall, now=now)
        except SessionLimitReached as e:
            self._send(conn, rid, Error(code=ErrorCode.INVALID_REQUEST, message=str(e)))
            return
        if session is None:
            self._send(conn, rid, _no_session(sid))
            return
        self._send(conn, rid, SessionOpened(session=session.summary(), resumed=True))

    def _close_session(self, conn: ClientConnection, rid: int, client_id: str, sid: str) -> None:
        session = self.sessions.get(sid)
        if session is None or session.client_id != client_id:
            self._send(conn, rid, _no_session(sid))
            return
        self.sessions.remove(sid)
        for record in list(session.queue):  # its running and waiting evaluations end Interrupted
            cancel_request(record)
        self._send(conn, rid, SessionClosed(session_id=sid))

    def _session(self, sid: str, client_id: str) -> Session | None:
        """The session `sid` if `client_id` holds it (others must attach it first), touched."""
        session = self.sessions.get(sid)
        if session is None or session.client_id != client_id:
            return None
        session.touch(wall=time.time(), now=trio.current_time())
        return session

    # ----------------------------------------------------------------------------------------------
    # Requests that run Smalltalk

    def _start_task(
        self, conn: ClientConnection, rid: int, msg: Evaluate | Inspect | Complete
    ) -> None:
        if len(conn.in_flight) >= self.config.max_in_flight_per_client:
            self.stats.requests_refused += 1
            self._send(
                conn,
                rid,
                Error(
                    code=ErrorCode.INVALID_REQUEST,
                    message=(
                        f"too many requests in flight (limit {self.config.max_in_flight_per_client}"
                        " per client): wait for some answers first"
                    ),
                ),
            )
            return
        match msg:
            case Evaluate(source=str() as source) | Inspect(expression=str() as source) if (
                len(source) > self.config.max_source_size
            ):
                self._send(
                    conn,
                    rid,
                    Error(
                        code=ErrorCode.INVALID_REQUEST,
                        message=(
                            f"source of {len(source)} characters exceeds this image's limit of"
                            f" {self.config.max_source_size}"
                        ),
                    ),
                )
                return
        assert conn.client_id is not None
        session = self._session(msg.session_id, conn.client_id)
        if session is None:
            self._send(conn, rid, _no_session(msg.session_id))
            return
        if isinstance(msg, Complete):  # no Smalltalk runs: answered now, like session bookkeeping
            start, items = session.workspace.complete(msg.source, msg.cursor)
            self._send(
                conn,
                rid,
                Completions(
                    start=start, items=tuple(CompletionItem(text=t, kind=k) for t, k in items)
                ),
            )
            return
        record = InFlight()
        conn.in_flight[rid] = record
        session.busy += 1
        session.queue.append(record)  # now, in arrival order (Evaluate and Inspect run Smalltalk)
        run: _Run | None = None
        if session.queue[0] is record:
            record.turn.set()
            if (
                isinstance(msg, Evaluate)
                and self._inline_left > 0
                and not conn.slice_lock.locked()
                and not self._gate.waiting()
            ):
                run = self._first_slice_inline(conn, rid, msg, session, record)
                if run is None:  # finished and answered
                    return
        self._nursery.start_soon(self._run_task, conn, rid, msg, session, record, run)

    def _first_slice_inline(
        self, conn: ClientConnection, rid: int, msg: Evaluate, session: Session, record: InFlight
    ) -> _Run | None:
        """Start `msg` and run its first slice now; None when it finished (and was answered).

        Otherwise the suspended run is returned for a task to carry on; until that task takes it, it
        is a running evaluation like any other (`record.evaluation` is set: Interrupt, a closed
        session or a lost connection interrupt it, a stopping server abandons it).
        """
        reply: Any
        try:
            budget = msg.time_budget if msg.time_budget is not None else self.config.eval_time_budget
            run = self._begin(session, record, msg.source, budget)
            outcome = self._slice(conn, rid, record, run)
            self._inline_left -= run.last_slice
            # Charged to the gate too: with many receiving tasks in one process (a WebSocket reader
            # per client, a router per image) the per-dispatcher allowance alone lets each of them
            # run an uncharged slice per round.
            self._gate.charge(run.last_slice)
            if outcome is None:
                return run
            reply = _eval_reply(self._ended(record, run, outcome))
        except Exception as e:  # as in _run_task: a bug costs this request only
            reply = Error(code=ErrorCode.INTERNAL_ERROR, message=f"{type(e).__name__}: {e}")
        self._request_done(conn, rid, session, record)
        self._send(conn, rid, reply)
        return None

    async def _run_task(
        self,
        conn: ClientConnection,
        rid: int,
        msg: Evaluate | Inspect,
        session: Session,
        record: InFlight,
        run: _Run | None = None,
    ) -> None:
        """Run a request to its end; `run`: an Evaluate whose first slice ran inline."""
        reply: Any = None
        try:
            with record.scope:
                match msg:
                    case Evaluate():
                        reply = await self._evaluate(conn, rid, msg, session, record, run)
                    case Inspect():
                        reply = await self._inspect(conn, rid, msg, session, record)
            if record.scope.cancelled_caught:
                reply = Error(code=ErrorCode.INTERRUPTED, message="interrupted before it ran")
        except Exception as e:
            reply = Error(code=ErrorCode.INTERNAL_ERROR, message=f"{type(e).__name__}: {e}")
        finally:
            self._request_done(conn, rid, session, record)
        if reply is not None:
            self._send(conn, rid, reply)

    def _request_done(
        self, conn: ClientConnection, rid: int, session: Session, record: InFlight
    ) -> None:
        """Forget a finished (or stopped) request: its queue place, busy count and in-flight slot."""
        leave_queue(session, record)
        session.busy -= 1
        session.touch(wall=time.time(), now=trio.current_time())
        conn.in_flight.pop(rid, None)
        if record.evaluation is not None:
            # Cancelled mid-evaluation (server stopping, connection gone): unwind it now (its
            # ensure: blocks run) rather than whenever the garbage collector gets to it.
            abandon_evaluation(record.evaluation)

    def _begin(
        self, session: Session, record: InFlight, source: str | int, budget: float, depth: int = 1
    ) -> _Run:
        """Start running `source` (code, or a handle to inspect `depth` levels deep); no slice yet."""
        pending: list[str] = []
        self.stats.evaluations += 1
        if isinstance(source, str):
            evaluation = session.workspace.start(source, transcript=pending.append)
        else:
            # Printing runs Smalltalk (printOn: overrides), so an inspection is sliced like code.
            evaluation = session.workspace.start_inspection(source, depth=depth)
        record.evaluation = evaluation
        started = trio.current_time()
        return _Run(evaluation, session.session_id, pending, started, started + budget, budget)

    def _slice(self, conn: ClientConnection, rid: int, record: InFlight, run: _Run) -> Any:
        """Run one slice and send the Transcript output it produced; the outcome, or None.

        An evaluation past its budget is interrupted, to finish at its next slice.
        """
        before = time.perf_counter()
        outcome = run.evaluation.resume(slice_seconds=self.config.slice_seconds)
        run.last_slice = time.perf_counter() - before
        pending = run.pending
        if pending:
            text = "".join(pending)
            pending.clear()
            self._send(conn, rid, TranscriptOutput(session_id=run.session_id, text=text))
        if outcome is None and record.stop_reason is None and trio.current_time() >= run.deadline:
            record.stop_reason = "Timeout"
            run.evaluation.interrupt("Timeout")
        return outcome

    def _ended(self, record: InFlight, run: _Run, outcome: Any) -> tuple[Any, float] | Error:
        """The outcome and the seconds it ran, or the `Error` of an interrupted or timed-out run."""
        record.evaluation = None
        elapsed = trio.current_time() - run.started
        match record.stop_reason, outcome:
            case "Timeout", Failure():
                return Error(
                    code=ErrorCode.TIMEOUT,
                    message=f"evaluation stopped after its time budget of {run.budget:g} s",
                )
            case "Interrupted", Failure():
                return Error(code=ErrorCode.INTERRUPTED, message="evaluation interrupted")
        return outcome, elapsed

    async def _run_smalltalk(
        self,
        conn: ClientConnection,
        rid: int,
        session: Session,
        record: InFlight,
        source: str | int,
        budget: float,
        depth: int = 1,
        run: _Run | None = None,
    ) -> tuple[Any, float] | Error:
        """Run `source` (code, or a handle to inspect `depth` levels deep) in the session, in slices.

        `run`: carry on with this one instead (started inline, its turn already come).

        Returns:
            The outcome and the seconds it ran, or an `Error` when it was interrupted or ran out of
            budget.
        """
        if run is None:
            await record.turn.wait()
            run = self._begin(session, record, source, budget, depth)
        gate = self._gate
        try:
            while True:
                # Acquiring the slice lock is always a checkpoint (trio's Lock yields even when
                # free), so everything else runs between two slices; its FIFO hand-off makes the
                # evaluations of one connection take turns instead of each taking a slice per round.
                # The gate then bounds the slices of all images per round (stui.image.slice_gate).
                async with conn.slice_lock:
                    await gate.turn()
                    outcome = self._slice(conn, rid, record, run)
                    gate.charge(run.last_slice)
                if outcome is not None:
                    return self._ended(record, run, outcome)
        finally:
            gate.leave()

    async def _evaluate(
        self,
        conn: ClientConnection,
        rid: int,
        msg: Evaluate,
        session: Session,
        record: InFlight,
        run: _Run | None = None,
    ) -> EvalResult | Error:
        budget = msg.time_budget if msg.time_budget is not None else self.config.eval_time_budget
        return _eval_reply(
            await self._run_smalltalk(conn, rid, session, record, msg.source, budget, run=run)
        )

    async def _inspect(
        self, conn: ClientConnection, rid: int, msg: Inspect, session: Session, record: InFlight
    ) -> Inspection | Error:
        handle = msg.handle
        if msg.expression is not None:
            result = await self._run_smalltalk(
                conn, rid, session, record, msg.expression, self.config.eval_time_budget
            )
            if isinstance(result, Error):
                return result
            outcome, _elapsed = result
            match outcome:
                case Failure():
                    return _failure_error(outcome)
                case Success(handle=None):
                    return Inspection(
                        class_name=outcome.class_name, print_string=outcome.print_string
                    )
                case Success():
                    handle = outcome.handle
        assert handle is not None
        try:
            session.workspace.lookup(handle)
        except LookupError:
            return _object_not_found(handle)
        result = await self._run_smalltalk(
            conn, rid, session, record, handle, self.config.eval_time_budget, msg.depth
        )
        if isinstance(result, Error):
            return result
        data, _elapsed = result
        match data:
            case Failure(error_class="UnknownHandle"):  # dropped by an evaluation meanwhile
                return _object_not_found(handle)
            case Failure():
                return _failure_error(data)
        return Inspection(
            class_name=data.class_name,
            print_string=data.print_string,
            handle=data.handle,
            named=tuple(_slot(name, slot) for name, slot in data.named),
            indexed=tuple(_slot(name, slot) for name, slot in data.indexed),
            indexed_size=data.indexed_size,
        )

    def _interrupt(self, conn: ClientConnection, rid: int, target: int) -> None:
        record = conn.in_flight.get(target)
        if record is None:
            self._send(conn, rid, InterruptAck(target_id=target, was_running=False))
            return
        self._send(conn, rid, InterruptAck(target_id=target, was_running=True))
        cancel_request(record)


@dataclass(eq=False, slots=True)
class _Run:
    """One sliced Smalltalk run of a request: its evaluation, the Transcript output not yet sent,
    and its clock (trio time)."""

    evaluation: Evaluation
    session_id: str
    pending: list[str]
    started: float
    deadline: float
    budget: float
    last_slice: float = 0.0  # seconds its last slice took


def _eval_reply(result: tuple[Any, float] | Error) -> EvalResult | Error:
    """The reply to an Evaluate, from `_ended`'s answer."""
    if isinstance(result, Error):
        return result
    outcome, elapsed = result
    match outcome:
        case Success():
            return EvalResult(
                print_string=outcome.print_string,
                class_name=outcome.class_name,
                handle=outcome.handle,
                elapsed=elapsed,
                truncated=outcome.truncated,
            )
        case Failure():
            return _failure_error(outcome)
    return Error(code=ErrorCode.INTERNAL_ERROR, message=f"evaluator returned {outcome!r}")


def _no_session(sid: str) -> Error:
    return Error(
        code=ErrorCode.SESSION_NOT_FOUND,
        message=f"no session {sid!r} for this client on this image (attach it first if it is another's)",
    )


def _object_not_found(handle: int) -> Error:
    return Error(
        code=ErrorCode.OBJECT_NOT_FOUND,
        message=f"no object with handle {handle} in this session (it may have been dropped)",
    )


#: Stack lines sent in `ErrorDetails.stack` (innermost first); a stack overflow has thousands.
STACK_LINES = 20


def _failure_error(failure: Failure) -> Error:
    return Error(
        code=ErrorCode.EVALUATION_ERROR,
        message=f"{failure.error_class}: {failure.message_text}",
        details=ErrorDetails(
            error_class=failure.error_class,
            selector=failure.selector,
            receiver_class=failure.receiver_class,
            position=failure.position,
            stack=_short_stack(tuple(failure.stack)),
        ),
    )


def _short_stack(stack: tuple[str, ...]) -> tuple[str, ...]:
    if len(stack) <= STACK_LINES:
        return stack
    return (*stack[: STACK_LINES - 1], f"... {len(stack) - STACK_LINES + 1} more")


def _slot(name: Any, slot: Any) -> Slot:
    return Slot(
        name=str(name),
        print_string=slot.print_string,
        class_name=slot.class_name,
        handle=slot.handle,
    )
