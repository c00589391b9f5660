"""The REPL end to end: pipe input in, captured output out, against real reference image subprocesses."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import time
from pathlib import Path

import pytest
import trio

import stui.repl.app as app_module
from stui.config import ImageConfig, load_config
from stui.image.launcher import ImageProcess, ImageStartError, start_image_process_sync
from stui.repl.main import ConnectTarget, ReplOptions
from tests.repl.repl_driver import ReplDriver


def make_options(
    images: dict[str, ImageProcess],
    *,
    names: tuple[str, ...] = ("alpha", "beta"),
    store: bool = True,
    **repl: object,
) -> ReplOptions:
    config = load_config()
    config = dataclasses.replace(
        config, repl=dataclasses.replace(config.repl, toolbar=False, **repl)
    )
    targets = tuple(
        ConnectTarget(name=n, address=images[n].address, key=images[n].key) for n in names
    )
    return ReplOptions(config=config, local_images=(), extra_targets=targets, use_store=store)


def test_evaluate_print_errors_and_multiline(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images)) as d:
        d.result("3 + 4", "7")
        d.result("'hello' , ' world'", "'hello world'")
        # an unfinished input continues on the next line; Enter on the complete one runs it all
        d.type("#(1 2 3) inject: 0 into: [:a :b |\r")
        d.result("a + b]", "6")
        # Esc-Enter keeps a statement sequence open
        d.type("| t |\x1b\rt := 5.\x1b\r")
        d.result("t * t", "25")
        out = d.output_of("1/0")
        assert "ZeroDivide" in out
        out = d.output_of("3 + * 4")
        lines = out.splitlines()
        error = next(i for i, line in enumerate(lines) if "Error" in line or "error" in line)
        assert lines[error + 1].strip() == "3 + * 4"
        caret = lines[error + 2]
        assert caret.strip() == "^"
        assert caret.index("^") - lines[error + 1].index("3") in (3, 4)
        # Execute mode prints no printString
        out = d.run(":exec 6 * 7", "alpha:main ●>")
        assert "42" not in out.replace("6 * 7", "")
        d.type("Transcript show: 'from F5'\x1b[15~")
        d.wait_for("from F5")


def test_images_switching_isolation_and_mistakes(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images)) as d:
        d.result("x := 42", "42")
        table = d.output_of(":images").splitlines()
        at = next(i for i, line in enumerate(table) if line.split()[:2] == ["image", "address"])
        header, rows = table[at], table[at + 1 : at + 3]
        assert header.split() == [
            "image",
            "address",
            "transport",
            "status",
            "health",
            "rtt",
            "sessions",
        ]
        assert rows[0].split()[:2] == ["*●", "alpha"] and images["alpha"].address in rows[0]
        assert "connected" in rows[0] and "zmq" in rows[0]
        d.run(":use beta", "now on beta:main")
        assert "\n42\n" not in d.output_of("x")  # beta's workspace never saw x
        d.run(":use alpha", "now on alpha:main")
        d.result("x", "42")
        d.run(":use gamma", "no image called 'gamma'; images: alpha, beta")
        d.run(":uze beta", "unknown command :uze; did you mean :use?")
        d.run(":use", "usage: :use NAME (images: alpha, beta)")
        d.run(":session frobnicate", "usage: :session new [NAME]")
        d.run(":cleanup", "usage: :cleanup NAME [--force] [--keep-active]")
        d.run(":help use", "switch image (its session and context come back)")
        out = d.run(":help", "Ctrl-D quits.")
        assert ":images" in out and ":inspect EXPR | N | back" in out
        # Ctrl-C at the prompt clears the line
        d.type("garbage")
        d.type("\x03")
        d.result("3 + 4", "7")


def test_sessions_new_attach_close_stats_cleanup(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images)) as d:
        d.result("y := 1", "1")
        d.run(":session new scratch", "new session")
        d.wait_for("alpha:scratch ●>")
        assert "\n1\n" not in d.output_of("y")  # a new session: a new workspace
        out = d.output_of(":sessions")
        assert "main" in out and "scratch" in out and out.count("active") == 2
        assert d.repl is not None
        main_id = next(sid for sid, name in d.repl.session_choices if name == "main")
        scratch_id = next(sid for sid, name in d.repl.session_choices if name == "scratch")
        d.run(f":session attach {main_id[:6]}", f"attached session {main_id}")
        d.wait_for("alpha:main ●>")
        d.result("y", "1")
        d.run(f":session close {scratch_id}", f"closed session {scratch_id}")
        out = d.output_of(":sessions")  # closed ones are left out, and it says so
        assert scratch_id not in out and main_id in out
        assert "1 closed session(s) not shown; :sessions all lists them" in out
        assert scratch_id in d.output_of(":sessions all")
        out = d.output_of(":session close zzz")
        assert "no session 'zzz' on alpha; :sessions lists them" in out
        assert "Traceback" not in d.text()
        stats = [line.split() for line in d.output_of(":stats alpha").splitlines()]
        at = next(i for i, words in enumerate(stats) if words[:1] == ["image"])
        header, row = stats[at], stats[at + 1]
        assert header[:4] == ["image", "total", "active", "orphaned"]
        assert row[:2] == ["alpha", "1"]
        d.run(":cleanup alpha", "alpha: closed nothing")
        d.run(":session new tmp", "new session")
        d.wait_until(lambda: any(name == "tmp" for _, name in d.repl.session_choices))
        tmp_id = next(sid for sid, name in d.repl.session_choices if name == "tmp")
        d.run(":session attach main", f"attached session {main_id}")
        # closes tmp on the image, and forgets the closed scratch in the store; keeps the active main
        out = d.run(":cleanup alpha --force --keep-active", "; kept 1")
        assert tmp_id[:8] in out.splitlines()[-1] and main_id[:8] not in out.splitlines()[-1]
        d.run(":cleanup alpha --bogus", "usage: :cleanup NAME [--force] [--keep-active]")
        d.result("y", "1")  # the active session survived the forced cleanup
        out = d.output_of(":sessions all")
        assert "beta" in out and "alpha" in out
        d.run(":sessions nowhere", "no image called 'nowhere'")
        d.run(":session new twin", "new session")
        d.run(":session new twin", "new session")
        d.wait_until(lambda: sum(name == "twin" for _, name in d.repl.session_choices) == 2)
        d.run(":session attach twin", "'twin' could be any of 2 sessions (")
        d.run(":session attach main", f"attached session {main_id}")
        d.run(f":session close {main_id[:8]}", f"closed session {main_id}")
        d.run("y", "has no active session; :session new [NAME] opens one, :session attach ID")


def test_inspect_drill_down_and_back(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images)) as d:
        out = d.output_of(":inspect Array with: 'abc' with: 3 @ 4")
        assert "Array" in out
        assert "'abc'" in out and "3@4" in out
        out = d.output_of(":inspect 2")
        assert "Point" in out and "x: 3" in out and "y: 4" in out
        out = d.output_of(":inspect 1")
        assert "has no slots to open" in out
        d.run(":inspect 9", "slot 9 does not exist; 1 to 2")
        out = d.output_of(":inspect back")
        assert "Array" in out
        d.run(":inspect back", "left the inspector")
        d.run(":inspect", "usage: :inspect EXPR")


def test_interrupt_returns_to_the_prompt_and_the_image_goes_on(
    images: dict[str, ImageProcess],
) -> None:
    with ReplDriver(make_options(images)) as d:
        d.type("[true] whileTrue\r")
        d.wait_until_evaluating()
        d.call_in_loop(d.repl.request_interrupt)
        d.wait_for("Interrupted")
        d.result("3 + 4", "7")
        d.run(":interrupt", "nothing is running on alpha")


def test_history_is_per_image_and_survives_a_restart(images: dict[str, ImageProcess]) -> None:
    options = make_options(images)
    with ReplDriver(options) as d:
        d.result("100 factorial printString size", "158")
        d.run(":use beta", "now on beta")
        d.result("'only on beta' size", "12")
        assert d.repl is not None
        beta_id = d.repl.images["beta"].image_id
        beta_main = next(sid for sid, name in d.repl.session_choices if name == "main")
    # quitting saved the context of the image we were on (its active session and notes) to the store
    state = trio.run(load_state, beta_id, beta_main)
    assert state["notes"]["last_source"] == "'only on beta' size"
    with ReplDriver(options) as d:
        wait_history_loaded(d, "alpha")
        d.type("\x1b[A\x1b[A\r")  # newest alpha entry is ":use beta"; the one before it
        d.wait_for("\n158\n")
        out = d.output_of(":history factorial")
        assert "100 factorial printString size" in out and "only on beta" not in out
        d.run(":use beta", "now on beta")
        wait_history_loaded(d, "beta")
        d.type("\x1b[A\r")
        d.wait_for("\n12\n")


async def load_state(image_id: str, session_id: str) -> dict:
    from stui.sessions import open_session_store

    async with open_session_store() as store:
        return await store.load_session_state(image_id, session_id)


def wait_history_loaded(d: ReplDriver, image: str) -> None:
    assert d.repl is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        history = d.repl.history_for(image)
        if history.get_strings():
            return
        time.sleep(0.02)
    raise AssertionError(f"history of {image} never loaded")


def test_without_a_store_history_lives_in_memory(
    images: dict[str, ImageProcess], stui_dirs: Path
) -> None:
    with ReplDriver(make_options(images, store=False)) as d:
        d.result("2 ** 10", "1024")
        d.run(":history", "2 ** 10")
    assert not (stui_dirs / "data" / "sessions.sqlite3").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_disconnect_and_a_lost_image(
    images: dict[str, ImageProcess], runtime_dir: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, STUI_RUNTIME_DIR=str(runtime_dir))
    gamma = start_image_process_sync(
        "gamma", env=env, state_dir=tmp_path / "gamma", extra_args=["--port", str(free_port())]
    )
    try:
        with ReplDriver(make_options(images, names=("alpha",))) as d:
            d.run(":images", "local images not connected: beta, gamma (:connect NAME)")
            # a local image, found through its connection file, by name
            d.run(":connect gamma", f"gamma: connected at {gamma.address}; :use gamma to switch")
            # an address, under a name of our choosing
            d.run(f":connect {images['beta'].address} as b2", "b2: connected")
            d.run(":connect nowhere", "no local image or configured image called 'nowhere'")
            d.run(":connect tcp://127.0.0.1:1 as x y", "usage: :connect")
            d.run(":connect gamma", "an image called 'gamma' is already connected")
            d.run(":use gamma", "now on gamma:main")
            d.result("z := 5", "5")
            # the image dies: the REPL says so above the prompt and the prompt shows it
            gamma.kill()
            d.wait_for("gamma: link lost, reconnecting")
            d.wait_for("; :use alpha to go on there meanwhile")
            d.wait_for_prompt("gamma:main ◐> ")
            d.run(":connect gamma", f"gamma is reconnecting at {gamma.address}; it comes back by")
            d.run(f":connect {gamma.address} as gamma", "gamma is reconnecting at")
            out = d.output_of("'typed while down' size")
            assert "gamma" in out and "16" not in out.split("size")[-1]
            # it comes back (same port, new process): reconnected, and told it restarted
            gamma = restart_on_same_port(gamma)
            d.wait_for_all(["gamma is connected again", "gamma restarted"])
            d.result("3 + 4", "7")
            # what was typed while the image was down is in its history all the same
            d.run(":history while down", "'typed while down' size")
            # disconnecting the current image offers the next one
            d.run(":disconnect gamma", "disconnected from gamma; now on alpha")
            d.run(":disconnect gamma", "no image called 'gamma'")
            d.run(":disconnect b2", "disconnected from b2")
    finally:
        gamma.stop_sync(timeout=5)


def test_connect_by_name_follows_an_image_restarted_on_another_port(
    images: dict[str, ImageProcess], runtime_dir: Path, tmp_path: Path
) -> None:
    """An image restarted by hand gets a new port: `:connect NAME` lets go of the dead address."""
    env = dict(os.environ, STUI_RUNTIME_DIR=str(runtime_dir))
    gamma = start_image_process_sync("gamma", env=env, state_dir=tmp_path / "gamma")
    try:
        with ReplDriver(make_options(images, names=("alpha",))) as d:
            d.run(":connect gamma", f"gamma: connected at {gamma.address}")
            gamma.kill()
            d.wait_for("gamma: link lost, reconnecting")
            gamma = start_image_process_sync("gamma", env=env, state_dir=tmp_path / "gamma")
            d.run(":connect gamma", f"gamma: connected at {gamma.address}")
            d.run(":use gamma", "now on gamma:main")
            d.result("3 + 4", "7")
            d.run(":connect gamma", "an image called 'gamma' is already connected")
    finally:
        gamma.stop_sync(timeout=5)


def restart_on_same_port(process: ImageProcess) -> ImageProcess:
    """Restart an image on its fixed port. The port can be briefly taken as the *source* port of the
    client's own reconnection attempts (both come from the ephemeral range), so try a few times."""
    for attempt in range(10):
        try:
            return process.restart_sync()
        except ImageStartError:
            if attempt == 9:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def test_start_up_with_an_unreachable_image_still_opens_the_rest(
    images: dict[str, ImageProcess],
) -> None:
    options = make_options(images, names=("alpha",))
    options = dataclasses.replace(
        options,
        extra_targets=(
            *options.extra_targets,
            ConnectTarget(name="ghost", address=f"tcp://127.0.0.1:{free_port()}"),
        ),
        config=dataclasses.replace(
            options.config,
            repl=dataclasses.replace(options.config.repl, default_image="alpha"),
            images=(
                ImageConfig(
                    name="phantom", address=f"tcp://127.0.0.1:{free_port()}", transport="zmq"
                ),
            ),
        ),
    )
    with ReplDriver(options) as d:
        assert "could not connect to ghost" in d.text()
        assert "could not connect to phantom" in d.text()
        assert "; once it runs: :connect phantom\n" in d.text()  # by its name in the config
        assert f"; once it runs: :connect {options.extra_targets[-1].address} as ghost" in d.text()
        d.result("1 + 1", "2")
        # Ctrl-C gives up on a slow command: nothing of it stays behind
        d.type(f":connect tcp://127.0.0.1:{free_port()} as ghost2\r")
        d.wait_for("as ghost2\n")
        d.wait_until(lambda: d.repl is not None and d.repl._command_task is not None)
        d.call_in_loop(d.repl.request_interrupt)
        d.wait_for(":connect cancelled")
        d.result("1 + 2", "3")
        assert "ghost2" not in d.repl.images


