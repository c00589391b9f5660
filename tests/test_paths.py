"""Per-user directories: environment overrides, and no warning when XDG_RUNTIME_DIR is missing."""

import warnings
from pathlib import Path

from stui import paths


def test_environment_overrides_each_directory(monkeypatch, tmp_path: Path) -> None:
    for env, fn, sub in (
        ("STUI_RUNTIME_DIR", paths.runtime_dir, "run"),
        ("STUI_DATA_DIR", paths.data_dir, "data"),
        ("STUI_CONFIG_DIR", paths.config_dir, "cfg"),
    ):
        monkeypatch.setenv(env, str(tmp_path / sub))
        assert fn() == tmp_path / sub


def test_defaults_end_in_stui(monkeypatch) -> None:
    for env in ("STUI_RUNTIME_DIR", "STUI_DATA_DIR", "STUI_CONFIG_DIR"):
        monkeypatch.delenv(env, raising=False)
    assert paths.data_dir().name == "stui"
    assert paths.config_dir().name == "stui"


def test_runtime_dir_without_xdg_runtime_dir_falls_back_silently(monkeypatch) -> None:
    monkeypatch.delenv("STUI_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        directory = paths.runtime_dir()
    assert directory.name == "stui"
    assert directory.is_absolute()
