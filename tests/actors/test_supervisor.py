"""The supervisor against scripted images over memory transports, under autojump_clock."""

from __future__ import annotations

import contextlib

import pytest
import trio
import trio.testing
from stui.actors.errors import (
    ImageDisconnected,
    ImageFailed,
    ImageNotFound,
    ImageProtocolError,
    SessionError,
    StuiError,
    UnsupportedAddress,
)
from stui.actors.supervisor import SupervisorConfig, open_supervisor
from stui.protocol import (
    CleanupImageSessions,
    CleanupReport,
    ConnectImage,
    ConnectionStatus,
    ContextSwitched,
    DisconnectImage,
    Error,
    ErrorCode,
    GetImageConnectionStatus,
    GetImageSessionStats,
    ImageConnectionStatus,
    ImageSessions,
    ImageSessionStats,
    ImageStatusChanged,
    ListImageSessions,
    SessionOrphaned,
    SessionStatus,
    SwitchImageContext,
)

import stui

from .fake_image import FakeImage

S = ConnectionStatus

CONFIG = SupervisorConfig(
    connect_timeout=2.0,
    reconnect_initial=0.1,
    reconnect_max=0.5,
    max_restarts=3,
    restart_period=30.0,
    restart_initial=0.1,
    restart_max=1.0,
    shutdown_timeout=1.0,
)


async def connect_fake(sup, fake: FakeImage, name: str = "", **kw) -> ImageConnectionStatus:
    return await sup.connect(f"memory://{fake.name}", name=name, open_link=fake.open_link, **kw)


async def test_connect_evaluate_switch_disconnect(nursery, autojump_clock):
    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_supervisor(CONFIG) as sup:
        assert sup.current is None
        with pytest.raises(ImageNotFound, match="no image is current"):
            await sup.evaluate("1")
        status = await connect_fake(sup, alpha)
        assert (status.name, status.status, status.image_id) == ("alpha", S.CONNECTED, "img-alpha")
        await connect_fake(sup, beta)
        assert sup.current == "alpha"  # the first image connected
        assert (await sup.evaluate("3 + 4")).print_string == "7"
        assert (await sup.evaluate("2 * 5", image="beta")).print_string == "10"
        assert (await sup.evaluate("1 + 1", image="img-beta")).print_string == "2"  # by image id
        await sup.switch("beta")
        assert sup.current == "beta"
        assert sup.status().name == "beta"
        assert [s.name for s in sup.images()] == ["alpha", "beta"]
        with pytest.raises(ImageNotFound, match="gamma"):
            sup.status("gamma")
        gone = await sup.disconnect("beta")
        assert gone.status is S.DISCONNECTED
        assert sup.current == "alpha" and [s.name for s in sup.images()] == ["alpha"]
        with pytest.raises(ImageNotFound):
            await sup.evaluate("1", image="beta")


async def test_names_are_unique(nursery, autojump_clock):
    a1, a2 = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="alpha")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, a1)
        second = await connect_fake(sup, a2)
        assert second.name == "alpha-2"
        with pytest.raises(StuiError, match="already connected"):
            await connect_fake(sup, a1, name="alpha")
        # two concurrent connects under one name: exactly one wins
        outcomes = []

        async def attempt() -> None:
            try:
                outcomes.append((await connect_fake(sup, a2, name="same")).name)
            except StuiError as exc:
                outcomes.append(type(exc).__name__)

        async with trio.open_nursery() as n:
            n.start_soon(attempt)
            n.start_soon(attempt)
        assert sorted(outcomes) == ["StuiError", "same"]


async def test_connect_errors_surface_and_leave_nothing_listed(nursery, autojump_clock):
    refusing = FakeImage(nursery, name="r")
    refusing.refuse = True
    old = FakeImage(nursery, name="old")
    old.hello_reply = Error(code=ErrorCode.PROTOCOL_VERSION, message="v2 only")
    garbage = FakeImage(nursery, name="g")
    garbage.garbage_hellos = 1
    async with open_supervisor(CONFIG) as sup:
        with pytest.raises(ImageDisconnected, match="cannot connect"):
            await connect_fake(sup, refusing)
        with pytest.raises(ImageFailed, match="v2 only"):
            await connect_fake(sup, old)
        with pytest.raises(ImageProtocolError):
            await connect_fake(sup, garbage)
        assert sup.images() == [] and sup.current is None


