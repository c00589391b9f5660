"""The inline first slice of an Evaluate (stui.image.dispatcher): answered before the receiving task
yields when it finishes in its slice; otherwise handed to a task, with every behaviour kept.

The first tests drive a `RequestDispatcher` directly, frame by frame, so "answered inline" is checked
exactly (the answer is there before the test yields). The others run over real loopback ZeroMQ and
WebSocket connections (`harness`).
"""

from __future__ import annotations

from typing import Any

import trio
from stui.protocol import (
    CloseSession,
    CreateSession,
    ErrorCode,
    EvalResult,
    Evaluate,
    Hello,
    Interrupt,
    InterruptAck,
    Ping,
    Pong,
    SessionClosed,
    SessionOpened,
    TranscriptOutput,
    decode,
    encode,
)

from stui.image.client_state import ClientConnection
from stui.image.config import ImageServerConfig
from stui.image.dispatcher import RequestDispatcher
from stui.image.smalltalk.evaluation import Evaluation
from tests.image.client import expect_error
from tests.image.test_server import LOOP, evaluate, new_session, wait_running

# Runs for 20 ms (40 slices of 0.5 ms) whatever the machine's speed, with output before and after.
SLOW = (
    "| end | end := Time millisecondClockValue + 20."
    " Transcript show: 'a'. [Time millisecondClockValue < end] whileTrue."
    " Transcript show: 'b'. 42"
)


class Peer:
    """A connection of the dispatcher whose frames land in a list, synchronously."""

    def __init__(self, dispatcher: RequestDispatcher, name: str = "peer") -> None:
        self.dispatcher = dispatcher
        self.inbox: list[tuple[int, Any]] = []
        self.conn = ClientConnection(key=name, deliver=self._deliver)
        self._rid = 0

    def _deliver(self, data: bytes) -> bool:
        frame = decode(data)
        self.inbox.append((frame.request_id, frame.message))
        return True

    def send(self, msg: Any) -> int:
        self._rid += 1
        self.dispatcher.handle_frame(self.conn, encode(msg, request_id=self._rid))
        return self._rid

    def answer(self, rid: int) -> Any:
        replies = [m for r, m in self.inbox if r == rid and not isinstance(m, TranscriptOutput)]
        return replies[0] if replies else None

    async def wait(self, rid: int) -> Any:
        with trio.fail_after(10):
            while self.answer(rid) is None:
                await trio.sleep(0.001)
        return self.answer(rid)


def open_peer(
    nursery: trio.Nursery, dispatcher: RequestDispatcher | None = None, name: str = "peer"
) -> tuple[Peer, list[str]]:
    if dispatcher is None:
        config = ImageServerConfig(name="t", write_connection_file=False)  # never bound here
        dispatcher = RequestDispatcher(config, image_id="i" * 32, instance_id="j" * 32, nursery=nursery)
    peer = Peer(dispatcher, name)
    peer.answer(peer.send(Hello(client_id=name)))
    sids = []
    for _ in range(3):
        opened = peer.answer(peer.send(CreateSession(name="")))
        assert isinstance(opened, SessionOpened), opened
        sids.append(opened.session.session_id)
    return peer, sids


async def test_a_quick_evaluation_is_answered_before_the_receiving_task_yields(nursery):
    peer, (sid, *_) = open_peer(nursery)
    for n in range(5):
        peer.dispatcher.new_round()
        rid = peer.send(Evaluate(session_id=sid, source=f"Transcript show: 'x'. {n} + 4"))
        # No await since the frame was handed over: the output and the answer are already out.
        assert [m for r, m in peer.inbox if r == rid] == [
            TranscriptOutput(session_id=sid, text="x"),
            peer.answer(rid),
        ]
        assert peer.answer(rid).print_string == str(n + 4)
    session = peer.dispatcher.sessions.get(sid)
    assert session is not None and session.busy == 0 and not session.queue
    assert not peer.conn.in_flight
    assert peer.dispatcher.stats.evaluations == 5


