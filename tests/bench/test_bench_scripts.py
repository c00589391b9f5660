"""Each bench script, run as a user would (a subprocess, one command) with tiny parameters.

These keep the scripts from rotting as the stack changes: they must finish, write their three files,
and their numbers must say what happened (every image connected, the frozen image declared lost, ...).
Speed targets are not checked here: that is what the scripts themselves report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"

#: Every script run of this module: id -> (script, arguments). All are started at once by the `runs`
#: fixture (they spend most of their time waiting on timers and child processes, so running them side
#: by side keeps this module fast) and each test then waits for its own.
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "roundtrip-zmq": ("bench_roundtrip.py", ("--duration", "0.3", "--rounds", "2")),
    "roundtrip-ws": (
        "bench_roundtrip.py",
        ("--transport", "ws", "--duration", "0.3", "--rounds", "2"),
    ),
    "scale": (
        "bench_scale.py",
        ("--images", "3", "--duration", "1", "--heartbeat-interval", "1"),
    ),
    "failure": (
        "bench_failure.py",
        ("--images", "3", "--victims", "1", "--mode", "freeze", "--heartbeat-interval", "0.3"),
    ),
    "switch": ("bench_switch.py", ("--images", "2", "--duration", "0.3")),
    "evaluator": ("bench_evaluator.py", ("--scale", "0.01", "--duration", "0.05")),
    "sessions": ("bench_sessions.py", ("--images", "4", "--sessions", "5", "--writes", "60")),
}


@dataclass
class ScriptRun:
    script: str
    out: Path
    proc: subprocess.Popen[str]

    def result(self, timeout: float = 180) -> dict[str, Any]:
        """Wait for the script; check its exit status and files; return its results.json."""
        stdout, stderr = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, f"{self.script} failed:\n{stdout}\n{stderr}"
        (out_dir,) = self.out.iterdir()
        for name in ("results.json", "summary.md", "plot.png"):
            assert (out_dir / name).is_file(), f"{self.script} did not write {name}"
            assert str(out_dir / name) in stdout, f"{self.script} did not print the path of {name}"
        assert (out_dir / "plot.png").read_bytes()[:4] == b"\x89PNG"
        doc = json.loads((out_dir / "results.json").read_text())
        assert doc["command"].startswith(f"python bench/{self.script} ")
        assert doc["command"] in (out_dir / "summary.md").read_text()
        return doc


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ScriptRun]]:
    started: dict[str, ScriptRun] = {}
    try:
        for key, (script, args) in RUNS.items():
            out = tmp_path_factory.mktemp(key)
            cmd = [sys.executable, str(BENCH_DIR / script), *args]
            cmd += ["--results-dir", str(out), "--no-progress"]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started[key] = ScriptRun(script, out, proc)
        yield started
    finally:
        for run in started.values():
            if run.proc.poll() is None:
                run.proc.kill()
            run.proc.communicate()


def metric(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    (m,) = [m for m in doc["metrics"] if m["name"].startswith(prefix)]
    return m


@pytest.mark.parametrize("transport", ["zmq", "ws"])
def test_roundtrip_measures_every_method_against_its_baseline(
    runs: dict[str, ScriptRun], transport: str
) -> None:
    doc = runs[f"roundtrip-{transport}"].result()
    latency = doc["results"]["latency"]
    expected = {"baseline-zmq", "transport", "stack-ping", "stack-eval", "stub-ping", "stub-eval"}
    expected |= {"adapter", "pump"} if transport == "zmq" else {"baseline-ws"}
    assert set(latency) == expected
    assert all(s["count"] > 0 and s["p50_us"] > 0 for s in latency.values())
    ratio = doc["results"]["ratios_p50"]["stack-eval/baseline-zmq"]
    assert ratio == pytest.approx(
        latency["stack-eval"]["p50_us"] / latency["baseline-zmq"]["p50_us"]
    )
    assert metric(doc, "stack-eval / baseline-zmq")["target"] == "< 2x"


def test_scale_connects_every_image_and_keeps_them(runs: dict[str, ScriptRun]) -> None:
    doc = runs["scale"].result()
    r = doc["results"]
    assert len(r["connect_times_s"]) == 3 and r["connect_failures"] == []
    assert metric(doc, "images connected")["value"] == 3
    assert r["connected_at_end"] == 3
    assert r["busy_latency"]["count"] > 0
    assert len(r["idle_cpu_samples_pct"]) >= 1
    assert r["rss_bytes"]["after"] > 0


def test_failure_declares_the_frozen_image_lost_and_reconnects_it(
    runs: dict[str, ScriptRun],
) -> None:
    doc = runs["failure"].result()
    r = doc["results"]
    assert list(r["detect_s"]) == ["victim000"]
    # Never before the heartbeat could have noticed: at least (misses - 1) intervals after the freeze.
    assert r["detect_s"]["victim000"] >= 2 * 0.3
    assert r["bound_s"] == pytest.approx(4 * 0.3)
    assert list(r["reconnect_s"]) == ["victim000"]
    assert r["not_detected"] == [] and r["not_reconnected"] == []


def test_switch_times_each_phase(runs: dict[str, ScriptRun]) -> None:
    doc = runs["switch"].result()
    latency = doc["results"]["latency"]
    assert set(latency) == {"switch", "switch+store", "switch+write", "switch+eval"}
    assert all(s["count"] > 0 for s in latency.values())
    # switching and then evaluating cannot be faster than switching alone
    assert latency["switch+eval"]["p50_us"] > latency["switch"]["p50_us"]


def test_evaluator_checks_answers_and_compares_with_python(runs: dict[str, ScriptRun]) -> None:
    doc = runs["evaluator"].result()
    rows = doc["results"]["benchmarks"]
    assert "inject" in rows and "fib-method" in rows
    assert all(row["median_s"] > 0 and row["ratio_to_python"] > 0 for row in rows.values())
    # an interpreter written in Python is slower than the same work in Python
    assert metric(doc, "geometric mean")["value"] > 1


def test_evaluator_refuses_an_unknown_benchmark(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "bench_evaluator.py"),
            "--only",
            "nope",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "no benchmark matches" in proc.stderr


def test_sessions_store_load(runs: dict[str, ScriptRun]) -> None:
    doc = runs["sessions"].result()
    store = doc["results"]["store"]
    assert store["load_rows"] == 20
    assert store["history_writes_per_s"] > 0 and store["load_total_s"] > 0
