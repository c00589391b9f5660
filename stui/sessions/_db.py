"""Blocking SQLite plumbing: open, check, recover, migrate, and run a batch of statements.

Everything here runs in a worker thread (never on the trio loop) and only ever from the store actor,
one call at a time, which is what makes `check_same_thread=False` safe.

Opening a file (`open_database`):
1. Take an exclusive `flock` on `<name>.lock` for the whole open, so two processes never check, move
   aside or migrate the same file at once (without it, process B could move away the fresh store that
   process A just created from a corrupt one).
2. Refuse what is plainly not SQLite (the 16-byte magic), then run `PRAGMA quick_check`. A file that is
   not a database, has a damaged header or damaged pages is closed and moved aside, with its `-wal`
   (which a fresh file would otherwise replay) and `-journal`, to `<name>.corrupt-<UTC timestamp>`; a
   fresh store is created in its place and the caller learns where the old one went.
3. Set WAL mode, `synchronous`, `busy_timeout`, `foreign_keys=ON`, then migrate (schema.py).

Durability: WAL with `synchronous=NORMAL`. A commit appends to the WAL with `write()` before it
returns, so once the store acknowledges a write, killing the process (even with SIGKILL) cannot lose it:
the bytes are in the kernel's page cache and SQLite replays the WAL at the next open. What NORMAL does not
do is fsync the WAL on every commit, so a power cut or kernel crash can lose the last commits (never
corrupt the file). FULL fsyncs every commit and costs ~5-20 ms each on ordinary disks; pass
`durable=True` to `open_session_store` for that.

Contention between processes: every write batch starts with `BEGIN IMMEDIATE` (takes the write lock
up front, so there is no deadlock-prone read-to-write upgrade), SQLite's busy handler waits up to
`BUSY_TIMEOUT` for the lock, and on top of that `run_batch` retries a busy batch with backoff for up to
`BUSY_DEADLINE` seconds. Only after that does a caller see `StoreBusyError`, never the raw
"database is locked".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._ops import icontains
from .errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreDataError,
    StoreError,
    StoreIOError,
)
from .schema import check_compatible, migrate

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: opens are not serialized between processes
    fcntl = None  # type: ignore[assignment]

__all__ = ["BUSY_DEADLINE", "BUSY_TIMEOUT", "Job", "open_database", "run_batch"]

#: Milliseconds SQLite's own busy handler waits for a lock before reporting SQLITE_BUSY.
BUSY_TIMEOUT = 5000
#: Seconds run_batch keeps retrying a busy batch (on top of the busy handler) before giving up.
BUSY_DEADLINE = 60.0
#: Seconds to wait for another process to finish opening (checking, migrating) the same file.
OPEN_LOCK_TIMEOUT = 60.0

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


@dataclass(slots=True, eq=False)
class Job:
    """One request to the store actor: a function of the connection, and where its outcome goes.

    `fn` runs in the worker thread inside the batch's transaction; `result`/`error` are written there
    and read by the caller's task after the actor sets its event.
    """

    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    done: Any  # trio.Event; typed loosely so this module needs no trio
    result: Any = None
    error: Exception | None = None


class _Corrupt(Exception):
    """Internal: the file failed its check at open; the reason is the message."""


def _primary_code(e: sqlite3.Error) -> int:
    return (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF


def is_busy(e: BaseException) -> bool:
    """SQLITE_BUSY/SQLITE_LOCKED: another connection holds a lock; worth retrying."""
    if not isinstance(e, sqlite3.OperationalError):
        return False
    return _primary_code(e) in _BUSY_CODES or "locked" in str(e) or "busy" in str(e)


def translate(e: sqlite3.Error, path: Path | str) -> StoreError:
    """Turn a batch-level SQLite error into the store's typed error with a readable text."""
    code = _primary_code(e)
    if code in _CORRUPT_CODES:
        return StoreCorruptError(f"session store {path} is damaged: {e}; close stui and reopen it")
    if is_busy(e):
        return StoreBusyError(
            f"session store {path} stayed locked by another process for over "
            f"{BUSY_DEADLINE:.0f} s: {e}"
        )
    return StoreIOError(f"session store {path}: {e}")


# --------------------------------------------------------------------------------------------------
# Opening.


def _connect(target: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target,
        isolation_level=None,  # autocommit: we issue BEGIN/COMMIT ourselves
        check_same_thread=False,  # safe: only the store actor uses it, one thread at a time
        timeout=BUSY_TIMEOUT / 1000,
        cached_statements=256,
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT}")
    conn.create_function("stui_icontains", 2, icontains, deterministic=True)
    return conn


def _configure(conn: sqlite3.Connection, *, durable: bool, memory: bool) -> None:
    if not memory:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a filesystem without shared memory
            raise StoreIOError(f"cannot switch the session store to WAL mode (got {mode!r})")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = ON")


