"""The slice gate: how many evaluation slices run between two I/O polls of the trio run.

"Between two polls" is counted with a trio instrument (`before_io_wait` runs once per scheduling
round, just before trio asks the OS for I/O), so these tests count, they do not time.
"""

from __future__ import annotations

import time

import trio
from stui.protocol import ErrorCode, Evaluate, Interrupt

from stui.image.slice_gate import ROUND_BUDGET, SliceGate, slice_gate
from stui.image.smalltalk.evaluation import Evaluation
from tests.image.client import expect_error
from tests.image.test_inline_evaluation import open_peer
from tests.image.test_server import LOOP

SLICE = 0.0005
PER_ROUND = round(ROUND_BUDGET / SLICE)  # 4: slices of at least SLICE each fill a window


class SlicesPerRound(trio.abc.Instrument):
    def __init__(self) -> None:
        self.current = 0
        self.rounds: list[int] = []

    def before_io_wait(self, timeout: float) -> None:
        self.rounds.append(self.current)
        self.current = 0


def spin(seconds: float) -> float:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return seconds


async def test_slices_between_two_polls_stay_within_the_budget():
    gate = SliceGate(ROUND_BUDGET, SLICE)
    counter = SlicesPerRound()
    done = [0] * 10

    async def evaluation(i: int) -> None:
        try:
            for _ in range(20):
                await trio.lowlevel.checkpoint()  # the slice lock's checkpoint, in the server
                await gate.turn()
                counter.current += 1
                gate.charge(spin(SLICE))
                done[i] += 1
        finally:
            gate.leave()

    trio.lowlevel.add_instrument(counter)
    try:
        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(evaluation, i)
    finally:
        trio.lowlevel.remove_instrument(counter)
    assert done == [20] * 10  # nobody was left waiting
    assert max(counter.rounds) <= PER_ROUND, counter.rounds  # without the gate: 10 a round


async def test_waiting_tasks_go_on_when_the_running_ones_end_first():
    gate = SliceGate(ROUND_BUDGET, SLICE)
    finished = []

    async def short(i: int) -> None:
        try:
            await gate.turn()
            gate.charge(spin(SLICE))
        finally:
            gate.leave()
        finished.append(i)

    # Fill the window, then start more tasks than a new window wakes; most end after one slice,
    # before any of them finds the window spent again (no new leader): leave() wakes the rest.
    gate.charge(ROUND_BUDGET)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for i in range(3 * PER_ROUND):
                nursery.start_soon(short, i)
    assert sorted(finished) == list(range(3 * PER_ROUND))


async def test_a_cancelled_leader_still_opens_the_next_window():
    gate = SliceGate(ROUND_BUDGET, SLICE)
    gate.charge(ROUND_BUDGET)
    with trio.CancelScope() as scope:
        scope.cancel()
        await gate.turn()  # becomes the leader; its checkpoint raises Cancelled
    assert scope.cancelled_caught
    with trio.fail_after(5):
        await gate.turn()  # not parked behind a leader that is gone: the window was opened
    assert not gate.waiting()


async def test_one_gate_per_run():
    assert slice_gate(SLICE) is slice_gate(SLICE)


async def test_busy_sessions_of_many_images_share_the_rounds(nursery):
    """Ten images of one trio run, each with a session in an endless loop: a round holds at most
    one window of slices (plus inline first slices), so the routers are polled between windows."""
    counter = SlicesPerRound()
    resume = Evaluation.resume

    def counted(self: Evaluation, slice_seconds: float = SLICE) -> object:
        counter.current += 1
        return resume(self, slice_seconds)

    peers = []
    trio.lowlevel.add_instrument(counter)
    Evaluation.resume = counted  # type: ignore[method-assign]
    try:
        for _ in range(10):
            peer, (sid, *_) = open_peer(nursery)
            peer.dispatcher.new_round()
            peers.append((peer, peer.send(Evaluate(session_id=sid, source=LOOP))))
        counter.rounds.clear()  # the inline first slices ran before: not gated
        counter.current = 0
        await trio.sleep(0.2)
    finally:
        Evaluation.resume = resume  # type: ignore[method-assign]
        trio.lowlevel.remove_instrument(counter)
    assert sum(counter.rounds) > 20, counter.rounds  # they all ran ...
    assert max(counter.rounds) <= PER_ROUND, counter.rounds  # ... a window per round
    for peer, rid in peers:
        peer.send(Interrupt(target_id=rid))
    for peer, rid in peers:
        expect_error(await peer.wait(rid), ErrorCode.INTERRUPTED)