async def test_crashing_actor_is_restarted_within_budget(nursery, autojump_clock, caplog):
    fake = FakeImage(nursery, name="alpha")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, fake)
        main = sup.active_session()
        fake.garbage_hellos = 2  # the next two handshakes crash the actor
        fake.kill()
        await trio.sleep(5)
        status = sup.status("alpha")
        assert status.status is S.CONNECTED and status.restarts == 2
        assert sup.active_session() == main  # the new actor continued the same session cache
        assert (await sup.evaluate("1 + 2")).print_string == "3"
        crashes = [r for r in caplog.records if "actor crashed" in r.getMessage()]
        assert len(crashes) == 2 and "ImageProtocolError" in crashes[0].getMessage()


async def test_actor_beyond_its_budget_is_failed_and_others_are_unaffected(nursery, autojump_clock):
    flaky, steady = FakeImage(nursery, name="flaky"), FakeImage(nursery, name="steady")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, flaky)
        await connect_fake(sup, steady)
        steady_results = []

        async def keep_evaluating() -> None:
            for i in range(50):
                steady_results.append((await sup.evaluate(f"{i} + 0", image="steady")).print_string)
                await trio.sleep(0.1)

        async with trio.open_nursery() as n:
            n.start_soon(keep_evaluating)
            flaky.garbage_hellos = 1000
            flaky.kill()
        assert steady_results == [str(i) for i in range(50)]
        status = sup.status("flaky")
        assert status.status is S.FAILED and status.restarts == CONFIG.max_restarts
        assert [s.name for s in sup.images()] == ["flaky", "steady"]  # stays listed
        with pytest.raises(ImageFailed, match="restart budget exhausted"):
            await sup.evaluate("1", image="flaky")
        assert sup.status("steady").restarts == 0
        assert (await sup.disconnect("flaky")).status is S.FAILED
        assert [s.name for s in sup.images()] == ["steady"]


async def test_ten_images_one_flapping(nursery, autojump_clock):
    fakes = [FakeImage(nursery, name=f"img{i}") for i in range(10)]
    async with open_supervisor(CONFIG) as sup:
        for fake in fakes:
            await connect_fake(sup, fake, heartbeat_interval=0.2)

        async def flap() -> None:
            for _ in range(10):
                await trio.sleep(0.5)
                fakes[0].kill()

        async def work(i: int) -> None:
            for j in range(20):
                assert (await sup.evaluate(f"{i} * {j}", image=f"img{i}")).print_string == str(
                    i * j
                )
                await trio.sleep(0.05)

        async with trio.open_nursery() as n:
            n.start_soon(flap)
            for i in range(1, 10):
                n.start_soon(work, i)
        await trio.sleep(1)
        assert all(s.status is S.CONNECTED for s in sup.images())
        assert all(s.restarts == 0 for s in sup.images())
        assert fakes[0].connections == 11 and all(f.connections == 1 for f in fakes[1:])


async def test_sessions_are_isolated_per_image(nursery, autojump_clock):
    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, alpha)
        await connect_fake(sup, beta)
        a_main, b_main = sup.active_session("alpha"), sup.active_session("beta")
        assert a_main != b_main
        with pytest.raises(SessionError):
            sup.use_session(a_main, image="beta")
        with pytest.raises(SessionError):  # beta's image does not know alpha's session
            await sup.evaluate("1", image="beta", session=a_main)
        extra = await sup.new_session(image="alpha", name="scratch")
        assert sup.active_session("alpha") == extra.session_id
        assert sup.active_session("beta") == b_main
        assert {r.session_id for r in sup.sessions("alpha")} == {a_main, extra.session_id}
        assert {r.image_id for r in sup.sessions("alpha")} == {"img-alpha"}
        assert [r.session_id for r in sup.sessions("beta")] == [b_main]
        sup.use_session(a_main, image="alpha")
        await sup.close_session(extra.session_id, image="alpha")
        assert extra.session_id not in alpha.sessions
        again = await sup.attach_session(a_main, image="alpha")
        assert again.session_id == a_main


