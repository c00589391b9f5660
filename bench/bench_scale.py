"""Scenario 2, scale: N images in one client process — connect time, idle cost, memory, load.

    python bench/bench_scale.py --images 100
    python bench/bench_scale.py --images 1000 --duration 10
    python bench/bench_scale.py --images 5000 --servers 4 --duration 10      # the stretch goal

The images are reference images served by `--servers` child processes (bench/_image_farm.py), so the
client's CPU and memory are its own. The client is one `stui.open_supervisor()` with N image actors.

Phases and what each reports:

1. connect: all N `sup.connect()` calls at once (or `--concurrency` at a time): time until the last is
   CONNECTED (target < 5 s for 1,000), and the curve of connected images over time.
2. memory: RSS of this process after connecting minus before, divided by N (target < 100 KiB/image).
3. idle: nothing but heartbeats every `--heartbeat-interval` s for `--duration` s: CPU of this process
   (all threads, ZeroMQ's I/O thread included) as % of one core (target < 10% at 1 s, 1,000 images),
   sampled every second; and any image that left CONNECTED (a false positive).
4. busy: every image gets its own task sending sequential requests (`--busy-request eval|ping`) for
   `--duration` s: aggregate requests/s and p50/p99 latency under that load, and how many healthy
   images were declared lost meanwhile. `--cpu-hogs K` also runs K processes that only burn CPU during
   this phase, to saturate the machine on purpose (the case where heartbeats used to give false alarms).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trio
from _harness import (
    CpuMeter,
    FdReserve,
    LatencyStats,
    Run,
    Watchdog,
    base_parser,
    progress,
    rss_bytes,
)
from _image_farm import ImageFarm
from _stack import EventLog, StackOps, connect_all, open_bench_supervisor
from stui.actors import Supervisor
from stui.protocol import ConnectionStatus


def _open_fds() -> int:
    import psutil

    return psutil.Process().num_fds()


def _connected(sup: Supervisor) -> int:
    return sum(1 for s in sup.images() if s.status is ConnectionStatus.CONNECTED)


def _default_servers(images: int) -> int:
    return max(1, min(8, math.ceil(images / 500)))


@dataclass
class _Figures:
    """What the plot needs from the phases."""

    connect_times: list[float] = field(default_factory=list)
    connect_all_s: float = math.nan
    idle_samples: list[float] = field(default_factory=list)
    idle_cpu: float = math.nan
    latencies: list[float] = field(default_factory=list)
    rate: float = math.nan
    busy: LatencyStats | None = None


async def _connect_phase(run: Run, sup: Supervisor, farm: ImageFarm, fig: _Figures) -> list[str]:
    """1. connect all at once; 2. memory and file descriptors. Returns the names connected."""
    args, n = run.args, len(farm.images)
    rss_before, fds_before = rss_bytes(), _open_fds()
    targets = [(im.name, im.address(args.transport), b"") for im in farm.images]
    # Held back while connecting, so that a run that connects up to the fd limit can still measure
    # itself (psutil, /proc) and write its results: a failed first connect leaves nothing behind.
    reserve = FdReserve()
    with progress(n, "connecting", enabled=run.show_progress, unit="img") as bar:
        timings = await connect_all(
            sup,
            targets,
            heartbeat_interval=args.heartbeat_interval,
            concurrency=args.concurrency,
            tick=bar.update,
        )
    reserve.release()
    ok = [t for t in timings if t.ok]
    failed = [t for t in timings if not t.ok]
    fig.connect_times = [t.done_at for t in ok]
    fig.connect_all_s = ok[-1].done_at if ok else math.nan
    run.record("connect_times_s", [round(t.done_at, 4) for t in ok])
    run.record("connect_failures", [{"name": t.name, "error": t.error} for t in failed[:20]])
    run.metric("images connected", len(ok), f"of {n:,}", target=f"= {n:,}", ok=len(ok) == n)
    target_s = 5.0 * max(1, n / 1000)
    run.metric(
        "time to connect all",
        fig.connect_all_s,
        "s",
        target=f"< {target_s:g} s" + ("" if n == 1000 else " (5 s per 1,000)"),
        ok=fig.connect_all_s < target_s,
    )
    if failed:
        run.note(f"{len(failed)} connections failed; first: {failed[0].error}")

    rss_after = rss_bytes()
    per_image_kib = (rss_after - rss_before) / max(1, len(ok)) / 1024
    run.record("rss_bytes", {"before": rss_before, "after": rss_after})
    fds_per_image = (_open_fds() - fds_before) / max(1, len(ok))
    soft_limit = run.nofile[0]
    until_limit = int((soft_limit - fds_before) / fds_per_image) if fds_per_image > 0 else None
    run.record(
        "file_descriptors",
        {"per_image": fds_per_image, "limit": soft_limit, "images_until_limit": until_limit},
    )
    run.metric("file descriptors per image", fds_per_image, f"(limit {soft_limit:,})")
    run.metric(
        "client RSS per image",
        per_image_kib,
        "KiB",
        target="< 100 KiB (1,000 images)",
        ok=per_image_kib < 100 if n >= 1000 else None,
    )
    return [t.name for t in ok]


async def _idle_phase(run: Run, farm: ImageFarm, connected: int, fig: _Figures) -> None:
    """3. nothing but heartbeats: CPU of this process, sampled every second."""
    args = run.args
    await trio.sleep(min(2.0, args.heartbeat_interval * 2))  # let the first pings settle
    idle_start = time.perf_counter()
    whole = CpuMeter()
    farm_cpu0 = farm.cpu_seconds()
    with progress(args.duration, "idle heartbeats", enabled=run.show_progress, unit="s") as bar:
        while time.perf_counter() - idle_start < args.duration:
            second = CpuMeter()
            await trio.sleep(min(1.0, args.duration))
            fig.idle_samples.append(second.percent_of_one_core())
            bar.update(1)
    fig.idle_cpu = whole.percent_of_one_core()
    idle_wall = time.perf_counter() - idle_start
    run.record("idle_farm_cpu_pct", 100 * (farm.cpu_seconds() - farm_cpu0) / idle_wall)
    run.record("idle_cpu_samples_pct", fig.idle_samples)
    run.metric(
        f"idle CPU, heartbeat every {args.heartbeat_interval:g} s",
        fig.idle_cpu,
        "% of one core",
        target="< 10% (1,000 images, 1 s)",
        ok=fig.idle_cpu < 10 if connected >= 1000 and args.heartbeat_interval <= 1 else None,
    )
    pings_per_s = connected / args.heartbeat_interval
    per_heartbeat_us = fig.idle_cpu / 100 * 1e6 / max(pings_per_s, 1e-9)
    run.record("idle_cpu_us_per_heartbeat", per_heartbeat_us)
    run.metric("client CPU per heartbeat", per_heartbeat_us, "µs")


async def _busy_phase(
    run: Run, sup: Supervisor, farm: ImageFarm, names: list[str], fig: _Figures
) -> None:
    """4. every image busy with sequential requests: throughput and latency under load."""
    args = run.args
    errors: list[str] = []
    stop_at = time.perf_counter() + args.duration

    async def worker(ops: StackOps) -> None:
        op = ops.evaluate if args.busy_request == "eval" else ops.ping
        clock = time.perf_counter
        while (t0 := clock()) < stop_at:
            try:
                await op()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await trio.sleep(0.01)
                continue
            fig.latencies.append(clock() - t0)

    busy_cpu = CpuMeter()
    farm_cpu0 = farm.cpu_seconds()
    t_busy = time.perf_counter()
    with (
        _cpu_hogs(args.cpu_hogs),
        progress(args.duration, "busy", enabled=run.show_progress, unit="s") as bar,
    ):
        async with trio.open_nursery() as workers:
            for name in names:
                workers.start_soon(worker, StackOps(sup, name))
            while time.perf_counter() < stop_at:
                await trio.sleep(1)
                bar.update(1)
    busy_s = time.perf_counter() - t_busy
    busy_cpu_pct = busy_cpu.percent_of_one_core()
    run.record("busy_farm_cpu_pct", 100 * (farm.cpu_seconds() - farm_cpu0) / busy_s)
    fig.busy = stats = LatencyStats.from_seconds(fig.latencies)
    fig.rate = len(fig.latencies) / busy_s
    run.record("busy_latency", stats)
    run.record("busy_errors", {"count": len(errors), "first": errors[:5]})
    run.record("busy_client_cpu_pct", busy_cpu_pct)
    run.metric(f"requests/s, all images busy ({args.busy_request})", fig.rate, "req/s")
    run.metric("busy p50", stats.p50_us, "µs")
    run.metric("busy p99", stats.p99_us, "µs")
    run.metric("client CPU while busy", busy_cpu_pct, "% of one core")
    if errors:
        run.note(f"{len(errors)} requests failed under load; first: {errors[0]}")


@contextmanager
def _cpu_hogs(count: int) -> Iterator[None]:
    """`count` child processes that spin on the CPU until the block ends."""
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        # Inside the try: if one fails to start (no descriptor left, say), those started are killed.
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def _report_losses(run: Run, sup: Supervisor, log: EventLog, t_busy: float | None) -> None:
    """Images that left CONNECTED although their server was alive throughout."""
    log.drain()
    idle_lost = sorted(log.left_connected(before=t_busy if t_busy is not None else math.inf))
    run.metric(
        "images declared lost while idle (false positives)",
        len(idle_lost),
        "",
        target="0",
        ok=not idle_lost,
    )
    run.record("false_positive_images", idle_lost[:50])
    if t_busy is not None:
        busy_lost = sorted(log.left_connected(after=t_busy))
        run.metric(
            "images declared lost under full load", len(busy_lost), f"of {len(sup.images())}"
        )
        run.record("lost_under_load", busy_lost[:50])
        if busy_lost:
            run.note(
                f"{len(busy_lost)} images were declared lost during the busy phase: their heartbeats "
                "were answered later than the deadline while everything was saturated."
            )
    run.record("health_changes", len(log.health))
    run.record("connected_at_end", _connected(sup))


async def _measure(run: Run, farm: ImageFarm) -> None:
    fig = _Figures()
    sup_cm = open_bench_supervisor()
    sup = await sup_cm.__aenter__()
    try:
        async with trio.open_nursery() as nursery:
            log = EventLog()
            await nursery.start(log.collect, sup)
            names = await _connect_phase(run, sup, farm, fig)
            await _idle_phase(run, farm, len(names), fig)
            t_busy = None
            if not run.args.skip_busy:
                t_busy = time.perf_counter()
                await _busy_phase(run, sup, farm, names, fig)
            _report_losses(run, sup, log, t_busy)
            nursery.cancel_scope.cancel()
        # Results first: stopping thousands of actors is not what is measured here.
        _plot(run, fig)
        run.write()
    finally:
        t0 = time.perf_counter()
        with Watchdog(run.args.shutdown_timeout, "stopping the supervisor"):
            await sup_cm.__aexit__(None, None, None)
    run.amend("supervisor_shutdown_s", time.perf_counter() - t0)


def _plot(run: Run, fig_data: _Figures) -> None:
    d = fig_data

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ax1.plot(d.connect_times, range(1, len(d.connect_times) + 1))
        ax1.set_xlim(left=0)
        ax1.set_xlabel("seconds since first connect")
        ax1.set_ylabel("images connected")
        ax1.set_title(f"connect: all {len(d.connect_times)} in {d.connect_all_s:.2f} s")
        ax2.plot(range(1, len(d.idle_samples) + 1), d.idle_samples, marker=".")
        ax2.axhline(10, color="red", linestyle="--", linewidth=1, label="target 10%")
        ax2.set_ylim(bottom=0)
        ax2.set_xlabel("second of idle window")
        ax2.set_ylabel("client CPU, % of one core")
        ax2.set_title(f"idle heartbeats: {d.idle_cpu:.1f}% avg")
        ax2.legend()
        if d.latencies:
            us = [x * 1e6 for x in d.latencies]
            lo, hi = max(min(us), 1), max(us)
            bins = [lo * (hi / lo) ** (i / 60) for i in range(61)] if hi > lo else 10
            ax3.hist(us, bins=bins)
            ax3.set_xscale("log")
            assert d.busy is not None
            ax3.set_title(f"busy: {d.rate:,.0f} req/s, p99 {d.busy.p99_us / 1000:.1f} ms")
        else:
            ax3.set_title("busy: skipped" if run.args.skip_busy else "busy: nothing completed")
        ax3.set_xlabel("latency (µs, log)")
        ax3.set_ylabel("requests")

    run.plot(draw, figsize=(15, 4.5))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], images=100, duration=5.0)
    parser.add_argument(
        "--servers", type=int, default=0, help="image-server processes (0: one per 500 images)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=0, help="connections opened at once (0: all)"
    )
    parser.add_argument(
        "--busy-request", choices=("eval", "ping"), default="eval", help="request of the busy phase"
    )
    parser.add_argument("--skip-busy", action="store_true", help="no busy phase (idle cost only)")
    parser.add_argument(
        "--cpu-hogs",
        type=int,
        default=0,
        help="processes that only burn CPU during the busy phase (saturates the machine)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=120,
        help="seconds the supervisor may take to stop after the results are written",
    )
    args = parser.parse_args(argv)
    servers = args.servers or _default_servers(args.images)
    args.servers = servers
    run = Run("scale", args)
    farm = ImageFarm(args.images, transport=args.transport, servers=servers)
    try:
        with progress(args.images, "starting images", enabled=run.show_progress, unit="img") as bar:
            farm.tick = bar.update
            farm.__enter__()
        run.record("farm", {"servers": servers, "startup_s": farm.startup_seconds})
        trio.run(_measure, run, farm)
    finally:
        farm.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
