"""The file as untrusted input: corruption at open, damaged rows, schema versions, foreign files."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from stui.sessions import (
    SCHEMA_VERSION,
    ForeignDatabaseError,
    ImageRecord,
    SchemaVersionError,
    StateDecodeError,
    StoreDataError,
    StoreIOError,
    open_session_store,
)
from stui.sessions import schema as schema_module
from stui.sessions.schema import APPLICATION_ID

from .helpers import integrity

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
STAMP = "20231114T221320Z"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def make_store(path: Path, sessions: int = 200) -> None:
    """A healthy store with enough rows to span many pages."""
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A", name="alpha"))
        for i in range(sessions):
            await store.create_session("A", f"s{i:04}", description="d" * 200)
            await store.add_history("A", f"s{i:04}", f"history line {i} " + "x" * 100)
    conn = sqlite3.connect(path)  # fold the WAL into the main file so damage hits real pages
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def assert_recovers(path: Path, damaged: bytes) -> None:
    async with open_session_store(path, clock=lambda: NOW) as store:
        moved = store.recovered_from
        assert moved == path.with_name(f"{path.name}.corrupt-{STAMP}")
        assert await store.list_images() == []  # a fresh store, fully usable
        await store.upsert_image(ImageRecord(image_id="fresh"))
    assert moved.read_bytes() == damaged  # the user's data is kept aside, untouched
    assert integrity(path) == "ok"
    async with open_session_store(path) as store:
        assert store.recovered_from is None
        assert [i.image_id for i in await store.list_images()] == ["fresh"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"hello, I am a text file\n", id="text"),
        pytest.param(random.Random(1).randbytes(16384), id="garbage"),
        pytest.param(b"SQLite format 3\x00" + b"\x10\x00", id="truncated-header"),
        pytest.param(
            b"SQLite format 3\x00" + random.Random(2).randbytes(8192), id="garbage-after-magic"
        ),
    ],
)
async def test_not_a_database_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "sessions.sqlite3"
    path.write_bytes(content)
    await assert_recovers(path, content)


async def test_damaged_pages_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    await make_store(path)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    rnd = random.Random(3)
    for p in range(2, len(data) // page):  # keep page 1 (header and schema), smash the b-trees
        start = p * page + 8
        data[start : start + 64] = rnd.randbytes(64)
    path.write_bytes(bytes(data))
    await assert_recovers(path, bytes(data))


async def test_truncated_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    await make_store(path)
    data = path.read_bytes()[: len(path.read_bytes()) // 2]
    path.write_bytes(data)
    await assert_recovers(path, data)


async def test_corrupt_file_takes_its_wal_along_and_names_do_not_collide(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    for round_ in range(2):
        path.write_bytes(b"garbage" * 100)
        Path(f"{path}-wal").write_bytes(b"stale wal")
        Path(f"{path}-shm").write_bytes(b"stale shm")
        async with open_session_store(path, clock=lambda: NOW) as store:
            suffix = "" if round_ == 0 else "-1"
            assert store.recovered_from == path.with_name(f"{path.name}.corrupt-{STAMP}{suffix}")
            assert Path(f"{store.recovered_from}-wal").read_bytes() == b"stale wal"
            await store.upsert_image(ImageRecord(image_id="ok"))


async def test_empty_file_is_a_new_store_not_a_corrupt_one(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    path.touch()
    async with open_session_store(path) as store:
        assert store.recovered_from is None
        await store.upsert_image(ImageRecord(image_id="A"))


async def test_garbage_wal_is_ignored_and_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    await make_store(path, sessions=5)
    Path(f"{path}-wal").write_bytes(random.Random(4).randbytes(5000))
    async with open_session_store(path) as store:
        assert store.recovered_from is None
        assert len(await store.list_image_sessions("A")) == 5


async def test_healthy_file_is_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    await make_store(path, sessions=3)
    async with open_session_store(path) as store:
        assert store.recovered_from is None
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


# --------------------------------------------------------------------------------------------------
# Damaged rows: typed errors, the rest of the store keeps working.


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    return conn


@pytest.mark.parametrize(
    ("blob", "version", "message"),
    [
        (b"\xff\x00\x13", 1, "not valid CBOR"),
        (b"\xa1\x61x\x01\x00", 1, "trailing bytes"),  # {"x": 1} then a stray byte
        (b"\x83\x01\x02\x03", 1, "not a map"),  # [1, 2, 3]
        (b"\xa1\x01\x02", 1, "not valid CBOR"),  # {1: 2}: keys must be text
        (b"\xa1\x61x\xc1\x1a\x00\x00\x00\x00", 1, "tag 1 is not allowed"),  # tag 1 (epoch date)
        (b"\xa1\x61x\xd9\x9c\x40\x01", 1, "tag 40000 is not allowed"),  # tag 40000
        (b"\xa1\x61x" + b"\x81" * 200 + b"\x01", 1, "not valid CBOR"),  # too deep
        (b"\xa1\x61x\x01", 99, "layout version 99"),
        (b"\xa1\x61x\x01", 0, "layout version 0"),
    ],
)
async def test_damaged_state_blob_gives_typed_error(
    tmp_path: Path, blob: bytes, version: int, message: str
) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))
        await store.create_session("A", "s1")
        await store.save_session_state("A", "s1", {"x": 1})
        conn = raw(path)
        conn.execute("UPDATE sessions SET state = ?, state_version = ?", (blob, version))
        conn.close()
        with pytest.raises(StateDecodeError, match=message):
            await store.load_session_state("A", "s1")
        await store.save_session_state("A", "s1", {"x": 2})  # a new save repairs it
        assert await store.load_session_state("A", "s1") == {"x": 2}


async def test_damaged_image_and_session_rows_give_typed_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))
        await store.upsert_image(ImageRecord(image_id="B"))
        await store.create_session("B", "s1")
        conn = raw(path)
        conn.execute("UPDATE images SET metadata = '{not json' WHERE image_id = 'A'")
        conn.execute("UPDATE images SET addresses = '[1, 2]' WHERE image_id = 'B'")
        conn.execute("UPDATE sessions SET status = 'zombie'")
        conn.close()
        with pytest.raises(StoreDataError, match="stored image 'A' cannot be read"):
            await store.get_image("A")
        with pytest.raises(StoreDataError, match="'B'"):
            await store.get_image("B")
        with pytest.raises(StoreDataError):
            await store.list_images()
        with pytest.raises(StoreDataError, match="unknown status 'zombie'"):
            await store.get_session("B", "s1")
        await store.upsert_image(ImageRecord(image_id="A", name="repaired"))
        assert (await store.get_image("A")).name == "repaired"


# --------------------------------------------------------------------------------------------------
# Schema versions and foreign files.


async def test_new_file_gets_current_schema_and_mark(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("PRAGMA journal_mode = DELETE")  # no WAL: the whole file is in one place
    conn.close()
    before = digest(path)
    with pytest.raises(SchemaVersionError, match="newer than") as info:
        async with open_session_store(path):
            pass
    assert info.value.found == SCHEMA_VERSION + 1 and info.value.known == SCHEMA_VERSION
    assert digest(path) == before
    assert not list(tmp_path.glob("*corrupt*"))


@pytest.mark.parametrize("app_id", [0, 0x12345678])
async def test_foreign_database_is_refused_and_left_untouched(tmp_path: Path, app_id: int) -> None:
    path = tmp_path / "s.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
    conn.execute("INSERT INTO accounts VALUES (1, 100.0)")
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ForeignDatabaseError, match="refusing"):
        async with open_session_store(path):
            pass
    assert digest(path) == before


async def test_migration_from_older_version_and_rollback_on_failure(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "s.sqlite3"
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="A"))
        await store.create_session("A", "s1")

    original = schema_module.MIGRATIONS
    broken = (*original, ("ALTER TABLE sessions ADD COLUMN x TEXT", "NOT SQL"))
    monkeypatch.setattr(schema_module, "MIGRATIONS", broken)
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StoreIOError):
        async with open_session_store(path):
            pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # rolled back whole
    assert "x" not in [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
    conn.close()

    good = (*original, ("ALTER TABLE sessions ADD COLUMN x TEXT",))
    monkeypatch.setattr(schema_module, "MIGRATIONS", good)
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", len(good))
    async with open_session_store(path) as store:
        assert (await store.get_session("A", "s1")).session_id == "s1"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


async def test_unopenable_path_gives_typed_error(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(StoreIOError, match="adir"):
        async with open_session_store(tmp_path / "adir"):
            pass
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreIOError):
        async with open_session_store(blocker / "sub" / "s.sqlite3"):
            pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
async def test_read_only_directory_gives_typed_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreIOError):
            async with open_session_store(ro / "s.sqlite3"):
                pass
    finally:
        ro.chmod(0o700)


def test_stamp_is_utc() -> None:
    assert time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(NOW)) == STAMP


@pytest.mark.parametrize(("durable", "synchronous"), [(False, 1), (True, 2)])
async def test_connection_settings(tmp_path: Path, durable: bool, synchronous: int) -> None:
    """WAL + NORMAL survives process kills (see _db); durable=True adds an fsync per commit."""

    def pragmas(conn: sqlite3.Connection) -> tuple:
        return tuple(
            conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        )

    async with open_session_store(tmp_path / "s.sqlite3", durable=durable) as store:
        assert await store._call(False, pragmas) == ("wal", synchronous, 1, 5000)
