"""The store's API on real files: images, sessions, state, history, statistics, lifecycle."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import trio
from stui.protocol import CleanupReport, ImageSessionStats, SessionStatus

from stui.sessions import (
    DEFAULT_HISTORY_LIMIT,
    ImageNotFoundError,
    ImageRecord,
    InvalidArgumentError,
    SessionExistsError,
    SessionNotFoundError,
    StateEncodeError,
    StoreClosedError,
    default_store_path,
    open_session_store,
)


class Clock:
    """A settable wall clock, so lifecycle tests need no sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock):
    async with open_session_store(tmp_path / "s.sqlite3", clock=clock) as s:
        await s.upsert_image(ImageRecord(image_id="A", name="alpha"))
        await s.upsert_image(ImageRecord(image_id="B", name="beta"))
        yield s


IMAGE = ImageRecord(
    image_id="img-1",
    name="alpha",
    addresses=("tcp://127.0.0.1:5555", "ws://localhost:8765"),
    version="Pharo 12",
    dialect="pharo",
    metadata={"host": "box", "ü": "✓"},
    last_seen=123.5,
    last_status="connected",
)


async def test_default_path_follows_stui_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUI_DATA_DIR", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "sessions.sqlite3"
    async with open_session_store() as store:
        assert store.path == tmp_path / "data" / "sessions.sqlite3"
        await store.upsert_image(IMAGE)
    assert (tmp_path / "data" / "sessions.sqlite3").stat().st_size > 0
    async with open_session_store(str(tmp_path / "data" / "sessions.sqlite3")) as store:
        assert await store.get_image("img-1") == IMAGE


async def test_memory_store_is_private_and_works() -> None:
    async with open_session_store(":memory:") as store:
        assert store.path == ":memory:" and store.recovered_from is None
        await store.upsert_image(IMAGE)
        assert await store.list_images() == [IMAGE]
    async with open_session_store(":memory:") as store:
        assert await store.list_images() == []