async def test_switch_preserves_and_restores_context(nursery, autojump_clock):
    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_supervisor(CONFIG) as sup, sup.subscribe() as events:
        await connect_fake(sup, alpha)
        await connect_fake(sup, beta)
        main = sup.active_session()
        scratch = await sup.new_session(name="scratch")
        await sup.evaluate("6 * 7")
        await sup.switch("beta")
        sup.use_session(main, image="alpha")  # someone moves alpha's active session meanwhile
        await sup.switch("alpha")
        assert sup.active_session() == scratch.session_id  # restored
        cache = sup.actor("alpha").cache
        assert cache.saved.notes == (("last_result", "42"), ("last_source", "6 * 7"))
        await sup.switch("beta", preserve_context=False)
        switches = []
        while events.pending():
            ev = events.receive_nowait()
            if isinstance(ev, ContextSwitched):
                switches.append((ev.from_image_id, ev.to_image_id))
        assert switches == [
            ("img-alpha", "img-beta"),
            ("img-beta", "img-alpha"),
            ("img-alpha", "img-beta"),
        ]


async def test_interrupt_inspect_complete_are_routed(nursery, autojump_clock):
    alpha = FakeImage(nursery, name="alpha")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, alpha)
        assert (await sup.inspect("3")).class_name == "Object"
        assert (await sup.complete("Tra", 3)).items[0].text == "TraFoo"
        async with trio.open_nursery() as n:

            async def endless() -> None:
                with pytest.raises(stui.EvaluationError) as info:
                    await sup.evaluate("sleep:1000")
                assert info.value.code is ErrorCode.INTERRUPTED

            n.start_soon(endless)
            await trio.sleep(1)
            acks = await sup.interrupt()
            assert [a.was_running for a in acks] == [True]


async def test_control_commands(nursery, autojump_clock):
    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_supervisor(CONFIG) as sup:
        await sup.connect("memory://alpha", open_link=alpha.open_link)
        with pytest.raises(UnsupportedAddress):  # the command goes through connect()
            await sup.command(ConnectImage(address="memory://beta", name="b"))
        beta_status = await connect_fake(sup, beta, name="b", heartbeat_interval=0.5)
        assert beta_status.name == "b"
        listing = await sup.command(ListImageSessions())
        assert isinstance(listing, ImageSessions) and len(listing.sessions) == 2
        only_alpha = await sup.command(ListImageSessions(image_id="alpha"))
        assert [r.image_id for r in only_alpha.sessions] == ["img-alpha"]
        stats = await sup.command(GetImageSessionStats(image_id="alpha"))
        assert isinstance(stats, ImageSessionStats) and stats.total == 1 and stats.active == 1
        status = await sup.command(GetImageConnectionStatus(image_id="img-alpha"))
        assert status.name == "alpha"
        switched = await sup.command(
            SwitchImageContext(from_image_id="alpha", to_image_id="b", preserve_context=True)
        )
        assert switched.name == "b" and sup.current == "b"
        await sup.new_session(image="alpha", name="two")
        alpha.sessions.pop(sup.active_session("alpha"))
        await alpha.expire(next(iter(alpha.sessions)))
        await trio.testing.wait_all_tasks_blocked()
        report = await sup.command(CleanupImageSessions(image_id="alpha"))
        assert isinstance(report, CleanupReport) and len(report.closed) == 1
        assert report.kept == (sup.active_session("alpha"),)
        forced = await sup.command(
            CleanupImageSessions(image_id="alpha", force=True, preserve_active=False)
        )
        assert forced.closed == report.kept and sup.sessions("alpha") == ()
        gone = await sup.command(DisconnectImage(image_id="b"))
        assert gone.status is S.DISCONNECTED
        with pytest.raises(StuiError):
            await sup.command(ImageSessions(sessions=()))  # a reply, not a command


async def test_list_sessions_skips_images_that_are_down(nursery, autojump_clock):
    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, alpha)
        await connect_fake(sup, beta)
        beta.refuse = True
        beta.kill()
        await trio.sleep(0.5)
        live = await sup.list_sessions()
        assert {r.image_id for r in live.sessions} == {"img-alpha"}
        everything = await sup.list_sessions(include_disconnected=True)
        assert {r.image_id for r in everything.sessions} == {"img-alpha", "img-beta"}
        assert (await sup.session_stats("beta")).total == 1


