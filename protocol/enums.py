"""Plain states and codes shared by the wire protocol and the control union.

Every enum here travels on the wire as its *value* (a short text string), never as its Python name or
ordinal, so a Pharo or Squeak implementation only needs the strings listed in docs/protocol.md.
"""

from __future__ import annotations

import enum

__all__ = ["ConnectionHealth", "ConnectionStatus", "ErrorCode", "EvalMode", "SessionStatus"]


class ConnectionStatus(enum.Enum):
    """Where an image actor's link stands.

    Unknown → Connected → (Reconnecting ↔ Connected) → Disconnected (clean stop) or Failed (gave up).
    """

    #: Nothing known yet: the actor has not finished its first handshake.
    UNKNOWN = "unknown"
    #: Handshake done, heartbeats answered.
    CONNECTED = "connected"
    #: The link was lost; the actor is trying again with backoff.
    RECONNECTING = "reconnecting"
    #: Stopped on purpose (disconnect, shutdown). Not an error.
    DISCONNECTED = "disconnected"
    #: The actor gave up (restart budget exhausted, handshake refused for good).
    FAILED = "failed"


class ConnectionHealth(enum.Enum):
    """How well the heartbeat is doing on a connected link."""

    UNKNOWN = "unknown"
    #: Heartbeats answered on time.
    HEALTHY = "healthy"
    #: One heartbeat late or missed.
    WARNING = "warning"
    #: Two or more heartbeats missed in a row; the link is about to be declared lost.
    CRITICAL = "critical"


class EvalMode(enum.Enum):
    """Execute runs code for its effect (Pharo's "Do it"); Display also prints the result ("Print it")."""

    EXECUTE = "execute"
    DISPLAY = "display"


class SessionStatus(enum.Enum):
    """A session as the client's store sees it."""

    ACTIVE = "active"
    #: The client let go of it (switched away, quit) but the image may still hold it.
    DETACHED = "detached"
    #: Its image has been unreachable past the grace period, or the image no longer has it.
    ORPHANED = "orphaned"
    CLOSED = "closed"


class ErrorCode(enum.Enum):
    """The closed list of error codes an `Error` reply may carry."""

    INVALID_REQUEST = "InvalidRequest"
    EVALUATION_ERROR = "EvaluationError"
    SESSION_NOT_FOUND = "SessionNotFound"
    OBJECT_NOT_FOUND = "ObjectNotFound"
    PERMISSION_DENIED = "PermissionDenied"
    TIMEOUT = "Timeout"
    INTERRUPTED = "Interrupted"
    UNSUPPORTED_OPERATION = "UnsupportedOperation"
    PROTOCOL_VERSION = "ProtocolVersion"
    INTERNAL_ERROR = "InternalError"
