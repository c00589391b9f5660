"""ImageActor against a scripted image over memory transports, under autojump_clock (virtual time)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from stui.actors.errors import (
    EvaluationError,
    ImageDisconnected,
    ImageFailed,
    ImageProtocolError,
    RemoteError,
    RequestTimeout,
    SessionError,
)
from stui.actors.events import EventBus, Subscription
from stui.actors.image import ActorSettings, ImageActor
from stui.protocol import (
    AttachSession,
    ConnectImage,
    ConnectionHealth,
    ConnectionStatus,
    Error,
    ErrorCode,
    EvalMode,
    Evaluate,
    Hello,
    ImageHealthChanged,
    ImageRestarted,
    ImageStatusChanged,
    Ping,
    SessionClosed,
    SessionOrphaned,
    TranscriptReceived,
    encode,
)

from .fake_image import FakeImage

H = ConnectionHealth
S = ConnectionStatus

SETTINGS = ActorSettings(connect_timeout=2.0, reconnect_initial=0.1, reconnect_max=0.5)


def pending_evaluations(actor: ImageActor) -> int:
    return len(actor._calls.in_flight(Evaluate))


def drain(sub: Subscription) -> list[object]:
    out = []
    while sub.pending():
        out.append(sub.receive_nowait())
    return out


@contextlib.asynccontextmanager
async def actor_on(
    fake: FakeImage, *, interval: float = 1.0, misses: int = 3, key: bytes = b""
) -> AsyncIterator[tuple[ImageActor, Subscription]]:
    bus = EventBus()
    sub = bus.subscribe(maxlen=10_000)
    actor = ImageActor(
        ConnectImage(
            address="memory://fake",
            name="alpha",
            key=key,
            heartbeat_interval=interval,
            heartbeat_misses=misses,
        ),
        client_id="client-1",
        bus=bus,
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    async with trio.open_nursery() as n:
        await n.start(actor.serve)
        yield actor, sub
        actor.stop()


async def test_handshake_opens_a_main_session_and_reports_connected(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, sub):
        assert fake.hellos == [Hello(client_id="client-1", client_name="stui")]
        status = actor.status()
        assert (status.status, status.image_id, status.instance_id) == (
            S.CONNECTED,
            "img-fake",
            fake.instance_id,
        )
        main = actor.cache.get(actor.cache.active)
        assert main is not None and main.name == "main" and main.session_id in fake.sessions
        first = drain(sub)[0]
        assert isinstance(first, ImageStatusChanged) and (first.old, first.new) == (
            S.UNKNOWN,
            S.CONNECTED,
        )
    assert actor.link.status is S.DISCONNECTED


async def test_many_requests_in_flight_are_matched_by_id(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        results: dict[str, str] = {}

        async def run(src: str) -> None:
            results[src] = (await actor.evaluate(src)).print_string

        async with trio.open_nursery() as n:
            n.start_soon(run, "sleep:3")
            n.start_soon(run, "sleep:1")
            n.start_soon(run, "1 + 2")
            n.start_soon(run, "6 * 7")
        assert results == {"sleep:3": "sleep:3", "sleep:1": "sleep:1", "1 + 2": "3", "6 * 7": "42"}
        assert pending_evaluations(actor) == 0  # (a heartbeat Ping may be in flight)
        evals = [m for m in fake.received if isinstance(m, Evaluate)]
        assert {m.mode for m in evals} == {EvalMode.DISPLAY}
        assert actor.cache.get(actor.cache.active).notes["last_result"] in {
            "3",
            "42",
            "sleep:3",
            "sleep:1",
        }


async def test_errors_are_typed(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        with pytest.raises(EvaluationError) as info:
            await actor.evaluate("fail")
        assert info.value.code is ErrorCode.EVALUATION_ERROR
        assert info.value.details.error_class == "ZeroDivide"
        assert isinstance(info.value.error, Error)
        with pytest.raises(SessionError) as info2:
            await actor.evaluate("1", session="nope")
        assert info2.value.code is ErrorCode.SESSION_NOT_FOUND
        with pytest.raises(SessionError):
            actor.use_session("nope")
        with pytest.raises(RemoteError, match="refused") as refused:
            await actor.evaluate("refuse")
        assert not isinstance(refused.value, EvaluationError)
        assert refused.value.code is ErrorCode.INVALID_REQUEST


async def test_request_timeout_drops_the_late_reply(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        with pytest.raises(RequestTimeout):
            await actor.evaluate("sleep:10", timeout=1.0)
        assert pending_evaluations(actor) == 0
        await trio.sleep(10)
        assert actor.late_replies == 1
        assert (await actor.evaluate("2 + 2")).print_string == "4"


async def test_interrupt_stops_a_running_evaluation(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        outcome: list[BaseException] = []

        async def endless() -> None:
            try:
                await actor.evaluate("sleep:1000")
            except EvaluationError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as n:
            n.start_soon(endless)
            await trio.sleep(1)
            acks = await actor.interrupt()
        assert len(acks) == 1 and acks[0].was_running
        assert outcome[0].code is ErrorCode.INTERRUPTED
        assert await actor.interrupt() == ()


async def test_kill_fails_pending_at_once_then_reconnects_same_instance(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, sub):
        main = actor.cache.active
        drain(sub)
        failed_at: list[float] = []

        async def pending_eval() -> None:
            with pytest.raises(ImageDisconnected):
                await actor.evaluate("sleep:1000")
            failed_at.append(trio.current_time())

        async with trio.open_nursery() as n:
            n.start_soon(pending_eval)
            n.start_soon(pending_eval)
            await trio.sleep(1)
            killed_at = trio.current_time()
            fake.kill()
        assert (
            len(failed_at) == 2 and max(failed_at) - killed_at < 0.01
        )  # at once, no heartbeat wait
        await trio.sleep(2)
        assert actor.status().status is S.CONNECTED and fake.connections == 2
        assert actor.cache.active == main  # re-attached, same session
        events = drain(sub)
        statuses = [(e.old, e.new) for e in events if isinstance(e, ImageStatusChanged)]
        assert statuses == [(S.CONNECTED, S.RECONNECTING), (S.RECONNECTING, S.CONNECTED)]
        assert not any(isinstance(e, ImageRestarted) for e in events)


async def test_restart_is_detected_and_lost_sessions_recreated(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, sub):
        main = actor.cache.active
        extra = (await actor.new_session("scratch", activate=False)).session_id
        actor.cache.set_note(main, "k", "v")
        old_instance = fake.instance_id
        drain(sub)
        fake.restart()
        await trio.sleep(2)
        events = drain(sub)
        restarted = [e for e in events if isinstance(e, ImageRestarted)]
        assert len(restarted) == 1
        assert restarted[0].old_instance_id == old_instance
        assert restarted[0].new_instance_id == fake.instance_id
        assert set(restarted[0].lost_sessions) == {main, extra}
        orphaned = {e.session_id for e in events if isinstance(e, SessionOrphaned)}
        assert orphaned == {main, extra}
        new_main = actor.cache.get(actor.cache.active)
        assert new_main.name == "main" and new_main.session_id != main
        assert new_main.notes == {"k": "v"}
        assert {s.name for s in actor.cache} == {"main", "scratch"}
        assert set(actor.cache.session_ids()) == set(fake.sessions)
        assert (await actor.evaluate("1 + 1")).print_string == "2"


async def test_restart_behind_an_open_link_is_caught_by_the_next_pong(nursery, autojump_clock):
    # The image restarts on the same address and the old link reaches the new process: heartbeats
    # still get answers, but from another instance, which must trigger a fresh handshake at once.
    fake = FakeImage(nursery)
    async with actor_on(fake, interval=1.0, misses=3) as (actor, sub):
        old_instance = fake.instance_id
        drain(sub)
        fake.restart_in_place()
        await trio.sleep(1.5)  # one heartbeat, well before three misses could be counted
        events = drain(sub)
        restarted = [e for e in events if isinstance(e, ImageRestarted)]
        assert [(e.old_instance_id, e.new_instance_id) for e in restarted] == [
            (old_instance, fake.instance_id)
        ]
        assert fake.connections == 2
        assert actor.status().status is S.CONNECTED
        assert set(actor.cache.session_ids()) == set(fake.sessions)
        assert (await actor.evaluate("1 + 1")).print_string == "2"


async def test_frozen_image_degrades_then_is_declared_lost_then_recovers(nursery, autojump_clock):
    fake = FakeImage(nursery)
    interval, misses = 1.0, 3
    async with actor_on(fake, interval=interval, misses=misses) as (actor, sub):
        await trio.sleep(2.5)
        drain(sub)
        frozen_at = trio.current_time()
        fake.freeze()
        lost_at = None
        healths = []
        while lost_at is None:
            ev = await sub.receive()
            if isinstance(ev, ImageHealthChanged):
                healths.append(ev.new)
            if isinstance(ev, ImageStatusChanged) and ev.new is S.RECONNECTING:
                lost_at = trio.current_time()
        assert healths[:2] == [H.WARNING, H.CRITICAL]
        assert lost_at - frozen_at <= (misses + 1) * interval
        with pytest.raises(ImageDisconnected):
            await actor.evaluate("1")
        await trio.sleep(10)  # still frozen: reconnect attempts time out
        assert actor.status().status is S.RECONNECTING
        fake.thaw()
        await trio.sleep(SETTINGS.connect_timeout + SETTINGS.reconnect_max + 1)
        assert actor.status().status is S.CONNECTED
        assert (await actor.evaluate("3 + 4")).print_string == "7"


async def test_refused_reconnects_fail_new_calls_fast(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        fake.refuse = True
        fake.kill()
        await trio.sleep(1)
        start = trio.current_time()
        with pytest.raises(ImageDisconnected, match="reconnecting"):
            await actor.evaluate("1")
        assert trio.current_time() == start
        fake.refuse = False
        await trio.sleep(1)
        assert actor.status().status is S.CONNECTED


async def test_image_shutdown_event_drops_the_link_at_once(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (_actor, sub):
        drain(sub)
        await fake.shutdown_announce("maintenance")
        await trio.testing.wait_all_tasks_blocked()
        changes = [e for e in drain(sub) if isinstance(e, ImageStatusChanged)]
        assert changes[0].new is S.RECONNECTING and "maintenance" in changes[0].reason


async def test_transcript_and_expiry_become_control_events(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, sub):
        drain(sub)
        await actor.evaluate("print:hello")
        sid = actor.cache.active
        await fake.expire(sid)
        await trio.testing.wait_all_tasks_blocked()
        events = drain(sub)
        transcript = [e for e in events if isinstance(e, TranscriptReceived)]
        assert transcript[0].text == "hello" and transcript[0].session_id == sid
        assert transcript[0].image_id == "img-fake"
        orphaned = [e for e in events if isinstance(e, SessionOrphaned)]
        assert orphaned[0].session_id == sid and orphaned[0].reason == "idle"
        assert actor.cache.stats().orphaned == 1


async def test_session_operations(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        main = actor.cache.active
        s2 = await actor.new_session("two")
        assert actor.cache.active == s2.session_id
        actor.use_session(main)
        listed = await actor.list_image_sessions()
        assert {s.session_id for s in listed} == {main, s2.session_id}
        await actor.close_session(s2.session_id)
        assert s2.session_id not in actor.cache and s2.session_id not in fake.sessions
        with pytest.raises(SessionError):
            await actor.close_session(s2.session_id)
        with pytest.raises(SessionError):
            await actor.attach_session("missing")
        attached = await actor.attach_session(main)
        assert attached.session_id == main
        inspection = await actor.inspect(expression="3")
        assert inspection.print_string == f"an Object in {main}"
        completions = await actor.complete("Obj", 3)
        assert completions.items[0].text == "ObjFoo"
        info = await actor.system_info()
        assert info.image_name == "fake"
        await actor.close_session(main)
        with pytest.raises(SessionError, match="no active session"):
            await actor.evaluate("1")


async def test_first_connection_failure_raises_with_fail_fast(nursery, autojump_clock):
    fake = FakeImage(nursery)
    fake.refuse = True
    actor = ImageActor(
        ConnectImage(address="memory://x", name="a"),
        client_id="c",
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    with pytest.raises(ImageDisconnected, match="cannot connect"):
        await nursery.start(
            lambda task_status: actor.serve(fail_fast=True, task_status=task_status)
        )


async def test_silent_image_times_out_the_handshake(nursery, autojump_clock):
    fake = FakeImage(nursery)
    fake.freeze()
    actor = ImageActor(
        ConnectImage(address="memory://x"),
        client_id="c",
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    with pytest.raises(ImageDisconnected, match="no Welcome"):
        await nursery.start(
            lambda task_status: actor.serve(fail_fast=True, task_status=task_status)
        )
    fake.thaw()


@pytest.mark.parametrize(
    ("setup", "error", "match"),
    [
        ("version", ImageFailed, "refused Hello"),
        ("garbage", ImageProtocolError, "does not speak"),
        ("other_error", ImageProtocolError, "refused Hello"),
        ("wrong_reply", ImageProtocolError, "answered Hello with Pong"),
    ],
)
async def test_bad_handshakes(nursery, autojump_clock, setup, error, match):
    from stui.protocol import Pong

    fake = FakeImage(nursery)
    match setup:
        case "version":
            fake.hello_reply = Error(code=ErrorCode.PROTOCOL_VERSION, message="speak v2")
        case "garbage":
            fake.garbage_hellos = 1
        case "other_error":
            fake.hello_reply = Error(code=ErrorCode.INTERNAL_ERROR, message="boom")
        case "wrong_reply":
            fake.hello_reply = Pong(timestamp=0.0, image_time=0.0)
    actor = ImageActor(
        ConnectImage(address="memory://x"),
        client_id="c",
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    with pytest.raises(error, match=match):
        await nursery.start(actor.serve)


async def test_signed_link_and_a_wrong_key(nursery, autojump_clock):
    fake = FakeImage(nursery, key=b"secret")
    async with actor_on(fake, key=b"secret") as (actor, _):
        assert (await actor.evaluate("5 * 5")).print_string == "25"
    unsigned = FakeImage(nursery)  # answers unsigned frames to a client that requires signatures
    actor = ImageActor(
        ConnectImage(address="memory://x", key=b"secret"),
        client_id="c",
        settings=SETTINGS,
        open_link=unsigned.open_link,
    )
    with pytest.raises(ImageFailed, match="wrong key"):
        await nursery.start(actor.serve)


async def test_name_defaults_to_the_image_name(nursery, autojump_clock):
    fake = FakeImage(nursery, name="beta")
    actor = ImageActor(
        ConnectImage(address="memory://x"),
        client_id="c",
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    await nursery.start(actor.serve)
    assert actor.name == "beta" and actor.status().name == "beta"
    actor.stop()


async def test_heartbeat_pings_are_answered_and_measured(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake, interval=0.5) as (actor, _):
        await trio.sleep(3)
        pings = [m for m in fake.received if isinstance(m, Ping)]
        assert 5 <= len(pings) <= 8
        assert actor.status().health is H.HEALTHY and actor.status().rtt is not None


async def test_requests_after_stop_fail(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        pass
    with pytest.raises(ImageDisconnected):
        await actor.evaluate("1")
    actor.stop()  # idempotent


async def test_bad_frames_from_the_image_fail_only_what_they_name(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        await fake.inject(b"\xff not cbor at all")
        await fake.inject(
            encode(Hello(client_id="x"), request_id=99)
        )  # a request: not for a client
        await trio.testing.wait_all_tasks_blocked()
        assert actor.bad_frames == 2
        with pytest.raises(ImageProtocolError, match="bad reply"):
            await actor.evaluate("badreply")
        with pytest.raises(ImageProtocolError, match="answered with Pong"):
            await actor.evaluate("pong")
        assert actor.bad_frames == 3
        assert actor.status().status is S.CONNECTED
        assert (await actor.evaluate("2 + 3")).print_string == "5"


class BrokenStore:
    """A session store whose every call fails, like a full disk."""

    def __getattr__(self, name: str):
        async def fail(*args, **kwargs):
            raise OSError(f"{name}: disk full")

        return fail


async def test_a_failing_store_is_logged_never_fatal(nursery, autojump_clock, caplog):
    fake = FakeImage(nursery)
    actor = ImageActor(
        ConnectImage(address="memory://x", name="alpha"),
        client_id="c",
        settings=SETTINGS,
        store=BrokenStore(),
        open_link=fake.open_link,
    )
    await nursery.start(actor.serve)
    assert (await actor.evaluate("1 + 1")).print_string == "2"
    fake.kill()
    await trio.sleep(1)
    assert actor.status().status is S.CONNECTED
    failed = {r.getMessage() for r in caplog.records if "session store" in r.getMessage()}
    assert {"session store: record_image failed", "session store: add_history failed"} <= failed
    actor.stop()


async def test_unanswered_session_reattach_drops_the_link_and_retries(nursery, autojump_clock):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        main = actor.cache.active
        fake.ignore.add(AttachSession)
        fake.kill()
        await trio.sleep(SETTINGS.connect_timeout * 2 + 1)
        assert actor.status().status is S.RECONNECTING
        assert fake.connections >= 3  # each attempt gave up on the attach and tried again
        attaches = [m for m in fake.received if isinstance(m, AttachSession)]
        assert len(attaches) == fake.connections - 1
        fake.ignore.clear()  # (the attempt in progress still times out first)
        await trio.sleep(SETTINGS.connect_timeout + SETTINGS.reconnect_max + 1)
        assert actor.status().status is S.CONNECTED and actor.cache.active == main


class MinimalTransport:
    """An embedder's transport: only send, receive and aclose (no send_nowait, no receive_into)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    async def send(self, data: bytes) -> None:
        await self._inner.send(data)

    async def receive(self) -> bytes:
        return await self._inner.receive()

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_transport_with_only_send_and_receive_still_works(nursery, autojump_clock):
    fake = FakeImage(nursery)

    @contextlib.asynccontextmanager
    async def minimal_link():
        async with fake.open_link() as inner:
            yield MinimalTransport(inner)

    actor = ImageActor(
        ConnectImage(address="memory://fake", name="alpha"),
        client_id="client-1",
        settings=SETTINGS,
        open_link=minimal_link,
    )
    async with trio.open_nursery() as n:
        await n.start(actor.serve)
        assert (await actor.evaluate("6 * 7")).print_string == "42"
        await fake.inject(b"\xff not cbor at all")
        await trio.testing.wait_all_tasks_blocked()
        assert actor.bad_frames == 1
        fake.kill()  # the fallback reader notices the closed link and the actor reconnects
        await trio.sleep(1)
        assert actor.status().status is S.CONNECTED and fake.connections == 2
        assert (await actor.evaluate("1 + 2")).print_string == "3"
        actor.stop()
    assert actor.link.status is S.DISCONNECTED


