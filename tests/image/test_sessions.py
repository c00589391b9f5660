"""The image-side session table: limits, attach, expiry — no server, explicit times."""

from __future__ import annotations

import pytest

from stui.image.sessions import SessionLimitReached, SessionTable


def table(**kw):
    return SessionTable(max_sessions=kw.get("max_sessions", 10), max_per_client=kw.get("per", 3))


def create(t, client="c1", now=0.0, name=""):
    return t.create(client_id=client, name=name, workspace=object(), wall=1000.0 + now, now=now)


def test_create_summary_and_lookup():
    t = table()
    s = create(t, name="main")
    assert len(s.session_id) == 32 and t.get(s.session_id) is s
    summary = s.summary()
    assert (summary.name, summary.client_id, summary.created_at) == ("main", "c1", 1000.0)
    assert summary.variables == ()
    assert create(t).session_id != s.session_id


def test_per_client_and_per_image_limits():
    t = table(max_sessions=4, per=2)
    create(t, "a")
    create(t, "a")
    with pytest.raises(SessionLimitReached, match="maximum of 2"):
        create(t, "a")
    create(t, "b")
    create(t, "b")
    with pytest.raises(SessionLimitReached, match="maximum of 4"):
        create(t, "c")
    assert len(t) == 4 and t.count_for("a") == 2


def test_attach_transfers_and_respects_the_limit():
    t = table(per=1)
    s = create(t, "a")
    other = create(t, "b")
    with pytest.raises(SessionLimitReached, match="this client holds its maximum of 1"):
        t.attach(s.session_id, client_id="b", wall=5.0, now=5.0)
    assert s.client_id == "a"
    t.remove(other.session_id)
    assert t.attach(s.session_id, client_id="b", wall=5.0, now=5.0) is s
    assert s.client_id == "b" and s.last_activity == 5.0
    assert t.for_client("a") == [] and t.for_client("b") == [s]
    assert t.attach("nope", client_id="b", wall=0, now=0) is None


def test_expiry_takes_only_idle_sessions_that_are_not_busy():
    t = table()
    old = create(t, now=0.0)
    busy = create(t, now=0.0)
    busy.busy = 1
    fresh = create(t, now=50.0)
    assert t.take_expired(now=60.0, idle_expiry=30.0) == [old]
    assert t.get(old.session_id) is None and t.get(busy.session_id) is busy
    fresh.touch(wall=0.0, now=100.0)
    busy.busy = 0
    assert t.take_expired(now=110.0, idle_expiry=30.0) == [busy]
    assert list(t) == [fresh]
