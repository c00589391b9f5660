"""The bench harness: percentile maths, result files, limits, and the raw echo baselines."""

from __future__ import annotations

import argparse
import json
import math
import resource

import _baselines
import _harness
import pytest
import trio
from _harness import LatencyStats, Metric, Run, percentile


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    data = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(data, 0) == 1.0
    assert percentile(data, 100) == 4.0
    assert percentile(data, 50) == pytest.approx(2.5)
    assert percentile(data, 25) == pytest.approx(1.75)
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("bad", [-1, 100.5])
def test_percentile_refuses_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], bad)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_stats_convert_seconds_to_microseconds() -> None:
    stats = LatencyStats.from_seconds([0.001] * 99 + [0.101])
    assert stats.count == 100
    assert stats.p50_us == pytest.approx(1000)
    assert stats.max_us == pytest.approx(101_000)
    assert 1000 < stats.p99_us <= 101_000
    assert stats.mean_us == pytest.approx(2000)
    empty = LatencyStats.from_seconds([])
    assert empty.count == 0 and math.isnan(empty.p50_us)


@pytest.mark.parametrize(
    ("us", "text"), [(5.0, "5.00 µs"), (812.4, "812 µs"), (3410.0, "3.41 ms"), (2.05e6, "2.05 s")]
)
def test_human_durations(us: float, text: str) -> None:
    assert _harness.human_us(us) == text


