"""Frozen records the session store hands out, beside the protocol's `SessionRecord` and friends.

Sessions are reported as `stui.protocol.SessionRecord` (the supervisor and REPL already speak it) and
statistics as `ImageSessionStats`/`CleanupReport`; only what the protocol has no type for lives here:
what is known about an image, and one history entry.

Lifecycle defaults live here too, so the supervisor and the REPL read one source of truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import InvalidArgumentError

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_HISTORY_LIMIT",
    "DEFAULT_ORPHAN_TTL",
    "MAX_ID_LENGTH",
    "HistoryEntry",
    "ImageRecord",
]

#: Seconds an image may stay unreachable before its sessions become orphaned (a laptop lid closed for
#: a coffee should not orphan anything).
DEFAULT_GRACE_PERIOD = 15 * 60.0
#: Seconds an orphaned (or closed) session is kept before cleanup removes it without `force`.
DEFAULT_ORPHAN_TTL = 7 * 24 * 3600.0
#: How many history entries `history()` returns unless told otherwise.
DEFAULT_HISTORY_LIMIT = 500
#: Longest image or session id accepted (the protocol caps session ids at 128).
MAX_ID_LENGTH = 256


def check_id(what: str, value: object) -> str:
    """Refuse ids that cannot be keys: not text, empty or absurdly long."""
    if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH:
        raise InvalidArgumentError(
            f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} characters, got {value!r}"
        )
    return value


def check_time(what: str, value: object) -> float:
    """Refuse times that would poison ordering (NaN, infinities, non-numbers)."""
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise InvalidArgumentError(f"{what} must be a finite number of seconds, got {value!r}")
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRecord:
    """What the store remembers about one image, keyed by its stable `image_id` (from `Welcome`).

    Attributes:
        image_id: the image's stable id; every session belongs to exactly one image.
        name: the local name the user knows it by.
        addresses: where it was reached (tcp://, ipc://, ws://, ...), most preferred first.
        version: the image's Smalltalk version string.
        dialect: "pharo", "squeak", "stui", ...
        metadata: free text pairs from the image (`Welcome.metadata`) or the user.
        last_seen: Unix time of the last contact.
        last_status: the last `ConnectionStatus` value the supervisor reported, as text.
        unreachable_since: set by `mark_image_unreachable`, cleared by `mark_image_reachable`;
            `upsert_image` ignores the value passed in and keeps the stored one.

    Records compare by value but are not hashable (`metadata` is a dict, as the API promises).
    """

    image_id: str
    name: str = ""
    addresses: tuple[str, ...] = ()
    version: str = ""
    dialect: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    last_seen: float = 0.0
    last_status: str = ""
    unreachable_since: float | None = None

    def __post_init__(self) -> None:
        check_id("image_id", self.image_id)
        if isinstance(self.addresses, list):
            object.__setattr__(self, "addresses", tuple(self.addresses))
        if type(self.addresses) is not tuple or not all(type(a) is str for a in self.addresses):
            raise InvalidArgumentError(
                f"addresses must be a tuple of strings, got {self.addresses!r}"
            )
        for name in ("name", "version", "dialect", "last_status"):
            if type(getattr(self, name)) is not str:
                raise InvalidArgumentError(f"{name} must be a string, got {getattr(self, name)!r}")
        if type(self.metadata) is not dict or not all(
            type(k) is str and type(v) is str for k, v in self.metadata.items()
        ):
            raise InvalidArgumentError(
                f"metadata must map strings to strings, got {self.metadata!r}"
            )
        check_time("last_seen", self.last_seen)
        if self.unreachable_since is not None:
            check_time("unreachable_since", self.unreachable_since)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One command as the user typed it, written before it was sent to the image.

    Attributes:
        id: increasing with time across the whole store (also across processes).
        image_id: the image the command went to.
        session_id: the session it ran in, None for image-wide commands; kept after the session is
            cleaned up, so history outlives sessions.
        source: the text as typed.
        created_at: Unix time it was written.
    """

    id: int
    image_id: str
    session_id: str | None
    source: str
    created_at: float
