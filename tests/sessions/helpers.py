"""Helpers shared by the session store tests: acknowledgement parsing and verification."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stui.sessions import open_session_store

WORKER = str(Path(__file__).with_name("store_worker.py"))
PYTHON = sys.executable


@dataclass
class Acks:
    """Everything a worker acknowledged, from its stdout lines."""

    images: set[str] = field(default_factory=set)
    sessions: set[tuple[str, str]] = field(default_factory=set)
    history: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    states: dict[tuple[str, str], int] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        match line.split():
            case ["I", image]:
                self.images.add(image)
            case ["S", image, sid]:
                self.sessions.add((image, sid))
            case ["H", hid, image, sid]:
                assert int(hid) not in self.history, f"history id {hid} acknowledged twice"
                self.history[int(hid)] = (image, None if sid == "-" else sid)
            case ["T", image, sid, n]:
                self.states[(image, sid)] = int(n)
            case _:
                self.other.append(line)


def integrity_of_copy(path: Path, scratch: Path) -> str:
    """integrity_check of a copy of the file and its WAL, leaving the original as a crash left it
    (checking the original would recover its WAL, sparing the next opener that work)."""
    scratch.mkdir(exist_ok=True)
    copy = scratch / path.name
    for suffix in ("", "-wal"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
    return integrity(copy)


def integrity(path: Path) -> str:
    """PRAGMA integrity_check of the file, as a plain reader would see it after a crash."""
    conn = sqlite3.connect(path)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


async def verify_acks(path: Path, acks: Acks) -> None:
    """Every acknowledged write is in the store at `path`, which opens without recovery."""
    async with open_session_store(path) as store:
        assert store.recovered_from is None
        images = {i.image_id for i in await store.list_images()}
        assert acks.images <= images
        stored = {(s.image_id, s.session_id) for s in await store.list_image_sessions(None, True)}
        missing = acks.sessions - stored
        assert not missing, f"{len(missing)} acknowledged sessions lost, e.g. {sorted(missing)[:3]}"
        for image in images:
            entries = await store.history(image, limit=10**9)
            have = {e.id: (e.image_id, e.session_id) for e in entries}
            for hid, (img, sid) in acks.history.items():
                if img == image:
                    assert have.get(hid) == (img, sid), f"history {hid} of {img} lost"
        for (image, sid), n in acks.states.items():
            state = await store.load_session_state(image, sid)
            assert state["n"] == n