def _check(path: Path) -> sqlite3.Connection:
    """Open `path` and prove it is a healthy SQLite file, or raise _Corrupt (connection closed)."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        # Create it ourselves, private: history may hold secrets typed at the prompt. SQLite gives
        # the -wal and -shm files the same permissions. An empty file is a valid new database.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        head = b""
    if head and (len(head) < 100 or not head.startswith(_SQLITE_MAGIC)):
        raise _Corrupt("not an SQLite database (bad or truncated header)")
    conn = _connect(str(path))
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        conn.close()
        if _primary_code(e) in _CORRUPT_CODES or not isinstance(e, sqlite3.OperationalError):
            raise _Corrupt(str(e)) from None
        raise
    if rows != [("ok",)]:
        conn.close()
        raise _Corrupt("; ".join(str(r[0]) for r in rows[:5]))
    return conn


def _move_aside(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    # Side files first: killed half-way, a corrupt main file is found (and moved) again at the next
    # open, whereas a fresh file next to the old WAL would replay the old WAL into itself.
    for suffix in ("-wal", "-journal"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{dest}{suffix}"))
    os.replace(path, dest)
    with contextlib.suppress(FileNotFoundError):
        Path(f"{path}-shm").unlink()  # an index into the WAL, rebuilt on open; stale now
    return dest


@contextlib.contextmanager
def _open_lock(path: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + OPEN_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusyError(
                        f"another process has been opening {path} for over "
                        f"{OPEN_LOCK_TIMEOUT:.0f} s"
                    ) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_database(
    target: Path | str, *, durable: bool, now: float
) -> tuple[sqlite3.Connection, Path | None]:
    """Open (creating, checking, recovering and migrating) the store at `target`.

    Args:
        target: a file path, or ":memory:".
        durable: synchronous=FULL instead of NORMAL (see the module docstring).
        now: Unix time used to name a moved-aside corrupt file.

    Returns:
        The connection, ready for use, and where a corrupt file was moved (None if it was healthy).

    Raises:
        SchemaVersionError, ForeignDatabaseError: the file is not ours to write; untouched.
        StoreBusyError: another process held the file for too long.
        StoreIOError: the directory or file cannot be created, read or written.
        StoreCorruptError: even the fresh file failed its check.
    """
    if str(target) == ":memory:":
        conn = _connect(":memory:")
        try:
            _configure(conn, durable=durable, memory=True)
            migrate(conn, ":memory:")
        except Exception:
            conn.close()
            raise
        return conn, None
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _open_lock(path):
            return _open_locked(path, durable=durable, now=now)
    except sqlite3.Error as e:
        raise translate(e, path) from e
    except OSError as e:
        raise StoreIOError(f"cannot open session store {path}: {e}") from e


def _open_locked(
    path: Path, *, durable: bool, now: float
) -> tuple[sqlite3.Connection, Path | None]:
    recovered: Path | None = None
    try:
        conn = _check(path)
    except _Corrupt as e:
        recovered = _move_aside(path, now)
        try:
            conn = _check(path)
        except _Corrupt as again:  # pragma: no cover - a fresh file should always pass
            raise StoreCorruptError(f"fresh session store {path} fails its check: {again}") from e
    try:
        check_compatible(conn, path)  # before anything writes to a file that may not be ours
        _configure(conn, durable=durable, memory=False)
        migrate(conn, path)
    except Exception:
        conn.close()
        raise
    return conn, recovered


# --------------------------------------------------------------------------------------------------
# Running statements.


def run_batch(conn: sqlite3.Connection, jobs: list[Job], path: Path | str) -> None:
    """Run `jobs` in order in one transaction, setting each job's result or error.

    Each write job runs under its own SAVEPOINT: a job that fails (a typed StoreError such as
    SessionNotFoundError, or a bug) is rolled back alone and the others still commit. Batch-level
    failures (I/O error, disk full, corruption) roll back everything and fail every job with a typed
    error. A busy database is retried from the start of the batch (nothing of it was kept) until
    `BUSY_DEADLINE`. The COMMIT happens before this returns, so an acknowledged write is on disk.
    """
    write = any(j.write for j in jobs)
    deadline = time.monotonic() + BUSY_DEADLINE
    delay = 0.002
    while True:
        try:
            _attempt(conn, jobs, write)
            return
        except sqlite3.Error as e:
            if is_busy(e) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            for j in jobs:  # one instance per caller: tracebacks must not mix across tasks
                j.result, j.error = None, translate(e, path)
            return


def _attempt(conn: sqlite3.Connection, jobs: list[Job], write: bool) -> None:
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        for j in jobs:
            j.result, j.error = None, None
            if j.write:
                conn.execute("SAVEPOINT job")
            try:
                j.result = j.fn(conn)
            except Exception as e:
                if isinstance(e, sqlite3.DatabaseError) and not isinstance(
                    e, sqlite3.IntegrityError
                ):
                    raise  # batch-level: busy, I/O, corruption
                if isinstance(e, sqlite3.IntegrityError):
                    e = StoreDataError(f"constraint failed: {e}")
                j.error = e
                if j.write:
                    conn.execute("ROLLBACK TO job")
            if j.write:
                conn.execute("RELEASE job")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