class WrongPongImage(FakeImage):
    """Answers Pings with something that is not a Pong once `wrong` is set."""

    wrong = False

    async def _handle(self, link, nursery, conn, rid, msg):
        if self.wrong and isinstance(msg, Ping):
            await self._reply(link, rid, SessionClosed(session_id="x"))
            return
        await super()._handle(link, nursery, conn, rid, msg)


async def test_a_ping_answered_with_something_else_crashes_the_actor(nursery, autojump_clock):
    """The heartbeat's reply check runs in the reader's (or the transport's) task, where it cannot
    raise; the actor still ends as before: serve() raises ImageProtocolError (a crash to restart)."""
    fake = WrongPongImage(nursery)
    actor = ImageActor(
        ConnectImage(address="memory://fake", name="alpha", heartbeat_interval=1.0),
        client_id="client-1",
        settings=SETTINGS,
        open_link=fake.open_link,
    )
    with pytest.raises(ExceptionGroup) as info:
        async with trio.open_nursery() as n:
            await n.start(actor.serve)
            fake.wrong = True
            await trio.sleep(5)
    assert info.group_contains(ImageProtocolError, match="Ping answered with SessionClosed")
    assert actor.pending == 0


async def test_a_request_from_a_cancelled_scope_or_with_no_time_left_is_not_sent(
    nursery, autojump_clock
):
    fake = FakeImage(nursery)
    async with actor_on(fake) as (actor, _):
        await trio.testing.wait_all_tasks_blocked()
        before = len([m for m in fake.received if isinstance(m, Evaluate)])
        with trio.CancelScope() as scope:
            scope.cancel()
            await actor.evaluate("1 + 1")
        with pytest.raises(RequestTimeout):
            await actor.evaluate("2 + 2", timeout=0)
        await trio.testing.wait_all_tasks_blocked()
        assert len([m for m in fake.received if isinstance(m, Evaluate)]) == before
        assert (await actor.evaluate("3 + 3")).print_string == "6"
