"""Any frame from an image is a sign of life: a busy image whose Pongs are late is slow, not lost."""

from __future__ import annotations

import trio
from stui.actors.heartbeat import HeartbeatPolicy, HeartbeatScheduler
from stui.protocol import ConnectionHealth as H
from stui.protocol import ConnectionStatus as S
from stui.protocol import Ping

from .fake_image import FakeImage
from .test_image_actor import actor_on
from .test_policies import FakeLink


class ChattyLink(FakeLink):
    """Never answers a Ping, but sends other frames (`heard`) every `every` s until `until`."""

    def __init__(self, nursery: trio.Nursery, policy: HeartbeatPolicy) -> None:
        super().__init__(nursery, policy, lambda ping: None)

    async def chatter(self, every: float, until: float) -> None:
        while trio.current_time() < until:
            await trio.sleep(every)
            self.heartbeat.heard()


async def test_traffic_keeps_a_link_whose_pongs_never_come_alive_then_silence_loses_it(
    autojump_clock,
) -> None:
    policy = HeartbeatPolicy(interval=1.0, misses=3)
    scheduler = HeartbeatScheduler()
    async with trio.open_nursery() as n:
        link = ChattyLink(n, policy)
        await n.start(scheduler.run)
        start = trio.current_time()
        quiet_at = start + 20.0
        n.start_soon(link.chatter, 0.4, quiet_at)
        scheduler.add(link.heartbeat)
        await trio.sleep(19.5)
        # Twenty intervals without a single Pong, but never an interval without a frame: slow.
        assert not link.lost.is_set()
        assert link.pings >= 19
        assert link.seen and set(link.seen) == {H.WARNING}
        assert policy.missed == 0
        await link.lost.wait()
        n.cancel_scope.cancel()
    # Once the image falls silent, the usual bound holds from its last frame.
    assert link.lost_at is not None
    assert link.lost_at - quiet_at <= (policy.misses + 1) * policy.interval
    assert link.seen[-3:] == [H.WARNING, H.CRITICAL, H.CRITICAL]


async def test_a_frame_before_the_ping_went_out_is_no_answer_to_it(autojump_clock) -> None:
    """Only what arrives after a Ping was sent speaks for that Ping's interval."""
    policy = HeartbeatPolicy(interval=1.0, misses=2)
    scheduler = HeartbeatScheduler()
    async with trio.open_nursery() as n:
        link = ChattyLink(n, policy)
        await n.start(scheduler.run)
        link.heartbeat.heard()  # before the first Ping
        scheduler.add(link.heartbeat)
        await link.lost.wait()
        n.cancel_scope.cancel()
    assert link.seen == [H.WARNING, H.CRITICAL]


# -- through a real actor and link -------------------------------------------------------------------


class PingDeafImage(FakeImage):
    """Answers everything except Pings once `deaf` is set: its Pongs are stuck behind work, say."""

    deaf = False

    async def _handle(self, link, nursery, conn, rid, msg):  # type: ignore[no-untyped-def]
        if self.deaf and isinstance(msg, Ping):
            return
        await super()._handle(link, nursery, conn, rid, msg)


async def test_an_image_that_answers_requests_but_no_pings_stays_connected_until_it_falls_silent(
    nursery, autojump_clock
) -> None:
    fake = PingDeafImage(nursery)
    interval, misses = 1.0, 3
    async with actor_on(fake, interval=interval, misses=misses) as (actor, _):
        await trio.sleep(2.5)
        assert actor.link.health is H.HEALTHY
        fake.deaf = True
        for _ in range(20):  # ten intervals without a Pong, but a reply every half interval
            assert (await actor.evaluate("1 + 1")).print_string == "2"
            await trio.sleep(0.5)
        assert actor.link.status is S.CONNECTED
        assert actor.link.health is H.WARNING
        silent_at = trio.current_time()
        while actor.link.status is S.CONNECTED:
            await trio.sleep(0.05)
        assert trio.current_time() - silent_at <= (misses + 1) * interval
