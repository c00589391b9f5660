"""Scenario 6, evaluator: Smalltalk micro-benchmarks on the reference image's evaluator, so regressions show.

    python bench/bench_evaluator.py                   # ~2 s per benchmark
    python bench/bench_evaluator.py --duration 5 --only inject,fib-block

Each benchmark is evaluated in a workspace of a fresh `SmalltalkImage` exactly as the image server runs
it: `Workspace.start(source)` then `Evaluation.resume(slice)` until done, with the server's 0.5 ms slice
(and once more with one long slice, to show what slicing costs). The same work written in plain Python
runs in the same process right after, so each benchmark also reports a ratio "Smalltalk / CPython" that
survives a noisy machine better than the raw times. Every result is checked against the expected answer.

`--scale` multiplies the loop sizes (0.01 for a smoke test); --images, --transport and
--heartbeat-interval do not apply here.
"""

from __future__ import annotations

import functools
import io
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Run, base_parser, progress

from stui.image.smalltalk import SmalltalkImage, Success

#: The image server's slice (`ImageServerConfig.slice_seconds`).
SERVER_SLICE = 0.0005
_LONG_SLICE = 3600.0


@dataclass(frozen=True, slots=True)
class Bench:
    """One micro-benchmark: Smalltalk source (with `{n}` for the size), its answer, a Python twin."""

    name: str
    size: int
    source: str
    expected: Callable[[int], str]
    python: Callable[[int], object]
    setup: str = ""


def _fib(k: int) -> int:
    return k if k < 2 else _fib(k - 1) + _fib(k - 2)


class _Counter:
    def __init__(self) -> None:
        self.n: int | None = None

    def incr(self) -> int:
        self.n = (self.n or 0) + 1
        return self.n

    def fib(self, k: int) -> int:
        return k if k < 2 else self.fib(k - 1) + self.fib(k - 2)


def _py_counter(n: int) -> int:
    c = _Counter()
    for _ in range(n):
        c.incr()
    return c.incr()


def _py_stream(n: int) -> int:
    out = io.StringIO()
    for i in range(1, n + 1):
        out.write(str(i))
    return len(out.getvalue())


def _py_while(n: int) -> int:
    i = s = 0
    while i < n:
        s += i
        i += 1
    return s


def _py_todo(n: int) -> int:
    s = 0
    for i in range(1, n + 1):
        s += i
    return s


_COUNTER = (
    "Object subclass: #BenchCounter instanceVariableNames: 'n' classVariableNames: '' "
    "package: 'Bench'. "
    "BenchCounter compile: 'incr n := (n ifNil: [0]) + 1. ^ n'. "
    "BenchCounter compile: 'fib: k k < 2 ifTrue: [^ k]. ^ (self fib: k - 1) + (self fib: k - 2)'"
)

