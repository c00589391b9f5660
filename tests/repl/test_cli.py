"""`stui` on the command line: --help, --version, option parsing and bad configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stui.cli import _build_parser
from stui.config import ConfigError
from stui.repl.cli_options import options_from_args


def stui(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stui", *args], capture_output=True, text=True, timeout=timeout
    )


def test_version_and_help() -> None:
    version = stui("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("stui 0.")
    help_text = stui("--help").stdout
    for needle in (
        "--config FILE",
        "--store FILE",
        "--no-store",
        "--connect",
        "--local NAME",
        "Esc-Enter",
        "Ctrl-C",
        "STUI_STORE",
    ):
        assert needle in help_text, needle


def test_a_bad_config_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"[repl\n\xff")
    result = stui("--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith("stui: config file") and "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = stui("--connect", "http://example.org")
    assert result.returncode == 2 and "unknown scheme 'http'" in result.stderr


def parse(*argv: str):
    return options_from_args(_build_parser().parse_args(list(argv)))


def test_options_from_arguments_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = parse()
    assert options.use_store and options.store_path is None and options.local_images is None
    assert options.config.repl.toolbar and options.config.repl.editing_mode == "emacs"
    monkeypatch.setenv("STUI_STORE", str(tmp_path / "env.db"))
    assert parse().store_path == tmp_path / "env.db"
    assert parse("--store", str(tmp_path / "flag.db")).store_path == tmp_path / "flag.db"
    options = parse(
        "--no-store",
        "--local",
        "a",
        "--local",
        "b",
        "--image",
        "b",
        "--vi",
        "--no-toolbar",
        "--connect",
        "pharo=tcp://127.0.0.1:5555",
        "--connect",
        "ws://127.0.0.1:9/stui",
    )
    assert not options.use_store and options.local_images == ("a", "b")
    assert options.config.repl.default_image == "b" and options.config.repl.editing_mode == "vi"
    assert not options.config.repl.toolbar
    assert [(t.name, t.address) for t in options.extra_targets] == [
        ("pharo", "tcp://127.0.0.1:5555"),
        ("", "ws://127.0.0.1:9/stui"),
    ]
    assert parse("--no-local").local_images == ()
    with pytest.raises(ConfigError):
        parse("--connect", "nonsense")