async def test_one_inline_slice_per_round_then_tasks(nursery):
    peer, (first, second, third) = open_peer(nursery)
    peer.dispatcher.new_round()
    loop = peer.send(Evaluate(session_id=first, source=LOOP))  # takes the round's whole allowance
    assert peer.answer(loop) is None and loop in peer.conn.in_flight
    quick = peer.send(Evaluate(session_id=second, source="3 + 4"))
    assert peer.answer(quick) is None  # not inline: it runs in a task, after a checkpoint
    assert (await peer.wait(quick)).print_string == "7"
    # A new round, but this connection's loop holds its slice lock (waiting for its next turn):
    # a slice run inline now would be this connection's second of the round.
    peer.dispatcher.new_round()
    same = peer.send(Evaluate(session_id=third, source="5 + 6"))
    assert peer.answer(same) is None
    assert (await peer.wait(same)).print_string == "11"
    # Another connection is answered inline beside the running loop.
    other, (other_sid, *_) = open_peer(nursery, peer.dispatcher, "other")
    other.dispatcher.new_round()
    again = other.send(Evaluate(session_id=other_sid, source="5 + 7"))
    assert other.answer(again).print_string == "12"
    ack = peer.answer(peer.send(Interrupt(target_id=loop)))
    assert ack == InterruptAck(target_id=loop, was_running=True)
    expect_error(await peer.wait(loop), ErrorCode.INTERRUPTED)
    assert not peer.conn.in_flight


async def test_a_busy_session_queues_even_with_allowance_left(nursery):
    peer, (sid, *_) = open_peer(nursery)
    peer.dispatcher.new_round()
    loop = peer.send(Evaluate(session_id=sid, source=LOOP))
    peer.dispatcher.new_round()
    queued = peer.send(Evaluate(session_id=sid, source="3 + 4"))
    assert peer.answer(queued) is None
    await trio.sleep(0.02)
    assert peer.answer(queued) is None  # waits for the loop, whose session it shares
    peer.send(Interrupt(target_id=loop))
    expect_error(await peer.wait(loop), ErrorCode.INTERRUPTED)
    assert (await peer.wait(queued)).print_string == "7"


async def test_an_evaluation_handed_to_its_task_is_abandoned_when_the_server_stops():
    async with trio.open_nursery() as nursery:
        peer, (sid, *_) = open_peer(nursery)
        source = "[[true] whileTrue] ensure: [Smalltalk at: #Unwound put: 42]"
        peer.dispatcher.new_round()
        rid = peer.send(Evaluate(session_id=sid, source=source))
        assert rid in peer.conn.in_flight
        nursery.cancel_scope.cancel()  # before its task ran a single slice
    image = peer.dispatcher.image
    check = image.new_workspace().start("Smalltalk at: #Unwound")
    outcome = check.resume(1.0)
    assert outcome is not None and outcome.print_string == "42"  # its ensure: block ran
    assert not peer.conn.in_flight


async def test_stopped_between_its_inline_slice_and_its_task(nursery):
    """An Interrupt, a CloseSession or a lost connection in the same round as the inline slice that
    started an evaluation (before its task took it over) ends it Interrupted and leaves nothing behind:
    the suspended run is already interruptible through `record.evaluation`."""
    peer, sids = open_peer(nursery)
    dispatcher = peer.dispatcher
    stops = [
        lambda rid, sid: peer.send(Interrupt(target_id=rid)),
        lambda rid, sid: peer.answer(peer.send(CloseSession(session_id=sid))),
    ]
    for stop, sid in zip(stops, sids, strict=False):
        dispatcher.new_round()
        rid = peer.send(Evaluate(session_id=sid, source=LOOP))
        assert peer.answer(rid) is None and rid in peer.conn.in_flight  # handed over, not run yet
        stop(rid, sid)
        expect_error(await peer.wait(rid), ErrorCode.INTERRUPTED)
        assert not peer.conn.in_flight
    assert isinstance(peer.answer(peer._rid), SessionClosed)
    session = dispatcher.sessions.get(sids[0])
    assert session is not None and session.busy == 0 and not session.queue
    # The connection goes away: the evaluation is stopped, and the next one of the session runs.
    other, (sid, *_) = open_peer(nursery, dispatcher, "other")
    dispatcher.new_round()
    rid = other.send(Evaluate(session_id=sid, source=LOOP))
    assert rid in other.conn.in_flight
    dispatcher.connection_lost(other.conn)
    with trio.fail_after(10):
        while other.conn.in_flight:
            await trio.sleep(0.001)
    session = dispatcher.sessions.get(sid)
    assert session is not None and session.busy == 0 and not session.queue


