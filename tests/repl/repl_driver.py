"""Drive a real `run_repl` from a test: prompt_toolkit pipe input in, captured plain-text output out.

The REPL runs in a thread of its own (its own asyncio loop with trio as guest), exactly as `stui` runs
it, except that keys come from a pipe and the screen is a `PlainTextOutput` over a string buffer. The
test types keys and waits for text to appear; results are matched on a line of their own ("\\n7\\n"), so
the echo of the typed input never matches by accident.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.plain_text import PlainTextOutput

from stui.repl.app import Repl
from stui.repl.main import ReplOptions, run_repl

STARTUP_TIMEOUT = 30.0
WAIT_TIMEOUT = 20.0


class ReplDriver:
    """One REPL run. Use as a context manager; leaving it quits the REPL (Ctrl-D) and checks it ended."""

    def __init__(self, options: ReplOptions, **run_kwargs: Any) -> None:
        self.options = options
        self._pipe_cm = create_pipe_input()
        self.input = self._pipe_cm.__enter__()
        self.buffer = io.StringIO()
        self.repl: Repl | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.exit_status: int | None = None
        self.error: BaseException | None = None
        self._mark = 0
        self._started = threading.Event()
        self._run_kwargs = run_kwargs
        self.thread = threading.Thread(target=self._run, name="repl", daemon=True)

    def _on_start(self, repl: Repl) -> None:
        self.repl = repl
        self.loop = asyncio.get_running_loop()
        self._started.set()

    def _run(self) -> None:
        try:
            self.exit_status = run_repl(
                self.options,
                input=self.input,
                output=PlainTextOutput(self.buffer),
                handle_signals=False,
                on_start=self._on_start,
                **self._run_kwargs,
            )
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self._started.set()

    def __enter__(self) -> ReplDriver:
        self.thread.start()
        if not self._started.wait(STARTUP_TIMEOUT) or self.repl is None:
            raise AssertionError(f"the REPL did not start: {self.error!r}\n{self.text()}")
        self.wait_for(">")
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.thread.is_alive():
                self.type("\x04")
                self.thread.join(STARTUP_TIMEOUT)
        finally:
            self._pipe_cm.__exit__(None, None, None)
        if exc_info[0] is None:
            assert not self.thread.is_alive(), "the REPL did not stop on Ctrl-D"
            assert self.error is None, self.error
            assert self.exit_status == 0

    # ----------------------------------------------------------------------------------------------

    def text(self) -> str:
        return self.buffer.getvalue().replace("\r", "")

    def type(self, keys: str) -> None:
        self.input.send_text(keys)

    def wait_for(self, needle: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Wait until `needle` appears after what earlier waits consumed; return the text up to it."""
        end = time.monotonic() + timeout
        while True:
            text = self.text()
            index = text.find(needle, self._mark)
            if index >= 0:
                segment = text[self._mark : index + len(needle)]
                self._mark = index + len(needle)
                return segment
            if time.monotonic() > end or not self.thread.is_alive():
                raise AssertionError(
                    f"{needle!r} did not appear; output since the last match:\n{text[self._mark :]}"
                )
            time.sleep(0.01)

    def wait_for_all(self, needles: list[str], timeout: float = WAIT_TIMEOUT) -> str:
        """Wait until every needle has appeared after the mark, in any order."""
        end = time.monotonic() + timeout
        while True:
            text = self.text()[self._mark :]
            if all(needle in text for needle in needles):
                self._mark += len(text)
                return text
            if time.monotonic() > end or not self.thread.is_alive():
                missing = [n for n in needles if n not in text]
                raise AssertionError(
                    f"{missing!r} did not appear; output since the last match:\n{text}"
                )
            time.sleep(0.01)

    def run(self, line: str, expect: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Type `line` and Enter, wait for `expect`; return the output in between."""
        self.type(line + "\r")
        return self.wait_for(expect, timeout)

    def result(self, line: str, value: str) -> str:
        """Evaluate `line` and wait for `value` printed on a line of its own."""
        return self.run(line, f"\n{value}\n")

    def output_of(self, line: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Type `line` and Enter; return everything printed until the prompt is back and output is quiet."""
        self.type(line + "\r")
        end = time.monotonic() + timeout
        seen, quiet_since = "", time.monotonic()
        while time.monotonic() < end:
            text = self.text()
            if text != seen:
                seen, quiet_since = text, time.monotonic()
            elif (
                time.monotonic() - quiet_since > 0.2
                and text.rstrip().endswith(">")
                and line.splitlines()[-1] in text[self._mark :]
            ):
                segment = text[self._mark :]
                self._mark = len(text)
                return segment
            time.sleep(0.01)
        raise AssertionError(f"no prompt after {line!r}:\n{self.text()[self._mark :]}")

    def wait_for_prompt(self, expected: str, timeout: float = WAIT_TIMEOUT) -> None:
        """Wait until the prompt the REPL would draw now reads `expected` (e.g. "gamma:main ◐> ")."""
        from prompt_toolkit.formatted_text import fragment_list_to_text

        from stui.repl.status_line import prompt_fragments

        assert self.repl is not None
        end = time.monotonic() + timeout
        while True:
            now = fragment_list_to_text(prompt_fragments(self.repl.prompt_state()))
            if now == expected:
                return
            if time.monotonic() > end:
                raise AssertionError(f"the prompt is {now!r}, not {expected!r}")
            time.sleep(0.01)

    def wait_until(self, condition: Any, timeout: float = WAIT_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise AssertionError(f"condition never became true:\n{self.text()[self._mark :]}")
            time.sleep(0.01)

    def wait_until_evaluating(self) -> None:
        """Wait until an evaluation is running (so Ctrl-C means "interrupt", not "clear the line")."""
        self.wait_until(lambda: self.repl is not None and self.repl._evaluating)
        time.sleep(0.2)  # and has reached the image

    def call_in_loop(self, fn: Any, *args: Any) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn, *args)

    def settle(self) -> None:
        """Wait for the next prompt, so later text is the answer to the next input."""
        self.wait_for(">")