BENCHES: tuple[Bench, ...] = (
    Bench("trivial 3 + 4", 1, "3 + 4", lambda n: "7", lambda n: eval(compile("3 + 4", "", "eval"))),
    Bench(
        "inject",
        100_000,
        "(1 to: {n}) inject: 0 into: [:a :b | a + b]",
        lambda n: str(n * (n + 1) // 2),
        lambda n: functools.reduce(lambda a, b: a + b, range(1, n + 1), 0),
    ),
    Bench(
        "to:do: loop",
        100_000,
        "| s | s := 0. 1 to: {n} do: [:i | s := s + i]. s",
        lambda n: str(n * (n + 1) // 2),
        _py_todo,
    ),
    Bench(
        "whileTrue: loop",
        100_000,
        "| i s | i := 0. s := 0. [i < {n}] whileTrue: [s := s + i. i := i + 1]. s",
        lambda n: str(n * (n - 1) // 2),
        _py_while,
    ),
    Bench(
        "fib-block",
        20,
        "| fib | fib := nil. fib := [:k | k < 2 ifTrue: [k] ifFalse: "
        "[(fib value: k - 1) + (fib value: k - 2)]]. fib value: {n}",
        lambda n: str(_fib(n)),
        _fib,
    ),
    Bench(
        "fib-method",
        20,
        "BenchCounter new fib: {n}",
        lambda n: str(_fib(n)),
        lambda n: _Counter().fib(n),
        setup=_COUNTER,
    ),
    Bench(
        "message sends",
        50_000,
        "| c | c := BenchCounter new. 1 to: {n} do: [:i | c incr]. c incr",
        lambda n: str(n + 1),
        _py_counter,
        setup=_COUNTER,
    ),
    Bench(
        "WriteStream",
        10_000,
        "| ws | ws := WriteStream on: String new. 1 to: {n} do: [:i | ws nextPutAll: i printString]. "
        "ws contents size",
        lambda n: str(_py_stream(n)),
        _py_stream,
    ),
    Bench(
        "collect/select",
        20_000,
        "(((1 to: {n}) collect: [:x | x * x]) select: [:x | x even]) size",
        lambda n: str(n // 2),
        lambda n: len([y for y in [x * x for x in range(1, n + 1)] if y % 2 == 0]),
    ),
    Bench(
        "Dictionary at:put:",
        10_000,
        "| d | d := Dictionary new. 1 to: {n} do: [:i | d at: i put: i * 2]. d size",
        lambda n: str(n),
        lambda n: len({i: i * 2 for i in range(1, n + 1)}),
    ),
    Bench(
        "sort: with a block",
        10_000,
        "(((1 to: {n}) collect: [:i | (i * 7919) \\\\ 10007]) asArray sort: [:a :b | a > b]) first",
        lambda n: str(max((i * 7919) % 10007 for i in range(1, n + 1))),
        lambda n: sorted(((i * 7919) % 10007 for i in range(1, n + 1)), reverse=True)[0],
    ),
    Bench(
        "Float sqrt",
        50_000,
        "| x | x := 0.0. 1 to: {n} do: [:i | x := x + i sqrt]. x truncated",
        lambda n: str(int(math.fsum(math.sqrt(i) for i in range(1, n + 1)))),
        lambda n: sum(math.sqrt(i) for i in range(1, n + 1)),
    ),
    Bench(
        "LargeInteger factorial",
        1_000,
        "({n} factorial) printString size",
        lambda n: str(len(str(math.factorial(n)))),
        lambda n: len(str(math.factorial(n))),
    ),
)


def _evaluate(ws, source: str, slice_seconds: float) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    ev = ws.start(source)
    while (outcome := ev.resume(slice_seconds)) is None:
        pass
    return time.perf_counter() - t0, outcome


def _time_python(fn: Callable[[int], object], n: int, budget: float) -> list[float]:
    samples: list[float] = []
    end = time.perf_counter() + budget
    while not samples or (time.perf_counter() < end and len(samples) < 1000):
        t0 = time.perf_counter()
        fn(n)
        samples.append(time.perf_counter() - t0)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], duration=2.0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every loop size")
    parser.add_argument("--only", default="", help="comma-separated benchmark names to run")
    args = parser.parse_args(argv)
    run = Run("evaluator", args)
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    if not chosen:
        parser.error(f"no benchmark matches --only; names: {', '.join(b.name for b in BENCHES)}")
    t0 = time.perf_counter()
    image = SmalltalkImage("bench")
    run.record("image_boot_s", time.perf_counter() - t0)
    ws = image.new_workspace()
    setup_done: set[str] = set()
    rows: dict[str, dict[str, object]] = {}
    with progress(len(chosen), "benchmarks", enabled=run.show_progress) as bar:
        for b in chosen:
            n = max(1, round(b.size * args.scale)) if b.size > 1 else 1
            if b.setup and b.setup not in setup_done:
                _, out = _evaluate(ws, b.setup, _LONG_SLICE)
                if not isinstance(out, Success):
                    raise RuntimeError(f"{b.name}: setup failed: {out}")
                setup_done.add(b.setup)
            source = b.source.replace("{n}", str(n))
            expected = b.expected(n)
            sliced: list[float] = []
            end = time.perf_counter() + args.duration / 2
            while not sliced or time.perf_counter() < end:
                dt, out = _evaluate(ws, source, SERVER_SLICE)
                if not isinstance(out, Success) or out.print_string != expected:
                    raise RuntimeError(f"{b.name}: expected {expected}, got {out}")
                sliced.append(dt)
            unsliced: list[float] = []
            end = time.perf_counter() + args.duration / 4
            while not unsliced or time.perf_counter() < end:
                unsliced.append(_evaluate(ws, source, _LONG_SLICE)[0])
            py = _time_python(b.python, n, args.duration / 4)
            med, med_long, med_py = (statistics.median(x) for x in (sliced, unsliced, py))
            rows[b.name] = {
                "n": n,
                "runs": len(sliced),
                "median_s": med,
                "min_s": min(sliced),
                "median_unsliced_s": med_long,
                "slicing_overhead": med / med_long - 1,
                "python_median_s": med_py,
                "ratio_to_python": med / med_py,
            }
            run.metric(f"{b.name} (n={n})", med * 1e6, "µs")
            run.metric(f"{b.name}: Smalltalk / CPython", med / med_py, "x")
            bar.update(1)
    run.record("benchmarks", rows)
    ratios = [r["ratio_to_python"] for r in rows.values()]
    geo = math.exp(sum(math.log(float(r)) for r in ratios) / len(ratios))
    run.metric("geometric mean, Smalltalk / CPython", geo, "x")
    run.note(
        "Times are medians of whole evaluations (parse, compile, run) with the server's 0.5 ms slice; "
        "ratio_to_python in results.json compares each with the same work in plain CPython."
    )

    def draw(fig) -> None:  # type: ignore[no-untyped-def]
        ax1, ax2 = fig.subplots(1, 2)
        names = list(rows)
        ax1.barh(names, [float(rows[k]["median_s"]) * 1e3 for k in names])
        ax1.set_xscale("log")
        ax1.set_xlabel("median time per evaluation (ms, log)")
        ax1.invert_yaxis()
        ax1.set_title("Smalltalk evaluator, 0.5 ms slices")
        ax2.barh(names, [float(rows[k]["ratio_to_python"]) for k in names], color="tab:orange")
        ax2.set_xscale("log")
        ax2.set_xlabel("Smalltalk / same work in CPython (log)")
        ax2.invert_yaxis()
        ax2.set_yticklabels([])
        ax2.set_title(f"ratio to CPython (geometric mean {geo:.0f}x)")

    run.plot(draw, figsize=(12, 5.5))
    run.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
