"""What every bench script shares: arguments, process limits, timing, percentiles and result files.

A bench script is one command (`python bench/bench_scale.py --images 1000`). It raises its own limits
(open files, ZeroMQ sockets) so the user never has to, shows a progress bar while it works, and writes
three files under `bench/results/<scenario>-<timestamp>/`:

    results.json   every number, the exact command, the machine's load before and after
    plot.png       the scenario's picture (matplotlib, Agg backend: no display needed)
    summary.md     a short table of the headline numbers, each against its target

The paths are printed at the end. Numbers on a shared 2-core machine are noisy (±2.5x between runs), so
scripts measure their baselines in the same run and report ratios; `Metric.ok` is a hint, not a verdict.

This module is imported by the scripts (which put `bench/` first on `sys.path` by being run from it);
it never starts trio itself and keeps no global state beyond what the caller passes around.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "REPO_DIR",
    "CpuMeter",
    "FdReserve",
    "LatencyStats",
    "Metric",
    "Run",
    "Watchdog",
    "base_parser",
    "environment",
    "human_us",
    "percentile",
    "progress",
    "raise_open_file_limit",
    "rss_bytes",
    "zmq_context",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

#: ZeroMQ sockets a bench context may open. libzmq refuses the 1,023rd by default; 65,535 is the most
#: `zmq.SOCKET_LIMIT` allows on Linux, and the open-file limit is the real ceiling anyway.
MAX_ZMQ_SOCKETS = 65_535


# --------------------------------------------------------------------------------------------------
# Process limits


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit, as far as the OS lets us.

    Every image connection costs file descriptors (a ZeroMQ DEALER: its mailbox and its TCP socket;
    a WebSocket: its TCP socket), so a scale run dies at the soft limit long before memory runs out.

    Returns:
        (soft, hard) after the change.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass  # keep what we have; the run reports the limit it got
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class FdReserve:
    """A few file descriptors held back while a run opens connections until the limit, and given back
    before it writes its results (a run that used every descriptor could not write them).

    Args:
        count: descriptors to hold.
    """

    def __init__(self, count: int = 32) -> None:
        self._held: list[int] = []
        for _ in range(count):
            try:
                self._held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break

    def release(self) -> None:
        """Give the descriptors back. Idempotent."""
        held, self._held = self._held, []
        for fd in held:
            os.close(fd)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a server started by the bench)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zmq_context(max_sockets: int = MAX_ZMQ_SOCKETS) -> Any:
    """A fresh pyzmq context whose MAX_SOCKETS is raised (default 1,023 is far below a scale run).

    The caller owns the context and must `term()` it (or `destroy(linger=0)`) when done.
    """
    import zmq

    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, min(max_sockets, ctx.get(zmq.SOCKET_LIMIT)))
    return ctx


def rss_bytes() -> int:
    """Resident set size of this process now, in bytes (after a full garbage collection)."""
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss


class CpuMeter:
    """CPU time this process used over a wall-clock window, as a percentage of one core.

    `time.process_time()` counts every thread of the process, so ZeroMQ's I/O thread is included: the
    honest cost of keeping N connections alive.
    """

    def __init__(self) -> None:
        self.reset()

    def percent_of_one_core(self) -> float:
        """CPU seconds / wall seconds * 100 since construction (or the last `reset`)."""
        wall = time.perf_counter() - self._wall0
        if wall <= 0:
            return 0.0
        return 100.0 * (time.process_time() - self._cpu0) / wall

    def reset(self) -> None:
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()


class Watchdog:
    """Ends the process (exit status 3) if a phase outlives its deadline; a context manager.

    For the one phase a bench cannot otherwise bound: shutting down thousands of image actors after the
    results are written. The results are already on disk when it fires, and image farms die with the
    bench (PR_SET_PDEATHSIG), so nothing is lost or left behind; the message says what overran.
    """

    def __init__(self, seconds: float, what: str) -> None:
        import threading

        self._timer = threading.Timer(seconds, self._fire, args=(seconds, what))
        self._timer.daemon = True

    @staticmethod
    def _fire(seconds: float, what: str) -> None:
        print(
            f"\nwatchdog: {what} took longer than {seconds:g} s; exiting",
            file=sys.stderr,
            flush=True,
        )
        os._exit(3)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


# --------------------------------------------------------------------------------------------------
# Statistics


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile (0..100) of `samples`, linear between closest ranks (numpy's default).

    Raises:
        ValueError: `samples` is empty or `pct` is outside 0..100.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Summary of latency samples, all in microseconds."""

    count: int
    p50_us: float
    p90_us: float
    p99_us: float
    mean_us: float
    min_us: float
    max_us: float

    @classmethod
    def from_seconds(cls, samples: Sequence[float]) -> LatencyStats:
        """Summarise samples given in seconds. An empty list gives a count of 0 and NaN elsewhere."""
        if not samples:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan)
        us = [s * 1e6 for s in samples]
        return cls(
            count=len(us),
            p50_us=percentile(us, 50),
            p90_us=percentile(us, 90),
            p99_us=percentile(us, 99),
            mean_us=sum(us) / len(us),
            min_us=min(us),
            max_us=max(us),
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def human_us(us: float) -> str:
    """A duration in microseconds as short text: '812 µs', '3.41 ms', '2.05 s'."""
    if math.isnan(us):
        return "n/a"
    if us < 1_000:
        return f"{us:.0f} µs" if us >= 10 else f"{us:.2f} µs"
    if us < 1_000_000:
        return f"{us / 1_000:.2f} ms"
    return f"{us / 1_000_000:.2f} s"


# --------------------------------------------------------------------------------------------------
# Arguments


def base_parser(
    description: str,
    *,
    images: int = 1,
    duration: float = 5.0,
    heartbeat_interval: float = 1.0,
    transport: str = "zmq",
) -> argparse.ArgumentParser:
    """The options every scenario takes; scripts add their own on top.

    --images N, --transport zmq|ws, --duration SECONDS, --heartbeat-interval SECONDS, --results-dir,
    --no-progress.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--images", type=int, default=images, help="number of images")
    parser.add_argument(
        "--transport",
        choices=("zmq", "ws"),
        default=transport,
        help="how the client reaches images",
    )
    parser.add_argument(
        "--duration", type=float, default=duration, help="seconds for each timed phase"
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=heartbeat_interval,
        help="seconds between heartbeat pings, per image",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=BENCH_DIR / "results",
        help="where the <scenario>-<timestamp>/ folder is written",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


@contextlib.contextmanager
def progress(
    total: float | None, desc: str, *, enabled: bool = True, unit: str = "it"
) -> Iterator[Any]:
    """A tqdm progress bar on stderr (a do-nothing bar when `enabled` is False)."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        mininterval=0.25,
    )
    try:
        yield bar
    finally:
        bar.close()


