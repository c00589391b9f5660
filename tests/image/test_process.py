"""`stui image serve` as a real child process, through the launcher: ready line, signals, restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import trio
from stui.protocol import (
    CreateSession,
    EvalResult,
    Evaluate,
    ImageShutdown,
    Ping,
    Pong,
)

from stui import cli
from stui.image.connection_file import find_connection_files, pid_alive, read_connection_file
from stui.image.launcher import (
    ImageStartError,
    start_image_process,
    start_image_process_sync,
)
from tests.image.client import Client, WsLink, ZmqLink


def child_env(runtime_dir):
    return {**os.environ, "STUI_RUNTIME_DIR": str(runtime_dir)}


async def freeze(image) -> None:
    """Freeze `image` and wait until every thread of it has stopped: SIGSTOP lands asynchronously,
    so without the wait a busy machine can let the image answer one more frame."""
    image.freeze()
    tasks = f"/proc/{image.pid}/task"
    if not os.path.isdir(tasks):  # no procfs: nothing to wait on
        return
    with trio.fail_after(10):
        while not all(_thread_state(tasks, t) in "Tt" for t in os.listdir(tasks)):
            await trio.sleep(0.001)


def _thread_state(tasks: str, tid: str) -> str:
    try:
        with open(f"{tasks}/{tid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0]
    except OSError:  # the thread ended
        return "T"


async def evaluate(client: Client, source: str) -> str:
    opened = await client.request(CreateSession())
    result = await client.request(Evaluate(session_id=opened.session.session_id, source=source))
    assert isinstance(result, EvalResult), result
    return result.print_string


async def test_serve_over_zmq_and_ws_then_stop_cleanly(runtime_dir, zmq_context, nursery):
    image = await start_image_process("alpha", ws=True, env=child_env(runtime_dir))
    try:
        assert image.zmq_address.startswith("tcp://127.0.0.1:")
        assert image.ws_address.startswith("ws://127.0.0.1:") and image.ws_address.endswith("/stui")
        assert len(image.key) == 64
        info = read_connection_file(image.connection_file)
        assert info.pid == image.pid and info.key == image.key
        assert info.image_id == image.image_id
        by_zmq = Client(ZmqLink(zmq_context, image.zmq_address), key=image.key)
        await by_zmq.hello()
        assert await evaluate(by_zmq, "3 + 4") == "7"
        by_ws = Client(await WsLink.open(nursery, image.ws_address), key=image.key)
        welcome = await by_ws.hello()
        assert welcome.instance_id == image.instance_id
        assert await evaluate(by_ws, "6 * 7") == "42"
        image.freeze()  # stop() thaws a frozen image before asking it to stop
        with trio.fail_after(20):
            assert await image.stop() == 0
        for client in (by_zmq, by_ws):
            assert isinstance((await client.wait_event(ImageShutdown)).message, ImageShutdown)
        assert not image.connection_file.exists()
        await by_zmq.aclose()
    finally:
        image.kill()


async def test_restart_keeps_image_id_and_changes_instance_id(runtime_dir, tmp_path):
    state = tmp_path / "state"
    first = await start_image_process("beta", state_dir=state, env=child_env(runtime_dir))
    try:
        second = await first.restart()
    finally:
        first.kill()
    try:
        assert first.returncode == 0
        assert second.image_id == first.image_id and second.instance_id != first.instance_id
        assert second.key == first.key and second.pid != first.pid
    finally:
        await second.stop()


async def test_kill_leaves_a_stale_file_and_freeze_stops_answers(runtime_dir, zmq_context):
    image = await start_image_process("gamma", key=b"", env=child_env(runtime_dir))
    try:
        client = Client(ZmqLink(zmq_context, image.zmq_address))
        await client.hello()
        await freeze(image)
        rid = await client.send(Ping(timestamp=1.0))
        with pytest.raises(trio.TooSlowError):
            await client.wait_for(rid, timeout=0.5)
        image.thaw()
        assert isinstance(await client.wait_for(rid), Pong)
        image.kill()
        assert await image.wait() == -signal.SIGKILL
        (stale,) = find_connection_files(runtime_dir)
        assert stale.stale and stale.pid == image.pid
        assert cli.main(["image", "list"]) == 0  # reports it stale and removes it
        assert find_connection_files(runtime_dir) == []
        await client.aclose()
    finally:
        image.kill()


def test_sync_launcher_and_sigint(runtime_dir):
    image = start_image_process_sync("delta", env=child_env(runtime_dir))
    try:
        assert image.connection_file.exists()
        image.send_signal(signal.SIGINT)
        assert image.wait_sync(20) == 0
        assert not image.connection_file.exists()
        assert image.stop_sync() == 0  # already gone: harmless
    finally:
        image.kill()


async def test_a_child_that_cannot_start_is_reported(runtime_dir):
    with pytest.raises(ImageStartError, match="before it was ready"):
        await start_image_process(
            "broken", extra_args=["--zmq", "bogus://nowhere"], env=child_env(runtime_dir)
        )
    with pytest.raises(ImageStartError):
        start_image_process_sync(
            "broken", extra_args=["--zmq", "bogus://nowhere"], env=child_env(runtime_dir)
        )


def test_cli_prints_one_ready_line_and_exits_zero_on_sigterm(runtime_dir, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("abc\n")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stui",
            "image",
            "serve",
            "--name",
            "eps",
            "--key-file",
            str(key_file),
            "--no-connection-file",
            "--ws-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(runtime_dir),
    )
    try:
        ready = json.loads(child.stdout.readline())
        assert ready["event"] == "ready" and ready["name"] == "eps"
        assert ready["connection_file"] is None and ready["ws_address"].startswith("ws://")
        assert not runtime_dir.exists() or not list(runtime_dir.iterdir())
        child.terminate()
        assert child.wait(20) == 0
        assert child.stdout.read() == ""
    finally:
        child.kill()
        child.wait()


def test_an_image_exits_with_the_process_that_started_it(runtime_dir):
    script = (
        "import json, os\n"
        "from stui.image.launcher import start_image_process_sync\n"
        "image = start_image_process_sync('orphan', key=b'')\n"
        "print(json.dumps([image.pid, str(image.connection_file)]), flush=True)\n"
        "os._exit(0)\n"  # a crash, as far as the image can tell: no stop(), no cleanup
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=child_env(runtime_dir),
        timeout=60,
        check=True,
    )
    pid, connection_file = json.loads(out.stdout)
    deadline = time.monotonic() + 20
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert not os.path.exists(connection_file)  # it stopped cleanly