async def test_images_round_trip_and_update(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        assert await store.get_image("img-1") is None
        await store.upsert_image(IMAGE)
        await store.upsert_image(ImageRecord(image_id="img-0", addresses=["ipc:///x"]))
        changed = ImageRecord(image_id="img-1", name="renamed", last_seen=200.0)
        await store.upsert_image(changed)
        assert await store.get_image("img-1") == changed
        assert [i.image_id for i in await store.list_images()] == ["img-0", "img-1"]
        assert (await store.get_image("img-0")).addresses == ("ipc:///x",)
    async with open_session_store(path) as store:  # survives reopening
        assert await store.get_image("img-1") == changed
    with pytest.raises(InvalidArgumentError):
        ImageRecord(image_id="")
    with pytest.raises(InvalidArgumentError):
        ImageRecord(image_id="x", metadata={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError):
        ImageRecord(image_id="x", addresses=("ok", 3))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        ImageRecord(image_id="x", last_seen=math.nan)
    with pytest.raises(InvalidArgumentError):
        ImageRecord(image_id="x", name=None)  # type: ignore[arg-type]


async def test_upsert_rejects_non_records(store) -> None:
    with pytest.raises(InvalidArgumentError):
        await store.upsert_image({"image_id": "x"})


async def test_create_and_get_session(store, clock: Clock) -> None:
    rec = await store.create_session("A", "s1", name="main", description="the main one")
    assert rec.session_id == "s1" and rec.image_id == "A" and rec.name == "main"
    assert rec.status is SessionStatus.ACTIVE
    assert rec.created_at == rec.last_activity == clock.now
    assert await store.get_session("A", "s1") == rec
    assert await store.session_description("A", "s1") == "the main one"
    with pytest.raises(SessionExistsError, match="already has a session 's1'"):
        await store.create_session("A", "s1")
    with pytest.raises(ImageNotFoundError, match="upsert_image"):
        await store.create_session("nope", "s1")
    with pytest.raises(InvalidArgumentError):
        await store.create_session("A", "")
    with pytest.raises(InvalidArgumentError):
        await store.create_session("A", "x" * 300)
    with pytest.raises(InvalidArgumentError):
        await store.create_session("A", "s2", name=3)


async def test_same_session_id_on_two_images_are_two_sessions(store) -> None:
    """Images choose their own session ids, so the key is the (image, session) pair."""
    await store.create_session("A", "1", name="on A")
    await store.create_session("B", "1", name="on B")
    assert (await store.get_session("A", "1")).name == "on A"
    assert (await store.get_session("B", "1")).name == "on B"
    await store.save_session_state("A", "1", {"who": "A"})
    assert await store.load_session_state("B", "1") == {}


async def test_status_touch_and_listing(store, clock: Clock) -> None:
    await store.create_session("A", "s1")
    clock.now += 10
    await store.create_session("A", "s2")
    await store.create_session("B", "s3")
    await store.set_session_status("A", "s2", SessionStatus.DETACHED)
    assert (await store.get_session("A", "s2")).status is SessionStatus.DETACHED
    with pytest.raises(InvalidArgumentError):
        await store.set_session_status("A", "s2", "closed")
    await store.touch_session("A", "s1", at=clock.now + 50)
    await store.touch_session("A", "s1", at=clock.now - 500)  # never moves backwards
    assert (await store.get_session("A", "s1")).last_activity == clock.now + 50
    clock.now += 100
    await store.touch_session("A", "s2")
    assert (await store.get_session("A", "s2")).last_activity == clock.now
    with pytest.raises(InvalidArgumentError):
        await store.touch_session("A", "s2", at=math.inf)

    active_a = await store.list_image_sessions("A")
    assert [s.session_id for s in active_a] == ["s1"]
    all_a = await store.list_image_sessions("A", include_disconnected=True)
    assert [s.session_id for s in all_a] == ["s1", "s2"]
    everything = await store.list_image_sessions(None, include_disconnected=True)
    assert [(s.image_id, s.session_id) for s in everything] == [
        ("A", "s1"),
        ("A", "s2"),
        ("B", "s3"),
    ]
    assert [s.session_id for s in await store.list_image_sessions()] == ["s1", "s3"]
    assert await store.list_image_sessions("unknown") == []


async def test_state_round_trip_and_size(store) -> None:
    await store.create_session("A", "s1")
    assert await store.load_session_state("A", "s1") == {}
    state = {
        "vars": {"x": 3, "y": [1, 2.5, None, True], "big": 2**70},
        "last": "a String",
        "bytes": b"\x00\xff",
        "path": ["self", 3, "name"],
        "nested": {"a": {"b": ("tuples", "come back as lists")}},
    }
    await store.save_session_state("A", "s1", state)
    loaded = await store.load_session_state("A", "s1")
    assert loaded == {**state, "nested": {"a": {"b": ["tuples", "come back as lists"]}}}
    stats = await store.image_session_stats("A")
    assert stats.context_bytes == (await store.get_session("A", "s1")).context_size > 0
    await store.save_session_state("A", "s1", {"small": 1})
    assert await store.load_session_state("A", "s1") == {"small": 1}


@pytest.mark.parametrize(
    "bad",
    [
        {"x": object()},
        {"x": {1, 2}},
        {"x": math.nan},
        {"x": math.inf},
        {1: "keys must be strings"},
        {"x": {2: "at every level"}},
        {"x": {(1, 2): 3}},
        [1, 2],
        "not a dict",
    ],
)
async def test_unstorable_state_is_refused_and_nothing_changes(store, bad) -> None:
    await store.create_session("A", "s1")
    await store.save_session_state("A", "s1", {"kept": True})
    with pytest.raises(StateEncodeError):
        await store.save_session_state("A", "s1", bad)
    assert await store.load_session_state("A", "s1") == {"kept": True}


async def test_too_deep_or_too_big_state_is_refused(store, monkeypatch) -> None:
    await store.create_session("A", "s1")
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["d"] = {}
        node = node["d"]
    with pytest.raises(StateEncodeError, match="nested deeper"):
        await store.save_session_state("A", "s1", deep)
    import stui.sessions.store as store_module

    monkeypatch.setattr(store_module, "MAX_STATE_BYTES", 1000)
    with pytest.raises(StateEncodeError, match="at most 1000"):
        await store.save_session_state("A", "s1", {"x": "y" * 2000})


async def test_history_order_limit_search_and_scope(store, clock: Clock) -> None:
    await store.create_session("A", "s1")
    await store.create_session("A", "s2")
    ids = []
    for i, (sid, src) in enumerate(
        [
            ("s1", "3 + 4"),
            (None, "Transcript show: 'Grüße'"),
            ("s2", "Smalltalk at: #Foo put: 3"),
            ("s1", "foo bar"),
            ("s2", "GRÜSSE aus Köln"),
        ]
    ):
        clock.now = 2000.0 + i
        ids.append(await store.add_history("A", sid, src))
    await store.add_history("B", None, "3 + 4 on B")
    assert ids == sorted(ids) and len(set(ids)) == 5

    entries = await store.history("A")
    assert [e.id for e in entries] == ids  # oldest first, newest last
    assert entries[1].session_id is None and entries[0].session_id == "s1"
    assert entries[4].created_at == 2004.0
    assert [e.source for e in await store.history("A", limit=2)] == ["foo bar", "GRÜSSE aus Köln"]
    assert await store.history("A", limit=0) == []
    # Case-insensitive, Unicode-aware (casefold: ß ~ ss), per image.
    assert [e.source for e in await store.history("A", search="grüsse")] == [
        "Transcript show: 'Grüße'",
        "GRÜSSE aus Köln",
    ]
    assert [e.source for e in await store.history("A", search="SMALLTALK")] == [
        "Smalltalk at: #Foo put: 3"
    ]
    assert [e.source for e in await store.history("B", search="3 +")] == ["3 + 4 on B"]
    assert await store.history("A", search="%") == []  # no LIKE wildcards
    assert [e.source for e in await store.history("A", session_id="s1")] == ["3 + 4", "foo bar"]
    assert [e.source for e in await store.history("A", session_id="s2", search="köln")] == [
        "GRÜSSE aus Köln"
    ]
    assert await store.history("nobody") == []
    with pytest.raises(ImageNotFoundError):
        await store.add_history("nobody", None, "x")
    with pytest.raises(InvalidArgumentError):
        await store.add_history("A", None, b"bytes")
    with pytest.raises(InvalidArgumentError):
        await store.history("A", limit=-1)
    with pytest.raises(InvalidArgumentError):
        await store.history("A", search=3)


async def test_history_default_limit(store) -> None:
    async with trio.open_nursery() as nursery:
        for i in range(DEFAULT_HISTORY_LIMIT + 20):
            nursery.start_soon(store.add_history, "A", None, f"line {i}")
    entries = await store.history("A")
    assert len(entries) == DEFAULT_HISTORY_LIMIT
    assert [e.id for e in entries] == sorted(e.id for e in entries)


async def test_history_outlives_cleaned_up_sessions(store) -> None:
    await store.create_session("A", "s1")
    await store.add_history("A", "s1", "kept")
    await store.set_session_status("A", "s1", SessionStatus.CLOSED)
    await store.cleanup_orphaned_sessions("A", ttl=0)
    assert [(e.session_id, e.source) for e in await store.history("A")] == [("s1", "kept")]
    assert [e.source for e in await store.history("A", session_id="s1")] == ["kept"]
    with pytest.raises(SessionNotFoundError):
        await store.history("A", session_id="never")


async def test_stats(store, clock: Clock) -> None:
    assert await store.image_session_stats("A") == ImageSessionStats(
        image_id="A", total=0, active=0, orphaned=0, context_bytes=0, last_activity=None
    )
    await store.create_session("A", "s1")
    await store.create_session("A", "s2")
    await store.create_session("A", "s3")
    await store.set_session_status("A", "s2", SessionStatus.ORPHANED)
    await store.save_session_state("A", "s1", {"x": "y" * 100})
    await store.touch_session("A", "s3", at=clock.now + 7)
    stats = await store.image_session_stats("A")
    assert (stats.total, stats.active, stats.orphaned) == (3, 2, 1)
    assert stats.context_bytes >= 100
    assert stats.last_activity == clock.now + 7


async def test_grace_period_orphans_live_sessions_only_after_grace(store, clock: Clock) -> None:
    for sid in ("s1", "s2", "s3", "s4"):
        await store.create_session("A", sid)
    await store.create_session("B", "b1")
    await store.set_session_status("A", "s2", SessionStatus.DETACHED)
    await store.set_session_status("A", "s3", SessionStatus.CLOSED)
    await store.set_session_status("A", "s4", SessionStatus.ORPHANED)
    assert await store.orphan_sessions("A", grace=60) == ()  # reachable

    t0 = clock.now
    await store.mark_image_unreachable("A", since=t0)
    await store.mark_image_unreachable("A", since=t0 + 30)  # earliest report wins
    assert (await store.get_image("A")).unreachable_since == t0
    assert await store.orphan_sessions("A", grace=60, now=t0 + 60) == ()
    assert await store.orphan_sessions("A", grace=60, now=t0 + 61) == ("s1", "s2")
    statuses = {s.session_id: s.status for s in await store.list_image_sessions("A", True)}
    assert statuses == {
        "s1": SessionStatus.ORPHANED,
        "s2": SessionStatus.ORPHANED,
        "s3": SessionStatus.CLOSED,
        "s4": SessionStatus.ORPHANED,
    }
    assert (await store.get_session("B", "b1")).status is SessionStatus.ACTIVE  # other image
    assert await store.orphan_sessions("A", grace=60, now=t0 + 62) == ()  # idempotent

    await store.upsert_image(ImageRecord(image_id="A", name="alpha again"))
    assert (await store.get_image("A")).unreachable_since == t0  # upsert keeps the mark
    clock.now = t0 + 100
    await store.mark_image_reachable("A")
    image = await store.get_image("A")
    assert image.unreachable_since is None and image.last_seen == t0 + 100
    with pytest.raises(ImageNotFoundError):
        await store.mark_image_unreachable("Z")
    with pytest.raises(ImageNotFoundError):
        await store.mark_image_reachable("Z")
    with pytest.raises(ImageNotFoundError):
        await store.orphan_sessions("Z")


async def _statuses(store, image: str) -> dict[str, SessionStatus]:
    return {s.session_id: s.status for s in await store.list_image_sessions(image, True)}


async def test_cleanup_policy(store, clock: Clock) -> None:
    t0 = clock.now
    for sid, status in [
        ("act", SessionStatus.ACTIVE),
        ("det", SessionStatus.DETACHED),
        ("old-orphan", SessionStatus.ORPHANED),
        ("old-closed", SessionStatus.CLOSED),
    ]:
        await store.create_session("A", sid)
        await store.set_session_status("A", sid, status)
    clock.now = t0 + 1000
    await store.create_session("A", "new-orphan")
    await store.set_session_status("A", "new-orphan", SessionStatus.ORPHANED)
    await store.create_session("B", "b-orphan")
    await store.set_session_status("B", "b-orphan", SessionStatus.ORPHANED)

    # Without force: only orphans/closed older than the TTL go; nothing active, nothing detached.
    report = await store.cleanup_orphaned_sessions("A", ttl=500, now=t0 + 1200)
    assert report == CleanupReport(
        image_id="A", closed=("old-closed", "old-orphan"), kept=("act", "det", "new-orphan")
    )
    assert set(await _statuses(store, "A")) == {"act", "det", "new-orphan"}
    assert set(await _statuses(store, "B")) == {"b-orphan"}  # other image untouched

    # Force with preserve_active: every non-active session goes, whatever its age.
    report = await store.cleanup_orphaned_sessions("A", force=True, now=t0 + 1200)
    assert report.closed == ("det", "new-orphan") and report.kept == ("act",)

    # Force without preserve_active: the active one too.
    report = await store.cleanup_orphaned_sessions("A", force=True, preserve_active=False)
    assert report.closed == ("act",) and report.kept == ()
    assert await store.cleanup_orphaned_sessions("A") == CleanupReport(image_id="A", closed=())
    with pytest.raises(InvalidArgumentError):
        await store.cleanup_orphaned_sessions("A", ttl=math.nan)


async def test_default_ttl_keeps_fresh_orphans(store) -> None:
    await store.create_session("A", "o")
    await store.set_session_status("A", "o", SessionStatus.ORPHANED)
    assert (await store.cleanup_orphaned_sessions("A")).kept == ("o",)


async def test_sessions_to_restore(store, clock: Clock) -> None:
    for i, (sid, status) in enumerate(
        [
            ("a", SessionStatus.ACTIVE),
            ("d", SessionStatus.DETACHED),
            ("o", SessionStatus.ORPHANED),
            ("c", SessionStatus.CLOSED),
        ]
    ):
        clock.now = 5000.0 + i
        await store.create_session("A", sid)
        await store.set_session_status("A", sid, status)
    await store.create_session("B", "b")
    await store.touch_session("A", "a", at=9000.0)
    restore = await store.sessions_to_restore("A")
    assert [s.session_id for s in restore] == ["a", "o", "d"]  # most recently used first
    assert await store.sessions_to_restore("nobody") == []


async def test_calls_after_close_fail_clearly(tmp_path: Path) -> None:
    async with open_session_store(tmp_path / "s.sqlite3") as store:
        pass
    with pytest.raises(StoreClosedError, match="closed"):
        await store.list_images()
    assert "closed" in repr(store)


async def test_concurrent_callers_are_batched_and_a_failure_stays_alone(store) -> None:
    """Jobs queued together share a transaction, but a failing one does not undo its neighbours."""
    await store.create_session("A", "s1")
    results: dict[int, object] = {}

    async def one(i: int) -> None:
        try:
            if i % 10 == 3:
                results[i] = await store.create_session("A", "s1")  # exists: fails
            else:
                results[i] = await store.add_history("A", "s1", f"cmd {i}")
        except Exception as e:
            results[i] = e

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(one, i)
    failures = [i for i, r in results.items() if isinstance(r, Exception)]
    assert sorted(failures) == [i for i in range(200) if i % 10 == 3]
    assert all(isinstance(results[i], SessionExistsError) for i in failures)
    entries = await store.history("A", limit=1000)
    assert len(entries) == 180
    assert {e.id for e in entries} == {r for r in results.values() if isinstance(r, int)}


async def test_cancelled_write_is_whole_or_absent_and_store_stays_usable(store) -> None:
    for i in range(30):
        with trio.move_on_after(0):  # cancelled at its first checkpoint or while waiting
            await store.add_history("A", None, f"maybe {i}")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.add_history, "A", None, f"sure {i}")
            await trio.sleep(0)
            nursery.cancel_scope.cancel()
    await store.add_history("A", None, "after")
    entries = await store.history("A", limit=1000)
    assert entries[-1].source == "after"
    assert all(e.source.startswith(("maybe", "sure", "after")) for e in entries)


async def test_leaving_the_block_serves_queued_calls(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    outcomes: list[object] = []
    async with trio.open_nursery() as nursery, open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))

        async def write(i: int) -> None:
            try:
                outcomes.append(await store.add_history("A", None, f"c{i}"))
            except StoreClosedError as e:
                outcomes.append(e)

        for i in range(50):
            nursery.start_soon(write, i)
        await trio.testing.wait_all_tasks_blocked()
    async with open_session_store(path) as store:
        stored = {e.id for e in await store.history("A")}
    assert len(outcomes) == 50 and all(type(o) is int for o in outcomes)  # all queued were served
    assert set(outcomes) == stored


