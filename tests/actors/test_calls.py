"""The pending table's one-shot reply slot (actors/calls.py), above all under cancellation.

`Call.wait` reschedules its caller directly instead of going through a `trio.Event`; these tests pin
down the promises that must survive that: a cancelled caller abandons its call (the reply, when it
comes, is dropped and counted), and a reply that has reached the caller is never taken away by a
cancellation that arrives after it.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from stui.actors.calls import Call, CallTable
from stui.actors.errors import ImageDisconnected, RequestTimeout
from stui.protocol import Ping, Pong, Reply

PONG = Pong(timestamp=1.0, image_time=2.0)


async def _queued(call: Call) -> None:
    """A `send` that queues nothing and does not yield (what send_nowait does)."""


async def _start_call(
    nursery: trio.Nursery, table: CallTable, timeout: float | None = None
) -> tuple[trio.CancelScope, dict[str, object]]:
    """Start `table.call` in a task of its own; returns its cancel scope and where its outcome lands."""
    outcome: dict[str, object] = {}
    scope = trio.CancelScope()
    before = len(table)

    async def caller() -> None:
        with scope:
            try:
                outcome["reply"] = await table.call(Ping(timestamp=1.0), timeout, "img", _queued)
            except Exception as exc:
                outcome["error"] = exc
            return
        outcome["cancelled"] = True

    nursery.start_soon(caller)
    await trio.testing.wait_all_tasks_blocked()
    assert len(table) == before + 1  # registered, sent, and now waiting
    return scope, outcome


async def test_reply_wakes_the_caller() -> None:
    table = CallTable()
    async with trio.open_nursery() as nursery:
        _, outcome = await _start_call(nursery, table)
        assert table.complete(1, PONG)
    assert outcome == {"reply": PONG}
    assert len(table) == 0 and table.late_replies == 0


async def test_cancelled_caller_abandons_the_call_and_its_reply_is_late() -> None:
    table = CallTable()
    async with trio.open_nursery() as nursery:
        scope, outcome = await _start_call(nursery, table)
        scope.cancel()
    assert outcome == {"cancelled": True}
    assert len(table) == 0
    assert not table.complete(1, PONG)  # the reply that comes afterwards is dropped...
    assert table.late_replies == 1  # ... and counted


async def test_cancellation_after_the_reply_does_not_lose_it() -> None:
    table = CallTable()
    async with trio.open_nursery() as nursery:
        scope, outcome = await _start_call(nursery, table)
        # Both in the same step of this task: the caller has been rescheduled with its reply before
        # the cancellation is requested, so it must return the reply.
        assert table.complete(1, PONG)
        scope.cancel()
    assert outcome == {"reply": PONG}
    assert table.late_replies == 0


async def test_timeout_abandons_the_call(autojump_clock: trio.testing.MockClock) -> None:
    table = CallTable()
    async with trio.open_nursery() as nursery:
        _, outcome = await _start_call(nursery, table, timeout=1.0)
        await trio.sleep(2.0)
    assert isinstance(outcome["error"], RequestTimeout)
    assert len(table) == 0
    assert not table.complete(1, PONG)
    assert table.late_replies == 1


async def test_fail_all_wakes_every_caller_with_its_own_error() -> None:
    table = CallTable()
    async with trio.open_nursery() as nursery:
        _, first = await _start_call(nursery, table)
        _, second = await _start_call(nursery, table)
        assert table.fail_all(lambda: ImageDisconnected("gone")) == 2
    errors = [first["error"], second["error"]]
    assert all(isinstance(e, ImageDisconnected) for e in errors)
    assert errors[0] is not errors[1]


async def test_a_call_failed_while_being_sent_returns_without_waiting() -> None:
    table = CallTable()

    async def refuse(call: Call) -> None:
        call.fail(ImageDisconnected("not connected"))

    with pytest.raises(ImageDisconnected, match="not connected"):
        await table.call(Ping(timestamp=1.0), None, "img", refuse)
    assert len(table) == 0


async def test_on_done_calls_have_no_waiter() -> None:
    table = CallTable()
    seen: list[Reply | None] = []
    call = table.register(Ping(timestamp=1.0), lambda c: seen.append(c.reply))
    assert table.complete(call.request_id, PONG)
    assert seen == [PONG] and call.finished
    call.complete(Pong(timestamp=3.0, image_time=4.0))  # one-shot: a second outcome is ignored
    assert call.reply is PONG and seen == [PONG]


async def test_only_one_task_may_wait() -> None:
    call = Call(1, Ping(timestamp=1.0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(call.wait)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="already waiting"):
            await call.wait()
        call.complete(PONG)
