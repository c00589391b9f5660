"""Per-user directories, XDG on Linux (via platformdirs), each overridable by an environment variable.

    STUI_RUNTIME_DIR  connection files of running local images   (default: user runtime dir / stui)
    STUI_DATA_DIR     the session store                          (default: user data dir / stui)
    STUI_CONFIG_DIR   config.toml                                (default: user config dir / stui)

Functions, not module constants: the environment is read at call time, so tests and embedders can point
stui elsewhere without reloading anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

__all__ = ["config_dir", "data_dir", "runtime_dir"]


def _dir(env: str, default: Callable[[], str]) -> Path:
    # `default` is called only when the variable is unset: platformdirs' runtime dir warns when
    # XDG_RUNTIME_DIR is missing, which must not happen for callers who set STUI_RUNTIME_DIR.
    value = os.environ.get(env)
    return Path(value) if value else Path(default()) / "stui"


def runtime_dir() -> Path:
    """Where running local images leave their connection files (user-only permissions)."""
    return _dir("STUI_RUNTIME_DIR", platformdirs.user_runtime_dir)


def data_dir() -> Path:
    """Where the session store lives."""
    return _dir("STUI_DATA_DIR", platformdirs.user_data_dir)


def config_dir() -> Path:
    """Where the user's config.toml lives."""
    return _dir("STUI_CONFIG_DIR", platformdirs.user_config_dir)
