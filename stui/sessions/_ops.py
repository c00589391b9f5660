"""The store's statements: plain blocking functions of a connection, run by the actor's worker thread.

Every function that takes a session looks it up by the pair (image_id, session_id) through
`_session_row`, which is the single place where isolation is enforced: a session id that exists only
under another image raises `SessionImageMismatch`, an unknown one `SessionNotFoundError`. No statement
in this module addresses a session by its id alone.

Rows are untrusted (the file may have been edited or damaged): anything that does not decode becomes
`StoreDataError`/`StateDecodeError`, never an unexpected exception.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from stui.protocol import (
    CleanupReport,
    ImageSessionStats,
    RemoteProtocolError,
    SessionRecord,
    SessionStatus,
    loads_strict,
)

from .errors import (
    ImageNotFoundError,
    SessionExistsError,
    SessionImageMismatch,
    SessionNotFoundError,
    StateDecodeError,
    StoreDataError,
)
from .models import HistoryEntry, ImageRecord

#: Version of the state blob's layout (a CBOR map of plain data). Bumped if that layout ever changes.
STATE_VERSION = 1
#: Nesting depth accepted when decoding a state blob.
STATE_MAX_DEPTH = 64

_SESSION_COLUMNS = "session_id, image_id, name, status, created_at, last_activity, state_size"
_IMAGE_COLUMNS = "image_id, name, addresses, version, dialect, metadata, last_seen, last_status, unreachable_since"
_LIVE = (SessionStatus.ACTIVE.value, SessionStatus.DETACHED.value)


# --------------------------------------------------------------------------------------------------
# Rows → records.


def _session(row: tuple) -> SessionRecord:
    session_id, image_id, name, status, created_at, last_activity, size = row
    try:
        state = SessionStatus(status)
    except ValueError:
        raise StoreDataError(f"session {session_id!r} has unknown status {status!r}") from None
    return SessionRecord(
        session_id=session_id,
        image_id=image_id,
        name=name,
        status=state,
        created_at=created_at,
        last_activity=last_activity,
        context_size=size,
    )


def _image(row: tuple) -> ImageRecord:
    image_id = row[0]
    try:
        addresses = json.loads(row[2])
        metadata = json.loads(row[5])
        return ImageRecord(
            image_id=image_id,
            name=row[1],
            addresses=tuple(addresses) if isinstance(addresses, list) else addresses,
            version=row[3],
            dialect=row[4],
            metadata=metadata,
            last_seen=row[6],
            last_status=row[7],
            unreachable_since=row[8],
        )
    except (ValueError, TypeError) as e:  # json errors and ImageRecord's own checks
        raise StoreDataError(f"stored image {image_id!r} cannot be read: {e}") from None


def _session_row(conn: sqlite3.Connection, image_id: str, session_id: str) -> tuple:
    """The session's row, or the precise reason there is none. The isolation check lives here."""
    row = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE image_id = ? AND session_id = ?",
        (image_id, session_id),
    ).fetchone()
    if row is not None:
        return row
    owner = conn.execute(
        "SELECT image_id FROM sessions WHERE session_id = ? LIMIT 1", (session_id,)
    ).fetchone()
    if owner is not None:
        raise SessionImageMismatch(image_id, session_id, owner[0])
    raise SessionNotFoundError(image_id, session_id)


def _require_image(conn: sqlite3.Connection, image_id: str) -> None:
    if conn.execute("SELECT 1 FROM images WHERE image_id = ?", (image_id,)).fetchone() is None:
        raise ImageNotFoundError(image_id)


# --------------------------------------------------------------------------------------------------
# Images.


def upsert_image(conn: sqlite3.Connection, rec: ImageRecord) -> None:
    conn.execute(
        """
        INSERT INTO images (image_id, name, addresses, version, dialect, metadata, last_seen,
                            last_status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (image_id) DO UPDATE SET
            name = excluded.name, addresses = excluded.addresses, version = excluded.version,
            dialect = excluded.dialect, metadata = excluded.metadata,
            last_seen = excluded.last_seen, last_status = excluded.last_status
        """,
        (
            rec.image_id,
            rec.name,
            json.dumps(list(rec.addresses)),
            rec.version,
            rec.dialect,
            json.dumps(rec.metadata, sort_keys=True),
            rec.last_seen,
            rec.last_status,
        ),
    )