async def test_cancelling_the_block_fails_queued_calls_with_store_closed(tmp_path: Path) -> None:
    outcomes: list[object] = []
    async with trio.open_nursery() as outer:

        async def write(store, i: int) -> None:
            try:
                outcomes.append(await store.add_history("A", None, f"c{i}"))
            except StoreClosedError as e:
                outcomes.append(e)

        with trio.CancelScope() as scope:
            async with open_session_store(tmp_path / "s.sqlite3") as store:
                await store.upsert_image(ImageRecord(image_id="A"))
                for i in range(300):
                    outer.start_soon(write, store, i)
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()
                await trio.sleep_forever()
    assert len(outcomes) == 300
    assert all(isinstance(o, int | StoreClosedError) for o in outcomes)


async def test_store_directory_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="secret typed at the prompt"))
        for name in ("s.sqlite3", "s.sqlite3-wal", "s.sqlite3-shm"):
            assert os.stat(path.parent / name).st_mode & 0o077 == 0, name
    assert os.stat(path.parent).st_mode & 0o077 == 0


async def test_recreate_session_moves_everything_atomically(store, clock: Clock) -> None:
    await store.create_session("A", "old", name="work", description="my workspace")
    await store.save_session_state("A", "old", {"vars": {"x": 1}})
    await store.add_history("A", "old", "x := 1")
    await store.set_session_status("A", "old", SessionStatus.ORPHANED)
    clock.now += 60
    new = await store.recreate_session("A", "old", "new")
    assert (new.session_id, new.name, new.status) == ("new", "work", SessionStatus.ACTIVE)
    assert new.created_at == clock.now and new.context_size > 0
    assert await store.session_description("A", "new") == "my workspace"
    assert await store.load_session_state("A", "new") == {"vars": {"x": 1}}
    assert (await store.get_session("A", "old")).status is SessionStatus.CLOSED
    assert [s.session_id for s in await store.sessions_to_restore("A")] == ["new"]
    assert [e.session_id for e in await store.history("A")] == ["old"]
    with pytest.raises(SessionExistsError):
        await store.recreate_session("A", "old", "new")
    assert [s.session_id for s in await store.list_image_sessions("A", True)] == ["old", "new"]


