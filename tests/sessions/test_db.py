"""The blocking layer: lock waits, busy retries, batch-level failures, and state round trips."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from stui.sessions import (
    ImageRecord,
    StoreBusyError,
    StoreCorruptError,
    StoreIOError,
    _db,
    open_session_store,
)
from stui.sessions._ops import decode_state
from stui.sessions.store import _encode_state


async def test_a_held_write_lock_is_waited_for_then_reported_as_busy(
    tmp_path: Path, monkeypatch
) -> None:
    """Another process holding the write lock: the store waits, retries, and never says "locked"."""
    monkeypatch.setattr(_db, "BUSY_TIMEOUT", 20)
    monkeypatch.setattr(_db, "BUSY_DEADLINE", 0.3)
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        start = time.monotonic()
        with pytest.raises(StoreBusyError, match="stayed locked by another process"):
            await store.add_history("A", None, "blocked")
        assert time.monotonic() - start >= 0.3
        assert [i.image_id for i in await store.list_images()] == ["A"]  # reads go on (WAL)

        # Released while a write waits: the retry gets through and nothing is lost.
        timer = threading.Timer(0.1, lambda: other.execute("COMMIT"))
        timer.start()
        hid = await store.add_history("A", None, "got through")
        timer.join()
        other.close()
        assert [e.id for e in await store.history("A")] == [hid]


async def test_open_waits_for_another_opener_then_gives_up(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_db, "OPEN_LOCK_TIMEOUT", 0.2)
    path = tmp_path / "s.sqlite3"
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(StoreBusyError, match="opening"):
            async with open_session_store(path):
                pass
        threading.Timer(0.1, lambda: fcntl.flock(fd, fcntl.LOCK_UN)).start()
        async with open_session_store(path) as store:
            await store.upsert_image(ImageRecord(image_id="A"))
    finally:
        os.close(fd)


def _job(fn, write: bool = True) -> _db.Job:
    return _db.Job(fn=fn, write=write, done=None)


def test_batch_level_failures_fail_every_job_with_a_typed_error(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a database at all" * 100)

    def corrupt(_conn):
        other = sqlite3.connect(garbage)
        try:
            other.execute("SELECT * FROM sqlite_schema").fetchall()
        finally:
            other.close()

    def disk_error(_conn):
        raise sqlite3.OperationalError("disk I/O error")

    for fn, kind in ((corrupt, StoreCorruptError), (disk_error, StoreIOError)):
        jobs = [_job(lambda c: c.execute("INSERT INTO t VALUES (1)")), _job(fn)]
        _db.run_batch(conn, jobs, "test.db")
        assert all(isinstance(j.error, kind) for j in jobs)
        assert "test.db" in str(jobs[0].error)
        assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0  # rolled back whole


def test_a_busy_batch_is_retried_from_the_start() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    calls = []

    def flaky(c):
        calls.append(1)
        c.execute("INSERT INTO t VALUES (2)")
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    jobs = [_job(lambda c: c.execute("INSERT INTO t VALUES (1)")), _job(flaky)]
    _db.run_batch(conn, jobs, "x")
    assert jobs[1].result == "ok" and jobs[0].error is None and jobs[1].error is None
    assert sorted(r[0] for r in conn.execute("SELECT x FROM t")) == [1, 2]  # once each


def test_integrity_errors_and_bugs_stay_with_their_job() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (x UNIQUE)")
    jobs = [
        _job(lambda c: c.execute("INSERT INTO t VALUES (1)")),
        _job(lambda c: c.execute("INSERT INTO t VALUES (1)")),
        _job(lambda c: 1 / 0),
        _job(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0], write=False),
    ]
    _db.run_batch(conn, jobs, "x")
    assert jobs[0].error is None
    assert "constraint failed" in str(jobs[1].error)
    assert isinstance(jobs[2].error, ZeroDivisionError)
    assert jobs[3].result == 1


async def test_reads_only_batch_and_interleaved_readers(tmp_path: Path) -> None:
    async with open_session_store(tmp_path / "s.sqlite3") as store:
        await store.upsert_image(ImageRecord(image_id="A"))
        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(store.list_images)
                nursery.start_soon(store.add_history, "A", None, "x")
        assert len(await store.history("A")) == 50


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=10), plain, max_size=6))
def test_any_plain_state_round_trips(state) -> None:
    assert decode_state(_encode_state(state), "prop") == state


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_map_or_a_typed_error(blob: bytes) -> None:
    from stui.sessions import StateDecodeError

    try:
        value = decode_state(blob, "fuzz")
    except StateDecodeError:
        return
    assert type(value) is dict
