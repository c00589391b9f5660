"""`stui image serve` as a process: the event loop on a deep stack, signals forwarded from the main thread.

Why a thread. The embedded Smalltalk runs user code as nested Python calls inside greenlets, on the C
stack of the thread that runs the server. Python 3.11 keeps plain Python-to-Python calls off the C
stack, but every call that goes through C (a primitive calling back into Smalltalk: ``perform:``,
``on:do:``, ``inject:into:``, sort blocks, ``printOn:`` reached from printString...) takes a few hundred
bytes of it per level. At Python's default recursion limit (1,000 frames) a Smalltalk program can only
recurse ~200 activations deep; raising the limit on the main thread's 8 MiB stack is not safe (recursion
through ``on:do:`` segfaults the process between 8,000 and 12,000 levels). Pharo users recurse
thousands deep. So this module runs the trio loop in a thread created with a large stack
(:data:`STACK_SIZE`, virtual: only the pages a deep recursion touches become resident), raises the
recursion limit to :data:`RECURSION_LIMIT` and gives the image :data:`MAX_DEPTH`, so that a Smalltalk
``StackOverflow`` (or, for recursion through primitives alone, Python's RecursionError, reported the
same way) always comes long before the stack runs out. The figures were measured: see docs/smalltalk.md
(Limits) and tests/image/test_deep_recursion.py.

Why the forwarding. Signals are delivered to the main thread only (trio's signal receiver works there
only, and the loop no longer runs there). The main thread blocks SIGTERM/SIGINT in the loop's thread,
waits for the loop's thread to end, and on a signal cancels the served scope through the loop's trio
token, so a clean stop still tells every client ``ImageShutdown``, removes the connection file and exits 0.

This is application code, like ``stui.cli``: it changes process-wide state (recursion limit, signal
handlers, thread stack size), restores it when the serve ends, and is never used by the library.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from stui.image.config import ImageServerConfig

__all__ = [
    "MAX_DEPTH",
    "RECURSION_LIMIT",
    "STACK_SIZE",
    "run_on_deep_stack",
    "serve_image_process",
]

#: Stack of the thread that runs the served image's loop. Virtual memory: a deep recursion touches at
#: most ~RECURSION_LIMIT x 290 bytes of it (the worst C-stack cost per Python frame measured: hashing
#: a deeply nested chain of Associations; ``perform:`` is next at 233), ~56 MiB, a 9x margin.
STACK_SIZE = 512 * 1024 * 1024
#: Python frames the served image may nest. The worst path measured takes 14 frames per Smalltalk
#: activation (a ``printOn:`` printing an Array that holds the next object), so MAX_DEPTH activations
#: need ~140,000: Smalltalk's StackOverflow comes first on every path measured.
RECURSION_LIMIT = 200_000
#: Smalltalk activations (methods and blocks) before ``StackOverflow`` in a served image. The worst C
#: stack per activation measured is ~1.4 KB (``perform:``): ~14 MiB at this depth.
MAX_DEPTH = 10_000

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class _Stopper:
    """How the main thread reaches the loop's thread: its trio token and the scope to cancel."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    token: trio.lowlevel.TrioToken | None = None
    scope: trio.CancelScope | None = None
    requested: bool = False

    def request_stop(self) -> None:
        """Cancel the served scope (from any thread); remembered if the loop has not started yet."""
        with self.lock:
            self.requested = True
            token, scope = self.token, self.scope
        if token is not None and scope is not None:
            try:
                token.run_sync_soon(scope.cancel)
            except trio.RunFinishedError:
                pass

    def publish(self, token: trio.lowlevel.TrioToken, scope: trio.CancelScope) -> None:
        with self.lock:
            self.token, self.scope = token, scope
            if self.requested:
                scope.cancel()