async def test_a_failing_inline_slice_costs_its_request_only(nursery, monkeypatch):
    peer, (sid, *_) = open_peer(nursery)

    def broken(self: Evaluation, slice_seconds: float = 0.0005) -> object:
        raise RuntimeError("boom")

    peer.dispatcher.new_round()
    monkeypatch.setattr(Evaluation, "resume", broken)
    rid = peer.send(Evaluate(session_id=sid, source="3 + 4"))
    monkeypatch.undo()
    reply = expect_error(peer.answer(rid), ErrorCode.INTERNAL_ERROR)  # answered inline
    assert "boom" in reply.message
    assert not peer.conn.in_flight
    session = peer.dispatcher.sessions.get(sid)
    assert session is not None and session.busy == 0 and not session.queue
    after = peer.send(Evaluate(session_id=sid, source="3 + 4"))
    assert (await peer.wait(after)).print_string == "7"


# --------------------------------------------------------------------------------------------------
# Over the wire


async def test_interrupt_right_behind_an_evaluation_that_outlived_its_inline_slice(harness):
    info, _ = await harness.start()
    client = await harness.connect(info)
    sid = await new_session(client)
    for _ in range(5):
        # Back to back: the Interrupt often arrives in the round whose inline slice started the loop.
        rid = await client.send(Evaluate(session_id=sid, source=LOOP))
        ack = await client.request(Interrupt(target_id=rid))
        assert ack == InterruptAck(target_id=rid, was_running=True)
        expect_error(await client.wait_for(rid), ErrorCode.INTERRUPTED)
    assert (await evaluate(client, sid, "3 + 4")).print_string == "7"


async def test_transcript_of_every_slice_comes_before_the_reply(harness):
    info, _ = await harness.start()
    client = await harness.connect(info)
    sid = await new_session(client)
    rid = await client.send(Evaluate(session_id=sid, source=SLOW))
    texts = []
    while True:
        frame = await client.next_frame()
        assert frame.request_id == rid
        if not isinstance(frame.message, TranscriptOutput):
            break
        texts.append(frame.message.text)
    assert "".join(texts) == "ab"
    assert isinstance(frame.message, EvalResult) and frame.message.print_string == "42"
    assert frame.message.elapsed > 0.01  # many slices (the millisecond clock rounds the 20 ms)


async def test_the_same_client_is_answered_while_its_evaluation_runs_on(harness):
    info, _ = await harness.start()
    client = await harness.connect(info)
    sid, other = await new_session(client), await new_session(client)
    rid = await client.send(Evaluate(session_id=sid, source=LOOP))
    await wait_running(client, sid)
    for i in range(50):
        pong = await client.request(Ping(timestamp=float(i)))
        assert isinstance(pong, Pong) and pong.timestamp == float(i)
    assert (await evaluate(client, other, "3 + 4")).print_string == "7"
    await client.request(Interrupt(target_id=rid))
    expect_error(await client.wait_for(rid), ErrorCode.INTERRUPTED)


async def test_pipelined_evaluations_answer_in_arrival_order_per_session(harness):
    info, _ = await harness.start()
    client = await harness.connect(info)
    sids = [await new_session(client) for _ in range(3)]
    for sid in sids:
        await evaluate(client, sid, "x := 0")
    rids = {sid: [] for sid in sids}
    for _ in range(15):  # interleaved over three sessions, without waiting for any answer
        for sid in sids:
            rids[sid].append(await client.send(Evaluate(session_id=sid, source="x := x + 1")))
    for sid in sids:
        values = [(await client.wait_for(rid)).print_string for rid in rids[sid]]
        assert values == [str(n) for n in range(1, 16)]
