"""The messages a client and a Smalltalk image exchange: pure data, three closed unions.

    Request  client → image, each answered by exactly one Reply carrying the same request id
    Reply    image → client
    Event    image → client, unsolicited (transcript output, session expiry, shutdown)

Every message is a frozen, slotted, keyword-only dataclass whose fields use only the types the codec
knows: int, float, str, bytes, bool, an enum from `protocol.enums`, one of the small records below,
`tuple[X, ...]` of those, `X | None`, and `Metadata` (a text → text map). The field name is the CBOR map
key; the class name is the message type on the wire (`MESSAGE_TYPES`). Fields are checked when a message
is built, so an invalid message can neither be sent nor come out of the decoder.

Dispatch with `match` over the union aliases; they are closed on purpose (no registry, no base class):
adding a message means adding it here, to its union and to `MESSAGE_TYPES`, and to docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .enums import ErrorCode, EvalMode
from .errors import LocalProtocolError

__all__ = [
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "AttachSession",
    "CloseSession",
    "Complete",
    "CompletionItem",
    "Completions",
    "CreateSession",
    "Error",
    "ErrorDetails",
    "EvalResult",
    "Evaluate",
    "Event",
    "Hello",
    "ImageShutdown",
    "Inspect",
    "Inspection",
    "Interrupt",
    "InterruptAck",
    "ListSessions",
    "Message",
    "Metadata",
    "Ping",
    "Pong",
    "Reply",
    "Request",
    "SessionClosed",
    "SessionExpired",
    "SessionList",
    "SessionOpened",
    "SessionSummary",
    "Slot",
    "SystemInfo",
    "SystemInfoReply",
    "TranscriptOutput",
    "Welcome",
]

#: The protocol version this package speaks best; `Hello.versions` offers all of `SUPPORTED_VERSIONS`.
PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

#: A text → text map (image metadata, client metadata). Encoded as a CBOR map.
Metadata: TypeAlias = tuple[tuple[str, str], ...]

_MAX_ID = 2**63 - 1


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise LocalProtocolError(what)


def _check_session_id(session_id: str) -> None:
    _require(
        0 < len(session_id) <= 128, f"session_id must be 1..128 characters, got {session_id!r}"
    )


# --------------------------------------------------------------------------------------------------
# Records: small values nested inside messages. Not messages themselves.


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummary:
    """One session as the image knows it.

    Attributes:
        session_id: opaque id chosen by the image, stable for the session's life.
        name: a label the client gave at creation ("" when none).
        client_id: the `Hello.client_id` of the client that created it.
        created_at: image wall-clock time (Unix seconds) of creation.
        last_activity: image wall-clock time of the last request in this session.
        variables: names of the workspace variables the session holds.
    """

    session_id: str
    name: str = ""
    client_id: str = ""
    created_at: float = 0.0
    last_activity: float = 0.0
    variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One named or indexed slot of an inspected object.

    `handle` names the slot's value in the session's handle registry, for drilling down with `Inspect`;
    None for values that need no handle (immediate values such as nil, booleans, small integers).
    """

    name: str
    print_string: str
    class_name: str
    handle: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorDetails:
    """What the image knows about a failure, for people and tools.

    Attributes:
        error_class: the Smalltalk exception class, e.g. "ZeroDivide", "MessageNotUnderstood".
        selector: for doesNotUnderstand, the selector that was not understood.
        receiver_class: for doesNotUnderstand, the class of the receiver.
        position: for syntax errors, the 0-based character offset in the source.
        stack: a few lines of the Smalltalk stack, innermost first ("SmallInteger>>zork").
    """

    error_class: str | None = None
    selector: str | None = None
    receiver_class: str | None = None
    position: int | None = None
    stack: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionItem:
    """One candidate; `kind` is one of "global", "class", "variable", "selector", "keyword"."""

    text: str
    kind: str