def run_on_deep_stack(
    async_fn: Callable[..., Awaitable[Any]],
    *args: Any,
    stack_size: int = STACK_SIZE,
    recursion_limit: int = RECURSION_LIMIT,
    stop_signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
) -> Any:
    """``trio.run(async_fn, *args)`` in a thread with a *stack_size* stack; a stop signal cancels it.

    Call it from the main thread. While it runs, the recursion limit is *recursion_limit* and each of
    *stop_signals* cancels ``async_fn`` (which then finishes its clean-up and returns normally);
    afterwards the previous limit and handlers are back.

    Returns:
        What ``async_fn`` returned (None when a signal cancelled it).

    Raises:
        Whatever ``async_fn`` raised (an Exception; KeyboardInterrupt cannot reach the loop's thread).
    """
    stopper = _Stopper()
    outcome: dict[str, Any] = {}

    async def guarded() -> Any:
        with trio.CancelScope() as scope:
            stopper.publish(trio.lowlevel.current_trio_token(), scope)
            return await async_fn(*args)
        return None

    def loop_thread() -> None:
        try:
            outcome["value"] = trio.run(guarded)
        except BaseException as e:  # handed to the main thread, which re-raises it
            outcome["error"] = e

    def on_signal(signum: int, frame: Any) -> None:
        stopper.request_stop()

    old_limit = sys.getrecursionlimit()
    old_handlers = {s: signal.signal(s, on_signal) for s in stop_signals}
    try:
        sys.setrecursionlimit(max(old_limit, recursion_limit))
        # The loop's thread inherits a mask blocking the stop signals, so the kernel delivers them to
        # this (main) thread, whose join() they interrupt to run on_signal.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        old_stack_size = threading.stack_size(stack_size)
        try:
            thread = threading.Thread(target=loop_thread, name="stui-image-loop", daemon=True)
            thread.start()
        finally:
            threading.stack_size(old_stack_size)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        while thread.is_alive():
            # A signal interrupts the wait and runs on_signal; the timeout only matters if another
            # thread (one the loop did not start) caught it, whose handler then runs here.
            thread.join(0.5)
    finally:
        for s, handler in old_handlers.items():
            signal.signal(s, handler)
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def serve_image_process(
    config: ImageServerConfig, ready_fd: int | None = None, exit_with_parent: bool = False
) -> None:
    """Serve *config* until SIGTERM/SIGINT (or the parent's exit): what ``stui image serve`` runs.

    The image gets ``max_depth=MAX_DEPTH`` unless *config* names one; the loop runs on a :data:`STACK_SIZE` stack with the
    recursion limit at :data:`RECURSION_LIMIT`. Prints the ready line (see ``stui.cli``) once bound.

    Raises:
        OSError, zmq.ZMQError: the image could not start (address in use, bad endpoint).
    """
    if config.max_depth is None:
        config = dataclasses.replace(config, max_depth=MAX_DEPTH)
    run_on_deep_stack(serve_until_cancelled, config, ready_fd, exit_with_parent)


async def serve_until_cancelled(
    config: ImageServerConfig, ready_fd: int | None = None, exit_with_parent: bool = False
) -> None:
    """Serve *config*, write the ready line, and serve until cancelled (or the parent exits).

    Cancellation:
        Cancelling stops the image cleanly (``ImageShutdown`` to clients, connection file removed).
    """
    from stui.image.server import serve_image

    parent = os.getppid()
    async with trio.open_nursery() as nursery:
        if exit_with_parent:
            nursery.start_soon(_watch_parent, parent, nursery.cancel_scope)
        info = await nursery.start(serve_image, config)
        ready = {
            "event": "ready",
            "name": info.name,
            "image_id": info.image_id,
            "instance_id": info.instance_id,
            "pid": os.getpid(),
            "zmq_address": info.zmq_address,
            "ws_address": info.ws_address,
            "connection_file": str(info.connection_file) if info.connection_file else None,
        }
        line = json.dumps(ready) + "\n"
        if ready_fd is None:
            sys.stdout.write(line)
            sys.stdout.flush()
        else:
            os.write(ready_fd, line.encode())


async def _watch_parent(parent: int, scope: trio.CancelScope) -> None:
    """Cancel *scope* once our parent process is gone (we get re-parented, so getppid changes)."""
    while os.getppid() == parent:
        await trio.sleep(0.5)
    scope.cancel()
