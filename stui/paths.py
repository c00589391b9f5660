"""Per-user directories, XDG on Linux (via platformdirs), each overridable by an environment variable.

    STUI_RUNTIME_DIR  connection files of running local images   (default: user runtime dir / stui)
    STUI_DATA_DIR     the session store                          (default: user data dir / stui)
    STUI_CONFIG_DIR   config.toml                                (default: user config dir / stui)

Functions, not module constants: the environment is read at call time, so tests and embedders can point
stui elsewhere without reloading anything.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import platformdirs

__all__ = ["config_dir", "data_dir", "runtime_dir"]


def _dir(env: str, default: Callable[[], str]) -> Path:
    # `default` is called only when the variable is unset: platformdirs' runtime dir warns when
    # XDG_RUNTIME_DIR is missing, which must not happen for callers who set STUI_RUNTIME_DIR.
    value = os.environ.get(env)
    return Path(value) if value else Path(default()) / "stui"


def _user_runtime_dir() -> str:
    # Without XDG_RUNTIME_DIR (cron, CI, ssh without a login session) platformdirs falls back to
    # /tmp/runtime-<uid> and warns. The fallback is right for us (connection files get 0600 in a 0700
    # folder either way) and the warning would only alarm a user at every start, so it is silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", platformdirs.api.RuntimeDirWarning)
        return platformdirs.user_runtime_dir()


def runtime_dir() -> Path:
    """Where running local images leave their connection files (user-only permissions)."""
    return _dir("STUI_RUNTIME_DIR", _user_runtime_dir)


def data_dir() -> Path:
    """Where the session store lives."""
    return _dir("STUI_DATA_DIR", platformdirs.user_data_dir)


def config_dir() -> Path:
    """Where the user's config.toml lives."""
    return _dir("STUI_CONFIG_DIR", platformdirs.user_config_dir)