async def test_forget_image_takes_sessions_and_history_along(store) -> None:
    await store.create_session("A", "s1")
    await store.add_history("A", "s1", "x")
    await store.create_session("B", "s1")
    assert await store.forget_image("A") is True
    assert await store.forget_image("A") is False
    assert await store.get_image("A") is None
    assert await store.list_image_sessions(None, True) == [await store.get_session("B", "s1")]
    assert await store.history("A") == []


async def test_the_bodys_exception_comes_out_as_itself(tmp_path: Path) -> None:
    class Oops(Exception):
        pass

    with pytest.raises(Oops):
        async with open_session_store(tmp_path / "s.sqlite3") as store:
            await store.upsert_image(ImageRecord(image_id="A"))
            raise Oops
    with trio.move_on_after(0.01) as scope:
        async with open_session_store(tmp_path / "s.sqlite3") as store:
            await trio.sleep_forever()
    assert scope.cancelled_caught
    async with open_session_store(tmp_path / "s.sqlite3") as store:
        assert [i.image_id for i in await store.list_images()] == ["A"]


async def test_100_images_of_100_sessions_load_well_under_a_second(tmp_path: Path) -> None:
    import sqlite3
    import time

    path = tmp_path / "s.sqlite3"
    async with open_session_store(path):
        pass
    conn = sqlite3.connect(path)  # fill quickly behind the store's back; reading is what we time
    with conn:
        conn.executemany(
            "INSERT INTO images (image_id, name) VALUES (?, ?)",
            [(f"img{i:03}", f"image {i}") for i in range(100)],
        )
        conn.executemany(
            "INSERT INTO sessions (image_id, session_id, name, status, created_at, last_activity,"
            " status_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (f"img{i:03}", f"s{j:03}", "", ("active", "detached")[j % 2], j, j, j)
                for i in range(100)
                for j in range(100)
            ],
        )
    conn.close()
    start = time.perf_counter()
    async with open_session_store(path) as store:
        everything = await store.list_image_sessions(None, include_disconnected=True)
        restore = [await store.sessions_to_restore(i.image_id) for i in await store.list_images()]
    elapsed = time.perf_counter() - start
    assert len(everything) == 10_000 and sum(map(len, restore)) == 10_000
    assert elapsed < 1.0, f"{elapsed:.3f} s"  # ~0.15 s measured on two shared cores


async def test_store_does_not_depend_on_trios_default_thread_limiter(tmp_path: Path) -> None:
    """A REPL holding trio's default thread tokens (a prompt thread) must not stall the store."""
    default = trio.to_thread.current_default_thread_limiter()
    default.total_tokens = 1
    async with default:  # every default token taken
        with trio.fail_after(10):
            async with open_session_store(tmp_path / "s.sqlite3") as store:
                await store.upsert_image(ImageRecord(image_id="A"))
                assert await store.add_history("A", None, "still works") == 1
