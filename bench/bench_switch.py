"""Scenario 4, context switching: switch the current image among N images in a loop; time per switch.

    python bench/bench_switch.py --images 100
    python bench/bench_switch.py --images 1000 --duration 5

Four phases, each `--duration` seconds, each switch to the next image in a shuffled order of all N:

    switch          `sup.switch(name)` with preserve_context (the outgoing image's context is saved, the
                    incoming one's restored), no session store: the supervisor's own cost.
    switch+store    the same with a session store on a real SQLite file (temporary directory), as the
                    REPL runs it. A context is written to the store only when it changed since it was
                    last written, so flipping between images whose contexts did not change costs no
                    write;
    switch+write    ... which this phase forces: before each (timed) switch the outgoing image's
                    context gets a new note (untimed), so every switch writes it to the store.
    switch+eval     switch, then `3 + 4` in the new current image: what a user waits for after a switch.

Target: switch p50/p99 well under 1 ms.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trio
from _harness import LatencyStats, Run, base_parser, progress
from _image_farm import ImageFarm
from _stack import connect_all, open_bench_supervisor
from stui.actors import Supervisor


async def _switch_loop(
    sup: Supervisor,
    names: list[str],
    duration: float,
    *,
    evaluate: bool = False,
    change: bool = False,
) -> list[float]:
    samples: list[float] = []
    clock = time.perf_counter
    end = clock() + duration
    i = 0
    while True:
        name = names[i % len(names)]
        i += 1
        if change and sup.current is not None:
            cache = sup.actor().cache
            if cache.active is not None:
                cache.set_note(cache.active, "bench", str(i))
        t0 = clock()
        await sup.switch(name)
        if evaluate:
            result = await sup.evaluate("3 + 4")
            if result.print_string != "7":
                raise RuntimeError(f"3 + 4 answered {result.print_string!r} on {name}")
        t1 = clock()
        samples.append(t1 - t0)
        if sup.current != name:
            raise RuntimeError(f"switched to {name} but the current image is {sup.current}")
        if t1 >= end:
            return samples


async def _phase(
    run: Run, farm: ImageFarm, store_dir: Path | None, phases: list[str]
) -> dict[str, list[float]]:
    args = run.args
    out: dict[str, list[float]] = {}
    async with _maybe_store(store_dir) as store, open_bench_supervisor(store=store) as sup:
        targets = [(im.name, im.address(args.transport), b"") for im in farm.images]
        with progress(len(targets), "connecting", enabled=run.show_progress, unit="img") as bar:
            timings = await connect_all(
                sup, targets, heartbeat_interval=args.heartbeat_interval, tick=bar.update
            )
        if not all(t.ok for t in timings):
            bad = next(t for t in timings if not t.ok)
            raise RuntimeError(f"an image did not connect: {bad.error}")
        names = [t.name for t in timings]
        random.Random(8).shuffle(names)
        await _switch_loop(sup, names, min(0.2, args.duration))  # warm up
        for phase in phases:
            with progress(args.duration, phase, enabled=run.show_progress, unit="s") as bar:
                out[phase] = await _switch_loop(
                    sup,
                    names,
                    args.duration,
                    evaluate=phase.endswith("eval"),
                    change=phase.endswith("write"),
                )
                bar.update(args.duration)
    return out


def _maybe_store(store_dir: Path | None):  # type: ignore[no-untyped-def]
    import contextlib

    if store_dir is None:
        return contextlib.nullcontext(None)
    from stui.sessions import open_session_store

    return open_session_store(store_dir / "sessions.db")


async def _measure(run: Run, farm: ImageFarm) -> dict[str, list[float]]:
    samples = await _phase(run, farm, None, ["switch", "switch+eval"])
    with tempfile.TemporaryDirectory(prefix="stui-bench-") as d:
        samples |= await _phase(run, farm, Path(d), ["switch+store", "switch+write"])
    return {k: samples[k] for k in ("switch", "switch+store", "switch+write", "switch+eval")}


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], images=100, duration=3.0)
    parser.add_argument("--servers", type=int, default=0, help="farm processes (0: one per 500)")
    args = parser.parse_args(argv)
    if args.images < 2:
        parser.error("switching needs at least 2 images")
    run = Run("switch", args)
    servers = args.servers or max(1, min(8, -(-args.images // 500)))
    farm = ImageFarm(args.images, transport=args.transport, servers=servers)
    try:
        with progress(args.images, "starting images", enabled=run.show_progress, unit="img") as bar:
            farm.tick = bar.update
            farm.__enter__()
        samples = trio.run(_measure, run, farm)
    finally:
        farm.__exit__(None, None, None)

    stats = {k: LatencyStats.from_seconds(v) for k, v in samples.items()}
    run.record("latency", stats)
    for phase, st in stats.items():
        target = "< 1 ms" if phase in ("switch", "switch+store", "switch+write") else ""
        run.metric(
            f"{phase} p50", st.p50_us, "µs", target=target, ok=st.p50_us < 1000 if target else None
        )
        run.metric(
            f"{phase} p99", st.p99_us, "µs", target=target, ok=st.p99_us < 1000 if target else None
        )
        run.metric(f"{phase} count", st.count, "switches")

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax = fig.subplots(1, 1)
        for phase, s in samples.items():
            xs = sorted(x * 1e6 for x in s)
            ax.plot(
                xs,
                [i / len(xs) for i in range(1, len(xs) + 1)],
                label=f"{phase} (p50 {stats[phase].p50_us:.0f} µs)",
            )
        ax.axvline(1000, color="red", linestyle="--", linewidth=1, label="1 ms")
        ax.set_xscale("log")
        ax.set_xlabel("time per switch (µs, log)")
        ax.set_ylabel("fraction of switches")
        ax.legend()

    run.plot(draw, figsize=(9, 5))
    run.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