async def test_slow_subscriber_loses_oldest_and_never_blocks(nursery, autojump_clock):
    fakes = [FakeImage(nursery, name=n) for n in ("a", "b")]
    async with open_supervisor(CONFIG) as sup:
        slow = sup.subscribe(maxlen=4)
        fast = sup.events()
        for fake in fakes:
            await connect_fake(sup, fake)
        for _ in range(20):
            await sup.switch("b")
            await sup.switch("a")
        assert slow.pending() == 4 and slow.dropped > 30
        assert fast.dropped == 0 and fast.pending() == slow.pending() + slow.dropped
        assert (await sup.evaluate("1 + 1")).print_string == "2"
        slow.close()
        got = []
        ended = trio.Event()

        async def consume() -> None:
            async for ev in fast:
                got.append(ev)
            ended.set()

        nursery.start_soon(consume)
    await ended.wait()
    # leaving the supervisor closed the bus: the consumer's loop ended by itself
    assert any(isinstance(e, ImageStatusChanged) and e.new is S.DISCONNECTED for e in got)


async def test_two_supervisors_in_one_process(nursery, autojump_clock):
    fake = FakeImage(nursery, name="shared")
    async with (
        open_supervisor(CONFIG) as one,
        open_supervisor(SupervisorConfig(client_id="second", connect_timeout=2.0)) as two,
    ):
        await connect_fake(one, fake)
        await connect_fake(two, fake)
        assert one.client_id != two.client_id == "second"
        hello_ids = {h.client_id for h in fake.hellos}
        assert hello_ids == {f"{one.client_id}/memory://shared", "second/memory://shared"}
        assert one.active_session() != two.active_session()
        r1, r2 = await one.evaluate("1 + 1"), await two.evaluate("2 + 2")
        assert (r1.print_string, r2.print_string) == ("2", "4")
        await one.disconnect("shared")
        assert (await two.evaluate("3 + 3")).print_string == "6"


async def test_shutdown_stops_reconnecting_and_restarting_images(nursery, autojump_clock):
    down, crashing = FakeImage(nursery, name="down"), FakeImage(nursery, name="crashing")
    async with open_supervisor(CONFIG) as sup:
        await connect_fake(sup, down)
        await connect_fake(sup, crashing)
        down.refuse = True
        down.kill()
        crashing.garbage_hellos = 1
        crashing.kill()
        await trio.sleep(0.01)
        start = trio.current_time()
    assert trio.current_time() - start < CONFIG.shutdown_timeout + 0.5
    with pytest.raises(StuiError, match="shutting down"):
        await sup.connect("memory://x")


async def wait_until(predicate, timeout: float = 10.0, step: float = 0.02) -> None:
    with trio.fail_after(timeout):
        while not await predicate():
            await trio.sleep(step)


async def test_store_records_images_sessions_history_and_restores(nursery):
    # Real time: the store works in a worker thread, which an autojump clock would race past.
    from stui.sessions import open_session_store

    fake = FakeImage(nursery, name="alpha")
    async with open_session_store(":memory:") as store:
        config = SupervisorConfig(client_id="me", connect_timeout=2.0, reconnect_initial=0.1)
        async with open_supervisor(config, store=store) as sup:
            await connect_fake(sup, fake)
            main = sup.active_session()
            scratch = await sup.new_session(name="scratch")
            await sup.evaluate("3 + 4")
            await sup.switch("alpha")  # saves the context
            image = await store.get_image("img-alpha")
            assert image.name == "alpha" and image.dialect == "fake"
            stored = await store.list_image_sessions("img-alpha")
            assert {r.session_id for r in stored} == {main, scratch.session_id}
            history = await store.history("img-alpha")
            assert [h.source for h in history] == ["3 + 4"]
            assert history[0].session_id == scratch.session_id
            # the image restarts: the lost sessions are replaced; the store closes the old ones
            fake.restart()
            await trio.sleep(2)
            survivors = set(sup.actor().cache.session_ids())
            states = {
                r.session_id: r.status for r in await store.list_image_sessions("img-alpha", True)
            }
            assert states[main] is SessionStatus.CLOSED
            assert states[scratch.session_id] is SessionStatus.CLOSED
            assert all(states[s] is SessionStatus.ACTIVE for s in survivors)
        # a new supervisor with the same store re-attaches what the store remembers
        async with open_supervisor(config, store=store) as sup2:
            await connect_fake(sup2, fake)
            assert set(sup2.actor().cache.session_ids()) == survivors
            everything = await sup2.list_sessions(include_disconnected=True)
            assert {main, scratch.session_id} <= {r.session_id for r in everything.sessions}
            # the image expires a session: orphaned in the store too
            victim = sup2.active_session()
            await fake.expire(victim)

            async def orphaned() -> bool:
                record = await store.get_session("img-alpha", victim)
                return record.status is SessionStatus.ORPHANED

            await wait_until(orphaned)
            remembered = {
                r.session_id: r.name for r in await store.sessions_to_restore("img-alpha")
            }
        # the image restarts while no supervisor is running: the next one re-creates what the store
        # remembers, under the same names, and reports the lost ones
        fake.restart()
        async with open_supervisor(config, store=store) as sup3, sup3.subscribe() as events:
            await connect_fake(sup3, fake)
            lost = set()
            while events.pending():
                event = events.receive_nowait()
                if isinstance(event, SessionOrphaned):
                    lost.add(event.session_id)
            assert lost == set(remembered)
            cache = sup3.actor().cache
            assert sorted(s.name for s in cache) == sorted(remembered.values())
            assert not set(cache.session_ids()) & set(remembered)


