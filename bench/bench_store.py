"""Session store speed, run by hand: `python bench/bench_store.py [--quick]`.

Measures, on a real file in a temporary directory:
- session creates and history writes per second, one awaited call at a time (each its own commit);
- history writes per second from many concurrent tasks (the actor batches them into few commits);
- the same sequential history writes with durable=True (synchronous=FULL, an fsync per commit);
- load time for 100 images x 100 sessions after reopening the file: list_image_sessions(None) and
  sessions_to_restore() for every image, as the supervisor does on start.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import trio

from stui.sessions import ImageRecord, open_session_store


async def sequential(path: Path, n: int, *, durable: bool = False) -> tuple[float, float]:
    async with open_session_store(path, durable=durable) as store:
        await store.upsert_image(ImageRecord(image_id="bench"))
        t = time.perf_counter()
        for i in range(n):
            await store.create_session("bench", f"s{durable}-{i}")
        sessions = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(n):
            await store.add_history("bench", None, f"Transcript show: {i} printString")
        history = n / (time.perf_counter() - t)
    return sessions, history


async def concurrent_history(path: Path, tasks: int, per_task: int) -> float:
    async with open_session_store(path) as store:
        await store.upsert_image(ImageRecord(image_id="bench-c"))

        async def writer(k: int) -> None:
            for i in range(per_task):
                await store.add_history("bench-c", None, f"task {k} line {i}")

        t = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for k in range(tasks):
                nursery.start_soon(writer, k)
        return tasks * per_task / (time.perf_counter() - t)


async def load(path: Path, images: int, sessions: int) -> dict[str, float]:
    async with open_session_store(path) as store, trio.open_nursery() as nursery:
        for i in range(images):
            nursery.start_soon(_fill_image, store, f"image-{i:03}", sessions)
    t = time.perf_counter()
    async with open_session_store(path) as store:
        opened = time.perf_counter() - t
        t = time.perf_counter()
        everything = await store.list_image_sessions(None, include_disconnected=True)
        listed = time.perf_counter() - t
        t = time.perf_counter()
        restore = 0
        for image in await store.list_images():
            restore += len(await store.sessions_to_restore(image.image_id))
        restored = time.perf_counter() - t
    assert len(everything) == restore == images * sessions
    return {"open": opened, "list_all": listed, "restore_all": restored, "rows": len(everything)}


async def _fill_image(store, image_id: str, sessions: int) -> None:
    await store.upsert_image(ImageRecord(image_id=image_id, addresses=("tcp://127.0.0.1:5555",)))
    for s in range(sessions):
        await store.create_session(image_id, f"{image_id}-s{s:03}", name=f"session {s}")
    await store.save_session_state(image_id, f"{image_id}-s000", {"vars": {"x": 3}})


async def main(quick: bool) -> None:
    n = 500 if quick else 2000
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        s, h = await sequential(root / "seq.sqlite3", n)
        print(f"sequential, NORMAL: {s:9.0f} session creates/s  {h:9.0f} history writes/s  (n={n})")
        c = await concurrent_history(root / "conc.sqlite3", 50, n // 10)
        print(f"concurrent history, 50 tasks: {c:9.0f} writes/s  (n={50 * (n // 10)})")
        nd = n // 10
        s, h = await sequential(root / "durable.sqlite3", nd, durable=True)
        print(
            f"sequential, FULL (durable=True): {s:7.0f} creates/s  {h:7.0f} history writes/s  (n={nd})"
        )
        r = await load(root / "load.sqlite3", 100, 100)
        print(
            f"100 images x 100 sessions ({r['rows']} rows): open {r['open'] * 1000:.1f} ms, "
            f"list_image_sessions(None) {r['list_all'] * 1000:.1f} ms, "
            f"sessions_to_restore x100 {r['restore_all'] * 1000:.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer writes")
    trio.run(main, parser.parse_args().quick)
