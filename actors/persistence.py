"""The seam between the actors and the session store (stui.sessions), kept in one place.

The actors never import `stui.sessions` at module level: an embedder may run without persistence, and
the store is *given* to the supervisor. Each function here takes the open store first and translates one
actor-side fact (a Welcome, an opened session, an evaluation about to be sent, a lost link) into store
calls. The image actor runs them through `ImageActor._persist`, which logs and swallows store failures:
a full disk must not take an image link down.

Cancellation (every function): as the store's own calls: each write is committed whole or not at
all, and a cancelled caller cannot know which.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from stui.protocol import SessionStatus, SessionSummary, Welcome

from .session_cache import SavedContext

if TYPE_CHECKING:
    from stui.protocol import SessionRecord

    from stui.sessions.store import SessionStore

    from .image import ImageActor

__all__ = [
    "add_history",
    "close_session",
    "load_context",
    "mark_unreachable",
    "orphan_overdue",
    "orphan_session",
    "record_image",
    "record_session",
    "save_context",
    "sessions_to_restore",
]


async def record_image(store: SessionStore, actor: ImageActor, welcome: Welcome) -> None:
    """Upsert the image on every Welcome and stop its unreachable clock."""
    from stui.sessions.models import ImageRecord

    now = time.time()
    await store.upsert_image(
        ImageRecord(
            image_id=welcome.image_id,
            name=actor.name,
            addresses=(actor.spec.address,),
            version=welcome.dialect_version,
            dialect=welcome.dialect,
            metadata=dict(welcome.metadata),
            last_seen=now,
            last_status="connected",
        )
    )
    await store.mark_image_reachable(welcome.image_id, now)


async def mark_unreachable(store: SessionStore, image_id: str) -> None:
    """Start the store's grace clock for an image whose link was lost (if it was ever seen)."""
    if image_id:
        await store.mark_image_unreachable(image_id)


async def orphan_overdue(store: SessionStore, image_id: str) -> tuple[str, ...]:
    """Orphan the sessions of an image unreachable past the store's grace period; returns their ids."""
    if not image_id:
        return ()
    return await store.orphan_sessions(image_id)


async def record_session(store: SessionStore, actor: ImageActor, summary: SessionSummary) -> None:
    """Record a session the image opened for us (created, or attached again: then re-activate it)."""
    from stui.sessions.errors import SessionExistsError

    image_id = actor.cache.image_id
    try:
        await store.create_session(image_id, summary.session_id, summary.name)
    except SessionExistsError:
        await store.set_session_status(image_id, summary.session_id, SessionStatus.ACTIVE)


async def add_history(
    store: SessionStore, image_id: str, session_id: str | None, source: str
) -> None:
    """Write the command to history before it is sent (image-wide if the store lacks the session)."""
    from stui.sessions.errors import SessionImageMismatch, SessionNotFoundError

    try:
        await store.add_history(image_id, session_id, source)
    except (SessionNotFoundError, SessionImageMismatch):
        await store.add_history(image_id, None, source)


async def orphan_session(store: SessionStore, image_id: str, session_id: str) -> None:
    """The image lost this session (restart or expiry)."""
    await store.set_session_status(image_id, session_id, SessionStatus.ORPHANED)


async def close_session(store: SessionStore, image_id: str, session_id: str) -> None:
    """The client closed this session."""
    await store.set_session_status(image_id, session_id, SessionStatus.CLOSED)


async def sessions_to_restore(store: SessionStore, image_id: str) -> list[SessionRecord]:
    """The stored sessions of an image to re-attach, most recently used first."""
    return await store.sessions_to_restore(image_id)


async def save_context(store: SessionStore, image_id: str, context: SavedContext) -> None:
    """Persist the context preserved when the user switched away from an image."""
    if context.active_session is None:
        return
    await store.save_session_state(
        image_id,
        context.active_session,
        {"notes": dict(context.notes), "saved_at": context.at},
    )


async def load_context(store: SessionStore, image_id: str, session_id: str) -> SavedContext:
    """The context saved for a session, as the session cache restores it."""
    state: dict[str, Any] = await store.load_session_state(image_id, session_id)
    notes = state.get("notes") if isinstance(state, dict) else None
    pairs = tuple(
        (k, v) for k, v in (notes or {}).items() if isinstance(k, str) and isinstance(v, str)
    )
    at = state.get("saved_at", 0.0) if isinstance(state, dict) else 0.0
    return SavedContext(
        active_session=session_id, notes=pairs, at=at if isinstance(at, float) else 0.0
    )
