"""docs/examples/embed.py runs as written: it starts a reference image, talks to it and stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "embed.py"


@pytest.mark.timeout(90)
def test_embedding_example_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "STUI_RUNTIME_DIR": str(tmp_path / "run")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "3 + 4 => 7 (SmallInteger)" in out
    assert "1 / 0 failed: ZeroDivide" in out
    assert "runaway loop stopped: Interrupted" in out
    assert "greeting in a new session => nil" in out
    assert "sessions: ['main', 'scratch']" in out
    assert "[transcript] written to the Transcript" in out
    assert "connected -> disconnected" in out
    assert out.rstrip().endswith("done")
