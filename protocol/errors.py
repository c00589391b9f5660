"""Protocol errors, split the h11 way: *local* errors are our own misuse, *remote* errors are the peer's.

Everything the codec raises for bad input is a `RemoteProtocolError` (or its subclass `SignatureError`);
nothing else escapes from decoding untrusted bytes. `request_id` is filled in whenever the id of the
offending frame could still be read, so a server can answer with an `Error` reply instead of dropping it.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError", "SignatureError"]


class ProtocolError(Exception):
    """Base of every protocol error. Not raised directly: raise one of the subclasses.

    Attributes:
        request_id: the request id of the frame at fault, when it could be recovered, else None.
    """

    def __init__(self, msg: str, *, request_id: int | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(msg)
        self.request_id = request_id


class LocalProtocolError(ProtocolError):
    """We tried to build or send something the protocol does not allow (a bug on our side)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not a valid frame: bad CBOR, wrong shape, too big, unknown type."""


class SignatureError(RemoteProtocolError):
    """A frame arrived unsigned, or signed with the wrong key, where a key is configured."""