def get_image(conn: sqlite3.Connection, image_id: str) -> ImageRecord | None:
    row = conn.execute(
        f"SELECT {_IMAGE_COLUMNS} FROM images WHERE image_id = ?", (image_id,)
    ).fetchone()
    return None if row is None else _image(row)


def list_images(conn: sqlite3.Connection) -> list[ImageRecord]:
    rows = conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images ORDER BY image_id").fetchall()
    return [_image(r) for r in rows]


def forget_image(conn: sqlite3.Connection, image_id: str) -> bool:
    # ON DELETE CASCADE (foreign_keys=ON) takes its sessions and history along.
    return conn.execute("DELETE FROM images WHERE image_id = ?", (image_id,)).rowcount > 0


def mark_unreachable(conn: sqlite3.Connection, image_id: str, since: float) -> None:
    _require_image(conn, image_id)
    # Keep the earliest time: repeated reports while still down must not restart the grace period.
    conn.execute(
        "UPDATE images SET unreachable_since = min(coalesce(unreachable_since, ?), ?) "
        "WHERE image_id = ?",
        (since, since, image_id),
    )


def mark_reachable(conn: sqlite3.Connection, image_id: str, now: float) -> None:
    _require_image(conn, image_id)
    conn.execute(
        "UPDATE images SET unreachable_since = NULL, last_seen = max(last_seen, ?) WHERE image_id = ?",
        (now, image_id),
    )


# --------------------------------------------------------------------------------------------------
# Sessions.


def create_session(
    conn: sqlite3.Connection,
    image_id: str,
    session_id: str,
    name: str,
    description: str,
    now: float,
) -> SessionRecord:
    _require_image(conn, image_id)
    if conn.execute(
        "SELECT 1 FROM sessions WHERE image_id = ? AND session_id = ?", (image_id, session_id)
    ).fetchone():
        raise SessionExistsError(image_id, session_id)
    conn.execute(
        """
        INSERT INTO sessions (image_id, session_id, name, description, status, created_at,
                              last_activity, status_changed_at)
        VALUES (?, ?, ?, ?, 'active', ?, ?, ?)
        """,
        (image_id, session_id, name, description, now, now, now),
    )
    return SessionRecord(
        session_id=session_id,
        image_id=image_id,
        name=name,
        status=SessionStatus.ACTIVE,
        created_at=now,
        last_activity=now,
        context_size=0,
    )


def recreate_session(
    conn: sqlite3.Connection, image_id: str, old_id: str, new_id: str, now: float
) -> SessionRecord:
    _session_row(conn, image_id, old_id)
    if conn.execute(
        "SELECT 1 FROM sessions WHERE image_id = ? AND session_id = ?", (image_id, new_id)
    ).fetchone():
        raise SessionExistsError(image_id, new_id)
    conn.execute(
        """
        INSERT INTO sessions (image_id, session_id, name, description, status, created_at,
                              last_activity, status_changed_at, state, state_version, state_size)
        SELECT image_id, ?, name, description, 'active', ?, ?, ?, state, state_version, state_size
        FROM sessions WHERE image_id = ? AND session_id = ?
        """,
        (new_id, now, now, now, image_id, old_id),
    )
    conn.execute(
        "UPDATE sessions SET status = 'closed', status_changed_at = ? "
        "WHERE image_id = ? AND session_id = ?",
        (now, image_id, old_id),
    )
    return get_session(conn, image_id, new_id)


def get_session(conn: sqlite3.Connection, image_id: str, session_id: str) -> SessionRecord:
    return _session(_session_row(conn, image_id, session_id))


