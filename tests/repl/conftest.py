"""Fixtures for the REPL tests: real reference images in subprocesses, per-test stui directories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stui.image.launcher import ImageProcess, start_image_process_sync


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runtime directory per module: the images' connection files live there."""
    return tmp_path_factory.mktemp("run")


@pytest.fixture(autouse=True)
def stui_dirs(tmp_path: Path, runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every per-user directory at temporary ones, so no test touches the real home."""
    monkeypatch.setenv("STUI_RUNTIME_DIR", str(runtime_dir))
    monkeypatch.setenv("STUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("STUI_STORE", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def images(runtime_dir: Path) -> Iterator[dict[str, ImageProcess]]:
    """Two reference images, alpha and beta, as `stui image serve` subprocesses (signed frames)."""
    env = dict(os.environ, STUI_RUNTIME_DIR=str(runtime_dir))
    started: dict[str, ImageProcess] = {}
    try:
        for name in ("alpha", "beta"):
            started[name] = start_image_process_sync(name, env=env)
        yield started
    finally:
        for process in started.values():
            process.stop_sync(timeout=5)
