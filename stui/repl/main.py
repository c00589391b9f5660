"""Start-up and shut-down of the REPL: the store, the local images, the supervisor, then the loop.

`run_repl(options)` is what `stui` (no subcommand) calls. It runs one asyncio loop (prompt_toolkit's)
with trio as its guest, and inside trio opens, in this order:

1. the session store (unless `--no-store`); a damaged file is moved aside and the user told where;
2. the local reference images "alpha" and "beta" (subprocesses, `stui image serve`) when the config
   names no image to auto-connect — so a newcomer types Smalltalk seconds after installing;
3. the supervisor, connected to every image (configured or local) at once; an image that cannot be
   reached is reported and the others still come up.

Leaving the REPL closes them in reverse: the supervisor tells every image goodbye and saves the
sessions' context (through the store), then the images stui started are stopped, then the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import signal
import sys
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from stui.config import Config, ConfigError, read_key_file
from stui.paths import data_dir
from stui.repl.app import Backend, Repl
from stui.repl.commands import running_local_image
from stui.repl.trio_guest import TrioGuest

__all__ = ["ConnectTarget", "LocalImageLauncher", "ReplOptions", "open_backend", "run_repl"]


@dataclass(frozen=True, slots=True)
class ConnectTarget:
    """An image to connect at start-up."""

    name: str
    address: str
    key: bytes = b""
    heartbeat_interval: float = 1.0
    heartbeat_misses: int = 3


#: `launcher(names)` → an async context manager (entered in trio) that starts local images and yields
#: one `ConnectTarget` per image, stopping them on exit.
LocalImageLauncher = Callable[[tuple[str, ...]], AbstractAsyncContextManager[list[ConnectTarget]]]


@dataclass(frozen=True, slots=True)
class ReplOptions:
    """What the command line decided.

    Attributes:
        config: the loaded configuration.
        store_path: the session store file; None for the config's or the default location.
        use_store: False for `--no-store` (nothing written to disk).
        local_images: start these local images, overriding the config (None: as configured).
    """

    config: Config
    store_path: Path | None = None
    use_store: bool = True
    local_images: tuple[str, ...] | None = None
    extra_targets: tuple[ConnectTarget, ...] = field(default=())


def configured_targets(config: Config) -> list[ConnectTarget]:
    """The images the config asks to connect at start-up.

    Raises:
        ConfigError: a key file cannot be read.
    """
    targets = []
    for image in config.auto_connect_images:
        key = b""
        if image.key_file is not None:
            try:
                key = read_key_file(image.key_file)
            except ConfigError as exc:
                raise ConfigError(f"[images.{image.name}] key_file: {exc}") from None
        targets.append(
            ConnectTarget(
                name=image.name,
                address=image.address,
                key=key,
                heartbeat_interval=image.heartbeat_interval,
                heartbeat_misses=image.heartbeat_misses,
            )
        )
    return targets


@contextlib.asynccontextmanager
async def open_backend(
    options: ReplOptions, *, launcher: LocalImageLauncher | None = None
) -> AsyncIterator[Backend]:
    """Open the store, start local images, open and connect the supervisor (runs in trio).

    Raises:
        ConfigError: a configured key file cannot be read.
        Exception: the supervisor could not be opened.

    Cancellation: whatever was opened is closed again (images stopped, store closed).
    """
    from stui import SupervisorConfig, open_supervisor

    config = options.config
    notices: list[tuple[str, str]] = []
    targets = [*configured_targets(config), *options.extra_targets]
    async with AsyncExitStack() as stack:
        store = await _open_store(stack, options, notices)
        local_names: tuple[str, ...] = ()
        wanted = (
            options.local_images
            if options.local_images is not None
            else (config.repl.local_images if not targets else ())
        )
        if wanted:
            launch = launcher or default_launcher
            try:
                started = await stack.enter_async_context(launch(tuple(wanted)))
            except Exception as exc:
                notices.append((f"could not start local images: {_describe(exc)}", "bad"))
            else:
                local_names = tuple(t.name for t in started)
                targets = [*started, *targets]
        # A fresh client id per run, not a stable per-user one: an image treats a second connection
        # with the same client id as the first one reconnecting and drops the first, so two stui
        # processes would cut each other off. Earlier runs' sessions come back by session id instead.
        sup = await stack.enter_async_context(open_supervisor(SupervisorConfig(), store=store))
        await _connect_all(sup, targets, notices, configured={i.name for i in config.images})
        default = config.repl.default_image
        if default and default in {s.name for s in sup.images()}:
            await sup.switch(default)
        elif targets and sup.current is not None and sup.current != targets[0].name:
            first = next(
                (t.name for t in targets if t.name in {s.name for s in sup.images()}), None
            )
            if first is not None:
                await sup.switch(first)
        yield Backend(sup=sup, store=store, local_images=local_names, notices=notices)


async def _open_store(
    stack: AsyncExitStack, options: ReplOptions, notices: list[tuple[str, str]]
) -> Any:
    if not options.use_store or not options.config.store.enabled:
        return None
    from stui.sessions import StoreError, open_session_store

    path = options.store_path or options.config.store.path
    try:
        store = await stack.enter_async_context(open_session_store(path))
    except StoreError as exc:
        notices.append((f"session store unavailable, history will not be kept: {exc}", "warn"))
        return None
    if store.recovered_from:
        notices.append(
            (
                f"the session store was damaged; it was moved to {store.recovered_from} and a new one started",
                "warn",
            )
        )
    return store


async def _connect_all(
    sup: Any,
    targets: list[ConnectTarget],
    notices: list[tuple[str, str]],
    configured: Collection[str] = (),
) -> None:
    """Connect every target at once, in order of the list for naming; failures become notices that
    say how to connect later (by name for an image in the config file)."""
    failures: dict[str, str] = {}

    async def connect(target: ConnectTarget) -> None:
        try:
            key = target.key
            if not key and (local := running_local_image(address=target.address)) is not None:
                key = local.key  # a running local image: its key is in its connection file
            await sup.connect(
                target.address,
                name=target.name,
                key=key,
                heartbeat_interval=target.heartbeat_interval,
                heartbeat_misses=target.heartbeat_misses,
            )
        except Exception as exc:
            failures[target.name] = _describe(exc)

    async with trio.open_nursery() as nursery:
        for target in targets:
            nursery.start_soon(connect, target)
    for target in targets:
        if target.name in failures:
            notices.append(
                (
                    f"could not connect to {target.name} at {target.address}: {failures[target.name]}"
                    + "; once it runs: :connect "
                    + (
                        target.name
                        if target.name in configured
                        else f"{target.address} as {target.name}"
                    ),
                    "bad",
                )
            )


def _describe(exc: BaseException) -> str:
    """One line for a person: the first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


