"""Isolation: no call can read or change a session through the wrong image.

Every method that takes a session is called with (a) the right id but another image, which must be
refused with SessionImageMismatch naming both images, and (b) an id no image has, which must be refused
with SessionNotFoundError. Afterwards the session and its image's data are exactly as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stui.protocol import SessionStatus

from stui.sessions import (
    ImageRecord,
    SessionImageMismatch,
    SessionNotFoundError,
    StoreError,
    open_session_store,
)

# name -> coroutine function (store, image_id, session_id)
SESSION_CALLS = {
    "get_session": lambda s, i, sid: s.get_session(i, sid),
    "session_description": lambda s, i, sid: s.session_description(i, sid),
    "set_session_status": lambda s, i, sid: s.set_session_status(i, sid, SessionStatus.CLOSED),
    "touch_session": lambda s, i, sid: s.touch_session(i, sid, at=9e9),
    "save_session_state": lambda s, i, sid: s.save_session_state(i, sid, {"evil": True}),
    "load_session_state": lambda s, i, sid: s.load_session_state(i, sid),
    "add_history": lambda s, i, sid: s.add_history(i, sid, "evil"),
    "history": lambda s, i, sid: s.history(i, session_id=sid),
    "recreate_session": lambda s, i, sid: s.recreate_session(i, sid, "stolen"),
}


def test_every_session_method_is_covered() -> None:
    """A new method taking (image_id, session_id) must be added to SESSION_CALLS."""
    import inspect

    from stui.sessions import SessionStore

    takes_session = {
        name
        for name, fn in inspect.getmembers(SessionStore, inspect.iscoroutinefunction)
        if {"session_id", "old_session_id"} & set(inspect.signature(fn).parameters)
        and not name.startswith("_")
    }
    assert takes_session - {"create_session"} == set(SESSION_CALLS)


@pytest.fixture
async def store(tmp_path: Path):
    async with open_session_store(tmp_path / "s.sqlite3") as s:
        for image in ("A", "B"):
            await s.upsert_image(ImageRecord(image_id=image))
        await s.create_session("A", "secret", name="A's")
        await s.save_session_state("A", "secret", {"password": "hunter2"})
        await s.add_history("A", "secret", "A's command")
        yield s


async def _snapshot(store) -> tuple:
    return (
        await store.list_image_sessions(None, include_disconnected=True),
        await store.load_session_state("A", "secret"),
        await store.history("A"),
        await store.history("B"),
    )


@pytest.mark.parametrize("call", sorted(SESSION_CALLS))
async def test_session_of_another_image_is_refused(store, call: str) -> None:
    before = await _snapshot(store)
    with pytest.raises(SessionImageMismatch) as info:
        await SESSION_CALLS[call](store, "B", "secret")
    e = info.value
    assert (e.image_id, e.session_id, e.owner_image_id) == ("B", "secret", "A")
    assert "belongs to image 'A', not to image 'B'" in str(e)
    assert isinstance(e, StoreError)
    assert await _snapshot(store) == before


@pytest.mark.parametrize("call", sorted(SESSION_CALLS))
async def test_unknown_session_is_refused(store, call: str) -> None:
    before = await _snapshot(store)
    with pytest.raises(SessionNotFoundError, match="image 'A' has no session 'ghost'"):
        await SESSION_CALLS[call](store, "A", "ghost")
    assert await _snapshot(store) == before


@pytest.mark.parametrize("call", sorted(SESSION_CALLS))
async def test_session_of_an_unknown_image_is_refused(store, call: str) -> None:
    with pytest.raises(StoreError):
        await SESSION_CALLS[call](store, "nobody", "secret")


async def test_listing_stats_restore_and_cleanup_stay_within_the_image(store) -> None:
    assert await store.list_image_sessions("B", include_disconnected=True) == []
    assert (await store.image_session_stats("B")).total == 0
    assert await store.sessions_to_restore("B") == []
    await store.set_session_status("A", "secret", SessionStatus.ORPHANED)
    report = await store.cleanup_orphaned_sessions("B", force=True, preserve_active=False, ttl=0)
    assert report.closed == () and report.kept == ()
    await store.mark_image_unreachable("B", since=0)
    assert await store.orphan_sessions("B", grace=0, now=10) == ()
    assert (await store.get_session("A", "secret")).status is SessionStatus.ORPHANED
    assert await store.history("B", search="command") == []
