"""The image-side session table: which sessions exist, whose they are, and when they go idle.

A session is a workspace (its own variables, its own handle registry) plus bookkeeping. Sessions belong
to a *client id* (`Hello.client_id`), not to a connection: a client that restarts, or reconnects over a
new ZeroMQ identity or a new WebSocket, presents its client id again and finds its sessions, and
`AttachSession` with a session id hands a session to whichever client presents that id (the id is a
128-bit random token, and with a key set only holders of the key can talk at all).

The table only does bookkeeping and limits; it never touches a socket or the clock (times are passed
in), so every rule here is tested without a server. One evaluation at a time runs per session: the
session's `lock` (trio's locks are FIFO-fair) queues the others in arrival order.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stui.protocol import SessionSummary

__all__ = ["Session", "SessionLimitReached", "SessionTable"]


class SessionLimitReached(Exception):
    """Creating a session would exceed the image's or the client's session limit."""


@dataclass(eq=False, slots=True, kw_only=True)
class Session:
    """One live session.

    Attributes:
        session_id: the id clients use; random, 32 hex digits.
        name: the client's label ("" when none).
        client_id: the client that holds the session now (creator, or the last to attach it).
        created_at: wall-clock creation time.
        last_activity: wall-clock time of the last request that touched it.
        idle_since: trio clock reading of the last activity; idle expiry is measured on it.
        workspace: the Smalltalk workspace (variables, handles).
        queue: the evaluations of this session in arrival order; the head one runs.
        busy: requests touching the session that have not finished (an expiry never takes a busy one).
    """

    session_id: str
    name: str
    client_id: str
    created_at: float
    last_activity: float
    idle_since: float
    workspace: Any
    queue: deque[Any] = field(default_factory=deque)
    busy: int = 0

    def touch(self, *, wall: float, now: float) -> None:
        self.last_activity = wall
        self.idle_since = now

    def summary(self) -> SessionSummary:
        variables = getattr(self.workspace, "variables", ())
        return SessionSummary(
            session_id=self.session_id,
            name=self.name,
            client_id=self.client_id,
            created_at=self.created_at,
            last_activity=self.last_activity,
            variables=tuple(variables),
        )


class SessionTable:
    """Every session of one image, with the per-image and per-client limits.

    Args:
        max_sessions: sessions the image holds at most.
        max_per_client: sessions one client id may hold.
    """

    def __init__(self, *, max_sessions: int, max_per_client: int) -> None:
        self.max_sessions = max_sessions
        self.max_per_client = max_per_client
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def count_for(self, client_id: str) -> int:
        return sum(1 for s in self._sessions.values() if s.client_id == client_id)

    def for_client(self, client_id: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.client_id == client_id]

    def create(
        self, *, client_id: str, name: str, workspace: Any, wall: float, now: float
    ) -> Session:
        """Add a new session.

        Raises:
            SessionLimitReached: the image or this client is at its session limit.
        """
        self._check_room(client_id)
        session = Session(
            session_id=secrets.token_hex(16),
            name=name,
            client_id=client_id,
            created_at=wall,
            last_activity=wall,
            idle_since=now,
            workspace=workspace,
        )
        self._sessions[session.session_id] = session
        return session

    def _check_room(self, client_id: str) -> None:
        """Raise `SessionLimitReached` unless `client_id` may create one more session."""
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimitReached(
                f"the image holds its maximum of {self.max_sessions} sessions; close one first"
            )
        self._check_client_room(client_id)

    def _check_client_room(self, client_id: str) -> None:
        """Raise `SessionLimitReached` unless `client_id` may hold one more session."""
        if self.count_for(client_id) >= self.max_per_client:
            raise SessionLimitReached(
                f"this client holds its maximum of {self.max_per_client} sessions; close one first"
            )

    def attach(self, session_id: str, *, client_id: str, wall: float, now: float) -> Session | None:
        """Hand an existing session to `client_id`; None when there is no such session.

        Raises:
            SessionLimitReached: taking the session over would put `client_id` past its limit.
        """
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.client_id != client_id:
            self._check_client_room(client_id)
        session.client_id = client_id
        session.touch(wall=wall, now=now)
        return session

    def remove(self, session_id: str) -> Session | None:
        return self._sessions.pop(session_id, None)

    def take_expired(self, *, now: float, idle_expiry: float) -> list[Session]:
        """Remove and return every session idle for `idle_expiry` seconds and not busy."""
        expired = [
            s for s in self._sessions.values() if s.busy == 0 and now - s.idle_since >= idle_expiry
        ]
        for s in expired:
            del self._sessions[s.session_id]
        return expired
