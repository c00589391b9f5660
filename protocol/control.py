"""The control union: what front ends, the supervisor and image actors say to one another.

Where `protocol.messages` is the language between stui and an image, this is stui's own language inside
the client: commands a front end (the REPL, an embedding program) gives the supervisor, the answers to the
queries among them, and the events the supervisor publishes to subscribers. Names follow the seed design.

They obey the same rules as the wire messages (frozen, slotted, keyword-only, codec-typed fields) so the
same CBOR codec can carry them to a remote control endpoint later.

`image_id` in a command names an image either by its stable image id (from `Welcome`) or by the local
name the supervisor knows it by; the supervisor resolves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .enums import ConnectionHealth, ConnectionStatus, SessionStatus
from .errors import LocalProtocolError

__all__ = [
    "CleanupImageSessions",
    "CleanupReport",
    "ConnectImage",
    "ContextSwitched",
    "ControlCommand",
    "ControlEvent",
    "ControlMessage",
    "ControlReply",
    "DisconnectImage",
    "GetImageConnectionStatus",
    "GetImageSessionStats",
    "ImageConnectionStatus",
    "ImageHealthChanged",
    "ImageRestarted",
    "ImageSessionStats",
    "ImageSessions",
    "ImageStatusChanged",
    "ListImageSessions",
    "SessionOrphaned",
    "SessionRecord",
    "SwitchImageContext",
    "TranscriptReceived",
]


# --------------------------------------------------------------------------------------------------
# Commands: front end → supervisor (and supervisor → image actor).


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectImage:
    """Start an image actor for `address` (tcp://, ipc://, inproc://, ws://, wss://).

    Attributes:
        name: the local name to know the image by; defaults to the name the image gives in Welcome.
        key: HMAC key for signing frames, empty for none.
        heartbeat_interval: seconds between Pings.
        heartbeat_misses: Pings missed in a row before the link is declared lost.
    """

    address: str
    name: str = ""
    key: bytes = b""
    heartbeat_interval: float = 1.0
    heartbeat_misses: int = 3

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0:
            raise LocalProtocolError("heartbeat_interval must be > 0")
        if self.heartbeat_misses < 1:
            raise LocalProtocolError("heartbeat_misses must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectImage:
    image_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchImageContext:
    """Make `to_image_id` current. With `preserve_context`, the outgoing image's actor saves its context
    (active session, workspace notes) and the incoming one restores its own."""

    from_image_id: str | None
    to_image_id: str
    preserve_context: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanupImageSessions:
    """Close orphaned sessions of an image; with `force` also live ones, except the active one when
    `preserve_active`."""

    image_id: str
    force: bool = False
    preserve_active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListImageSessions:
    """`image_id` None lists every image's sessions."""

    image_id: str | None = None
    include_disconnected: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GetImageSessionStats:
    image_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GetImageConnectionStatus:
    image_id: str


# --------------------------------------------------------------------------------------------------
# Replies to the query commands.


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A session as the client holds it: which image, what state."""

    session_id: str
    image_id: str
    name: str = ""
    status: SessionStatus = SessionStatus.ACTIVE
    created_at: float = 0.0
    last_activity: float = 0.0
    context_size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSessions:
    sessions: tuple[SessionRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSessionStats:
    image_id: str
    total: int
    active: int
    orphaned: int
    context_bytes: int
    last_activity: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConnectionStatus:
    """A snapshot of one image actor.

    Attributes:
        rtt: last heartbeat round trip in seconds, None before the first.
        since: client wall-clock time (Unix seconds) of the last status change.
        pending: requests in flight.
    """

    image_id: str
    name: str
    address: str
    status: ConnectionStatus
    health: ConnectionHealth
    rtt: float | None = None
    instance_id: str = ""
    since: float = 0.0
    pending: int = 0
    restarts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanupReport:
    image_id: str
    closed: tuple[str, ...]
    kept: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# Events: supervisor → subscribers. `at` is client wall-clock time (Unix seconds).


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageStatusChanged:
    image_id: str
    name: str
    old: ConnectionStatus
    new: ConnectionStatus
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageHealthChanged:
    image_id: str
    name: str
    old: ConnectionHealth
    new: ConnectionHealth
    rtt: float | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRestarted:
    """The image came back with a new instance_id; `lost_sessions` could not be re-attached."""

    image_id: str
    name: str
    old_instance_id: str
    new_instance_id: str
    lost_sessions: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOrphaned:
    image_id: str
    session_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptReceived:
    image_id: str
    session_id: str | None
    text: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextSwitched:
    from_image_id: str | None
    to_image_id: str
    at: float


ControlCommand: TypeAlias = (
    ConnectImage
    | DisconnectImage
    | SwitchImageContext
    | CleanupImageSessions
    | ListImageSessions
    | GetImageSessionStats
    | GetImageConnectionStatus
)
ControlReply: TypeAlias = ImageSessions | ImageSessionStats | ImageConnectionStatus | CleanupReport
ControlEvent: TypeAlias = (
    ImageStatusChanged
    | ImageHealthChanged
    | ImageRestarted
    | SessionOrphaned
    | TranscriptReceived
    | ContextSwitched
)
ControlMessage: TypeAlias = ControlCommand | ControlReply | ControlEvent

CONTROL_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        *ControlCommand.__args__,  # type: ignore[attr-defined]
        *ControlReply.__args__,  # type: ignore[attr-defined]
        *ControlEvent.__args__,  # type: ignore[attr-defined]
    )
}
