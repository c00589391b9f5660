"""Trio as a guest of asyncio: calls in both directions, cancellation, errors, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from stui.repl.trio_guest import TrioGuest, TrioGuestStopped


class Resource:
    def __init__(self) -> None:
        self.entered_in_trio = False
        self.closed = False
        self.cancelled: list[str] = []

    async def add(self, a: int, b: int) -> int:
        await trio.sleep(0.001)
        return a + b

    async def fail(self) -> None:
        await trio.lowlevel.checkpoint()
        raise ValueError("boom")

    async def forever(self, name: str) -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            self.cancelled.append(name)
            raise


@asynccontextmanager
async def open_resource(resource: Resource) -> AsyncIterator[Resource]:
    trio.lowlevel.current_task()  # raises outside trio
    resource.entered_in_trio = True
    try:
        yield resource
    finally:
        await trio.lowlevel.checkpoint()
        resource.closed = True


def run(coro_fn) -> None:
    asyncio.run(coro_fn())


def test_run_returns_results_and_raises_errors_from_trio() -> None:
    async def main() -> None:
        guest: TrioGuest[Resource] = TrioGuest()
        res = await guest.start(lambda: open_resource(Resource()))
        assert res.entered_in_trio and guest.running
        assert await guest.run(res.add, 3, 4) == 7
        results = await asyncio.gather(*(guest.run(res.add, i, i) for i in range(20)))
        assert results == [2 * i for i in range(20)]
        with pytest.raises(ValueError, match="boom"):
            await guest.run(res.fail)
        await guest.stop()
        assert res.closed and not guest.running
        await guest.stop()  # idempotent
        with pytest.raises(TrioGuestStopped):
            await guest.run(res.add, 1, 1)
        with pytest.raises(TrioGuestStopped):
            guest.spawn(res.add, 1, 1)

    run(main)


def test_cancelling_the_asyncio_side_cancels_the_trio_side() -> None:
    async def main() -> None:
        guest: TrioGuest[Resource] = TrioGuest()
        res = await guest.start(lambda: open_resource(Resource()))
        task = asyncio.ensure_future(guest.run(res.forever, "call"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if res.cancelled:
                break
            await asyncio.sleep(0.01)
        assert res.cancelled == ["call"]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(guest.run(res.forever, "timeout"), 0.05)
        await guest.stop()
        assert res.cancelled == ["call", "timeout"]

    run(main)


def test_stop_cancels_calls_in_flight_and_they_learn_it() -> None:
    async def main() -> None:
        guest: TrioGuest[Resource] = TrioGuest()
        res = await guest.start(lambda: open_resource(Resource()))
        pending = asyncio.ensure_future(guest.run(res.forever, "pending"))
        await asyncio.sleep(0.05)
        await guest.stop()
        with pytest.raises(TrioGuestStopped):
            await pending
        assert res.cancelled == ["pending"] and res.closed

    run(main)


def test_spawn_reports_errors_without_stopping_trio() -> None:
    async def main() -> None:
        errors: list[Exception] = []
        guest: TrioGuest[Resource] = TrioGuest(on_error=errors.append)
        res = await guest.start(lambda: open_resource(Resource()))
        guest.spawn(res.fail)
        guest.spawn(res.add, 1, 2)
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.01)
        assert [str(e) for e in errors] == ["boom"]
        assert await guest.run(res.add, 1, 1) == 2
        await guest.stop()

    run(main)


def test_start_raises_when_the_resource_cannot_be_opened() -> None:
    @asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        await trio.lowlevel.checkpoint()
        raise OSError("no supervisor for you")
        yield  # pragma: no cover

    async def main() -> None:
        guest: TrioGuest[None] = TrioGuest()
        with pytest.raises(OSError, match="no supervisor"):
            await guest.start(broken)
        with pytest.raises(RuntimeError):
            await guest.start(broken)
        with pytest.raises(OSError):
            await guest.stop()

    run(main)


def test_stop_while_the_resource_is_still_opening_cancels_the_opening() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def slow() -> AsyncIterator[None]:
        try:
            await trio.sleep(30)
        except trio.Cancelled:
            events.append("opening cancelled")
            raise
        yield  # pragma: no cover

    async def main() -> None:
        guest: TrioGuest[None] = TrioGuest()
        start = asyncio.ensure_future(guest.start(slow))
        await asyncio.sleep(0.05)
        start.cancel()
        with pytest.raises(asyncio.CancelledError):
            await start
        await asyncio.wait_for(guest.stop(), 5)

    run(main)
    assert events == ["opening cancelled"]