def get_description(conn: sqlite3.Connection, image_id: str, session_id: str) -> str:
    _session_row(conn, image_id, session_id)
    row = conn.execute(
        "SELECT description FROM sessions WHERE image_id = ? AND session_id = ?",
        (image_id, session_id),
    ).fetchone()
    return str(row[0])


def set_status(
    conn: sqlite3.Connection, image_id: str, session_id: str, status: SessionStatus, now: float
) -> None:
    _session_row(conn, image_id, session_id)
    conn.execute(
        "UPDATE sessions SET status = ?, status_changed_at = ? WHERE image_id = ? AND session_id = ?",
        (status.value, now, image_id, session_id),
    )


def touch(conn: sqlite3.Connection, image_id: str, session_id: str, at: float) -> None:
    _session_row(conn, image_id, session_id)
    conn.execute(
        "UPDATE sessions SET last_activity = max(last_activity, ?) "
        "WHERE image_id = ? AND session_id = ?",
        (at, image_id, session_id),
    )


def save_state(
    conn: sqlite3.Connection, image_id: str, session_id: str, blob: bytes, now: float
) -> None:
    _session_row(conn, image_id, session_id)
    conn.execute(
        "UPDATE sessions SET state = ?, state_version = ?, state_size = ?, "
        "last_activity = max(last_activity, ?) WHERE image_id = ? AND session_id = ?",
        (blob, STATE_VERSION, len(blob), now, image_id, session_id),
    )


def load_state(conn: sqlite3.Connection, image_id: str, session_id: str) -> dict[str, Any]:
    _session_row(conn, image_id, session_id)
    blob, version = conn.execute(
        "SELECT state, state_version FROM sessions WHERE image_id = ? AND session_id = ?",
        (image_id, session_id),
    ).fetchone()
    if blob is None:
        return {}
    where = f"state of session {session_id!r} of image {image_id!r}"
    if version != STATE_VERSION:
        raise StateDecodeError(
            f"{where} has layout version {version!r}; this stui reads version {STATE_VERSION}"
        )
    return decode_state(blob, where)


def decode_state(blob: object, where: str) -> dict[str, Any]:
    """Decode a state blob strictly: one CBOR map with text keys, no tags but bignums, nothing after it.

    The CBOR strictness is the protocol codec's (`stui.protocol.loads_strict`), so stored state and
    frames are held to the same rules; bignums (tags 2 and 3) are allowed, since a workspace may well
    hold a LargePositiveInteger.
    """
    if type(blob) is not bytes:
        raise StateDecodeError(f"{where} is stored as {type(blob).__name__}, not bytes")
    try:
        value = loads_strict(blob, max_depth=STATE_MAX_DEPTH, allow_bignums=True)
    except RemoteProtocolError as e:
        raise StateDecodeError(f"{where} is not valid CBOR: {e}") from None
    if type(value) is not dict or not all(type(k) is str for k in value):
        raise StateDecodeError(f"{where} is not a map with text keys")
    return value


def list_sessions(
    conn: sqlite3.Connection, image_id: str | None, include_disconnected: bool
) -> list[SessionRecord]:
    where, args = [], []
    if image_id is not None:
        where.append("image_id = ?")
        args.append(image_id)
    if not include_disconnected:
        where.append("status = 'active'")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions {clause} "
        "ORDER BY image_id, created_at, session_id",
        args,
    ).fetchall()
    return [_session(r) for r in rows]


def sessions_to_restore(conn: sqlite3.Connection, image_id: str) -> list[SessionRecord]:
    rows = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE image_id = ? AND status != 'closed' "
        "ORDER BY last_activity DESC, session_id",
        (image_id,),
    ).fetchall()
    return [_session(r) for r in rows]


def stats(conn: sqlite3.Connection, image_id: str) -> ImageSessionStats:
    total, active, orphaned, size, last = conn.execute(
        """
        SELECT count(*), coalesce(sum(status = 'active'), 0), coalesce(sum(status = 'orphaned'), 0),
               coalesce(sum(state_size), 0), max(last_activity)
        FROM sessions WHERE image_id = ?
        """,
        (image_id,),
    ).fetchone()
    return ImageSessionStats(
        image_id=image_id,
        total=total,
        active=active,
        orphaned=orphaned,
        context_bytes=size,
        last_activity=last,
    )