#: A local image that dies is started again on its port, at most this many times in RESTART_WINDOW
#: seconds (a crash loop is left alone: the prompt shows the image reconnecting).
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0
#: Seconds between a local image's death and its restart: longer than its image actor takes to call
#: the link lost (heartbeat_misses x heartbeat_interval), so the actor says Hello to the new process
#: instead of sending requests the new process answers with "say Hello first".
_LOCAL = ConnectTarget(name="", address="")  # local images use the default heartbeat settings
RESTART_DELAY = _LOCAL.heartbeat_interval * (_LOCAL.heartbeat_misses + 1)


@contextlib.asynccontextmanager
async def default_launcher(names: tuple[str, ...]) -> AsyncIterator[list[ConnectTarget]]:
    """Start local reference images as `stui image serve` subprocesses (all at once); stop them on exit.

    Each keeps its image_id in `<data dir>/images/<name>`, so its history and sessions in the store
    carry over from one run of stui to the next. One that dies while stui runs (killed, crashed) is
    started again on the same port with the same key, so its image actor reconnects by itself and
    the REPL reports the restart; nothing else the user typed depends on the process.
    """
    from stui.image.launcher import start_image_process

    processes: dict[str, Any] = {}
    stopping = False

    async def start(name: str, port: int | None = None) -> None:
        processes[name] = await start_image_process(
            name,
            state_dir=data_dir() / "images" / name,
            key=processes[name].key if name in processes else None,
            extra_args=["--port", str(port)] if port is not None else [],
        )

    async def keep_running(name: str) -> None:
        restarts: list[float] = []
        while True:
            process = processes[name]
            await process.wait()
            now = trio.current_time()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW]
            if stopping or len(restarts) >= MAX_RESTARTS:
                return
            restarts.append(now)
            await trio.sleep(RESTART_DELAY)
            port = int(process.address.rsplit(":", 1)[1])
            for attempt in range(10):  # the port can be briefly held by a reconnection attempt
                try:
                    await start(name, port)
                    break
                except Exception:
                    await trio.sleep(0.2 * (attempt + 1))
            else:
                return

    try:
        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(start, name)
        async with trio.open_nursery() as watchers:
            for name in names:
                watchers.start_soon(keep_running, name)
            try:
                yield [
                    ConnectTarget(
                        name=name, address=processes[name].address, key=processes[name].key
                    )
                    for name in names
                ]
            finally:
                stopping = True
                watchers.cancel_scope.cancel()
    finally:
        stopping = True
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for process in processes.values():
                    nursery.start_soon(process.stop)


