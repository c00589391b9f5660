"""Errors raised by stui.actors.

Transport errors come first: a transport (ZeroMQ, WebSocket or memory) turns every way its link can end
into `TransportClosed`, so the layer above (the image actor) has one thing to catch when the link is gone
and can fail its pending requests at once. Errors that are the peer's fault but leave the link usable
(a frame that is not one message, a text WebSocket message) are `stui.protocol.RemoteProtocolError`,
the same class the codec raises for bad frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stui.protocol import Error, ErrorCode, ErrorDetails

__all__ = [
    "EvaluationError",
    "ImageDisconnected",
    "ImageFailed",
    "ImageNotFound",
    "ImageProtocolError",
    "MessageTooLarge",
    "RemoteError",
    "RequestTimeout",
    "SessionError",
    "StuiError",
    "TransportClosed",
    "TransportConnectError",
    "TransportError",
    "UnsupportedAddress",
]


class TransportError(Exception):
    """Base of every transport error."""


class TransportClosed(TransportError):
    """The link is gone: closed by us, closed by the peer, or broken (reset, EOF, context terminated).

    A transport that raised this once raises it for every later `send` and `receive`.
    """


class TransportConnectError(TransportClosed):
    """The link could not be opened: refused, unreachable, handshake failed or timed out.

    A subclass of `TransportClosed` so a caller that only cares "is there a link?" catches one class,
    while a caller that reconnects can tell "never connected" from "connected, then lost".
    """


class UnsupportedAddress(TransportError, ValueError):
    """The address has a scheme no transport speaks (or is malformed for the one it names)."""


class MessageTooLarge(TransportError, ValueError):
    """A message to send is larger than the transport's `max_message_size`.

    Refused locally because the peer would refuse it less helpfully: a ZeroMQ peer over its MAXMSGSIZE
    silently drops the connection, a WebSocket peer closes with code 1009. Nothing was sent.
    """

    @classmethod
    def check(cls, data: bytes, limit: int) -> None:
        """Raise for `data` longer than `limit` bytes: the one size rule every transport's send applies."""
        if len(data) > limit:
            raise cls(f"{len(data)} bytes > max_message_size {limit}")


# --------------------------------------------------------------------------------------------------
# Errors of the embedding API: what `Supervisor` / `ImageHandle` calls raise. Re-exported from `stui`.
# Transport errors never reach an embedder: the image actor turns a lost link into `ImageDisconnected`.


class StuiError(Exception):
    """Base of every error the embedding API raises on purpose."""


class ImageNotFound(StuiError, LookupError):
    """No image is connected under that name or image id (or no image is current)."""


class ImageDisconnected(StuiError):
    """The image's link is down: the request was not sent, or its answer can no longer come.

    Raised at once for every pending request when the link is lost (an evaluation is never retried
    silently: it may or may not have run), and for new requests while the actor reconnects.
    """


class ImageFailed(ImageDisconnected):
    """The image is in the FAILED state: its restart budget is spent or it refused us for good.

    A subclass of `ImageDisconnected`: either way the request did not get an answer.
    """


class RequestTimeout(StuiError, TimeoutError):
    """The caller's timeout ran out before the image answered. The late answer is dropped.

    The image may still be running the request; `Supervisor.interrupt` stops an evaluation.
    """


class ImageProtocolError(StuiError):
    """The image answered something the protocol does not allow here (a wrong reply type, a frame that
    failed to decode or verify). The link stays up; only this request failed."""


class RemoteError(StuiError):
    """The image answered a request with a protocol `Error`.

    Attributes:
        error: the protocol `Error` reply, None when raised locally.
        code: the error's `ErrorCode`, None when raised locally.
        details: the image's `ErrorDetails` (Smalltalk error class, selector, stack), if any.
    """

    def __init__(self, message: str, error: Error | None = None) -> None:
        super().__init__(message)
        self.error = error

    @property
    def code(self) -> ErrorCode | None:
        return self.error.code if self.error is not None else None

    @property
    def details(self) -> ErrorDetails | None:
        return self.error.details if self.error is not None else None


class EvaluationError(RemoteError):
    """An evaluation (or inspection, completion) failed in the image: a Smalltalk error, a syntax error,
    an interrupt, the image's time budget. `details.error_class` names the Smalltalk exception."""


class SessionError(RemoteError):
    """A session could not be used: unknown to the image (SessionNotFound), unknown to this client, or
    refused by the image's limits."""
