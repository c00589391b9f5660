"""stui.sessions — the SQLite session store: images, their sessions and command history.

Use it as::

    async with open_session_store() as store:          # or a path, or ":memory:"
        if store.recovered_from:
            print(f"damaged session store moved to {store.recovered_from}")
        await store.upsert_image(ImageRecord(image_id="...", name="alpha"))

See `stui.sessions.store` for the guarantees and the lifecycle policy.
"""

from .errors import (
    ForeignDatabaseError,
    ImageNotFoundError,
    InvalidArgumentError,
    SchemaVersionError,
    SessionExistsError,
    SessionImageMismatch,
    SessionNotFoundError,
    StateDecodeError,
    StateEncodeError,
    StoreBusyError,
    StoreClosedError,
    StoreCorruptError,
    StoreDataError,
    StoreError,
    StoreIOError,
)
from .models import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_ORPHAN_TTL,
    HistoryEntry,
    ImageRecord,
)
from .schema import SCHEMA_VERSION
from .store import (
    MAX_STATE_BYTES,
    SessionStore,
    default_store_path,
    open_session_store,
)

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_HISTORY_LIMIT",
    "DEFAULT_ORPHAN_TTL",
    "MAX_STATE_BYTES",
    "SCHEMA_VERSION",
    "ForeignDatabaseError",
    "HistoryEntry",
    "ImageNotFoundError",
    "ImageRecord",
    "InvalidArgumentError",
    "SchemaVersionError",
    "SessionExistsError",
    "SessionImageMismatch",
    "SessionNotFoundError",
    "SessionStore",
    "StateDecodeError",
    "StateEncodeError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreCorruptError",
    "StoreDataError",
    "StoreError",
    "StoreIOError",
    "default_store_path",
    "open_session_store",
]