def run_repl(
    options: ReplOptions,
    *,
    input: Input | None = None,
    output: Output | None = None,
    handle_signals: bool = True,
    launcher: LocalImageLauncher | None = None,
    on_start: Callable[[Repl], object] | None = None,
) -> int:
    """Run the REPL until Ctrl-D or `:quit`; returns the process exit status.

    Args:
        options: what the command line decided.
        input, output: prompt_toolkit input and output; None for the terminal.
        handle_signals: handle SIGINT (Ctrl-C during an evaluation); only in the main thread.
        launcher: starts local images; None for `stui image serve` subprocesses.
        on_start: called with the `Repl` once it exists (tests drive it from another thread).
    """
    with _log_to_file(data_dir() / LOG_FILE_NAME if options.use_store else None):
        return asyncio.run(
            _main(
                options,
                input=input,
                output=output,
                handle_signals=handle_signals,
                launcher=launcher,
                on_start=on_start,
            )
        )


#: stui's own log, in the data directory: warnings with their tracebacks (a store write that failed,
#: an actor that crashed and was restarted). The REPL reports what matters above the prompt itself.
LOG_FILE_NAME = "stui.log"


@contextlib.contextmanager
def _log_to_file(path: Path | None) -> Iterator[None]:
    """While the REPL runs, send the `stui` loggers to `path` (None: nowhere), not to the terminal.

    Without a handler, Python's last-resort handler writes warnings and their tracebacks to stderr,
    straight across prompt_toolkit's screen.
    """
    logger = logging.getLogger("stui")
    handler: logging.Handler = logging.NullHandler()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=1, encoding="utf-8", delay=True
            )
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
        except OSError:
            handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        handler.close()


async def _main(
    options: ReplOptions,
    *,
    input: Input | None,
    output: Output | None,
    handle_signals: bool,
    launcher: LocalImageLauncher | None,
    on_start: Callable[[Repl], object] | None = None,
) -> int:
    running: dict[str, Any] = {}

    def on_background_error(exc: Exception) -> None:
        # A task the REPL started without waiting for it (a history write, an interrupt, the event
        # pumps) failed: say so where the user looks, and keep the traceback in the log.
        logging.getLogger("stui.repl").error("background task failed", exc_info=exc)
        repl = running.get("repl")
        if repl is not None:
            repl.notice(f"background task failed: {type(exc).__name__}: {exc}", "bad")

    guest: TrioGuest[Backend] = TrioGuest(on_error=on_background_error)
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        repl = running.get("repl")
        if repl is not None:
            repl.request_interrupt()
        elif running.get("start") is not None:
            running["start"].cancel()  # Ctrl-C while the images start: give up starting

    # Installed before trio starts, so trio sees a handler that is not Python's default and leaves
    # SIGINT alone (no KeyboardInterrupt raised inside the supervisor).
    if handle_signals:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        return await _run(
            options,
            guest,
            running,
            input=input,
            output=output,
            launcher=launcher,
            on_start=on_start,
        )
    finally:
        if handle_signals:
            loop.remove_signal_handler(signal.SIGINT)


async def _run(
    options: ReplOptions,
    guest: TrioGuest[Backend],
    running: dict[str, Any],
    *,
    input: Input | None,
    output: Output | None,
    launcher: LocalImageLauncher | None,
    on_start: Callable[[Repl], object] | None,
) -> int:
    start = running["start"] = asyncio.ensure_future(
        guest.start(lambda: open_backend(options, launcher=launcher))
    )
    try:
        backend = await start
    except asyncio.CancelledError:
        print("stui: interrupted while starting; stopping what was started", file=sys.stderr)
        with contextlib.suppress(Exception):
            await guest.stop()
        return 130
    except ConfigError as exc:
        print(f"stui: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"stui: could not start: {_describe(exc)}", file=sys.stderr)
        return 1
    finally:
        running["start"] = None
    repl = running["repl"] = Repl(backend, guest, options.config, input=input, output=output)
    if on_start is not None:
        on_start(repl)
    try:
        status = await repl.run(_banner(backend))
        with contextlib.suppress(Exception):
            await guest.run(repl.save_contexts)
    finally:
        running["repl"] = None
        if backend.local_images:
            repl.notice("stopping " + ", ".join(backend.local_images) + " …")
        try:
            await guest.stop()
        except Exception as exc:
            print(f"stui: error while stopping: {_describe(exc)}", file=sys.stderr)
            status = 1
    return status


def _banner(backend: Backend) -> list[tuple[str, str]]:
    import stui

    names = sorted(s.name for s in backend.sup.images())
    lines = [
        (
            f"stui {stui.__version__} — images: {', '.join(names) or 'none'}. :help for commands, Ctrl-D to quit.",
            "",
        )
    ]
    if backend.local_images:
        lines.append(
            (f"started local images {', '.join(backend.local_images)} (stopped when you quit)", "")
        )
    return lines
