"""Run a set of bench scenarios one after another and write one index of every headline number.

    python bench/run_all.py                 # the set docs/performance.md reports (~15 minutes)
    python bench/run_all.py --set quick     # every scenario with small parameters (~2 minutes)
    python bench/run_all.py --only scale-1000,switch --repeat 2    # named runs, twice each

Each run is its own process (the exact command is printed and kept), so one scenario cannot disturb the
next one's memory or CPU figures. The index, `bench/results/all-<timestamp>/index.md`, is a table of
every metric of every run with its target and the command that produced it, ready to paste into
docs/performance.md; `index.json` holds the same plus each run's results folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

#: name -> (script, arguments). The "full" set is what docs/performance.md reports.
SETS: dict[str, list[tuple[str, str, list[str]]]] = {
    "full": [
        ("roundtrip-zmq", "bench_roundtrip.py", ["--duration", "5", "--rounds", "20"]),
        (
            "roundtrip-ws",
            "bench_roundtrip.py",
            ["--transport", "ws", "--duration", "5", "--rounds", "20"],
        ),
        ("scale-100", "bench_scale.py", ["--images", "100", "--duration", "5"]),
        ("scale-1000", "bench_scale.py", ["--images", "1000", "--duration", "10"]),
        (
            "scale-1000-saturated",
            "bench_scale.py",
            ["--images", "1000", "--duration", "10", "--cpu-hogs", "4"],
        ),
        (
            "scale-1000-ws",
            "bench_scale.py",
            ["--images", "1000", "--duration", "5", "--transport", "ws"],
        ),
        (
            "scale-5000-1s",
            "bench_scale.py",
            ["--images", "5000", "--duration", "10", "--skip-busy"],
        ),
        (
            "scale-5000",
            "bench_scale.py",
            [
                "--images",
                "5000",
                "--duration",
                "10",
                "--heartbeat-interval",
                "5",
                "--busy-request",
                "ping",
            ],
        ),
        (
            "scale-limit",
            "bench_scale.py",
            ["--images", "10000", "--duration", "5", "--heartbeat-interval", "5", "--skip-busy"],
        ),
        (
            "failure-kill",
            "bench_failure.py",
            ["--images", "1000", "--victims", "10", "--mode", "kill"],
        ),
        (
            "failure-freeze",
            "bench_failure.py",
            ["--images", "1000", "--victims", "10", "--mode", "freeze"],
        ),
        ("switch", "bench_switch.py", ["--images", "1000", "--duration", "3"]),
        ("sessions", "bench_sessions.py", []),
        ("evaluator", "bench_evaluator.py", ["--duration", "2"]),
    ],
    "quick": [
        ("roundtrip-zmq", "bench_roundtrip.py", ["--duration", "1", "--rounds", "4"]),
        ("scale-100", "bench_scale.py", ["--images", "100", "--duration", "2"]),
        (
            "failure-freeze",
            "bench_failure.py",
            ["--images", "20", "--victims", "2", "--mode", "freeze"],
        ),
        ("switch", "bench_switch.py", ["--images", "20", "--duration", "1"]),
        ("sessions", "bench_sessions.py", ["--writes", "500"]),
        ("evaluator", "bench_evaluator.py", ["--duration", "0.5"]),
    ],
}


def _newest_result(results_dir: Path, before: set[Path]) -> Path | None:
    fresh = [p for p in results_dir.iterdir() if p.is_dir() and p not in before]
    return max(fresh, key=lambda p: p.stat().st_mtime) if fresh else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="full")
    parser.add_argument("--only", default="", help="comma-separated run names (default: all)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the selected set this many times"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before a run is killed as hung"
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    wanted = {name for name in args.only.split(",") if name}
    runs = [r for r in SETS[args.set] if not wanted or r[0] in wanted]
    if not runs:
        parser.error(f"nothing in set {args.set!r} matches --only {args.only!r}")
    if args.repeat > 1:
        runs = [(f"{name}#{k}", s, a) for k in range(1, args.repeat + 1) for name, s, a in runs]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    index_dir = args.results_dir / f"all-{stamp}"
    index_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (name, script, script_args) in enumerate(runs, 1):
        extra = ["--results-dir", str(args.results_dir)]
        if args.no_progress:
            extra.append("--no-progress")
        cmd = [sys.executable, str(BENCH_DIR / script), *script_args, *extra]
        shown = shlex.join(["python", f"bench/{script}", *script_args])
        print(f"[{i}/{len(runs)}] {name}: {shown}   (load {os.getloadavg()[0]:.2f})", flush=True)
        before = {p for p in args.results_dir.iterdir() if p.is_dir()}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO_DIR, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{name}: killed after {args.timeout:g} s", flush=True)
            proc = subprocess.CompletedProcess(cmd, returncode=-9)
        out = _newest_result(args.results_dir, before)
        # A run that wrote its results and then failed (e.g. its shutdown watchdog fired) still counts.
        doc = None
        if out is not None and (out / "results.json").is_file():
            doc = json.loads((out / "results.json").read_text())
        entries.append(
            {
                "name": name,
                "command": shown,
                "returncode": proc.returncode,
                "seconds": round(time.perf_counter() - t0, 1),
                "results_dir": str(out) if out else None,
                "load_before": doc["environment_before"]["loadavg_1m"] if doc else None,
                "metrics": doc["metrics"] if doc else [],
            }
        )
    (index_dir / "index.json").write_text(json.dumps(entries, indent=2) + "\n")
    (index_dir / "index.md").write_text(_index_markdown(entries))
    print(f"\nindex: {index_dir / 'index.md'}")
    return 0 if all(e["returncode"] == 0 for e in entries) else 1


def _format(m: dict) -> str:
    sys.path.insert(0, str(BENCH_DIR))
    from _harness import Metric

    value = float("nan") if m["value"] is None else m["value"]
    return Metric(m["name"], value, m["unit"], m["target"], m["ok"]).formatted()


def _index_markdown(entries: list[dict]) -> str:
    lines = ["| run | metric | value | target | met |", "|---|---|---|---|---|"]
    for e in entries:
        if e["returncode"] != 0:
            after = " after writing its results" if e["metrics"] else ""
            lines.append(f"| {e['name']} | **failed** (exit {e['returncode']}){after} | | | |")
        for m in e["metrics"]:
            verdict = {True: "yes", False: "**no**", None: ""}[m["ok"]]
            lines.append(
                f"| {e['name']} | {m['name']} | {_format(m)} | {m['target']} | {verdict} |"
            )
    lines += ["", "Commands (load average before each run):", ""]
    for e in entries:
        load = f"{e['load_before']:.2f}" if e["load_before"] is not None else "?"
        lines.append(f"- {e['name']}: `{e['command']}` (load {load}, {e['seconds']} s)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
