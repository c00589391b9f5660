"""The pure parts of the actors: backoff, restart window, heartbeat policy and loop, status machine,
session cache, event bus."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing
from stui.actors.backoff import Backoff, RestartWindow
from stui.actors.events import EventBus
from stui.actors.heartbeat import (
    TRANSITIONS,
    Heartbeat,
    HeartbeatPolicy,
    HeartbeatScheduler,
    LinkState,
)
from stui.actors.session_cache import SavedContext, SessionCache
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    ContextSwitched,
    ImageHealthChanged,
    ImageStatusChanged,
    SessionStatus,
    SessionSummary,
)

H = ConnectionHealth
S = ConnectionStatus

# -- backoff -----------------------------------------------------------------------------------------


def test_backoff_grows_geometrically_within_jitter_and_caps() -> None:
    b = Backoff(initial=0.1, maximum=1.0, factor=2.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(8)]
    nominals = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for d, n in zip(delays, nominals, strict=True):
        assert n / 2 <= d <= n
    b.reset()
    assert b.attempts == 0 and b.nominal() == pytest.approx(0.1)


def test_backoff_jitter_spreads_simultaneous_reconnects() -> None:
    delays = {Backoff(initial=1.0, maximum=1.0).next_delay() for _ in range(50)}
    assert len(delays) > 40  # not lockstep


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)


def test_restart_window_counts_in_a_sliding_window() -> None:
    w = RestartWindow(max_restarts=3, period=10.0)
    assert all(w.record(t) for t in (0.0, 1.0, 2.0))
    assert not w.record(3.0)  # fourth within 10 s: refused
    assert w.count(3.0) == 3
    assert w.record(10.5)  # the restart at t=0 left the window
    assert w.count(10.5) == 3
    with pytest.raises(ValueError):
        RestartWindow(max_restarts=-1)


# -- heartbeat policy ----------------------------------------------------------------------------------


def test_health_from_rtt_and_misses() -> None:
    p = HeartbeatPolicy(interval=1.0, misses=3)
    assert p.answered(0.01) is H.HEALTHY
    assert p.answered(0.9) is H.WARNING  # late
    assert p.missed_one() is H.WARNING and not p.lost
    assert p.missed_one() is H.CRITICAL and not p.lost
    assert p.answered(0.01) is H.HEALTHY and p.missed == 0  # recovery resets the count
    for _ in range(3):
        p.missed_one()
    assert p.lost and p.health is H.CRITICAL
    p.reset()
    assert p.health is H.UNKNOWN and p.rtt is None and not p.lost


def test_heartbeat_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        HeartbeatPolicy(interval=0)
    with pytest.raises(ValueError):
        HeartbeatPolicy(misses=0)


class FakeLink:
    """A link for `Heartbeat`: each Ping is answered after the next delay from `delays` (None: never),
    by a task in `nursery`, as an actor's reader would report the Pong."""

    def __init__(self, nursery: trio.Nursery, policy: HeartbeatPolicy, delays) -> None:
        self.nursery = nursery
        self.delays = delays
        self.seen: list[H] = []
        self.lost_at: float | None = None
        self.lost = trio.Event()
        self.pings = 0
        self.heartbeat = Heartbeat(
            policy,
            send_ping=self.send_ping,
            on_health=lambda h, rtt: self.seen.append(h),
            on_lost=self.on_lost,
        )

    def send_ping(self) -> None:
        self.pings += 1
        delay = self.delays(self.pings)
        if delay is not None:
            self.nursery.start_soon(self.answer, self.pings, delay)

    async def answer(self, ping: int, delay: float) -> None:
        await trio.sleep(delay)
        if ping == self.pings:  # a Pong for an earlier Ping is late: the actor drops it
            self.heartbeat.pong(trio.current_time())

    def on_lost(self) -> None:
        self.lost_at = trio.current_time()
        self.lost.set()


async def test_heartbeat_declares_a_silent_peer_lost_in_time(autojump_clock) -> None:
    policy = HeartbeatPolicy(interval=1.0, misses=3)
    scheduler = HeartbeatScheduler()
    async with trio.open_nursery() as n:
        await n.start(scheduler.run)
        start = trio.current_time()
        link = FakeLink(n, policy, lambda i: 0.01 if trio.current_time() - start < 5.005 else None)
        scheduler.add(link.heartbeat)
        await link.lost.wait()
        n.cancel_scope.cancel()
    assert link.seen[:5] == [H.HEALTHY] * 5
    assert link.seen[-3:] == [H.WARNING, H.CRITICAL, H.CRITICAL]
    assert link.lost_at - (start + 5.005) <= (3 + 1) * 1.0
    assert link.heartbeat.stopped and len(scheduler) == 0