def test_metric_formatting() -> None:
    assert Metric("n", 1234, "images").formatted() == "1,234 images"
    assert Metric("r", 1.537, "x").formatted() == "1.54x"
    assert Metric("t", 250.0, "µs").formatted() == "250 µs"
    assert Metric("nan", float("nan")).formatted() == "n/a"


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = _harness.raise_open_file_limit()
    assert (soft, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        assert soft == hard


def test_zmq_context_allows_more_than_the_default_1023_sockets() -> None:
    import zmq

    ctx = _harness.zmq_context()
    try:
        assert ctx.get(zmq.MAX_SOCKETS) > 1023
    finally:
        ctx.term()


def test_cpu_meter_tells_busy_from_idle() -> None:
    idle = _harness.CpuMeter()
    _harness.time.sleep(0.2)
    idle_pct = idle.percent_of_one_core()
    busy = _harness.CpuMeter()
    end = _harness.time.perf_counter() + 0.2
    while _harness.time.perf_counter() < end:
        pass
    busy_pct = busy.percent_of_one_core()
    assert idle_pct < 5
    assert busy_pct > idle_pct + 5  # even on a loaded box a busy loop gets a fair share of a core


def test_run_writes_json_plot_and_summary(tmp_path, capsys) -> None:
    args = argparse.Namespace(
        images=3,
        transport="zmq",
        duration=1.0,
        heartbeat_interval=1.0,
        results_dir=tmp_path,
        no_progress=True,
    )
    run = Run("demo", args, argv=["bench/bench_demo.py", "--images", "3"])
    run.record("latency", LatencyStats.from_seconds([0.001, 0.002]))
    run.record("bad", float("inf"))
    run.metric("ratio", 1.25, "x", target="< 2x", ok=True)
    run.metric("missed", 3.0, "s", target="< 1 s", ok=False)
    run.note("a note")
    run.plot(lambda fig: fig.add_subplot(1, 1, 1).plot([1, 2], [3, 4]))
    paths = run.write()

    assert paths["json"].parent.name.startswith("demo-")
    doc = json.loads(paths["json"].read_text())
    assert doc["command"] == "python bench/bench_demo.py --images 3"
    assert doc["params"]["images"] == 3 and "results_dir" not in doc["params"]
    assert doc["results"]["latency"]["count"] == 2
    assert doc["results"]["bad"] is None  # not a bare Infinity, which is not JSON
    assert doc["metrics"][0] == {
        "name": "ratio",
        "value": 1.25,
        "unit": "x",
        "target": "< 2x",
        "ok": True,
    }
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = paths["summary"].read_text()
    assert "| ratio | 1.25x | < 2x | yes |" in summary
    assert "| missed | 3 s | < 1 s | **no** |" in summary
    assert "- a note" in summary
    out = capsys.readouterr().out
    assert str(paths["json"]) in out and "MISSED" in out
    run.amend("shutdown_s", 0.5)
    amended = json.loads(paths["json"].read_text())
    assert amended["results"]["shutdown_s"] == 0.5
    assert amended["results"]["latency"] == doc["results"]["latency"]


def test_zmq_echo_baseline_round_trips() -> None:
    payload = _baselines.sample_payload()
    with _baselines.EchoServer("zmq") as server:
        assert server.address.startswith("tcp://127.0.0.1:")
        samples = _baselines.blocking_dealer_latencies(
            server.address, payload, duration=0.05, warmup=10
        )
    assert len(samples) >= 10 and all(s > 0 for s in samples)


async def test_ws_echo_baseline_round_trips() -> None:
    payload = _baselines.sample_payload()
    with _baselines.EchoServer("ws") as server:
        assert server.address.startswith("ws://127.0.0.1:")
        with trio.fail_after(30):
            samples = await _baselines.trio_ws_latencies(
                server.address, payload, duration=0.05, warmup=10
            )
    assert len(samples) >= 10 and all(s > 0 for s in samples)


def test_echo_server_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        _baselines.EchoServer("udp")


def test_run_all_index_lists_every_metric_with_its_command() -> None:
    import run_all

    entries = [
        {
            "name": "scale-1000",
            "command": "python bench/bench_scale.py --images 1000",
            "returncode": 0,
            "seconds": 40.0,
            "load_before": 1.5,
            "metrics": [
                {
                    "name": "time to connect all",
                    "value": 2.5,
                    "unit": "s",
                    "target": "< 5 s",
                    "ok": True,
                },
                {"name": "p99", "value": None, "unit": "µs", "target": "", "ok": None},
            ],
        },
        {
            "name": "failure",
            "command": "python bench/bench_failure.py",
            "returncode": 1,
            "seconds": 3.0,
            "load_before": None,
            "metrics": [],
        },
        {
            "name": "scale-5000",
            "command": "python bench/bench_scale.py --images 5000",
            "returncode": 3,
            "seconds": 200.0,
            "load_before": 2.0,
            "metrics": [{"name": "idle CPU", "value": 12.5, "unit": "%", "target": "", "ok": None}],
        },
    ]
    md = run_all._index_markdown(entries)
    assert "| scale-5000 | **failed** (exit 3) after writing its results |" in md
    assert "| scale-5000 | idle CPU | 12.50 % |  |  |" in md
    assert "| scale-1000 | time to connect all | 2.50 s | < 5 s | yes |" in md
    assert "| scale-1000 | p99 | n/a |  |  |" in md
    assert "| failure | **failed** (exit 1) |" in md
    assert "- scale-1000: `python bench/bench_scale.py --images 1000` (load 1.50, 40.0 s)" in md
    assert set(run_all.SETS) == {"full", "quick"}
    args = run_all.build_parser().parse_args(["--repeat", "2", "--timeout", "30"])
    assert (args.repeat, args.timeout) == (2, 30.0)
    scripts = {script for runs in run_all.SETS.values() for _, script, _ in runs}
    assert all((run_all.BENCH_DIR / s).is_file() for s in scripts)


def test_watchdog_ends_a_process_that_overruns_and_spares_one_that_does_not() -> None:
    import subprocess
    import sys

    code = (
        "import sys, time; sys.path.insert(0, {bench!r}); from _harness import Watchdog\n"
        "with Watchdog(0.2, 'sleeping'):\n    time.sleep({sleep})\nprint('finished')"
    )
    bench = str(_harness.BENCH_DIR)
    overrun = subprocess.run(
        [sys.executable, "-c", code.format(bench=bench, sleep=30)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert overrun.returncode == 3
    assert "sleeping took longer than 0.2 s" in overrun.stderr
    quick = subprocess.run(
        [
            sys.executable,
            "-c",
            code.format(bench=bench, sleep=0) + "\nimport time; time.sleep(0.5)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quick.returncode == 0 and "finished" in quick.stdout
