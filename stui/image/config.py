"""What one reference image is told at start (`ImageServerConfig`) and what it tells back (`ImageServerInfo`).

The config is a frozen value so a test or a bench can build hundreds of them with `dataclasses.replace`
and so nothing in the server can change it behind a client's back. Every limit a client can run into
lives here, with the default the CLI uses; docs/image-server.md lists them with the errors they produce.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stui.protocol import MAX_FRAME_SIZE

__all__ = ["KEY_ENV", "ImageServerConfig", "ImageServerInfo"]

#: Environment variable `stui image serve` reads its signing key from (text; its UTF-8 bytes are the
#: key) when no key file is given. The launcher passes keys this way, never on the command line.
KEY_ENV = "STUI_IMAGE_KEY"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageServerConfig:
    """How to run one image.

    Attributes:
        name: the image's name ("alpha"); shown in prompts, written to the connection file.
        zmq_address: where the ZeroMQ ROUTER binds ("tcp://127.0.0.1:0" picks a free port; ipc:// and
            inproc:// work too). None: no ZeroMQ endpoint.
        ws_address: where the WebSocket endpoint listens ("ws://127.0.0.1:0/stui" picks a free port; the
            path is checked). None: no WebSocket endpoint.
        key: HMAC key every frame must be signed with; b"" accepts unsigned frames and signs nothing.
        state_dir: a directory that keeps `image_id` (and nothing else) across restarts. None: a fresh
            image_id at each start.
        write_connection_file: write a connection file so local clients can discover the image.
        connection_dir: where the connection file goes; None means `stui.paths.runtime_dir()`.
        max_sessions: sessions the image holds at most, over all clients.
        max_sessions_per_client: sessions one client id may hold.
        session_idle_expiry: seconds without a request after which a session is dropped and its client
            gets a `SessionExpired` event.
        max_frame_size: largest frame accepted, in bytes (also ZeroMQ MAXMSGSIZE and the WebSocket
            max_message_size).
        eval_time_budget: seconds an evaluation may run when the request names no budget.
        max_source_size: longest `Evaluate.source` / `Inspect.expression`, in characters. Compiling is
            not sliced (the evaluator parses a do-it in one go, ~6 s per MB here), so this bounds how
            long one request can hold the whole image before its first slice.
        max_handles: objects a session's handle registry keeps for `Inspect` (oldest dropped first).
        max_in_flight_per_client: requests one connection may have waiting or running at once; beyond
            that it gets `Error(InvalidRequest)` at once, so a flooding client cannot starve the others.
        max_clients: client connections remembered at once; the least recently active idle one is
            forgotten beyond that (ZeroMQ never says a peer went away).
        slice_seconds: how long one evaluation runs before the server serves everything else again.
        max_depth: Smalltalk activations (methods, blocks) nested before `StackOverflow`. None: what
            the evaluator fits under the Python recursion limit in force (~200 at the default 1,000);
            `stui image serve` raises the limit on a deep stack and passes 10,000
            (`stui.image.process`). Only raise it together with the recursion limit and the stack.
        shutdown_grace: seconds a clean stop may spend telling clients `ImageShutdown`.
    """

    name: str = "image"
    zmq_address: str | None = "tcp://127.0.0.1:0"
    ws_address: str | None = None
    key: bytes = b""
    state_dir: Path | None = None
    write_connection_file: bool = True
    connection_dir: Path | None = None
    max_sessions: int = 1000
    max_sessions_per_client: int = 100
    session_idle_expiry: float = 3600.0
    max_frame_size: int = MAX_FRAME_SIZE
    eval_time_budget: float = 60.0
    max_handles: int = 1000
    max_source_size: int = 256 * 1024
    max_in_flight_per_client: int = 64
    max_clients: int = 4096
    slice_seconds: float = 0.0005
    max_depth: int | None = None
    shutdown_grace: float = 1.0

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64 or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"image name must be 1..64 characters without '/': {self.name!r}")
        if self.zmq_address is None and self.ws_address is None:
            raise ValueError("an image needs at least one of zmq_address and ws_address")
        if self.ws_address is not None and not self.ws_address.startswith("ws://"):
            raise ValueError(
                f"ws_address must start with ws:// (wss is not served): {self.ws_address!r}"
            )
        for field_name in (
            "max_sessions",
            "max_sessions_per_client",
            "max_frame_size",
            "max_handles",
            "max_source_size",
            "max_in_flight_per_client",
            "max_clients",
        ):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{field_name} must be >= 1")
        for field_name in ("session_idle_expiry", "eval_time_budget", "slice_seconds"):
            if not getattr(self, field_name) > 0:
                raise ValueError(f"{field_name} must be > 0")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError("max_depth must be >= 1 (or None)")
        if self.shutdown_grace < 0:
            raise ValueError("shutdown_grace must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageServerInfo:
    """A running image, as `serve_image` reports it through `task_status.started()`.

    Attributes:
        image_id: stable identity (kept in `state_dir` when one is given).
        instance_id: new at every start.
        zmq_address: the actually bound ZeroMQ endpoint ("tcp://127.0.0.1:40123"), or None.
        ws_address: the actually listening WebSocket URL ("ws://127.0.0.1:40124/stui"), or None.
        connection_file: the connection file written, or None.
    """

    name: str
    image_id: str
    instance_id: str
    zmq_address: str | None
    ws_address: str | None
    connection_file: Path | None
