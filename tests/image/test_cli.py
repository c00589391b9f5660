"""The `stui` command line: parsing, `stui image list`, and the serve options that need no process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from argparse import Namespace

import pytest

from stui import cli
from stui.image.config import ImageServerConfig
from stui.image.connection_file import find_connection_files, write_connection_file


def image_list(capsys, *args):
    code = cli.main(["image", "list", *args])
    assert code == 0
    return capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "stui 0.1.0"


def test_image_without_subcommand_prints_help(capsys):
    assert cli.main(["image"]) == 2
    assert "serve" in capsys.readouterr().err


def test_python_dash_m_stui_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "stui", "image", "list", "--json", "--dir", "/nonexistent/x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_image_list_reports_and_cleans_stale_files(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = write_connection_file(
        tmp_path,
        image_name="alpha",
        image_id="a" * 32,
        instance_id="1" * 32,
        zmq_address="tcp://127.0.0.1:1",
        ws_address=None,
        key=b"k",
    )
    stale = write_connection_file(
        tmp_path,
        image_name="beta",
        image_id="b" * 32,
        instance_id="2" * 32,
        zmq_address=None,
        ws_address="ws://127.0.0.1:2/stui",
        key=b"",
    )
    data = json.loads(stale.read_text())
    data["pid"] = dead.pid
    stale.write_text(json.dumps(data))

    rows = json.loads(image_list(capsys, "--dir", str(tmp_path), "--json", "--keep-stale"))
    assert [(r["name"], r["status"], r["removed"]) for r in rows] == [
        ("alpha", "running", False),
        ("beta", "stale", False),
    ]
    assert rows[0]["signed"] and not rows[1]["signed"]
    text = image_list(capsys, "--dir", str(tmp_path))
    assert "alpha" in text and "running" in text and "stale (removed)" in text
    assert [i.path for i in find_connection_files(tmp_path)] == [live]
    assert "no images" in image_list(capsys, "--dir", str(tmp_path / "empty"))


def test_image_list_defaults_to_the_runtime_dir(runtime_dir, capsys):
    write_connection_file(
        runtime_dir,
        image_name="gamma",
        image_id="c" * 32,
        instance_id="3" * 32,
        zmq_address="tcp://127.0.0.1:1",
        ws_address=None,
        key=b"",
    )
    assert "gamma" in image_list(capsys)


def serve_args(*argv: str) -> Namespace:
    return cli._build_parser().parse_args(["image", "serve", *argv])


def test_serve_addresses_from_options():
    args = serve_args()
    assert cli._zmq_address(args) == "tcp://127.0.0.1:0" and cli._ws_address(args) is None
    args = serve_args("--port", "5555", "--ws-port", "0", "--bind", "::1")
    assert cli._zmq_address(args) == "tcp://[::1]:5555"
    assert cli._ws_address(args) == "ws://[::1]:0/stui"
    args = serve_args("--no-zmq", "--ws", "ws://0.0.0.0:9/x")
    assert cli._zmq_address(args) is None and cli._ws_address(args) == "ws://0.0.0.0:9/x"
    assert cli._zmq_address(serve_args("--zmq", "ipc:///tmp/a")) == "ipc:///tmp/a"


def test_serve_keys(tmp_path, monkeypatch):
    monkeypatch.delenv(cli.KEY_ENV, raising=False)
    assert cli._key(serve_args("--no-key")) == b""
    key_file = tmp_path / "key"
    key_file.write_text("  s3cret\n")
    assert cli._key(serve_args("--key-file", str(key_file))) == b"s3cret"
    key_file.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        cli._key(serve_args("--key-file", str(key_file)))
    random_one, random_two = cli._key(serve_args()), cli._key(serve_args())
    assert len(random_one) == 64 and random_one != random_two
    state = tmp_path / "state"
    kept = cli._key(serve_args("--state-dir", str(state)))
    assert cli._key(serve_args("--state-dir", str(state))) == kept
    assert (state / "key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(cli.KEY_ENV, "from-env")
    assert cli._key(serve_args("--state-dir", str(state))) == b"from-env"


def test_serve_refuses_a_bad_config(capsys):
    assert cli.main(["image", "serve", "--no-zmq", "--no-key"]) == 2
    assert "at least one" in capsys.readouterr().err


def test_serve_on_a_taken_port_says_why_and_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ["image", "serve", "--no-key", "--no-connection-file", "--no-zmq"]
        done = subprocess.run(
            [sys.executable, "-m", "stui", *serve, "--ws-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "cannot start: OSError:" in done.stderr  # the plain error, not a group


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"name": ""}, "image name"),
        ({"name": "a/b"}, "image name"),
        ({"zmq_address": None}, "at least one"),
        ({"ws_address": "wss://x:1/stui"}, "ws://"),
        ({"max_sessions": 0}, "max_sessions"),
        ({"eval_time_budget": 0}, "eval_time_budget"),
        ({"shutdown_grace": -1}, "shutdown_grace"),
        ({"max_depth": 0}, "max_depth"),
    ],
)
def test_config_refuses_nonsense(overrides, match):
    with pytest.raises(ValueError, match=match):
        ImageServerConfig(**overrides)
