"""Scenario 5, session store: write rates and the load time of 100 images x 100 sessions, with reports.

    python bench/bench_sessions.py                     # 100 images x 100 sessions, 2,000 writes
    python bench/bench_sessions.py --images 200 --sessions 50 --writes 5000

The measurements are the store helper's (bench/bench_store.py, which also runs on its own and prints);
this script runs them with the bench harness — progress, results.json, plot.png, summary.md — on real
SQLite files in a temporary directory:

    sequential      session creates/s and history writes/s, one awaited call at a time (a commit each)
    concurrent      history writes/s from 50 concurrent tasks (the store actor batches commits)
    durable         the sequential writes with durable=True (synchronous=FULL: an fsync per commit)
    load            reopen a file holding --images x --sessions sessions: open, list every session,
                    and sessions_to_restore() for every image, as the supervisor does on start

Target (issue 6): 100 images x 100 sessions load in well under a second. --transport, --duration and
--heartbeat-interval do not apply here.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_store
import trio
from _harness import Run, base_parser, progress


async def _measure(run: Run) -> dict[str, float]:
    args = run.args
    n = args.writes
    out: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="stui-bench-") as d,
        progress(4, "store", enabled=run.show_progress) as bar,
    ):
        root = Path(d)
        out["session_creates_per_s"], out["history_writes_per_s"] = await bench_store.sequential(
            root / "seq.sqlite3", n
        )
        bar.update(1)
        out["concurrent_history_writes_per_s"] = await bench_store.concurrent_history(
            root / "conc.sqlite3", 50, max(1, n // 50)
        )
        bar.update(1)
        nd = max(1, n // 10)
        durable = await bench_store.sequential(root / "durable.sqlite3", nd, durable=True)
        out["durable_session_creates_per_s"], out["durable_history_writes_per_s"] = durable
        bar.update(1)
        load = await bench_store.load(root / "load.sqlite3", args.images, args.sessions)
        bar.update(1)
    out |= {f"load_{k}_s": v for k, v in load.items() if k != "rows"}
    out["load_rows"] = load["rows"]
    out["load_total_s"] = load["open"] + load["list_all"] + load["restore_all"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], images=100)
    parser.add_argument("--sessions", type=int, default=100, help="sessions per image (load test)")
    parser.add_argument("--writes", type=int, default=2000, help="sequential writes of each kind")
    args = parser.parse_args(argv)
    run = Run("sessions", args)
    r = trio.run(_measure, run)
    run.record("store", r)
    run.metric("session creates/s (sequential)", r["session_creates_per_s"], "/s")
    run.metric("history writes/s (sequential)", r["history_writes_per_s"], "/s")
    run.metric("history writes/s (50 tasks)", r["concurrent_history_writes_per_s"], "/s")
    run.metric("history writes/s (durable)", r["durable_history_writes_per_s"], "/s")
    label = f"load {args.images} images x {args.sessions} sessions ({r['load_rows']:,} rows)"
    is_target = args.images == 100 and args.sessions == 100
    run.metric(
        label,
        r["load_total_s"] * 1e6,
        "µs",
        target="< 1 s" if is_target else "",
        ok=r["load_total_s"] < 1 if is_target else None,
    )

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax1, ax2 = fig.subplots(1, 2)
        names = ["creates", "history", "history\n50 tasks", "durable\ncreates", "durable\nhistory"]
        keys = [
            "session_creates_per_s",
            "history_writes_per_s",
            "concurrent_history_writes_per_s",
            "durable_session_creates_per_s",
            "durable_history_writes_per_s",
        ]
        ax1.bar(names, [r[k] for k in keys])
        ax1.set_ylabel("writes per second")
        ax1.set_title("write rates")
        parts = ["open", "list_all", "restore_all"]
        ax2.bar(parts, [r[f"load_{p}_s"] * 1e3 for p in parts])
        ax2.set_ylabel("ms")
        ax2.set_title(f"{label}: {r['load_total_s'] * 1e3:.0f} ms")

    run.plot(draw, figsize=(12, 4.5))
    run.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