# --------------------------------------------------------------------------------------------------
# Requests: client → image.


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """First message on every (re)connection. The image answers `Welcome` or `Error(ProtocolVersion)`."""

    versions: tuple[int, ...] = SUPPORTED_VERSIONS
    client_name: str = "stui"
    client_version: str = ""
    client_id: str

    def __post_init__(self) -> None:
        _require(len(self.versions) > 0, "Hello must offer at least one protocol version")
        _require(0 < len(self.client_id) <= 128, "client_id must be 1..128 characters")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Heartbeat. `timestamp` is the sender's clock reading; the image echoes it in `Pong`."""

    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateSession:
    """Open a new, empty workspace on the image."""

    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachSession:
    """Take up an existing session again, e.g. after the client restarted or reconnected."""

    session_id: str

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseSession:
    session_id: str

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSessions:
    """List sessions: only this client's (default) or every session on the image."""

    all_clients: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluate:
    """Run `source` in a session's workspace.

    Attributes:
        mode: DISPLAY answers the result's printString; EXECUTE answers it too but marks the intent.
        time_budget: seconds the evaluation may run before the image stops it with `Error(Timeout)`;
            None for the image's default.
    """

    session_id: str
    source: str
    mode: EvalMode = EvalMode.DISPLAY
    time_budget: float | None = None

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)
        _require(self.time_budget is None or self.time_budget > 0, "time_budget must be > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt:
    """Stop the running request whose request id is `target_id` (sent on the same connection)."""

    target_id: int

    def __post_init__(self) -> None:
        _require(0 <= self.target_id <= _MAX_ID, "target_id out of range")


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspect:
    """Inspect the value of `expression`, or the object a handle names (exactly one of the two)."""

    session_id: str
    expression: str | None = None
    handle: int | None = None
    depth: int = 1

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)
        _require(
            (self.expression is None) != (self.handle is None),
            "Inspect needs exactly one of expression and handle",
        )
        _require(0 <= self.depth <= 8, "depth must be 0..8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Complete:
    """Ask for completions of the word ending at `cursor` (0-based character offset) in `source`."""

    session_id: str
    source: str
    cursor: int

    def __post_init__(self) -> None:
        _check_session_id(self.session_id)
        _require(0 <= self.cursor <= len(self.source), "cursor must lie within source")


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    """Ask the image about itself."""


# --------------------------------------------------------------------------------------------------
# Replies: image → client, each carrying the request id it answers.


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """The image accepts the connection.

    Attributes:
        version: the protocol version chosen from the client's offer.
        image_id: stable identity of the image; survives image restarts.
        instance_id: new each time the image process starts: a changed value means the image restarted
            (its sessions may be gone), an unchanged one means the network blinked.
        capabilities: optional features, e.g. "interrupt", "inspect", "complete", "transcript".
    """

    version: int
    image_id: str
    instance_id: str
    image_name: str
    dialect: str
    dialect_version: str
    capabilities: tuple[str, ...] = ()
    metadata: Metadata = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """Heartbeat answer: `timestamp` echoes the Ping's; `image_time` is the image's wall clock.

    `instance_id` is the image process's `Welcome.instance_id` ("" if the image does not say). Pings
    are answered even before Hello, so without it an image restarted on the same address would keep
    answering heartbeats while refusing every request of a client that has not said Hello to it: a
    changed instance_id in a Pong tells the client at once to handshake again.
    """

    timestamp: float
    image_time: float
    instance_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened:
    """Answer to CreateSession (`resumed` False) and AttachSession (`resumed` True)."""

    session: SessionSummary
    resumed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed:
    session_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionList:
    sessions: tuple[SessionSummary, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalResult:
    """A finished evaluation.

    Attributes:
        print_string: the result's printString, cut at the image's limit when `truncated`.
        class_name: the result's class name.
        handle: a handle for inspecting the result, None for immediate values.
        elapsed: seconds the evaluation ran on the image.
    """

    print_string: str
    class_name: str
    handle: int | None = None
    elapsed: float = 0.0
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    """An object's slots. `indexed_size` is the full count even when `indexed` lists only the first few."""

    class_name: str
    print_string: str
    handle: int | None = None
    named: tuple[Slot, ...] = ()
    indexed: tuple[Slot, ...] = ()
    indexed_size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Completions:
    """Candidates replacing `source[start:cursor]` of the Complete request."""

    start: int
    items: tuple[CompletionItem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfoReply:
    image_name: str
    dialect: str
    dialect_version: str
    uptime: float
    sessions: int
    clients: int
    metadata: Metadata = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptAck:
    """Answer to Interrupt: `was_running` tells whether the target request was still running."""

    target_id: int
    was_running: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """A request failed. `code` is machine-readable; `message` is for a person."""

    code: ErrorCode
    message: str
    details: ErrorDetails | None = None


# --------------------------------------------------------------------------------------------------
# Events: image → client, unsolicited. Their request id is the request they relate to, or 0.


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptOutput:
    """Text written to Transcript. `session_id` None means image-wide output."""

    session_id: str | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionExpired:
    session_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageShutdown:
    """The image is going away; `restarting` True if it expects to come back."""

    reason: str
    restarting: bool = False


Request: TypeAlias = (
    Hello
    | Ping
    | CreateSession
    | AttachSession
    | CloseSession
    | ListSessions
    | Evaluate
    | Interrupt
    | Inspect
    | Complete
    | SystemInfo
)
Reply: TypeAlias = (
    Welcome
    | Pong
    | SessionOpened
    | SessionClosed
    | SessionList
    | EvalResult
    | Inspection
    | Completions
    | SystemInfoReply
    | InterruptAck
    | Error
)
Event: TypeAlias = TranscriptOutput | SessionExpired | ImageShutdown
Message: TypeAlias = Request | Reply | Event

REQUEST_TYPES: tuple[type, ...] = Request.__args__  # type: ignore[attr-defined]
REPLY_TYPES: tuple[type, ...] = Reply.__args__  # type: ignore[attr-defined]
EVENT_TYPES: tuple[type, ...] = Event.__args__  # type: ignore[attr-defined]

#: The one table from wire type name to class. The wire name is the class name.
MESSAGE_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (*REQUEST_TYPES, *REPLY_TYPES, *EVENT_TYPES)
}