# --------------------------------------------------------------------------------------------------
# Lifecycle.


def orphan_sessions(
    conn: sqlite3.Connection, image_id: str, grace: float, now: float
) -> tuple[str, ...]:
    _require_image(conn, image_id)
    (since,) = conn.execute(
        "SELECT unreachable_since FROM images WHERE image_id = ?", (image_id,)
    ).fetchone()
    if since is None or now - since <= grace:
        return ()
    ids = tuple(
        r[0]
        for r in conn.execute(
            "SELECT session_id FROM sessions WHERE image_id = ? AND status IN (?, ?) "
            "ORDER BY session_id",
            (image_id, *_LIVE),
        )
    )
    conn.execute(
        "UPDATE sessions SET status = 'orphaned', status_changed_at = ? "
        "WHERE image_id = ? AND status IN (?, ?)",
        (now, image_id, *_LIVE),
    )
    return ids


def cleanup(
    conn: sqlite3.Connection,
    image_id: str,
    *,
    force: bool,
    preserve_active: bool,
    ttl: float,
    now: float,
) -> CleanupReport:
    rows = conn.execute(
        "SELECT session_id, status, status_changed_at FROM sessions WHERE image_id = ? "
        "ORDER BY session_id",
        (image_id,),
    ).fetchall()
    removed: list[str] = []
    kept: list[str] = []
    for session_id, status, changed in rows:
        match status:
            case "orphaned" | "closed":
                gone = force or now - changed >= ttl
            case "detached":
                gone = force
            case _:  # active (and anything unexpected): only by force, and never the preserved
                gone = force and not preserve_active
        (removed if gone else kept).append(session_id)
    conn.executemany(
        "DELETE FROM sessions WHERE image_id = ? AND session_id = ?",
        [(image_id, s) for s in removed],
    )
    return CleanupReport(image_id=image_id, closed=tuple(removed), kept=tuple(kept))


# --------------------------------------------------------------------------------------------------
# History.


def add_history(
    conn: sqlite3.Connection, image_id: str, session_id: str | None, source: str, now: float
) -> int:
    _require_image(conn, image_id)
    if session_id is not None:
        _session_row(conn, image_id, session_id)
    cur = conn.execute(
        "INSERT INTO history (image_id, session_id, source, created_at) VALUES (?, ?, ?, ?)",
        (image_id, session_id, source, now),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def history(
    conn: sqlite3.Connection,
    image_id: str,
    session_id: str | None,
    search: str | None,
    limit: int,
) -> list[HistoryEntry]:
    where, args = ["image_id = ?"], [image_id]
    if session_id is not None:
        # History outlives sessions: a cleaned-up session's entries stay readable under its id. The
        # query reads only this image's rows whatever happens; the check just explains a mix-up.
        known = conn.execute(
            "SELECT 1 FROM sessions WHERE image_id = ? AND session_id = ? UNION ALL "
            "SELECT 1 FROM history WHERE image_id = ? AND session_id = ? LIMIT 1",
            (image_id, session_id, image_id, session_id),
        ).fetchone()
        if known is None:
            _session_row(conn, image_id, session_id)  # raises: another image's, or unknown
        where.append("session_id = ?")
        args.append(session_id)
    if search:
        where.append("stui_icontains(source, ?)")
        args.append(search.casefold())
    rows = conn.execute(
        f"SELECT id, image_id, session_id, source, created_at FROM history "
        f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    rows.reverse()  # newest last, as a REPL shows them
    return [
        HistoryEntry(id=r[0], image_id=r[1], session_id=r[2], source=r[3], created_at=r[4])
        for r in rows
    ]


def icontains(haystack: object, needle: object) -> bool:
    """SQL function stui_icontains: Unicode case-insensitive substring (SQLite's LIKE is ASCII-only)."""
    return isinstance(haystack, str) and isinstance(needle, str) and needle in haystack.casefold()