def test_eval_timeout_interrupts_and_late_results_print_above_the_prompt(
    images: dict[str, ImageProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ReplDriver(make_options(images, eval_timeout=0.3)) as d:
        d.type("[true] whileTrue\r")
        d.wait_for_all(["no answer after 0.3 s", "Interrupted"])
        d.result("3 + 4", "7")
    # An image that ignores the interrupt: the prompt comes back anyway, counting the evaluation,
    # and its outcome is printed when it finally comes (here: when :interrupt reaches the image).
    monkeypatch.setattr(app_module, "INTERRUPT_GRACE", 0.2)
    monkeypatch.setattr(app_module.Repl, "_interrupt_image", _ignore_interrupt)
    with ReplDriver(make_options(images)) as d:
        d.type("[true] whileTrue\r")
        d.wait_until_evaluating()
        d.call_in_loop(d.repl.request_interrupt)
        d.wait_for("has not stopped yet; its result will be printed when it comes")
        d.wait_for_prompt("alpha:main ● 1 running> ")
        d.run(":interrupt", "interrupted 1 evaluation(s) on alpha")
        d.wait_for("[alpha] Interrupted")
        d.wait_for_prompt("alpha:main ●> ")


async def _ignore_interrupt(self: object, image: str) -> None:
    return None


def test_smalltalk_completion_comes_from_the_image(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images)) as d:
        assert d.repl is not None and d.loop is not None
        future = asyncio.run_coroutine_threadsafe(
            d.repl.complete_smalltalk("Transcript sh", 13), d.loop
        )
        completions = future.result(10)
        assert completions is not None and completions.start == 11
        assert "show:" in [item.text for item in completions.items]
        future = asyncio.run_coroutine_threadsafe(d.repl.complete_smalltalk("Obj", 3), d.loop)
        assert "Object" in [item.text for item in future.result(10).items]


def test_config_images_with_key_files_and_local_images_started_by_stui(
    images: dict[str, ImageProcess], stui_dirs: Path, runtime_dir: Path
) -> None:
    key_file = stui_dirs / "beta.key"
    key_file.write_bytes(images["beta"].key + b"\n")
    config_dir = stui_dirs / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(
        f"""
[repl]
toolbar = false

[[images]]
name = "beta"
address = "{images["beta"].address}"
key_file = "{key_file}"
heartbeat_interval = 0.5

[[images]]
name = "later"
address = "tcp://127.0.0.1:1"
auto_connect = false
"""
    )
    before = {p.name for p in runtime_dir.glob("delta-*.json")}
    options = ReplOptions(
        config=load_config(),
        local_images=("delta",),
        # a local image's address without its key: the key comes from its connection file
        extra_targets=(ConnectTarget(name="a2", address=images["alpha"].address),),
    )
    with ReplDriver(options) as d:
        assert "images: a2, beta, delta" in d.text() and "started local images delta" in d.text()
        d.wait_for_prompt("delta:main ●> ")
        assert {p.name for p in runtime_dir.glob("delta-*.json")} - before
        d.run(":use beta", "now on beta:main")
        d.result("3 + 4", "7")
        d.run(":use later", "no image called 'later'; :connect later first")
    assert {p.name for p in runtime_dir.glob("delta-*.json")} == before  # stopped on exit


def test_with_no_image_left_the_prompt_says_so(images: dict[str, ImageProcess]) -> None:
    with ReplDriver(make_options(images, names=("alpha",))) as d:
        d.run(":disconnect alpha", "disconnected from alpha; no image left: :connect ADDRESS")
        d.wait_for_prompt("no image ✕> ")
        d.run("3 + 4", "no current image: :connect ADDRESS or :use NAME first")
        d.run(":session new", "no current image")
        d.run(":images", "no images; :connect ADDRESS")
        d.run(":sessions", "no current image")


def test_a_local_image_that_cannot_start_is_reported_and_the_others_stopped(
    runtime_dir: Path,
) -> None:
    before = set(runtime_dir.glob("*.json"))
    options = ReplOptions(config=load_config(), local_images=("epsilon", "bad/name"))
    with ReplDriver(options) as d:
        assert "could not start local images: ImageStartError: image 'bad/name'" in d.text()
        d.wait_for_prompt("no image ✕> ")
    assert set(runtime_dir.glob("*.json")) == before  # nothing of epsilon is left running


def test_a_websocket_image_by_name(images: dict[str, ImageProcess], runtime_dir: Path) -> None:
    env = dict(os.environ, STUI_RUNTIME_DIR=str(runtime_dir))
    web = start_image_process_sync("web", env=env, ws=True, zmq=False)
    try:
        with ReplDriver(make_options(images, names=("alpha",))) as d:
            d.run(":connect web", f"web: connected at {web.ws_address}")
            table = d.output_of(":images")
            row = next(line for line in table.splitlines() if line.split()[1:2] == ["web"])
            assert "websocket" in row and web.ws_address in row and "connected" in row
            d.run(":use web", "now on web:main")
            d.result("(1 to: 10) inject: 0 into: [:a :b | a + b]", "55")
    finally:
        web.stop_sync(timeout=5)


def test_library_warnings_go_to_the_log_file_not_across_the_screen(
    images: dict[str, ImageProcess], stui_dirs: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Python's last-resort handler would print a warning's traceback over the prompt."""
    with ReplDriver(make_options(images, names=("alpha",))) as d:
        try:
            raise RuntimeError("disk on fire")
        except RuntimeError:
            logging.getLogger("stui.actors.image").warning("session store: x failed", exc_info=True)
        d.result("3 + 4", "7")
        assert "disk on fire" not in d.text()
    assert "disk on fire" not in capfd.readouterr().err
    log = (stui_dirs / "data" / "stui.log").read_text()
    assert "session store: x failed" in log and "RuntimeError: disk on fire" in log
    assert logging.getLogger("stui").propagate  # restored after the run


def test_a_failed_background_task_is_shown_not_swallowed(
    images: dict[str, ImageProcess],
) -> None:
    """Work the REPL starts without waiting for it (history writes, interrupts, the event pumps) reports
    its failure above the prompt; the REPL carries on."""

    async def broken() -> None:
        raise RuntimeError("the disk is on fire")

    with ReplDriver(make_options(images, names=("alpha",), store=False)) as d:
        d.call_in_loop(d.repl.guest.spawn, broken)
        d.wait_for("background task failed: RuntimeError: the disk is on fire")
        d.result("3 + 4", "7")
