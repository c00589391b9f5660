"""Start reference images as child processes (`python -m stui image serve ...`) and control them.

The REPL starts the default local images ("alpha", "beta") with it; tests and benches use it to get real
peers in other processes, to crash them (`kill`), freeze them (`freeze`/`thaw`: SIGSTOP/SIGCONT, how a
hung image looks from outside) and restart them with the same state directory (same image_id, new
instance_id).

How it works: the child prints one JSON "ready" line on stdout once its sockets are bound (see
stui.cli); the launcher reads that line (in a worker thread for the async variant, with `select` for the
sync one), then closes the pipe. The child runs in its own session (`start_new_session=True`) so a Ctrl-C
typed at the REPL interrupts the evaluation, not every image; by default it is started with
`--exit-with-parent`, so it stops cleanly when the starting process exits, however that happens. Unless a key file is given, the launcher
makes a random key and hands it over in the `STUI_IMAGE_KEY` environment variable (never on the command
line, where `ps` would show it); `ImageProcess.key` holds it for the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from stui.image.config import KEY_ENV

__all__ = [
    "ImageProcess",
    "ImageStartError",
    "start_image_process",
    "start_image_process_sync",
]

DEFAULT_READY_TIMEOUT = 30.0


class ImageStartError(RuntimeError):
    """The image process exited, or said nothing sensible, before it was ready."""


@dataclass(frozen=True, slots=True)
class _LaunchSpec:
    name: str
    ws: bool
    zmq: bool
    key: bytes
    key_file: Path | None
    state_dir: Path | None
    env: Mapping[str, str] | None
    extra_args: tuple[str, ...]
    ready_timeout: float
    exit_with_parent: bool

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "stui", "image", "serve", "--name", self.name]
        if not self.zmq:
            argv.append("--no-zmq")
        if self.ws:
            argv += ["--ws-port", "0"]
        if self.key_file is not None:
            argv += ["--key-file", str(self.key_file)]
        elif not self.key:
            argv.append("--no-key")
        if self.state_dir is not None:
            argv += ["--state-dir", str(self.state_dir)]
        if self.exit_with_parent:
            argv.append("--exit-with-parent")
        return argv + list(self.extra_args)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        env.pop(KEY_ENV, None)
        if self.key and self.key_file is None:
            env[KEY_ENV] = self.key.decode()
        return env

    def popen(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=self.environment(),
            start_new_session=True,
        )


@dataclass(eq=False, slots=True)
class ImageProcess:
    """A running `stui image serve` child process.

    Attributes:
        name: the image name.
        zmq_address: where its ZeroMQ ROUTER listens (None if disabled).
        ws_address: its WebSocket URL (None unless started with `ws=True`).
        image_id: its stable id (kept in `state_dir` across restarts, if one was given).
        instance_id: this run's id.
        key: the signing key clients must use (b"" when unsigned).
        connection_file: the connection file it wrote, or None.
        process: the `subprocess.Popen` object.
    """

    name: str
    zmq_address: str | None
    ws_address: str | None
    image_id: str
    instance_id: str
    key: bytes
    connection_file: Path | None
    process: subprocess.Popen[bytes]
    _spec: _LaunchSpec = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        """The address a client should use: ZeroMQ when there is one, else the WebSocket URL."""
        address = self.zmq_address or self.ws_address
        assert address is not None
        return address

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs (polls; never blocks)."""
        return self.process.poll()

    def send_signal(self, signum: int) -> None:
        """Send `signum` unless the process has already been reaped. Never raises for a gone process."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def terminate(self) -> None:
        """Ask it to stop cleanly (SIGTERM): it tells its clients ImageShutdown and removes its file."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill it (SIGKILL): a crash, as far as clients can tell. Its connection file stays (stale)."""
        self.send_signal(signal.SIGKILL)

    def freeze(self) -> None:
        """Stop it (SIGSTOP): it keeps its sockets but answers nothing, like a hung image."""
        self.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen image run again (SIGCONT)."""
        self.send_signal(signal.SIGCONT)

    async def wait(self) -> int:
        """Wait for it to exit and return its exit status.

        Cancellation: safe; the process keeps running.
        """
        delay = 0.002
        while (code := self.process.poll()) is None:
            await trio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def wait_sync(self, timeout: float | None = None) -> int:
        """Block until it exits (raises `subprocess.TimeoutExpired` after `timeout` seconds)."""
        return self.process.wait(timeout)

    async def stop(self, timeout: float = 5.0) -> int:
        """Stop it cleanly (thaw, SIGTERM), killing it after `timeout` seconds; its exit status.

        Cancellation: if cancelled while waiting, the process is killed before Cancelled propagates.
        """
        self.thaw()
        self.terminate()
        try:
            with trio.move_on_after(timeout):
                return await self.wait()
        except BaseException:
            self.kill()
            raise
        self.kill()
        return await self.wait()

    def stop_sync(self, timeout: float = 5.0) -> int:
        """`stop()` for code outside trio."""
        self.thaw()
        self.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait()

    async def restart(self) -> ImageProcess:
        """Stop it and start it again with the same name, key, transports and state directory.

        Returns:
            The new process (same image_id when a state_dir was given; always a new instance_id).
        """
        await self.stop()
        return await _start(self._spec)

    def restart_sync(self) -> ImageProcess:
        """`restart()` for code outside trio."""
        self.stop_sync()
        return _start_sync(self._spec)


def _spec(
    name: str,
    *,
    ws: bool,
    zmq: bool,
    key_file: Path | str | None,
    key: bytes | None,
    state_dir: Path | str | None,
    env: Mapping[str, str] | None,
    extra_args: Sequence[str],
    ready_timeout: float,
    exit_with_parent: bool,
) -> _LaunchSpec:
    if not (ws or zmq):
        raise ValueError("an image needs at least one transport (ws or zmq)")
    if key_file is not None:
        key_file = Path(key_file)
        key = key_file.read_text(encoding="utf-8").strip().encode()
    elif key is None:
        key = secrets.token_hex(32).encode()
    return _LaunchSpec(
        name=name,
        ws=ws,
        zmq=zmq,
        key=key,
        key_file=key_file,
        state_dir=None if state_dir is None else Path(state_dir),
        env=env,
        extra_args=tuple(extra_args),
        ready_timeout=ready_timeout,
        exit_with_parent=exit_with_parent,
    )


async def start_image_process(
    name: str,
    *,
    ws: bool = False,
    zmq: bool = True,
    key_file: Path | str | None = None,
    key: bytes | None = None,
    state_dir: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    exit_with_parent: bool = True,
) -> ImageProcess:
    """Start `stui image serve --name NAME ...` and wait until it is ready.

    Args:
        name: the image name.
        ws: also serve WebSocket (on a free port).
        zmq: serve ZeroMQ (on a free loopback port).
        key_file: a file with the signing key; by default a fresh random key (see `key`).
        key: the signing key to use; None makes a random one; b"" turns signing off.
        state_dir: keeps image_id across restarts.
        env: the child's environment (default: ours). `STUI_RUNTIME_DIR` there decides where the
            connection file goes.
        extra_args: more `stui image serve` options (e.g. ["--session-expiry", "5"]).
        ready_timeout: seconds to wait for the ready line.
        exit_with_parent: the image stops cleanly (ImageShutdown, connection file removed) when this
            process exits, even by a crash, so no orphan images are left behind. False: it runs on.

    Returns:
        The running image. The caller must stop it (`stop()`, `kill()`).

    Raises:
        ImageStartError: the child exited or stayed silent past `ready_timeout` (it is killed).

    Cancellation: if cancelled before the image is ready, the child is killed.
    """
    spec = _spec(
        name,
        ws=ws,
        zmq=zmq,
        key_file=key_file,
        key=key,
        state_dir=state_dir,
        env=env,
        extra_args=extra_args,
        ready_timeout=ready_timeout,
        exit_with_parent=exit_with_parent,
    )
    return await _start(spec)


def start_image_process_sync(
    name: str,
    *,
    ws: bool = False,
    zmq: bool = True,
    key_file: Path | str | None = None,
    key: bytes | None = None,
    state_dir: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    exit_with_parent: bool = True,
) -> ImageProcess:
    """`start_image_process` for plain (non-trio) code such as pytest fixtures and bench drivers."""
    spec = _spec(
        name,
        ws=ws,
        zmq=zmq,
        key_file=key_file,
        key=key,
        state_dir=state_dir,
        env=env,
        extra_args=extra_args,
        ready_timeout=ready_timeout,
        exit_with_parent=exit_with_parent,
    )
    return _start_sync(spec)


async def _start(spec: _LaunchSpec) -> ImageProcess:
    process = spec.popen()
    assert process.stdout is not None
    try:
        with trio.fail_after(spec.ready_timeout):
            line = await trio.to_thread.run_sync(process.stdout.readline, abandon_on_cancel=True)
    except BaseException as e:
        _abandon(process)
        if isinstance(e, trio.TooSlowError):
            raise ImageStartError(
                f"image {spec.name!r} was not ready after {spec.ready_timeout:g} s"
            ) from None
        raise
    return _ready(spec, process, line)


def _start_sync(spec: _LaunchSpec) -> ImageProcess:
    process = spec.popen()
    assert process.stdout is not None
    deadline = time.monotonic() + spec.ready_timeout
    line = b""
    try:
        fd = process.stdout.fileno()
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ImageStartError(
                    f"image {spec.name!r} was not ready after {spec.ready_timeout:g} s"
                )
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                line += chunk
    except BaseException:
        _abandon(process)
        raise
    return _ready(spec, process, line)


def _abandon(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _ready(spec: _LaunchSpec, process: subprocess.Popen[bytes], line: bytes) -> ImageProcess:
    try:
        ready: dict[str, Any] = json.loads(line.decode().splitlines()[0] if line else "")
        if ready.get("event") != "ready":
            raise ValueError("not a ready line")
    except (ValueError, IndexError):
        _abandon(process)
        code = process.returncode
        raise ImageStartError(
            f"image {spec.name!r} exited (status {code}) before it was ready"
            if not line
            else f"image {spec.name!r} printed {line[:200]!r} instead of its ready line"
        ) from None
    assert process.stdout is not None
    process.stdout.close()
    connection_file = ready.get("connection_file")
    return ImageProcess(
        name=spec.name,
        zmq_address=ready.get("zmq_address"),
        ws_address=ready.get("ws_address"),
        image_id=ready["image_id"],
        instance_id=ready["instance_id"],
        key=spec.key,
        connection_file=Path(connection_file) if connection_file else None,
        process=process,
        _spec=spec,
    )
