"""DDL and migrations of the session store.

Strategy: the schema version lives in `PRAGMA user_version` and the file is marked as ours with
`PRAGMA application_id` (the bytes "STUI"). `migrate()` runs every step from the stored version up to
`SCHEMA_VERSION` in one `BEGIN IMMEDIATE` transaction, so a crash half-way leaves the old version
intact and two processes opening the same old file cannot both migrate it. A file with a *newer* version
is refused with `SchemaVersionError` and never written to; a healthy SQLite file that is not ours
(another application id, or tables without our mark) is refused with `ForeignDatabaseError`.

Adding a migration: append a tuple of statements to `MIGRATIONS` (never edit a released one), bump
nothing else (`SCHEMA_VERSION` is derived), and add a test that opens a file of the previous version.
Statements run one by one through `execute` (never `executescript`, which would commit on its own).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import ForeignDatabaseError, SchemaVersionError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "check_compatible",
    "migrate",
    "schema_version",
]

#: "STUI" in ASCII: written into the database header so other tools (and we) can tell the file apart.
APPLICATION_ID = 0x53545549

_V1 = (
    # One row per image ever seen. addresses/metadata are JSON text so the file stays readable with the
    # sqlite3 shell; unreachable_since drives the orphan grace period.
    """
    CREATE TABLE images (
        image_id          TEXT PRIMARY KEY NOT NULL,
        name              TEXT NOT NULL DEFAULT '',
        addresses         TEXT NOT NULL DEFAULT '[]',
        version           TEXT NOT NULL DEFAULT '',
        dialect           TEXT NOT NULL DEFAULT '',
        metadata          TEXT NOT NULL DEFAULT '{}',
        last_seen         REAL NOT NULL DEFAULT 0,
        last_status       TEXT NOT NULL DEFAULT '',
        unreachable_since REAL
    ) STRICT
    """,
    # Session ids are chosen by images, so two images may use the same id: the key is the pair.
    """
    CREATE TABLE sessions (
        image_id          TEXT NOT NULL REFERENCES images(image_id) ON DELETE CASCADE,
        session_id        TEXT NOT NULL,
        name              TEXT NOT NULL DEFAULT '',
        description       TEXT NOT NULL DEFAULT '',
        status            TEXT NOT NULL
                          CHECK (status IN ('active', 'detached', 'orphaned', 'closed')),
        created_at        REAL NOT NULL,
        last_activity     REAL NOT NULL,
        status_changed_at REAL NOT NULL,
        state             BLOB,
        state_version     INTEGER NOT NULL DEFAULT 0,
        state_size        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (image_id, session_id)
    ) STRICT, WITHOUT ROWID
    """,
    "CREATE INDEX sessions_by_id ON sessions(session_id)",
    # History outlives sessions (no foreign key to sessions) but not its image.
    """
    CREATE TABLE history (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        image_id   TEXT NOT NULL REFERENCES images(image_id) ON DELETE CASCADE,
        session_id TEXT,
        source     TEXT NOT NULL,
        created_at REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX history_by_image ON history(image_id, id)",
    "CREATE INDEX history_by_session ON history(image_id, session_id, id)",
)

#: MIGRATIONS[i] takes a file from version i to version i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version stored in the file's header (0 for a new, empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_compatible(conn: sqlite3.Connection, path: Path | str) -> int:
    """Refuse a file that is not ours to write, without writing anything.

    Run once before the store changes the file in any way (even switching it to WAL mode rewrites
    the header), and again inside the migration transaction.

    Returns:
        The file's schema version.

    Raises:
        SchemaVersionError: newer than this code.
        ForeignDatabaseError: another program's database.
    """
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    found = schema_version(conn)
    if app_id not in (0, APPLICATION_ID):
        raise ForeignDatabaseError(
            f"{path} is an SQLite database of another program (application id {app_id:#x}); "
            f"refusing to use it as the stui session store"
        )
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(path, found, SCHEMA_VERSION)
    if app_id == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if found != 0 or tables:
            raise ForeignDatabaseError(
                f"{path} is an SQLite database without stui's mark ({tables} objects, "
                f"user_version {found}); refusing to use it as the stui session store"
            )
    return found


def migrate(conn: sqlite3.Connection, path: Path | str) -> int:
    """Bring the database up to `SCHEMA_VERSION`, or refuse it.

    Args:
        conn: an open connection in autocommit mode (`isolation_level=None`), no transaction open.
        path: only for error messages.

    Returns:
        The version the file had before (0 for a new file).

    Raises:
        SchemaVersionError: the file is newer than this code; nothing was written.
        ForeignDatabaseError: the file belongs to another program; nothing was written.
        sqlite3.Error: the migration failed; it was rolled back whole.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = check_compatible(conn, path)
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if found != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:  # an error above: undo every step, leave the old version intact
            conn.execute("ROLLBACK")
    return found
