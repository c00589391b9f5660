"""Crash safety and multi-process concurrency, with real processes on a real file.

Crash: a fork server (tests/sessions/store_worker.py, imported once so each round costs a fork, not
a Python start-up) forks a writer per round; the writer prints each write only after the store
acknowledged it. We SIGKILL it at a random moment (after a random number of acknowledgements plus a
random sub-millisecond delay, so kills land inside commits, batches and WAL appends), then check the
file (a copy, so the next writer itself must recover the WAL the kill left) and, at the end, that
every acknowledged write is there. Each new writer also reopens the file
after the previous kill, and reports if it had to recover it (it must never have to).

Concurrency: two independent processes write history and sessions to the same file, on a shared image
and on their own, as fast as they can; neither may see an error ("database is locked" included) and
nothing either acknowledged may be missing.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
import trio

from stui.sessions import ImageRecord, open_session_store

from .helpers import PYTHON, WORKER, Acks, integrity, integrity_of_copy, verify_acks

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

ROUNDS = 30


class LineReader:
    """Read lines from a pipe with a deadline, so a stuck child fails the test instead of hanging it."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def line(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from worker within {timeout} s"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, "worker closed its stdout"
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


async def test_sigkill_at_random_points_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite3"
    rnd = random.Random(6)
    server = subprocess.Popen(
        [PYTHON, WORKER, "forkserver", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the killed children's noise, if any
    )
    reader = LineReader(server)
    acks = Acks()
    kills_mid_stream = 0
    try:
        for round_ in range(ROUNDS):
            server.stdin.write(f"r{round_}\n".encode())
            server.stdin.flush()
            tag, pid = reader.line().split()[1:]
            assert tag == f"r{round_}"
            want = rnd.randrange(0, 60)  # acknowledgements to wait for before the kill
            seen = 0
            while seen < want:
                line = reader.line()
                assert not line.startswith("RECOVERED"), line
                acks.feed(line)
                seen += 1
            time.sleep(rnd.random() * 0.002)
            os.kill(int(pid), signal.SIGKILL)
            while (line := reader.line()) != f"X {tag}":  # the rest of that child's lines
                assert not line.startswith(("RECOVERED", "DONE")), line
                acks.feed(line)
                kills_mid_stream += 1
            assert integrity_of_copy(db, tmp_path / "scratch") == "ok"
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    assert not acks.other, acks.other[:5]
    assert len(acks.sessions) > ROUNDS and len(acks.history) > ROUNDS
    assert kills_mid_stream > 0  # kills landed while the writer was busy, not between rounds
    await verify_acks(db, acks)


async def test_sigkill_while_creating_the_store_leaves_an_openable_file(tmp_path: Path) -> None:
    """Killed during open, schema creation or the first writes: the next open needs no recovery."""
    rnd = random.Random(7)
    server = subprocess.Popen(
        [PYTHON, WORKER, "forkserver", str(tmp_path / "unused")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    reader = LineReader(server)
    dbs = []
    try:
        for round_ in range(20):
            db = tmp_path / f"fresh{round_}.sqlite3"
            dbs.append(db)
            server.stdin.write(f"f{round_} {db}\n".encode())
            server.stdin.flush()
            tag, pid = reader.line().split()[1:]
            # Measured: the file appears ~2-12 ms after the fork, the schema commits ~10-20 ms, the
            # first acknowledgements follow; 0-30 ms spreads kills over all of these phases.
            time.sleep(rnd.uniform(0, 0.03))
            os.kill(int(pid), signal.SIGKILL)
            while reader.line() != f"X {tag}":
                pass
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    assert any(db.exists() for db in dbs)
    for db in dbs:
        async with open_session_store(db) as store:
            assert store.recovered_from is None
            await store.upsert_image(ImageRecord(image_id="after"))
        assert integrity(db) == "ok"


def _start(db: Path, tag: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, WORKER, "run", str(db), tag, str(seconds), "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_two_processes_share_one_store_without_locked_errors(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite3"
    procs = [_start(db, tag, 1.5) for tag in ("p1", "p2")]
    results = []
    for p in procs:
        out, err = await trio.to_thread.run_sync(lambda p=p: p.communicate(timeout=60))
        results.append((p.returncode, out.decode(), err.decode()))
    acks = Acks()
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert "locked" not in err.lower() and "busy" not in err.lower()
        lines = out.splitlines()
        assert lines[-1] == "DONE"
        for line in lines[:-1]:
            acks.feed(line)
    assert not acks.other, acks.other[:5]
    # Both really wrote, interleaved, to the same image.
    shared_by = {sid.split(".")[0] for image, sid in acks.sessions if image == "shared"}
    assert shared_by == {"p1", "p2"}
    assert len(acks.history) > 100
    await verify_acks(db, acks)
    assert integrity(db) == "ok"
