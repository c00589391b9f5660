"""A separate process that writes to a session store and prints every acknowledged write.

Used by the crash and concurrency tests; not a test module itself. Each line is printed (and flushed)
only after the store call returned, so every line the parent reads is a write the store acknowledged.

    python store_worker.py run <db> <tag> <seconds> [tasks]   write for a while, then print DONE
    python store_worker.py forkserver <db>                     read "<tag> [db]" lines on stdin; for each,
        fork a child that writes forever (prints "P <tag> <pid>" first); after the parent test kills
        it, print "X <tag>" so the reader knows every line of that child is already in the pipe.

Lines: I <image> | S <image> <session> | H <id> <image> <session> | T <image> <session> <n>
"""

from __future__ import annotations

import os
import sys
import time

import trio

from stui.sessions import ImageRecord, open_session_store


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _writer(store, image: str, prefix: str, deadline: float) -> None:
    i = 0
    while time.monotonic() < deadline:
        sid = f"{prefix}-{i}"
        await store.create_session(image, sid, name=sid)
        out(f"S {image} {sid}")
        hid = await store.add_history(image, sid, f"source of {sid} Ünïcode")
        out(f"H {hid} {image} {sid}")
        await store.save_session_state(image, sid, {"n": i, "pad": "x" * (i % 7 * 300)})
        out(f"T {image} {sid} {i}")
        hid = await store.add_history("shared", None, f"shared {sid}")
        out(f"H {hid} shared -")
        i += 1


async def run(db: str, tag: str, seconds: float, tasks: int) -> None:
    async with open_session_store(db) as store:
        if store.recovered_from is not None:
            out(f"RECOVERED {store.recovered_from}")
        own = f"img-{tag}"
        for image in (own, "shared"):
            await store.upsert_image(ImageRecord(image_id=image, name=image, last_seen=time.time()))
            out(f"I {image}")
        deadline = time.monotonic() + seconds
        async with trio.open_nursery() as nursery:
            for t in range(tasks):
                nursery.start_soon(_writer, store, own, f"{tag}.{t}", deadline)
                nursery.start_soon(_writer, store, "shared", f"{tag}.shared{t}", deadline)
    out("DONE")


def forkserver(db: str) -> None:
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        tag, target = words[0], (words[1] if len(words) > 1 else db)
        pid = os.fork()
        if pid == 0:  # child: write until killed
            try:
                out(f"P {tag} {os.getpid()}")
                trio.run(run, target, tag, 3600.0, 2)
            finally:
                os._exit(1)
        os.waitpid(pid, 0)
        out(f"X {tag}")


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["run", db, tag, seconds, *rest]:
            trio.run(run, db, tag, float(seconds), int(rest[0]) if rest else 2)
        case ["forkserver", db]:
            forkserver(db)
        case _:
            sys.exit(f"usage: {sys.argv[0]} run|forkserver ...")