# --------------------------------------------------------------------------------------------------
# Environment and results


def _load() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {"loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen}


def environment() -> dict[str, Any]:
    """What was measured on: machine, load, library versions, limits."""
    import cbor2  # noqa: F401  (imported for its version)
    import trio
    import zmq

    versions: dict[str, str] = {"python": platform.python_version(), "trio": trio.__version__}
    versions["pyzmq"] = zmq.__version__
    versions["libzmq"] = zmq.zmq_version()
    for dist in ("cbor2", "trio-websocket"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[dist] = version(dist)
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "nofile_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "versions": versions,
        **_load(),
    }


@dataclass(slots=True)
class Metric:
    """One headline number for the summary table.

    Attributes:
        name: what was measured, in words ("time to connect all").
        value: the number.
        unit: its unit as printed ("s", "µs", "%", "KiB", "x", "").
        target: the target in words ("< 5 s"), or "" when there is none.
        ok: whether the target was met; None when there is no target or it could not be judged.
    """

    name: str
    value: float
    unit: str = ""
    target: str = ""
    ok: bool | None = None

    def formatted(self) -> str:
        if isinstance(self.value, float) and math.isnan(self.value):
            return "n/a"
        if self.unit == "µs":
            return human_us(self.value)
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if isinstance(self.value, int) or float(self.value).is_integer():
            return f"{int(self.value):,} {self.unit}".strip()
        digits = 2 if abs(self.value) < 100 else 0
        return f"{self.value:,.{digits}f} {self.unit}".strip()


@dataclass
class Run:
    """One execution of one scenario: collects results and writes them out.

    Build it at the start of `main()` (it raises the open-file limit and stamps the environment), add
    numbers with `record()` / `metric()`, draw with `plot()`, finish with `write()`.
    """

    scenario: str
    args: argparse.Namespace
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    results: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    nofile: tuple[int, int] = (0, 0)
    env_before: dict[str, Any] = field(default_factory=dict)
    _figure: Any = None

    def __post_init__(self) -> None:
        self.nofile = raise_open_file_limit()
        self.env_before = environment()

    @property
    def out_dir(self) -> Path:
        stamp = self.started.strftime("%Y%m%d-%H%M%S")
        return Path(self.args.results_dir) / f"{self.scenario}-{stamp}"

    @property
    def show_progress(self) -> bool:
        return not getattr(self.args, "no_progress", False)

    def command(self) -> str:
        """The command that reproduces this run, relative to the repository root."""
        script = Path(self.argv[0])
        with contextlib.suppress(ValueError):
            script = script.resolve().relative_to(REPO_DIR)
        return shlex.join(["python", str(script), *self.argv[1:]])

    def record(self, key: str, value: Any) -> None:
        """Keep `value` (JSON-serialisable; dataclasses are converted) under `key` in results.json."""
        self.results[key] = _jsonable(value)

    def metric(
        self, name: str, value: float, unit: str = "", *, target: str = "", ok: bool | None = None
    ) -> Metric:
        m = Metric(name, value, unit, target, ok)
        self.metrics.append(m)
        return m

    def note(self, text: str) -> None:
        """A sentence for the summary (what went wrong, what to read the numbers with)."""
        self.notes.append(text)

    def plot(self, draw: Callable[[Any], None], *, figsize: tuple[float, float] = (9, 5)) -> None:
        """Create the figure and let `draw(fig)` fill it; written as plot.png by `write()`."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, dpi=100)
        draw(fig)
        fig.suptitle(f"{self.scenario}: {self._param_line()}", fontsize=9)
        fig.tight_layout()
        self._figure = fig

    def _param_line(self) -> str:
        a = self.args
        parts = []
        for name in ("images", "transport", "duration", "heartbeat_interval"):
            if hasattr(a, name):
                parts.append(f"{name.replace('_', '-')}={getattr(a, name)}")
        return ", ".join(parts) + f" (load {self.env_before['loadavg_1m']:.2f})"

    def amend(self, key: str, value: Any) -> None:
        """Add `key` to results.json after `write()` (e.g. how long shutting down took)."""
        self.record(key, value)
        path = self.out_dir / "results.json"
        doc = json.loads(path.read_text())
        doc["results"][key] = self.results[key]
        path.write_text(json.dumps(doc, indent=2, allow_nan=True) + "\n")

    def write(self) -> dict[str, Path]:
        """Write results.json, plot.png (when a plot was drawn) and summary.md; print their paths."""
        out = self.out_dir
        out.mkdir(parents=True, exist_ok=True)
        finished = dt.datetime.now(dt.UTC)
        doc = {
            "scenario": self.scenario,
            "command": self.command(),
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "params": _jsonable(
                {
                    k: v
                    for k, v in vars(self.args).items()
                    if k not in ("results_dir", "no_progress")
                }
            ),
            "environment_before": self.env_before,
            "load_after": _load(),
            "metrics": [_jsonable(m) for m in self.metrics],
            "results": self.results,
            "notes": self.notes,
        }
        paths = {"json": out / "results.json", "summary": out / "summary.md"}
        paths["json"].write_text(json.dumps(doc, indent=2, allow_nan=True) + "\n")
        if self._figure is not None:
            paths["plot"] = out / "plot.png"
            self._figure.savefig(paths["plot"])
            import matplotlib.pyplot as plt

            plt.close(self._figure)
        paths["summary"].write_text(self.summary_markdown(doc))
        print(f"\n{self.scenario}: done")
        for m in self.metrics:
            verdict = {True: "  ok", False: "  MISSED", None: ""}[m.ok]
            target = f" (target {m.target})" if m.target else ""
            print(f"  {m.name}: {m.formatted()}{target}{verdict}")
        for kind, path in paths.items():
            print(f"{kind:>8}: {path}")
        return paths

    def summary_markdown(self, doc: dict[str, Any]) -> str:
        env = doc["environment_before"]
        lines = [
            f"# {self.scenario}",
            "",
            f"Command: `{doc['command']}`",
            "",
            f"Started {doc['started_at']} on {env['cpu_count']} CPUs, load average "
            f"{env['loadavg_1m']:.2f} before / {doc['load_after']['loadavg_1m']:.2f} after; "
            f"Python {env['versions']['python']}, pyzmq {env['versions']['pyzmq']} "
            f"(libzmq {env['versions']['libzmq']}), trio {env['versions']['trio']}.",
            "",
            "| metric | value | target | met |",
            "|---|---|---|---|",
        ]
        for m in self.metrics:
            verdict = {True: "yes", False: "**no**", None: ""}[m.ok]
            lines.append(f"| {m.name} | {m.formatted()} | {m.target} | {verdict} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        if self._figure is not None:
            lines += ["", "![plot](plot.png)"]
        return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
