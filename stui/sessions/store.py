"""The session store: one actor task owns the SQLite connection; callers talk to it through a channel.

Shape: `open_session_store(path)` opens (checks, recovers, migrates) the file in a worker thread, then
runs `_serve` in a nursery. Each public method packs its statement into a `Job`, sends it on a memory
channel and waits for the actor to set the job's event. The actor takes whatever jobs have queued up
(up to `MAX_BATCH`), runs them in order inside one transaction in a worker thread
(`trio.to_thread.run_sync`, one thread call at a time, so the connection is never used concurrently),
commits, and only then wakes the callers. Batching matters when many images write history at once: one
commit instead of dozens. The event loop never blocks on SQLite.

Guarantees a caller can rely on:
- When a write method returns, its transaction is committed (WAL, see `_db` on durability): a SIGKILL
  of the process afterwards cannot lose it. `add_history` returns only after the entry is committed.
- Each call is atomic: it is committed whole or not at all, also when a neighbour in the same batch
  fails (each job runs under its own SAVEPOINT).
- Every session lookup is keyed by (image_id, session_id); a session id of another image is refused
  with `SessionImageMismatch`, an unknown one with `SessionNotFoundError`.
- Another process holding the file is waited for (busy_timeout plus retries); the caller never sees
  "database is locked", only `StoreBusyError` after a full minute.
- Failures are `StoreError` subclasses with readable text; nothing from the file can crash the process.

Lifecycle policy (lives here, not in the supervisor):
- `mark_image_unreachable(image, since)` starts the grace clock (the earliest report wins);
  `mark_image_reachable` stops it.
- `orphan_sessions(image, grace)`: once the image has been unreachable longer than `grace`
  (`DEFAULT_GRACE_PERIOD`), its active and detached sessions become orphaned. The supervisor calls it
  periodically or on each failed reconnect and publishes `SessionOrphaned` for the ids returned.
- `cleanup_orphaned_sessions(image, force=False, preserve_active=True, ttl=DEFAULT_ORPHAN_TTL)`:
  without force, removes orphaned and closed sessions whose status is older than `ttl`; with force, also
  every orphaned, closed and detached one regardless of age, and active ones only when
  `preserve_active` is False. Nothing active is ever removed without `force`. History is kept.
- `sessions_to_restore(image)`: every session not closed (active, detached, orphaned), most recently
  used first. The supervisor re-attaches each (then sets it ACTIVE); for a session the image no
  longer has, it creates a new one on the image and calls `recreate_session(image, old, new)`, which
  moves name, description and state over and closes the old record in one transaction.

Cancellation (all async methods): a call cancelled before its job reached the actor did nothing. Once
queued, the job runs to completion anyway and its outcome is dropped: a cancelled write is either
committed whole or absent, never half-written, and the caller cannot know which. A read has no effect.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cbor2
import trio

from stui.actors.exception_groups import collapse_single_group
from stui.paths import data_dir
from stui.protocol import CleanupReport, ImageSessionStats, SessionRecord, SessionStatus

from . import _ops
from ._db import Job, open_database, run_batch
from .errors import InvalidArgumentError, StateEncodeError, StoreClosedError
from .models import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_ORPHAN_TTL,
    HistoryEntry,
    ImageRecord,
    check_id,
    check_time,
)

__all__ = [
    "MAX_BATCH",
    "MAX_STATE_BYTES",
    "SessionStore",
    "default_store_path",
    "open_session_store",
]

#: Most jobs run in one transaction.
MAX_BATCH = 256
#: Largest encoded session state kept (a workspace context, not a heap dump).
MAX_STATE_BYTES = 16 * 1024 * 1024
#: Jobs that may wait for the actor before callers feel back-pressure.
_QUEUE_SIZE = 1024


def default_store_path() -> Path:
    """`stui.paths.data_dir() / "sessions.sqlite3"` (STUI_DATA_DIR overrides the directory)."""
    return data_dir() / "sessions.sqlite3"


@asynccontextmanager
async def open_session_store(
    path: Path | str | None = None,
    *,
    durable: bool = False,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[SessionStore]:
    """Open the session store for the duration of an `async with` block.

    A damaged file is moved aside to `<name>.corrupt-<UTC timestamp>` and a fresh store created;
    `store.recovered_from` then says where the old file went, for the caller to tell the user.

    Args:
        path: the database file; None for `default_store_path()`; ":memory:" for a private store
            that vanishes on close (tests, embedders that want no persistence).
        durable: use synchronous=FULL, surviving power loss too at ~5-20 ms per commit; the default
            (NORMAL) survives any crash or kill of the process (see `stui.sessions._db`).
        clock: Unix time source for timestamps the caller does not pass.

    Yields:
        The open store. Leaving the block serves every call already queued, then closes the file.

    Raises:
        SchemaVersionError: the file comes from a newer stui; it was not touched.
        ForeignDatabaseError: the file is another program's SQLite database; it was not touched.
        StoreBusyError: another process kept the file locked for over a minute.
        StoreIOError: the file or its directory cannot be created, read or written.

    Cancellation: if cancelled while opening, the file is closed again; a migration is either
    committed or rolled back whole. Cancelling the block fails calls still queued with
    `StoreClosedError` (a job already running in the worker thread finishes first).
    """
    target: Path | str = default_store_path() if path is None else path
    if str(target) != ":memory:":
        target = Path(target)
    # The store's own limiter: its single thread never waits behind other users of trio's default
    # limiter (a REPL prompt thread, say), and never runs twice at once.
    limiter = trio.CapacityLimiter(1)
    conn, recovered = await trio.to_thread.run_sync(
        functools.partial(open_database, target, durable=durable, now=clock()), limiter=limiter
    )
    try:
        send, receive = trio.open_memory_channel[Job](_QUEUE_SIZE)
        store = SessionStore(target, recovered, send, clock)
        with collapse_single_group():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_serve, conn, receive, target, limiter)
                try:
                    yield store
                finally:
                    store._closed = True
                    send.close()  # the actor serves what is queued, then ends
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(conn.close, limiter=limiter)


async def _serve(
    conn: sqlite3.Connection,
    receive: trio.MemoryReceiveChannel[Job],
    path: Path | str,
    limiter: trio.CapacityLimiter,
) -> None:
    """The actor: the only code that touches `conn`, one batch at a time."""
    batch: list[Job] = []
    async with receive:
        try:
            async for job in receive:
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                # Not abandoned on cancel: the thread finishes before we go on, so the connection
                # is never used by two threads, and every job of the batch gets its outcome.
                await trio.to_thread.run_sync(run_batch, conn, batch, path, limiter=limiter)
                for j in batch:
                    j.done.set()
                batch = []
        finally:
            while True:
                try:
                    batch.append(receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            for j in batch:
                if not j.done.is_set():
                    j.result = None
                    j.error = StoreClosedError(
                        f"session store {path} was closed before serving this call"
                    )
                    j.done.set()


def _encode_state(state: object) -> bytes:
    _check_plain(state, 0)
    try:
        blob = cbor2.dumps(state)
    except Exception as e:  # pragma: no cover - _check_plain admits only encodable values
        raise StateEncodeError(f"session state cannot be encoded: {e}") from None
    if len(blob) > MAX_STATE_BYTES:
        raise StateEncodeError(
            f"session state is {len(blob)} bytes encoded; at most {MAX_STATE_BYTES} are kept"
        )
    return blob


def _check_plain(value: object, depth: int) -> None:
    """Only plain data goes into a state: what any client (or a Pharo port) can read back."""
    if depth > _ops.STATE_MAX_DEPTH - 2:
        raise StateEncodeError(f"session state is nested deeper than {_ops.STATE_MAX_DEPTH - 2}")
    match value:
        case None | bool() | int() | str() | bytes():
            pass
        case float():
            if not math.isfinite(value):
                raise StateEncodeError(f"session state holds a non-finite float {value!r}")
        case dict():
            for k, v in value.items():
                if type(k) is not str:
                    raise StateEncodeError(f"session state map key {k!r} is not a string")
                _check_plain(v, depth + 1)
        case list() | tuple():
            for v in value:
                _check_plain(v, depth + 1)
        case _:
            raise StateEncodeError(
                f"session state holds a {type(value).__name__}; only None, bool, int, float, str, "
                f"bytes, lists and maps with string keys are kept"
            )


class SessionStore:
    """Images, their sessions and the command history, in one SQLite file. See the module docstring.

    Built only by `open_session_store`. All methods are safe to call from any number of tasks at once.

    Attributes:
        path: the database file (or ":memory:").
        recovered_from: where a damaged file found at open was moved, else None.
    """

    def __init__(
        self,
        path: Path | str,
        recovered_from: Path | None,
        send: trio.MemorySendChannel[Job],
        clock: Callable[[], float],
    ) -> None:
        self.path = path
        self.recovered_from = recovered_from
        self._send = send
        self._clock = clock
        self._closed = False

    def __repr__(self) -> str:
        return f"<SessionStore {str(self.path)!r}{' closed' if self._closed else ''}>"

    async def _call(self, write: bool, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise StoreClosedError(f"session store {self.path} is closed")
        job = Job(fn=lambda conn: fn(conn, *args, **kwargs), write=write, done=trio.Event())
        try:
            await self._send.send(job)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise StoreClosedError(f"session store {self.path} is closed") from None
        await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _now(self, at: float | None = None) -> float:
        return check_time("at", self._clock() if at is None else at)

    # -- images ------------------------------------------------------------------------------------

    async def upsert_image(self, image: ImageRecord) -> None:
        """Insert or update an image (everything but `unreachable_since`, which the mark_* keep).

        Raises:
            InvalidArgumentError: `image` is not an ImageRecord.

        Cancellation: see the module docstring (committed whole or not at all).
        """
        if not isinstance(image, ImageRecord):
            raise InvalidArgumentError(f"expected an ImageRecord, got {type(image).__name__}")
        await self._call(True, _ops.upsert_image, image)

    async def get_image(self, image_id: str) -> ImageRecord | None:
        """The stored image, or None.

        Raises:
            StoreDataError: its stored row cannot be read.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.get_image, check_id("image_id", image_id))

    async def list_images(self) -> list[ImageRecord]:
        """Every stored image, ordered by id.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.list_images)

    async def forget_image(self, image_id: str) -> bool:
        """Delete an image with all its sessions and history (the user asked to forget it).

        Returns:
            Whether the image was stored.

        Cancellation: see the module docstring (all of it is gone, or none).
        """
        return await self._call(True, _ops.forget_image, check_id("image_id", image_id))

    async def mark_image_unreachable(self, image_id: str, since: float | None = None) -> None:
        """Start the grace clock for `image_id` (kept at the earliest time if already running).

        Raises:
            ImageNotFoundError: unknown image.

        Cancellation: see the module docstring (committed whole or not at all).
        """
        await self._call(
            True, _ops.mark_unreachable, check_id("image_id", image_id), self._now(since)
        )

    async def mark_image_reachable(self, image_id: str, at: float | None = None) -> None:
        """Stop the grace clock and record contact at `at` (default now).

        Raises:
            ImageNotFoundError: unknown image.

        Cancellation: see the module docstring (committed whole or not at all).
        """
        await self._call(True, _ops.mark_reachable, check_id("image_id", image_id), self._now(at))

    # -- sessions ----------------------------------------------------------------------------------

    async def create_session(
        self, image_id: str, session_id: str, name: str = "", description: str = ""
    ) -> SessionRecord:
        """Record a new active session of an image.

        Returns:
            The stored record (status ACTIVE, created and last active now).

        Raises:
            ImageNotFoundError: the image was never upserted.
            SessionExistsError: this image already has this session id.

        Cancellation: see the module docstring (the session is stored whole or not at all).
        """
        if type(name) is not str or type(description) is not str:
            raise InvalidArgumentError("name and description must be strings")
        return await self._call(
            True,
            _ops.create_session,
            check_id("image_id", image_id),
            check_id("session_id", session_id),
            name,
            description,
            self._now(),
        )

    async def recreate_session(
        self, image_id: str, old_session_id: str, new_session_id: str
    ) -> SessionRecord:
        """Carry a session the image lost over to the replacement the image just created.

        For restore: when re-attaching `old_session_id` fails because the image no longer has it,
        the supervisor creates a new session on the image and calls this. In one transaction the new
        record gets the old one's name, description and state, status ACTIVE, and the old record is
        marked CLOSED (so it is not restored again; its history stays under the old id).

        Returns:
            The new session's record.

        Raises:
            SessionImageMismatch, SessionNotFoundError: `old_session_id` is not this image's.
            SessionExistsError: the image already has `new_session_id`.

        Cancellation: see the module docstring: both changes are committed, or neither.
        """
        return await self._call(
            True,
            _ops.recreate_session,
            *self._key(image_id, old_session_id),
            check_id("new_session_id", new_session_id),
            self._now(),
        )

    async def get_session(self, image_id: str, session_id: str) -> SessionRecord:
        """The session `session_id` of image `image_id`.

        Raises:
            SessionImageMismatch: the id belongs to another image.
            SessionNotFoundError: no image has it.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.get_session, *self._key(image_id, session_id))

    async def session_description(self, image_id: str, session_id: str) -> str:
        """The description given at creation (SessionRecord has no field for it).

        Raises:
            SessionImageMismatch, SessionNotFoundError: as for `get_session`.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.get_description, *self._key(image_id, session_id))

    async def set_session_status(
        self, image_id: str, session_id: str, status: SessionStatus
    ) -> None:
        """Change a session's status (the time of the change drives the orphan TTL).

        Raises:
            SessionImageMismatch, SessionNotFoundError: as for `get_session`.

        Cancellation: see the module docstring (committed whole or not at all).
        """
        if not isinstance(status, SessionStatus):
            raise InvalidArgumentError(f"status must be a SessionStatus, got {status!r}")
        await self._call(
            True, _ops.set_status, *self._key(image_id, session_id), status, self._now()
        )

    async def touch_session(self, image_id: str, session_id: str, at: float | None = None) -> None:
        """Record activity at `at` (default now); last_activity never moves backwards.

        Raises:
            SessionImageMismatch, SessionNotFoundError: as for `get_session`.

        Cancellation: see the module docstring (committed whole or not at all).
        """
        await self._call(True, _ops.touch, *self._key(image_id, session_id), self._now(at))

    async def save_session_state(
        self, image_id: str, session_id: str, state: dict[str, Any]
    ) -> None:
        """Replace the session's client-side state (named variables, last results, inspector path).

        Stored as one CBOR map with a layout version. Only plain data is accepted, so what is saved
        can always be loaded back.

        Raises:
            StateEncodeError: the state holds other types, non-finite floats, or exceeds
                `MAX_STATE_BYTES`; nothing was written.
            SessionImageMismatch, SessionNotFoundError: as for `get_session`.

        Cancellation: see the module docstring: the old state or the new one, never a mixture.
        """
        if type(state) is not dict:
            raise StateEncodeError(f"a session state must be a dict, got {type(state).__name__}")
        blob = _encode_state(state)
        await self._call(True, _ops.save_state, *self._key(image_id, session_id), blob, self._now())

    async def load_session_state(self, image_id: str, session_id: str) -> dict[str, Any]:
        """The saved state, or {} if none was saved.

        Raises:
            StateDecodeError: the blob is damaged or from a newer layout (the session stays usable;
                saving a new state replaces it).
            SessionImageMismatch, SessionNotFoundError: as for `get_session`.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.load_state, *self._key(image_id, session_id))

    async def list_image_sessions(
        self, image_id: str | None = None, include_disconnected: bool = False
    ) -> list[SessionRecord]:
        """Sessions of one image (or of all with None), ordered by image then creation.

        Args:
            image_id: the image, or None for every image.
            include_disconnected: also detached, orphaned and closed sessions (default: active only).

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        if image_id is not None:
            check_id("image_id", image_id)
        return await self._call(False, _ops.list_sessions, image_id, bool(include_disconnected))

    async def image_session_stats(self, image_id: str) -> ImageSessionStats:
        """Counts for one image (zeros and last_activity None for an image with no sessions).

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.stats, check_id("image_id", image_id))

    async def sessions_to_restore(self, image_id: str) -> list[SessionRecord]:
        """What to re-attach on start or reconnect: sessions not closed, most recently used first.

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        return await self._call(False, _ops.sessions_to_restore, check_id("image_id", image_id))

    async def orphan_sessions(
        self, image_id: str, grace: float = DEFAULT_GRACE_PERIOD, *, now: float | None = None
    ) -> tuple[str, ...]:
        """Orphan the live sessions of an image unreachable for longer than `grace` seconds.

        Returns:
            The ids that became orphaned now (empty if the image is reachable or within grace).

        Raises:
            ImageNotFoundError: unknown image.

        Cancellation: see the module docstring (all of them orphaned, or none).
        """
        grace = check_time("grace", grace)
        return await self._call(
            True, _ops.orphan_sessions, check_id("image_id", image_id), grace, self._now(now)
        )

    async def cleanup_orphaned_sessions(
        self,
        image_id: str,
        *,
        force: bool = False,
        preserve_active: bool = True,
        ttl: float = DEFAULT_ORPHAN_TTL,
        now: float | None = None,
    ) -> CleanupReport:
        """Remove dead sessions of an image (policy in the module docstring). History is kept.

        Returns:
            `closed`: the removed ids; `kept`: the ids left.

        Cancellation: see the module docstring (the whole cleanup or none of it).
        """
        ttl = check_time("ttl", ttl)
        return await self._call(
            True,
            _ops.cleanup,
            check_id("image_id", image_id),
            force=bool(force),
            preserve_active=bool(preserve_active),
            ttl=ttl,
            now=self._now(now),
        )

    # -- history -----------------------------------------------------------------------------------

    async def add_history(self, image_id: str, session_id: str | None, source: str) -> int:
        """Append a command to the image's history; committed before this returns.

        Returns:
            The entry's id (increasing across the whole store).

        Raises:
            ImageNotFoundError: unknown image.
            SessionImageMismatch, SessionNotFoundError: a session id that is not this image's.

        Cancellation: see the module docstring (the entry is there whole or not at all).
        """
        if type(source) is not str:
            raise InvalidArgumentError(f"source must be a string, got {type(source).__name__}")
        if session_id is not None:
            check_id("session_id", session_id)
        return await self._call(
            True, _ops.add_history, check_id("image_id", image_id), session_id, source, self._now()
        )

    async def history(
        self,
        image_id: str,
        *,
        session_id: str | None = None,
        search: str | None = None,
        limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> list[HistoryEntry]:
        """The newest `limit` entries of an image (of one session if given), oldest first.

        Args:
            search: keep entries containing this text, ignoring case (Unicode case folding).

        Raises:
            SessionImageMismatch, SessionNotFoundError: `session_id` is not this image's (neither a
                stored session nor one with history here: a cleaned-up session's history stays).

        Cancellation: a read; cancelling it leaves the store as it was.
        """
        if session_id is not None:
            check_id("session_id", session_id)
        if type(limit) is not int or limit < 0:
            raise InvalidArgumentError(f"limit must be an int >= 0, got {limit!r}")
        if search is not None and type(search) is not str:
            raise InvalidArgumentError(f"search must be a string, got {search!r}")
        return await self._call(
            False, _ops.history, check_id("image_id", image_id), session_id, search, limit
        )

    @staticmethod
    def _key(image_id: str, session_id: str) -> tuple[str, str]:
        return check_id("image_id", image_id), check_id("session_id", session_id)
