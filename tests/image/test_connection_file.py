"""Connection files and the persistent image id, without a server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from stui.image.connection_file import (
    find_connection_files,
    load_or_create_image_id,
    pid_alive,
    read_connection_file,
    remove_connection_file,
    write_connection_file,
)


def write(directory, name="alpha", instance="i" * 32, key=b"secret"):
    return write_connection_file(
        directory,
        image_name=name,
        image_id="img-" + name,
        instance_id=instance,
        zmq_address="tcp://127.0.0.1:5555",
        ws_address=None,
        key=key,
    )


def test_written_private_and_read_back(tmp_path):
    directory = tmp_path / "a" / "run"
    path = write(directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    info = read_connection_file(path)
    assert info.image_name == "alpha" and info.image_id == "img-alpha"
    assert info.key == b"secret" and info.pid == os.getpid()
    assert info.transports == ("zmq",) and not info.stale
    data = json.loads(path.read_text())
    assert data["key"] == b"secret".hex() and data["signature_scheme"] == "hmac-sha256"
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]  # no temp files left


def test_loose_directory_permissions_are_tightened(tmp_path):
    directory = tmp_path / "run"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    write(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_two_images_with_one_name_do_not_collide(tmp_path):
    first = write(tmp_path, instance="a" * 32)
    second = write(tmp_path, instance="b" * 32)
    assert first != second
    assert [i.instance_id for i in find_connection_files(tmp_path)] == ["a" * 32, "b" * 32]


def test_find_skips_junk_and_reports_stale(tmp_path):
    path = write(tmp_path)
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"format": 99}))
    (tmp_path / "broken.json").write_text(json.dumps({"format": 1, "image_name": "x"}))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    data = json.loads(path.read_text())
    data["pid"] = dead.pid
    stale_path = tmp_path / "stale.json"
    stale_path.write_text(json.dumps(data))
    found = {i.path.name: i for i in find_connection_files(tmp_path)}
    assert set(found) == {path.name, "stale.json"}
    assert found["stale.json"].stale and not found[path.name].stale
    assert find_connection_files(tmp_path / "missing") == []


def test_read_refuses_non_connection_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(ValueError, match="not a stui connection file"):
        read_connection_file(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        read_connection_file(bad)


def test_remove_is_idempotent(tmp_path):
    path = write(tmp_path)
    remove_connection_file(path)
    remove_connection_file(path)
    remove_connection_file(None)
    assert not path.exists()


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(-5)


def test_image_id_persists_in_state_dir(tmp_path):
    state = tmp_path / "state"
    first = load_or_create_image_id(state)
    assert load_or_create_image_id(state) == first
    assert stat.S_IMODE((state / "image.json").stat().st_mode) == 0o600
    (state / "image.json").write_text("garbage")
    replaced = load_or_create_image_id(state)
    assert replaced != first and load_or_create_image_id(state) == replaced
    assert load_or_create_image_id(tmp_path / "other") != replaced
