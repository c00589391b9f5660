"""`stui` in a real pseudo-terminal, as a newcomer meets it: no config, two local images started for them.

Start, evaluate `3 + 4`, define a variable, `:use beta` and see the variable is not there, `:use alpha`
and see it is, interrupt `[true] whileTrue` with Ctrl-C (a real SIGINT from the terminal), see an image's crash
reported above the prompt without losing the half-typed input, quit with `:quit` — and the images stui
started are stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pexpect
import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r")


class Terminal:
    """A pexpect child whose screen text is read with escape sequences removed."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.raw = ""
        self.seen = 0

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while True:
            clean = ANSI.sub("", self.raw)
            index = clean.find(needle, self.seen)
            if index >= 0:
                segment = clean[self.seen : index + len(needle)]
                self.seen = index + len(needle)
                return segment
            if time.monotonic() > end:
                raise AssertionError(
                    f"{needle!r} not on screen; after the last match:\n{clean[self.seen :]}"
                )
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                if needle not in ANSI.sub("", self.raw)[self.seen :]:
                    raise AssertionError(
                        f"stui ended before {needle!r}:\n{ANSI.sub('', self.raw)[self.seen :]}"
                    ) from None

    def enter(self, line: str) -> None:
        self.child.send(line + "\r")


@pytest.mark.timeout(120)
def test_a_newcomer_session_in_a_real_terminal(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        STUI_RUNTIME_DIR=str(tmp_path / "run"),
        STUI_DATA_DIR=str(tmp_path / "data"),
        STUI_CONFIG_DIR=str(tmp_path / "config"),
        PROMPT_TOOLKIT_NO_CPR="1",  # pexpect answers no cursor-position requests
        TERM="xterm-256color",
    )
    env.pop("STUI_STORE", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "stui"], env=env, encoding="utf-8", dimensions=(30, 120), timeout=30
    )
    term = Terminal(child)
    try:
        term.wait_for("started local images alpha, beta")
        term.wait_for("alpha:main ●>")
        assert len(list((tmp_path / "run").glob("*.json"))) == 2  # both images are running

        term.enter("3 + 4")
        term.wait_for("\n7\n")
        term.enter("x := 6 * 7")
        term.wait_for("\n42\n")
        term.enter(":use beta")
        term.wait_for("now on beta:main")
        term.enter("x")
        term.enter("'sentinel' size")
        answer = term.wait_for("\n8\n")
        assert "\n42\n" not in answer  # beta has its own workspace: no x there (nil, or an error)
        term.enter(":use alpha")
        term.wait_for("now on alpha:main")
        term.enter("x")
        term.wait_for("\n42\n")

        term.enter("[true] whileTrue")
        term.wait_for("whileTrue\n")  # accepted: the evaluation is under way
        time.sleep(0.5)  # let it spin
        child.sendintr()  # Ctrl-C from the terminal: SIGINT
        term.wait_for("Interrupted")
        term.enter("x + 1")
        term.wait_for("\n43\n")  # the prompt is back and the workspace survived

        # beta dies while we type: the notice appears above the prompt, the half-typed input survives
        term.child.send("3 +")
        term.wait_for("3 +")
        beta = next(f for f in (tmp_path / "run").glob("beta-*.json"))
        os.kill(json.loads(beta.read_text())["pid"], signal.SIGKILL)
        term.wait_for("beta: link lost, reconnecting")
        # printed *above* the prompt: prompt_toolkit erased the prompt line first (erase-down, ESC [J),
        # rather than the text landing after "3 +"
        raw = term.raw[: term.raw.index("beta: link lost")]
        assert "\x1b[J" in raw[raw.rindex("+") :]
        term.wait_for("alpha:main ●> 3 +")  # the prompt and the input, redrawn below the notice
        term.enter(" 4")
        term.wait_for("\n7\n")

        term.enter(":quit")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        if child.isalive():
            child.terminate(force=True)
    child.close()
    assert child.exitstatus == 0
    # the images stui started were stopped: alpha cleanly (its file is gone); beta was killed above
    assert [p.name.split("-")[0] for p in (tmp_path / "run").glob("*.json")] == ["beta"]


def image_children_of(pid: int) -> list[int]:
    """Child processes running `stui image serve` (not e.g. the `ldconfig` ctypes runs at import)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = []
    for child in (int(p) for p in text.split()):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and b"image" in argv:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_images_start_stops_them_without_a_traceback(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        STUI_RUNTIME_DIR=str(tmp_path / "run"),
        STUI_DATA_DIR=str(tmp_path / "data"),
        STUI_CONFIG_DIR=str(tmp_path / "config"),
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    child = pexpect.spawn(sys.executable, ["-m", "stui"], env=env, encoding="utf-8", timeout=30)
    try:
        deadline = time.monotonic() + 20
        while not (images := image_children_of(child.pid)) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert images, "stui started no image processes"
        child.sendintr()
        child.expect(pexpect.EOF, timeout=30)
        output = ANSI.sub("", child.before)
    finally:
        if child.isalive():
            child.terminate(force=True)
    child.close()
    if "alpha:main" in output:
        pytest.skip("the images were ready before Ctrl-C arrived")  # the race went the other way
    assert "interrupted while starting" in output and "Traceback" not in output
    assert child.exitstatus == 130
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in images) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in images)
