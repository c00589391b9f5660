"""Trio as a guest of prompt_toolkit's asyncio loop: how the REPL talks to the supervisor.

prompt_toolkit runs on asyncio and must own the terminal from the main thread (raw mode, SIGWINCH for
resize, Ctrl-C as a key). The supervisor is trio. Of the three ways NOTES.md lists, the REPL uses trio's
*guest mode* (`trio.lowlevel.start_guest_run`): asyncio is the host loop on the main thread and drives
trio's scheduler, so

- there is one thread for both (trio's I/O wait runs in a helper thread, but every task step runs on the
  main thread), hence no locking between the prompt and the supervisor and no `from_thread` round trips;
- prompt_toolkit keeps the main thread, so resize and signals work as in any prompt_toolkit program;
- trio keeps real trio semantics (cancel scopes, nurseries), and cancelling the asyncio side of a call
  cancels the trio side.

The alternatives lose something: prompt_toolkit in a thread loses SIGWINCH; trio-asyncio is a further
dependency. Guest mode is an application choice, so it lives here in the REPL and never in the library
(stui.actors knows nothing of asyncio or prompt_toolkit).

`TrioGuest.start(open_resource)` starts trio, enters `open_resource()` (e.g. `stui.open_supervisor()`)
inside it and hands the resource back to asyncio; `run(fn, *args)` awaits a trio function from asyncio;
`spawn` starts a trio task without waiting; `stop()` leaves the resource and waits for trio to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

import outcome
import trio

__all__ = ["TrioGuest", "TrioGuestStopped"]

T = TypeVar("T")
R = TypeVar("R")


class TrioGuestStopped(Exception):
    """The trio side is not running (not started yet, stopping, or finished): the call was not made."""


class TrioGuest(Generic[T]):
    """A trio run hosted by the running asyncio loop, holding one resource for asyncio code to use.

    Args:
        on_error: called (on the loop thread) with any exception a `spawn`ed task raises; the task's
            error never takes the trio run down.
    """

    def __init__(self, *, on_error: Callable[[Exception], object] | None = None) -> None:
        self._on_error = on_error
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._calls: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._done: asyncio.Future[outcome.Outcome[None]] | None = None
        self._opening: trio.CancelScope | None = None

    @property
    def running(self) -> bool:
        """True between a successful `start` and the beginning of `stop`."""
        return self._calls is not None

    async def start(self, open_resource: Callable[[], AbstractAsyncContextManager[T]]) -> T:
        """Start trio as a guest of the running asyncio loop and enter `open_resource()` inside it.

        Returns:
            What `open_resource()` yields; it stays open until `stop()`.

        Raises:
            RuntimeError: already started.
            Exception: whatever entering the resource raised (trio has finished by then).

        Cancellation: cancelling the caller while the resource opens leaves trio running; call `stop()`.
        """
        if self._loop is not None:
            raise RuntimeError("TrioGuest.start called twice")
        loop = self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[T] = loop.create_future()
        done: asyncio.Future[outcome.Outcome[None]] = loop.create_future()
        self._done = done

        def finished(result: outcome.Outcome[None]) -> None:
            loop.call_soon_threadsafe(_set_result, done, result)

        trio.lowlevel.start_guest_run(
            self._root,
            open_resource,
            ready,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=finished,
            host_uses_signal_set_wakeup_fd=True,
        )
        ready_or_done = await asyncio.wait({ready, done}, return_when=asyncio.FIRST_COMPLETED)
        if ready in ready_or_done[0]:
            return ready.result()
        self._calls = None
        _raise_error(done.result())  # trio ended before the resource was ready: raise why
        raise TrioGuestStopped("trio finished before the resource was ready")

    async def _root(
        self, open_resource: Callable[[], AbstractAsyncContextManager[T]], ready: asyncio.Future[T]
    ) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        with trio.CancelScope() as self._opening:
            async with open_resource() as resource, trio.open_nursery() as calls:
                self._opening = None
                self._calls = calls
                _set_result(ready, resource)
                await self._stop.wait()
                self._calls = None
                calls.cancel_scope.cancel("the REPL is stopping")

    async def run(self, fn: Callable[..., Awaitable[R]], *args: Any) -> R:
        """Run the trio function `fn(*args)` and return its result to asyncio.

        Raises:
            TrioGuestStopped: trio is not running, or stopped before `fn` finished.
            Exception: whatever `fn` raised.

        Cancellation: cancelling the awaiting asyncio task cancels `fn` in trio (at its next checkpoint).
        """
        loop, token = self._require()
        future: asyncio.Future[R] = loop.create_future()
        scopes: list[trio.CancelScope] = []
        try:
            token.run_sync_soon(self._start_call, fn, args, future, scopes)
        except trio.RunFinishedError:
            raise TrioGuestStopped("trio is not running") from None
        try:
            return await future
        except asyncio.CancelledError:
            try:
                token.run_sync_soon(_cancel_all, scopes)
            except trio.RunFinishedError:
                pass
            raise

    def spawn(self, fn: Callable[..., Awaitable[object]], *args: Any) -> None:
        """Start `fn(*args)` in trio without waiting for it; its exception goes to `on_error`.

        Raises:
            TrioGuestStopped: trio is not running.
        """
        loop, token = self._require()
        future: asyncio.Future[object] = loop.create_future()
        future.add_done_callback(self._report)
        try:
            token.run_sync_soon(self._start_call, fn, args, future, [])
        except trio.RunFinishedError:
            raise TrioGuestStopped("trio is not running") from None

    async def stop(self) -> None:
        """Leave the resource, cancel calls still running, and wait for trio to finish.

        If the resource is still being entered (a cancelled `start()`), entering it is cancelled.
        Idempotent. Raises what the trio run raised, if anything (e.g. an error leaving the resource).
        """
        if self._done is None:
            return
        if self._stop is not None and self._token is not None and not self._done.done():
            try:
                self._token.run_sync_soon(self._stop.set)
                # still entering the resource (start() was cancelled): stop entering it
                self._token.run_sync_soon(self._cancel_opening)
            except trio.RunFinishedError:
                pass
        self._calls = None
        _raise_error(await asyncio.shield(self._done))

    # ----------------------------------------------------------------------------------------------

    def _cancel_opening(self) -> None:
        if self._opening is not None:
            self._opening.cancel("stopped before the resource was ready")

    def _require(self) -> tuple[asyncio.AbstractEventLoop, trio.lowlevel.TrioToken]:
        if self._calls is None or self._loop is None or self._token is None:
            raise TrioGuestStopped("trio is not running")
        return self._loop, self._token

    def _start_call(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        future: asyncio.Future[Any],
        scopes: list[trio.CancelScope],
    ) -> None:
        if self._calls is None:
            _set_exception(future, TrioGuestStopped("trio is stopping"))
            return
        self._calls.start_soon(self._call, fn, args, future, scopes)

    async def _call(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        future: asyncio.Future[Any],
        scopes: list[trio.CancelScope],
    ) -> None:
        with trio.CancelScope() as scope:
            scopes.append(scope)
            if future.done():  # the asyncio side gave up before we started
                return
            try:
                _set_result(future, await fn(*args))
            except Exception as exc:
                _set_exception(future, exc)
            finally:
                # Cancelled (a BaseException) or the run ending: tell the asyncio side it will not come.
                _set_exception(future, TrioGuestStopped("the call was cancelled in trio"))

    def _report(self, future: asyncio.Future[object]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None and not isinstance(exc, TrioGuestStopped) and self._on_error is not None:
            assert isinstance(exc, Exception)
            self._on_error(exc)


def _raise_error(result: outcome.Outcome[None]) -> None:
    if isinstance(result, outcome.Error):
        raise result.error


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _cancel_all(scopes: list[trio.CancelScope]) -> None:
    for scope in scopes:
        scope.cancel()
