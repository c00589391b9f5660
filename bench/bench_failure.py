"""Scenario 3, failure detection: kill or freeze K of N connected images; how fast is each declared lost?

    python bench/bench_failure.py --images 100 --victims 5 --mode kill
    python bench/bench_failure.py --images 1000 --victims 10 --mode freeze --heartbeat-interval 1

N-K healthy images come from image-farm processes; the K victims are separate `stui image serve`
processes (stui.image.launcher) on fixed ports with a state directory, so one can be killed (SIGKILL) and
restarted at the same address with the same image_id, or frozen (SIGSTOP) and thawed (SIGCONT).

For every victim it reports the time from the signal until the supervisor published RECONNECTING for it
("declared lost"), against the bound (misses+1) x interval; for every healthy image it checks that it was
never declared lost (false positives, target 0); after the victims come back (restart / SIGCONT) it
reports the time until each is CONNECTED again (this includes the actor's reconnect backoff).
`--duration` is how long the fault lasts at least, counted from the signal (it always lasts until every
victim has been declared lost).

Over ZeroMQ a killed peer is invisible to the DEALER (ZeroMQ reconnects silently), so detection is the
heartbeat's job for kill and freeze alike; over WebSocket a kill closes the TCP connection and is seen
at once, a freeze only by the heartbeat.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trio
from _harness import LatencyStats, Run, base_parser, free_port, progress
from _image_farm import ImageFarm
from _stack import EventLog, connect_all, open_bench_supervisor
from stui.protocol import ConnectionStatus

from stui.image.launcher import ImageProcess, start_image_process_sync


def _start_victim(name: str, transport: str, state_root: Path) -> ImageProcess:
    port = free_port()
    port_args = ["--port", str(port)] if transport == "zmq" else ["--ws-port", str(port)]
    return start_image_process_sync(
        name,
        zmq=transport == "zmq",
        ws=transport == "ws",
        key=b"",
        state_dir=state_root / name,
        extra_args=[*port_args, "--no-connection-file"],
    )


async def _wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(0.01)
        return True
    return False


async def _seconds_until_status(
    log: EventLog,
    status: ConnectionStatus,
    since: dict[str, float],
    timeout: float,
    label: str,
    run: Run,
) -> dict[str, float]:
    """Seconds from ``since[name]`` to each image's first *status* event after it, waiting up to
    *timeout*; images that never got there are left out."""
    reached: dict[str, float] = {}

    def all_reached() -> bool:
        log.drain()
        for name, t0 in since.items():
            if name not in reached:
                t = log.first_status(name, status, after=t0)
                if t is not None:
                    reached[name] = t
        return len(reached) == len(since)

    with progress(len(since), label, enabled=run.show_progress) as bar:
        await _wait_until(all_reached, timeout)
        bar.update(len(reached))
    return {name: t - since[name] for name, t in reached.items()}


async def _measure(run: Run, farm: ImageFarm, victims: dict[str, ImageProcess]) -> None:
    args = run.args
    interval, misses = args.heartbeat_interval, args.misses
    bound = (misses + 1) * interval
    async with (
        open_bench_supervisor(reconnect_max=args.reconnect_max) as sup,
        trio.open_nursery() as nursery,
    ):
        log = EventLog()
        await nursery.start(log.collect, sup)
        targets = [(im.name, im.address(args.transport), b"") for im in farm.images]
        targets += [(name, p.address, b"") for name, p in victims.items()]
        with progress(len(targets), "connecting", enabled=run.show_progress, unit="img") as bar:
            timings = await connect_all(
                sup,
                targets,
                heartbeat_interval=interval,
                heartbeat_misses=misses,
                tick=bar.update,
            )
        failed = [t for t in timings if not t.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} images did not connect; first: {failed[0].error}")
        run.record("connect_all_s", timings[-1].done_at)
        # Let every image answer a few heartbeats, so each victim's last Pong is recent.
        await trio.sleep(max(2 * interval, 1.0))

        # Fault.
        fault_at: dict[str, float] = {}
        for name, proc in victims.items():
            if args.mode == "kill":
                proc.kill()
            else:
                proc.freeze()
            fault_at[name] = time.perf_counter()
        t_fault = min(fault_at.values())
        detect = await _seconds_until_status(
            log, ConnectionStatus.RECONNECTING, fault_at, 2 * bound + 5, "waiting for loss", run
        )
        # Keep the fault a little longer, so healthy images have every chance to be misjudged.
        await trio.sleep(max(0.0, t_fault + args.duration - time.perf_counter()))

        # Recovery.
        back_at: dict[str, float] = {}
        if args.mode == "kill":

            async def restart(name: str) -> None:
                victims[name] = await victims[name].restart()
                back_at[name] = time.perf_counter()

            async with trio.open_nursery() as restarts:
                for name in list(victims):
                    restarts.start_soon(restart, name)
        else:
            for name, proc in victims.items():
                proc.thaw()
                back_at[name] = time.perf_counter()
        # Time to reconnect counts from the moment the image can answer again (ready / SIGCONT).
        reconnect = await _seconds_until_status(
            log,
            ConnectionStatus.CONNECTED,
            back_at,
            args.reconnect_max * 2 + 30,
            "waiting for reconnect",
            run,
        )
        log.drain()
        nursery.cancel_scope.cancel()

    healthy_lost = sorted(log.left_connected() - set(victims))
    healthy_warnings = sum(1 for _, ev in log.health if ev.name not in victims)
    victim_list = list(victims)
    run.record("bound_s", bound)
    run.record("detect_s", detect)
    run.record("reconnect_s", reconnect)
    run.record("not_detected", [v for v in victim_list if v not in detect])
    run.record("not_reconnected", [v for v in victim_list if v not in reconnect])
    run.record("false_positive_images", healthy_lost)
    run.record("healthy_health_changes", healthy_warnings)
    run.record("events_dropped", log.dropped)
    d_stats = LatencyStats.from_seconds(list(detect.values()))
    r_stats = LatencyStats.from_seconds(list(reconnect.values()))
    run.record("detect_stats", d_stats)
    run.record("reconnect_stats", r_stats)
    within = sum(1 for v in detect.values() if v <= bound)
    run.metric(
        f"victims declared lost within (misses+1) x interval = {bound:g} s",
        within,
        f"of {len(victims)}",
        target=f"= {len(victims)}",
        ok=within == len(victims),
    )
    run.metric(
        "time to declare lost, max",
        d_stats.max_us,
        "µs",
        target=f"<= {bound:g} s",
        ok=d_stats.max_us <= bound * 1e6 if detect else False,
    )
    run.metric("time to declare lost, p50", d_stats.p50_us, "µs")
    run.metric(
        "healthy images declared lost (false positives)",
        len(healthy_lost),
        f"of {len(farm.images)}",
        target="0",
        ok=not healthy_lost,
    )
    run.metric("time to reconnect, p50", r_stats.p50_us, "µs")
    run.metric("time to reconnect, max", r_stats.max_us, "µs")
    run.metric(
        "victims reconnected",
        len(reconnect),
        f"of {len(victims)}",
        target=f"= {len(victims)}",
        ok=len(reconnect) == len(victims),
    )

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax1, ax2 = fig.subplots(1, 2)
        xs = range(len(victim_list))
        ax1.bar(xs, [detect.get(v, math.nan) for v in victim_list])
        ax1.axhline(
            bound, color="red", linestyle="--", label=f"(misses+1) x interval = {bound:g} s"
        )
        ax1.axhline(misses * interval, color="grey", linestyle=":", label="misses x interval")
        ax1.set_xlabel("victim")
        ax1.set_ylabel("seconds from signal to declared lost")
        ax1.set_title(f"{args.mode}: detection ({len(healthy_lost)} false positives)")
        ax1.legend(fontsize=8)
        ax2.bar(xs, [reconnect.get(v, math.nan) for v in victim_list], color="tab:green")
        ax2.set_xlabel("victim")
        ax2.set_ylabel("seconds from image back to CONNECTED")
        ax2.set_title("reconnect (includes backoff)")

    run.plot(draw, figsize=(12, 4.5))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], images=100, duration=0.0)
    parser.add_argument("--victims", type=int, default=5, help="images to kill or freeze (K)")
    parser.add_argument("--mode", choices=("kill", "freeze"), default="kill")
    parser.add_argument("--misses", type=int, default=3, help="heartbeat misses that mean lost")
    parser.add_argument(
        "--reconnect-max", type=float, default=5.0, help="cap on the actor's reconnect backoff (s)"
    )
    parser.add_argument("--servers", type=int, default=0, help="farm processes (0: one per 500)")
    args = parser.parse_args(argv)
    if not 1 <= args.victims < args.images:
        parser.error("need 1 <= --victims < --images")
    run = Run("failure", args)
    healthy = args.images - args.victims
    servers = args.servers or max(1, min(8, math.ceil(healthy / 500)))
    victims: dict[str, ImageProcess] = {}
    with tempfile.TemporaryDirectory(prefix="stui-bench-") as state_root:
        farm = ImageFarm(healthy, transport=args.transport, servers=servers)
        try:
            with progress(args.victims, "starting victims", enabled=run.show_progress) as bar:
                for i in range(args.victims):
                    name = f"victim{i:03d}"
                    victims[name] = _start_victim(name, args.transport, Path(state_root))
                    bar.update(1)
            with progress(healthy, "starting images", enabled=run.show_progress) as bar:
                farm.tick = bar.update
                farm.__enter__()
            trio.run(_measure, run, farm, victims)  # restarts replace entries of `victims`
        finally:
            farm.__exit__(None, None, None)
            for proc in victims.values():
                if proc.returncode is None:
                    proc.thaw()
                    proc.kill()
                    proc.wait_sync()
    run.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
