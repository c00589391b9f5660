"""The local images stui starts itself: started, kept running, stopped (real `stui image serve` children)."""

from __future__ import annotations

import dataclasses
import os
import signal

import trio

from stui.config import load_config
from stui.image.connection_file import ConnectionInfo, find_connection_files
from stui.paths import runtime_dir
from stui.repl.main import ReplOptions, default_launcher
from tests.repl.repl_driver import ReplDriver


def running(name: str) -> list[ConnectionInfo]:
    return [i for i in find_connection_files(runtime_dir()) if i.image_name == name and not i.stale]


async def test_a_local_image_that_dies_is_started_again_on_its_port_with_its_key() -> None:
    async with default_launcher(("delta",)) as targets:
        [target] = targets
        [first] = running("delta")
        os.kill(first.pid, signal.SIGKILL)
        with trio.fail_after(30):
            while not (again := [i for i in running("delta") if i.pid != first.pid]):
                await trio.sleep(0.05)
        [second] = again
        # the image actor, still reconnecting to the old address with the old key, gets it back
        assert second.zmq_address == target.address and second.key == target.key
        assert second.image_id == first.image_id and second.instance_id != first.instance_id
    with trio.fail_after(10):
        while running("delta"):  # leaving stops the restarted image, and it is not started again
            await trio.sleep(0.05)
    await trio.sleep(0.3)
    assert not running("delta")


def test_the_repl_gets_a_killed_local_image_back() -> None:
    config = load_config()
    config = dataclasses.replace(config, repl=dataclasses.replace(config.repl, toolbar=False))
    with ReplDriver(ReplOptions(config=config, local_images=("alpha",), use_store=False)) as d:
        d.result("v := 6 * 7", "42")
        [first] = running("alpha")
        os.kill(first.pid, signal.SIGKILL)
        d.wait_for("alpha: link lost, reconnecting")
        d.wait_for_all(["alpha is connected again", "alpha restarted"])
        d.result("3 + 4", "7")
        d.result("v", "nil")  # a new process: the workspace is new