async def test_heartbeat_reports_late_answers_as_warning(autojump_clock) -> None:
    policy = HeartbeatPolicy(interval=1.0, misses=2)
    scheduler = HeartbeatScheduler()
    delays = {1: 0.1, 2: 0.7, 3: 0.1}
    async with trio.open_nursery() as n:
        await n.start(scheduler.run)
        link = FakeLink(n, policy, delays.get)
        scheduler.add(link.heartbeat)
        await link.lost.wait()
        n.cancel_scope.cancel()
    assert link.seen == [H.HEALTHY, H.WARNING, H.HEALTHY, H.WARNING, H.CRITICAL]


async def test_one_scheduler_drives_many_heartbeats_each_at_its_own_interval(
    autojump_clock,
) -> None:
    """Links added at different times, with different intervals, each get one Ping per interval;
    adding a heartbeat wakes a scheduler that sleeps until a later one; a heartbeat whose callback
    raises is stopped alone; a stopped one leaves the heap."""
    scheduler = HeartbeatScheduler(slack=0.005)
    async with trio.open_nursery() as n:
        await n.start(scheduler.run)
        slow = FakeLink(n, HeartbeatPolicy(interval=10.0, misses=3), lambda i: 0.01)
        scheduler.add(slow.heartbeat)
        await trio.sleep(0.5)
        fast = FakeLink(n, HeartbeatPolicy(interval=0.25, misses=3), lambda i: 0.01)
        scheduler.add(fast.heartbeat)  # the scheduler sleeps until t=10: this must wake it
        await trio.sleep(0.01)
        assert fast.pings == 1

        def broken_ping() -> None:
            raise RuntimeError("boom")

        broken = Heartbeat(
            HeartbeatPolicy(interval=1.0),
            send_ping=broken_ping,
            on_health=lambda h, rtt: None,
            on_lost=lambda: None,
        )
        scheduler.add(broken)
        await trio.sleep(4.99)
        assert broken.stopped
        assert slow.pings == 1 and slow.seen == [H.HEALTHY]  # answered; next Ping at t=10
        assert 20 <= fast.pings <= 21 and set(fast.seen) == {H.HEALTHY}
        fast.heartbeat.stop()
        await trio.sleep(10)
        assert slow.pings == 2 and slow.seen == [H.HEALTHY, H.HEALTHY]
        assert len(scheduler) == 1  # only the slow one is left
        n.cancel_scope.cancel()
    with pytest.raises(ValueError):
        HeartbeatScheduler(slack=-1)


# -- status machine ------------------------------------------------------------------------------------


def test_status_machine_publishes_every_transition() -> None:
    link = LinkState(image_id="", name="alpha")
    assert link.move(S.UNKNOWN, "same") is None
    ev = link.move(S.CONNECTED, "handshake")
    assert isinstance(ev, ImageStatusChanged)
    assert (ev.old, ev.new, ev.reason, ev.image_id) == (
        S.UNKNOWN,
        S.CONNECTED,
        "handshake",
        "alpha",
    )
    assert ev.at == link.since > 0
    link.image_id = "img-1"
    assert link.move(S.RECONNECTING, "lost").image_id == "img-1"
    assert link.move(S.CONNECTED, "back").new is S.CONNECTED
    assert link.move(S.FAILED, "gave up").new is S.FAILED
    with pytest.raises(RuntimeError, match="FAILED cannot become CONNECTED"):
        link.move(S.CONNECTED, "no")
    assert TRANSITIONS[S.DISCONNECTED] == frozenset()


def test_health_changes_are_events_only_when_changed() -> None:
    link = LinkState(image_id="i", name="a")
    ev = link.set_health(H.HEALTHY, 0.001)
    assert isinstance(ev, ImageHealthChanged) and ev.old is H.UNKNOWN and ev.rtt == 0.001
    assert link.set_health(H.HEALTHY, 0.002) is None
    assert link.rtt == 0.002


# -- session cache -------------------------------------------------------------------------------------


def _summary(sid: str, name: str = "", **kw) -> SessionSummary:
    return SessionSummary(session_id=sid, name=name, **kw)


