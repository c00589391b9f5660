"""stui.actors — trio actors: one per image, a supervisor over them, and the transports they own.

The public embedding API is `open_supervisor` (docs/embedding.md), also re-exported from `stui`. The
rest is here for front ends and tests: the image actor, the event bus, the session cache, the errors.
"""

from .errors import (
    EvaluationError,
    ImageDisconnected,
    ImageFailed,
    ImageNotFound,
    ImageProtocolError,
    MessageTooLarge,
    RemoteError,
    RequestTimeout,
    SessionError,
    StuiError,
    TransportClosed,
    TransportConnectError,
    TransportError,
    UnsupportedAddress,
)
from .events import EventBus, Subscription
from .heartbeat import HeartbeatPolicy, LinkState
from .image import ActorSettings, ImageActor
from .session_cache import SessionCache
from .supervisor import (
    Supervisor,
    SupervisorConfig,
    open_supervisor,
)

__all__ = [
    "ActorSettings",
    "EvaluationError",
    "EventBus",
    "HeartbeatPolicy",
    "ImageActor",
    "ImageDisconnected",
    "ImageFailed",
    "ImageNotFound",
    "ImageProtocolError",
    "LinkState",
    "MessageTooLarge",
    "RemoteError",
    "RequestTimeout",
    "SessionCache",
    "SessionError",
    "StuiError",
    "Subscription",
    "Supervisor",
    "SupervisorConfig",
    "TransportClosed",
    "TransportConnectError",
    "TransportError",
    "UnsupportedAddress",
    "open_supervisor",
]
