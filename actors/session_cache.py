"""What this client holds on one image: its sessions, the active one, and the context saved on a switch.

Pure data, no I/O: the image actor keeps it consistent with the image (creating, attaching, re-creating
sessions after a restart), the supervisor reads it to answer `ListImageSessions` / `GetImageSessionStats`,
and hands its records to the session store for persistence. It outlives the actor that fills it: when
the supervisor restarts a crashed actor, the new actor re-attaches the sessions of the same cache.

"Workspace notes" are small text facts the client keeps per session (the last expression, the last
result's print string, the inspector path, names the user gave to results); they are what "preserve the
context" saves when the user switches to another image, and what the store keeps as session state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from stui.protocol import ImageSessionStats, SessionRecord, SessionStatus, SessionSummary

__all__ = ["CachedSession", "SavedContext", "SessionCache"]


@dataclass(slots=True)
class CachedSession:
    """One session of this client on the image.

    Attributes:
        session_id: the image's id for it.
        name: the label given at creation ("main" for the one created on first connect).
        created_at: wall-clock time of creation (image clock when known).
        last_activity: wall-clock time of the last request made in it.
        status: ACTIVE while the image has it; ORPHANED once the image lost it.
        variables: the workspace variable names the image last reported.
        notes: workspace notes (see the module docstring).
    """

    session_id: str
    name: str = ""
    created_at: float = 0.0
    last_activity: float = 0.0
    status: SessionStatus = SessionStatus.ACTIVE
    variables: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)

    def context_size(self) -> int:
        """Bytes of workspace notes held for this session."""
        return sum(len(k.encode()) + len(v.encode()) for k, v in self.notes.items())


@dataclass(frozen=True, slots=True)
class SavedContext:
    """The context preserved when the user switched away from this image.

    Attributes:
        active_session: the session that was active.
        notes: a copy of that session's workspace notes at the time.
        at: wall-clock time of the switch.
    """

    active_session: str | None
    notes: tuple[tuple[str, str], ...] = ()
    at: float = 0.0


class SessionCache:
    """The sessions this client holds on one image, and which one is active.

    Attributes:
        image_id: the image's stable id ("" until the first Welcome).
        instance_id: the image instance last seen; a different one on reconnect means a restart.
        saved: the context preserved at the last switch away, if any.
    """

    def __init__(self, image_id: str = "") -> None:
        self.image_id = image_id
        self.instance_id = ""
        self.saved: SavedContext | None = None
        self._sessions: dict[str, CachedSession] = {}
        self._active: str | None = None

    # -- membership -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def __iter__(self) -> Iterator[CachedSession]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> CachedSession | None:
        return self._sessions.get(session_id)

    def session_ids(self) -> tuple[str, ...]:
        return tuple(self._sessions)

    def add(self, summary: SessionSummary, *, now: float) -> CachedSession:
        """Record a session the image opened (created or attached); refreshes an existing entry.

        The first session added becomes the active one when none is.
        """
        entry = self._sessions.get(summary.session_id)
        if entry is None:
            entry = CachedSession(
                session_id=summary.session_id,
                name=summary.name,
                created_at=summary.created_at or now,
                last_activity=summary.last_activity or now,
            )
            self._sessions[summary.session_id] = entry
        entry.status = SessionStatus.ACTIVE
        entry.variables = summary.variables
        entry.last_activity = max(entry.last_activity, summary.last_activity)
        if self._active is None:
            self._active = summary.session_id
        return entry

    def remove(self, session_id: str) -> CachedSession | None:
        """Forget a session (closed or cleaned up). The active session becomes None if it was this one."""
        entry = self._sessions.pop(session_id, None)
        if self._active == session_id:
            self._active = None
        return entry

    def replace(self, lost_id: str, summary: SessionSummary, *, now: float) -> CachedSession:
        """A session the image lost was re-created as `summary`: keep its name and notes under the new
        id, and keep it active if the lost one was."""
        lost = self._sessions.pop(lost_id, None)
        was_active = self._active == lost_id
        if was_active:
            self._active = None
        entry = self.add(summary, now=now)
        if lost is not None:
            entry.name = entry.name or lost.name
            entry.notes = dict(lost.notes)
        if was_active:
            self._active = entry.session_id
        return entry

    def mark_orphaned(self, session_id: str) -> None:
        """The image no longer has the session (expired, or lost in a restart)."""
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.status = SessionStatus.ORPHANED

    # -- the active session -----------------------------------------------------------------------

    @property
    def active(self) -> str | None:
        """The session requests go to when the caller names none."""
        return self._active

    def set_active(self, session_id: str) -> None:
        """Make `session_id` the active session.

        Raises:
            KeyError: the cache has no such session.
        """
        if session_id not in self._sessions:
            raise KeyError(session_id)
        self._active = session_id

    def touch(self, session_id: str, *, now: float) -> None:
        """A request was made in the session."""
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.last_activity = max(entry.last_activity, now)

    # -- workspace notes and context ------------------------------------------------------------

    def set_note(self, session_id: str, key: str, value: str) -> None:
        """Remember a workspace note for a session (ignored for unknown sessions)."""
        entry = self._sessions.get(session_id)
        if entry is not None:
            entry.notes[key] = value

    def preserve(self, *, now: float) -> SavedContext:
        """Save the active session and its notes (the user is switching away from this image)."""
        active = self._sessions.get(self._active) if self._active else None
        self.saved = SavedContext(
            active_session=self._active,
            notes=tuple(sorted(active.notes.items())) if active else (),
            at=now,
        )
        return self.saved

    def restore(self, context: SavedContext | None = None) -> str | None:
        """Re-activate the preserved context (the user switched back). Returns the active session.

        Args:
            context: what to restore; by default the one saved by `preserve()` (a store may supply one
                loaded from disk instead).
        """
        context = context if context is not None else self.saved
        if context is None:
            return self._active
        sid = context.active_session
        if sid is not None and sid in self._sessions:
            self._active = sid
            entry = self._sessions[sid]
            for key, value in context.notes:
                entry.notes.setdefault(key, value)
        return self._active

    # -- views for the supervisor and the store ----------------------------------------------------

    def records(self, image_id: str | None = None) -> tuple[SessionRecord, ...]:
        """Every cached session as a control-union record, oldest first."""
        iid = image_id if image_id is not None else self.image_id
        return tuple(
            SessionRecord(
                session_id=s.session_id,
                image_id=iid,
                name=s.name,
                status=s.status,
                created_at=s.created_at,
                last_activity=s.last_activity,
                context_size=s.context_size(),
            )
            for s in sorted(self._sessions.values(), key=lambda s: s.created_at)
        )

    def stats(self, image_id: str | None = None) -> ImageSessionStats:
        """Counts over the cached sessions."""
        sessions = list(self._sessions.values())
        return ImageSessionStats(
            image_id=image_id if image_id is not None else self.image_id,
            total=len(sessions),
            active=sum(s.status is SessionStatus.ACTIVE for s in sessions),
            orphaned=sum(s.status is SessionStatus.ORPHANED for s in sessions),
            context_bytes=sum(s.context_size() for s in sessions),
            last_activity=max((s.last_activity for s in sessions), default=None),
        )