def test_session_cache_tracks_sessions_and_the_active_one() -> None:
    cache = SessionCache("img")
    cache.add(_summary("s1", "main"), now=10.0)
    cache.add(_summary("s2", "scratch"), now=11.0)
    assert cache.active == "s1" and len(cache) == 2 and "s2" in cache
    cache.set_active("s2")
    with pytest.raises(KeyError):
        cache.set_active("nope")
    cache.touch("s2", now=20.0)
    cache.set_note("s2", "last_result", "7")
    stats = cache.stats()
    assert (stats.total, stats.active, stats.orphaned, stats.last_activity) == (2, 2, 0, 20.0)
    assert stats.context_bytes == len("last_result") + 1
    cache.mark_orphaned("s1")
    assert cache.stats().orphaned == 1
    records = cache.records()
    assert [r.session_id for r in records] == ["s1", "s2"]
    assert records[0].status is SessionStatus.ORPHANED and records[0].image_id == "img"
    cache.remove("s2")
    assert cache.active is None and cache.session_ids() == ("s1",)


def test_session_cache_replace_keeps_name_notes_and_activity() -> None:
    cache = SessionCache("img")
    cache.add(_summary("old", "main"), now=1.0)
    cache.set_note("old", "k", "v")
    entry = cache.replace("old", _summary("new"), now=2.0)
    assert cache.active == "new" and "old" not in cache
    assert entry.name == "main" and entry.notes == {"k": "v"}


def test_session_cache_preserve_and_restore_context() -> None:
    cache = SessionCache("img")
    cache.add(_summary("s1"), now=1.0)
    cache.add(_summary("s2"), now=1.0)
    cache.set_active("s2")
    cache.set_note("s2", "expr", "3 + 4")
    saved = cache.preserve(now=5.0)
    assert saved == SavedContext(active_session="s2", notes=(("expr", "3 + 4"),), at=5.0)
    cache.set_active("s1")
    assert cache.restore() == "s2"
    fresh = SessionCache("img")
    fresh.add(_summary("s2"), now=1.0)
    assert fresh.restore(saved) == "s2" and fresh.get("s2").notes == {"expr": "3 + 4"}
    assert SessionCache().restore() is None


# -- event bus ----------------------------------------------------------------------------------------


def _ev(i: int) -> ContextSwitched:
    return ContextSwitched(from_image_id=None, to_image_id=str(i), at=float(i))


async def test_bus_fans_out_to_every_subscriber() -> None:
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    bus.publish(_ev(1))
    bus.publish(None)
    assert (await a.receive()).to_image_id == "1"
    assert (await b.receive()).to_image_id == "1"
    assert bus.published == 1 and bus.subscriber_count == 2


async def test_slow_subscriber_drops_oldest_and_never_blocks_the_publisher() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxlen=3)
    fast = bus.subscribe(maxlen=100)
    with trio.testing.assert_no_checkpoints():
        for i in range(10):
            bus.publish(_ev(i))
    assert slow.dropped == 7 and fast.dropped == 0 and bus.dropped() == 7
    assert [slow.receive_nowait().to_image_id for _ in range(3)] == ["7", "8", "9"]
    with pytest.raises(trio.WouldBlock):
        slow.receive_nowait()
    assert fast.pending() == 10


async def test_subscription_waits_then_ends_when_the_bus_closes() -> None:
    bus = EventBus()
    got: list[str] = []

    async def consume() -> None:
        async with bus.subscribe() as sub:
            async for ev in sub:
                got.append(ev.to_image_id)

    async with trio.open_nursery() as n:
        n.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        bus.publish(_ev(1))
        bus.publish(_ev(2))
        await trio.testing.wait_all_tasks_blocked()
        bus.close()
    assert got == ["1", "2"]
    late = bus.subscribe()
    with pytest.raises(trio.EndOfChannel):
        await late.receive()
    bus.publish(_ev(3))  # ignored after close
    assert bus.published == 2


async def test_closed_subscription_is_removed_and_drains() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish(_ev(1))
    sub.close()
    sub.close()
    bus.publish(_ev(2))
    assert bus.subscriber_count == 0
    assert sub.receive_nowait().to_image_id == "1"
    with pytest.raises(trio.EndOfChannel):
        sub.receive_nowait()
    with pytest.raises(ValueError):
        bus.subscribe(maxlen=0)