async def test_shutdown_stops_images_in_reverse_start_order(nursery, autojump_clock):
    fakes = [FakeImage(nursery, name=n) for n in ("a", "b", "c")]
    async with open_supervisor(CONFIG) as sup:
        events = sup.subscribe()
        for fake in fakes:
            await connect_fake(sup, fake)
    stopped = [
        e.name
        for e in [events.receive_nowait() for _ in range(events.pending())]
        if isinstance(e, ImageStatusChanged) and e.new is S.DISCONNECTED
    ]
    assert stopped == ["c", "b", "a"]


async def test_images_that_do_not_stop_in_time_are_cancelled_together(
    nursery, autojump_clock, caplog
):
    """Links whose close hangs: the first holds up the graceful stop until shutdown_timeout; then all
    the rest are cancelled at once (one warning naming them), and every image ends DISCONNECTED."""
    fakes = [FakeImage(nursery, name=f"hang{i}") for i in range(4)]
    closes_cancelled: list[float] = []

    def hanging_link(fake: FakeImage):
        @contextlib.asynccontextmanager
        async def open_link():
            async with fake.open_link() as transport:
                try:
                    yield transport
                finally:
                    try:
                        await trio.sleep(3600)  # a close handshake that never ends
                    except trio.Cancelled:
                        closes_cancelled.append(trio.current_time())
                        raise

        return open_link

    async with open_supervisor(CONFIG) as sup:
        events = sup.subscribe()
        for fake in fakes:
            await sup.connect(f"memory://{fake.name}", open_link=hanging_link(fake))
        start = trio.current_time()
    assert trio.current_time() - start < CONFIG.shutdown_timeout + 0.5
    assert len(closes_cancelled) == 4
    assert max(closes_cancelled) - min(closes_cancelled) < 0.01
    warnings = [r for r in caplog.records if "did not stop in time" in r.getMessage()]
    assert len(warnings) == 1 and "4 image(s)" in warnings[0].getMessage()
    stopped = {
        e.name
        for e in [events.receive_nowait() for _ in range(events.pending())]
        if isinstance(e, ImageStatusChanged) and e.new is S.DISCONNECTED
    }
    assert stopped == {f.name for f in fakes}


async def test_switching_back_and_forth_writes_a_context_only_when_it_changed(nursery):
    # Real time: the store works in a worker thread.
    from stui.sessions import open_session_store

    alpha, beta = FakeImage(nursery, name="alpha"), FakeImage(nursery, name="beta")
    async with open_session_store(":memory:") as store:
        writes: list[tuple[str, str]] = []
        save = store.save_session_state

        async def counting_save(image_id, session_id, state):
            writes.append((image_id, session_id))
            return await save(image_id, session_id, state)

        store.save_session_state = counting_save
        config = SupervisorConfig(client_id="me", connect_timeout=2.0, reconnect_initial=0.1)
        async with open_supervisor(config, store=store) as sup:
            await connect_fake(sup, alpha)
            await connect_fake(sup, beta)
            await sup.switch("alpha")
            main = sup.active_session()
            await sup.evaluate("6 * 7")
            for _ in range(5):
                await sup.switch("beta")
                await sup.switch("alpha")
            # alpha's context was written once; beta's is what the store already held (nothing):
            # switching back and forth rewrites neither
            assert writes == [("img-alpha", main)]
            await sup.evaluate("1 + 1")
            await sup.switch("beta")
            assert writes == [("img-alpha", main)] * 2
            state = await store.load_session_state("img-alpha", main)
            assert state["notes"] == {"last_result": "2", "last_source": "1 + 1"}
