"""Typed errors of the session store.

Every failure a caller can meet is a `StoreError`, so the supervisor and the REPL can catch one type and
show its text: the messages name the image, the session and the file involved. The subclasses let callers
react precisely (a mismatch is a caller bug or a confused user, a corrupt state blob is data to skip,
`StoreBusyError` means another process held the database for very long).

Nothing here imports trio or sqlite3: the errors are plain data the worker thread can raise and the
caller's task can re-raise.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ForeignDatabaseError",
    "ImageNotFoundError",
    "InvalidArgumentError",
    "SchemaVersionError",
    "SessionExistsError",
    "SessionImageMismatch",
    "SessionNotFoundError",
    "StateDecodeError",
    "StateEncodeError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreCorruptError",
    "StoreDataError",
    "StoreError",
    "StoreIOError",
]


class StoreError(Exception):
    """Base of every error the session store raises on purpose."""


class StoreClosedError(StoreError):
    """The store was closed (its `async with` block ended) before or while the call was served."""


class StoreBusyError(StoreError):
    """Another process kept the database locked longer than the store is willing to wait."""


class StoreIOError(StoreError):
    """The operating system or SQLite could not read or write the file (disk full, permissions, I/O)."""


class StoreCorruptError(StoreError):
    """The database turned out to be damaged while in use (at open it is moved aside instead)."""


class StoreDataError(StoreError):
    """A stored row holds something this version cannot read (the file is untrusted input)."""


class InvalidArgumentError(StoreError, ValueError):
    """A caller passed an argument the store refuses (empty ids, wrong types, negative times)."""


class SchemaVersionError(StoreError):
    """The file was written by a newer stui whose schema this version does not know; it is left as is."""

    def __init__(self, path: Path | str, found: int, known: int) -> None:
        super().__init__(
            f"session store {path} has schema version {found}, newer than the {known} this stui "
            f"understands; upgrade stui or point it at another store (the file was not changed)"
        )
        self.path = path
        self.found = found
        self.known = known


class ForeignDatabaseError(StoreError):
    """The file is a healthy SQLite database that belongs to some other program; it is left as is."""


class ImageNotFoundError(StoreError, LookupError):
    """No image with this id is stored."""

    def __init__(self, image_id: str) -> None:
        super().__init__(f"unknown image {image_id!r}: store it with upsert_image() first")
        self.image_id = image_id


class SessionNotFoundError(StoreError, LookupError):
    """No image has a session with this id."""

    def __init__(self, image_id: str, session_id: str) -> None:
        super().__init__(f"image {image_id!r} has no session {session_id!r}")
        self.image_id = image_id
        self.session_id = session_id


class SessionImageMismatch(StoreError, LookupError):
    """The session id exists, but for another image: refused so no image can touch another's session."""

    def __init__(self, image_id: str, session_id: str, owner_image_id: str) -> None:
        super().__init__(
            f"session {session_id!r} belongs to image {owner_image_id!r}, not to image {image_id!r}; "
            f"refused"
        )
        self.image_id = image_id
        self.session_id = session_id
        self.owner_image_id = owner_image_id


class SessionExistsError(StoreError):
    """create_session() was asked for a (image, session) pair that is already stored."""

    def __init__(self, image_id: str, session_id: str) -> None:
        super().__init__(f"image {image_id!r} already has a session {session_id!r}")
        self.image_id = image_id
        self.session_id = session_id


class StateEncodeError(StoreError, ValueError):
    """A session state holds something that cannot be stored (only plain CBOR data is kept)."""


class StateDecodeError(StoreError):
    """A stored session state blob cannot be decoded (damaged, foreign or from a newer stui)."""
