"""Any frame from an image is a sign of life: a busy image whose Pongs are late is slow, not lost."""

from __future__ import annotations

import trio
from stui.actors.heartbeat import Heartbeat, HeartbeatPolicy, HeartbeatScheduler
from stui.protocol import ConnectionHealth as H


class ChattyLink:
    """Never answers a Ping, but sends other frames (`heard`) every `every` s until `quiet_at`."""

    def __init__(self, policy: HeartbeatPolicy) -> None:
        self.seen: list[H] = []
        self.lost = trio.Event()
        self.lost_at: float | None = None
        self.pings = 0
        self.heartbeat = Heartbeat(
            policy,
            send_ping=self.send_ping,
            on_health=lambda h, rtt: self.seen.append(h),
            on_lost=self.on_lost,
        )

    def send_ping(self) -> None:
        self.pings += 1

    def on_lost(self) -> None:
        self.lost_at = trio.current_time()
        self.lost.set()

    async def chatter(self, every: float, until: float) -> None:
        while trio.current_time() < until:
            await trio.sleep(every)
            self.heartbeat.heard()


async def test_traffic_keeps_a_link_whose_pongs_never_come_alive_then_silence_loses_it(
    autojump_clock,
) -> None:
    policy = HeartbeatPolicy(interval=1.0, misses=3)
    scheduler = HeartbeatScheduler()
    link = ChattyLink(policy)
    async with trio.open_nursery() as n:
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
    link = ChattyLink(policy)
    async with trio.open_nursery() as n:
        await n.start(scheduler.run)
        link.heartbeat.heard()  # before the first Ping
        scheduler.add(link.heartbeat)
        await link.lost.wait()
        n.cancel_scope.cancel()
    assert link.seen == [H.WARNING, H.CRITICAL]
