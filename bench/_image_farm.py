"""Many reference images in a few child processes, so a bench client can connect to hundreds of them.

One farm process runs `count` images with `stui.image.serve_image` inside one `trio.run`, each on its own
loopback port, and prints one JSON line per image as it comes up, then `READY`. It serves until killed.
Keeping images out of the client process keeps the client's CPU and RSS numbers honest; spreading them
over a few processes (`ImageFarm(servers=...)`) keeps one image process from becoming the bottleneck.

    python bench/_image_farm.py --count 100 --transport zmq --prefix img

`ImageFarm` starts and stops the processes from a bench script (blocking calls, made before or after
`trio.run`, or from a thread).
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["FarmImage", "ImageFarm"]

_HERE = Path(__file__).resolve()


@dataclass(frozen=True, slots=True)
class FarmImage:
    """One image served by a farm: its name, identity and addresses."""

    name: str
    image_id: str
    zmq_address: str | None
    ws_address: str | None
    farm: int

    def address(self, transport: str) -> str:
        """The address a client of `transport` ("zmq" or "ws") connects to."""
        addr = self.zmq_address if transport == "zmq" else self.ws_address
        if addr is None:
            raise ValueError(f"image {self.name} has no {transport} endpoint")
        return addr


class ImageFarm:
    """`images` reference images spread over `servers` child processes; a context manager.

    Args:
        images: how many images in total.
        transport: "zmq", "ws" or "both": which endpoints each image opens.
        servers: how many child processes share the images (round-robin by count).
        prefix: image names are f"{prefix}{i:05d}".
        start_timeout: seconds to wait for all images to come up.
        tick: called with 1 for every image that came up (progress).

    Attributes:
        images: the `FarmImage`s in name order, once entered.
        startup_seconds: wall time to bring them all up.
    """

    def __init__(
        self,
        images: int,
        *,
        transport: str = "zmq",
        servers: int = 1,
        prefix: str = "img",
        start_timeout: float = 600.0,
        tick: Callable[[int], None] | None = None,
    ) -> None:
        if images < 0 or servers < 1:
            raise ValueError("images must be >= 0 and servers >= 1")
        self.count = images
        self.transport = transport
        self.servers = min(servers, max(images, 1))
        self.prefix = prefix
        self.start_timeout = start_timeout
        self.images: list[FarmImage] = []
        self.startup_seconds = 0.0
        self.tick = tick
        self._procs: list[subprocess.Popen[str]] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the farm processes have used so far, all of them together."""
        import psutil

        total = 0.0
        for pid in self.pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def __enter__(self) -> ImageFarm:
        t0 = time.perf_counter()
        share, extra = divmod(self.count, self.servers)
        start = 0
        try:
            for i in range(self.servers):
                n = share + (1 if i < extra else 0)
                self._procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(_HERE),
                            "--count",
                            str(n),
                            "--start",
                            str(start),
                            "--transport",
                            self.transport,
                            "--prefix",
                            self.prefix,
                            "--farm",
                            str(i),
                        ],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
                start += n
            deadline = time.monotonic() + self.start_timeout
            for proc in self._procs:
                self.images.extend(self._read_until_ready(proc, deadline))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.images.sort(key=lambda im: im.name)
        self.startup_seconds = time.perf_counter() - t0
        return self

    def _read_until_ready(self, proc: subprocess.Popen[str], deadline: float) -> list[FarmImage]:
        assert proc.stdout is not None
        found: list[FarmImage] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"image farm {proc.pid} exited with {proc.wait()} before READY")
            line = line.strip()
            if line == "READY":
                return found
            found.append(FarmImage(**json.loads(line)))
            if self.tick is not None:
                self.tick(1)
        raise TimeoutError(f"image farm {proc.pid} not ready after {self.start_timeout} s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self._procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()


# --------------------------------------------------------------------------------------------------
# The child process


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a bench killed with SIGKILL must not
    leave hundreds of images behind). Elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _raise_limits() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(count: int, start: int, transport: str, prefix: str, farm: int) -> None:
    import trio
    from stui.actors.zmq_trio import new_context

    from stui.image.config import ImageServerConfig
    from stui.image.server import serve_image

    zmq_address = "tcp://127.0.0.1:0" if transport in ("zmq", "both") else None
    ws_address = "ws://127.0.0.1:0/stui" if transport in ("ws", "both") else None
    # One context (one I/O thread, MAX_SOCKETS raised) for all the images of this process.
    context = new_context()
    async with trio.open_nursery() as nursery:
        for i in range(start, start + count):
            config = ImageServerConfig(
                name=f"{prefix}{i:05d}",
                zmq_address=zmq_address,
                ws_address=ws_address,
                write_connection_file=False,
                shutdown_grace=0.0,
            )
            info = await nursery.start(functools.partial(serve_image, config, zmq_context=context))
            line = {
                "name": info.name,
                "image_id": info.image_id,
                "zmq_address": info.zmq_address,
                "ws_address": info.ws_address,
                "farm": farm,
            }
            print(json.dumps(line), flush=True)
        print("READY", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="serve many reference images in one process")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--transport", choices=("zmq", "ws", "both"), default="zmq")
    parser.add_argument("--prefix", default="img")
    parser.add_argument("--farm", type=int, default=0)
    ns = parser.parse_args()
    _die_with_parent()
    _raise_limits()
    import trio

    try:
        trio.run(_serve, ns.count, ns.start, ns.transport, ns.prefix, ns.farm)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
