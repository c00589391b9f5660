"""The REPL loop: read with prompt_toolkit, run through the supervisor (in trio), print above the prompt.

Shape (ptpython's `PythonRepl.run`, litecli's `one_iteration`): one loop that survives everything except
Ctrl-D and `:quit`. EOFError ends it; KeyboardInterrupt at the prompt clears the line; an unexpected
error while reading or running a command prints a short traceback and the loop goes on.

Threads and loops: prompt_toolkit's asyncio loop owns the terminal on the main thread; the supervisor
lives in trio as a guest of that loop (trio_guest.py says why). Every call into the supervisor goes
through `Repl.call`, which awaits the trio function from asyncio.

Ctrl-C. While the prompt reads, Ctrl-C is a key (the terminal is in raw mode) and clears the line.
While an evaluation runs the terminal is in cooked mode, so Ctrl-C arrives as SIGINT; the REPL handles
SIGINT with an asyncio signal handler (installed before trio starts, so trio leaves SIGINT alone) that
sends `Interrupt` to the image and returns to the prompt. An evaluation that does not stop at once stays
counted in the prompt ("1 running") and its late result is printed above the prompt when it comes.

Background output — status changes, restarts, orphaned sessions, Transcript text — comes from a trio task
reading `sup.subscribe()` and is printed with `print_formatted_text`, which prompt_toolkit draws above
a running prompt without garbling the input.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio
from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app_or_none
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.formatted_text import FormattedText, StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.shortcuts import print_formatted_text

from stui.actors.errors import (
    EvaluationError,
    ImageDisconnected,
    ImageNotFound,
    RemoteError,
    RequestTimeout,
    SessionError,
    StuiError,
)
from stui.config import Config
from stui.protocol import (
    Completions,
    ConnectionStatus,
    ControlEvent,
    ErrorCode,
    EvalMode,
    ImageConnectionStatus,
    ImageHealthChanged,
    ImageRestarted,
    ImageStatusChanged,
    SessionOrphaned,
    TranscriptReceived,
)
from stui.repl.completer import ReplCompleter
from stui.repl.history import StoreHistory
from stui.repl.keys import repl_key_bindings
from stui.repl.printer import (
    error_fragments,
    notice_fragments,
    result_fragments,
    transcript_fragments,
)
from stui.repl.status_line import (
    PromptState,
    continuation_fragments,
    prompt_fragments,
    session_label,
    toolbar_fragments,
)
from stui.repl.style import ReplLexer, repl_style
from stui.repl.trio_guest import TrioGuest, TrioGuestStopped

if TYPE_CHECKING:
    from stui.actors.supervisor import Supervisor
    from stui.sessions import SessionStore

__all__ = ["Backend", "Repl"]

#: How often the status snapshot behind the prompt and toolbar is refreshed (seconds).
STATUS_REFRESH = 0.5
#: After Ctrl-C, how long to wait for the interrupted evaluation's answer before giving the prompt back.
INTERRUPT_GRACE = 2.0
#: Bottom toolbar key hints.
KEY_HINT = "Esc-Enter newline · F5 exec · :help"


@dataclass
class Backend:
    """What the REPL drives, opened inside trio (see `stui.repl.main.open_backend`).

    Attributes:
        sup: the supervisor.
        store: the session store, None when disabled.
        local_images: names of the reference images this run started (stopped on exit).
        notices: things to tell the user at start-up (e.g. a recovered store, an image that failed).
    """

    sup: Supervisor
    store: SessionStore | None = None
    local_images: tuple[str, ...] = ()
    notices: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """What the prompt, the toolbar and the completer show, read from the supervisor in one go.

    Attributes:
        images: every image's status.
        current: the current image's name.
        session_label: the current image's active session as the prompt shows it.
        sessions: (session id, name) of the current image's sessions.
    """

    images: list[ImageConnectionStatus]
    current: str | None
    session_label: str
    sessions: list[tuple[str, str]]


class Repl:
    """The interactive loop over one `Backend`.

    Args:
        backend: the opened supervisor (and store).
        guest: the trio guest the backend lives in.
        config: the configuration (timeouts, history size, toolbar).
        input, output: prompt_toolkit input/output; None for the terminal (tests pass a pipe input).
    """

    def __init__(
        self,
        backend: Backend,
        guest: TrioGuest[Any],
        config: Config,
        *,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        from stui.repl.commands import COMMANDS  # the command set imports this module's types

        self.backend = backend
        self.sup = backend.sup
        self.store = backend.store
        self.guest = guest
        self.config = config
        self.commands = COMMANDS
        self.style = repl_style()
        self._input = input
        self._output = output

        self.images: dict[str, ImageConnectionStatus] = {}
        self.current: str | None = None
        self.session_label = ""
        self.session_choices: list[tuple[str, str]] = []
        self.running = 0
        self.quitting = False
        self.inspector: Any = None  # commands.Inspector while browsing
        self._next_mode: EvalMode | None = None
        self._histories: dict[str, StoreHistory] = {}
        self._memory_history = StoreHistory()
        self._interrupt = asyncio.Event()
        self._evaluating = False
        self._command_task: asyncio.Future[None] | None = None
        self._local_cache: tuple[float, list[str]] = (0.0, [])
        #: images the user asked to disconnect: their DISCONNECTED event needs no notice
        self.disconnecting: set[str] = set()
        self.session: PromptSession[str] | None = None
        self._context: contextvars.Context | None = None

    # ----------------------------------------------------------------------------------------------
    # Calling into trio

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Await the trio function `fn(*args, **kwargs)` (a supervisor or store method) from asyncio.

        Raises:
            TrioGuestStopped: stui is shutting down.
            Exception: whatever `fn` raised.

        Cancellation: cancelling the caller cancels `fn` in trio.
        """
        return await self.guest.run(functools.partial(fn, *args, **kwargs))

    # ----------------------------------------------------------------------------------------------
    # Output

    def print(self, fragments: StyleAndTextTuples) -> None:
        """Print above the prompt (or plainly, when no prompt is shown)."""
        print_formatted_text(FormattedText(fragments), style=self.style, output=self._output)

    def notice(self, text: str, kind: str = "") -> None:
        self.print(notice_fragments(text, kind))

    # ----------------------------------------------------------------------------------------------
    # Status

    def prompt_state(self) -> PromptState:
        status = self.images.get(self.current) if self.current else None
        return PromptState(
            image=self.current,
            session=self.session_label,
            status=status,
            running=self.running,
            mode=EvalMode.DISPLAY,
        )

    def _prompt(self) -> FormattedText:
        return FormattedText(prompt_fragments(self.prompt_state()))

    def _continuation(self, width: int, line_number: int, wrap_count: int) -> FormattedText:
        return FormattedText(continuation_fragments(width))

    def _toolbar(self) -> FormattedText:
        app = get_app_or_none()
        width = app.output.get_size().columns if app is not None else None
        return FormattedText(
            toolbar_fragments(list(self.images.values()), self.current, hint=KEY_HINT, width=width)
        )

    def image_names(self) -> list[str]:
        return list(self.images)

    def image_id(self, name: str | None) -> str | None:
        status = self.images.get(name) if name else None
        return status.image_id if status else None

    def next_image(self, exclude: str | None = None) -> str | None:
        """The first connected image other than `exclude`, to offer when the current one goes away."""
        for name, status in self.images.items():
            if name != exclude and status.status is ConnectionStatus.CONNECTED:
                return name
        return None

    def local_image_names(self) -> list[str]:
        """Running local images (connection files) not connected yet; cached for two seconds."""
        now = time.monotonic()
        if now - self._local_cache[0] < 2.0:
            return self._local_cache[1]
        from stui.image.connection_file import find_connection_files
        from stui.paths import runtime_dir

        names = sorted(
            {
                info.image_name
                for info in find_connection_files(runtime_dir())
                if not info.stale and info.image_name not in self.images
            }
        )
        self._local_cache = (now, names)
        return names

    async def refresh(self) -> None:
        """Refresh the status snapshot now (after commands that change it)."""
        snapshot = await self.call(self._snapshot)
        self._apply_snapshot(snapshot)

    async def _snapshot(self) -> StatusSnapshot:
        """Runs in trio: every image's status, the current image, its session label and sessions."""
        sup = self.sup
        images = list(sup.images())
        current = sup.current
        label = ""
        choices: list[tuple[str, str]] = []
        if current is not None:
            try:
                active = sup.active_session(current)
                choices = [(record.session_id, record.name) for record in sup.sessions(current)]
                if active is not None:
                    label = session_label(active, dict(choices).get(active, ""))
            except StuiError:
                pass
        return StatusSnapshot(images, current, label, choices)

    def _apply_snapshot(self, snapshot: StatusSnapshot) -> None:
        self.images = {s.name: s for s in sorted(snapshot.images, key=lambda s: s.name)}
        self.current = snapshot.current
        self.session_label = snapshot.session_label
        self.session_choices = snapshot.sessions
        self._invalidate()

    async def _status_pump(self) -> None:
        """Runs in trio: keep the snapshot fresh for the prompt and the toolbar (RTT, health)."""
        while True:
            try:
                snapshot = await self._snapshot()
            except Exception:
                snapshot = None
            if snapshot is not None:
                self._in_prompt_context(self._apply_snapshot, snapshot)
            await trio.sleep(STATUS_REFRESH)

    async def _event_pump(self) -> None:
        """Runs in trio: print supervisor events above the prompt as they happen."""
        async with self.sup.subscribe() as events:
            async for event in events:
                self._in_prompt_context(self._on_event, event)

    def _in_prompt_context(self, fn: Callable[..., object], *args: Any) -> None:
        """Run `fn(*args)` soon on the loop, in the context of the running prompt.

        Trio tasks carry the context trio was started in, where prompt_toolkit's "current app" is not
        the REPL's prompt; printing from there would write over the input instead of above it.
        """
        loop = asyncio.get_running_loop()
        if self._context is not None:
            loop.call_soon(fn, *args, context=self._context)
        else:
            loop.call_soon(fn, *args)

    def _invalidate(self) -> None:
        app = get_app_or_none()
        if app is not None and app.is_running:
            app.invalidate()

    def _on_event(self, event: ControlEvent) -> None:
        match event:
            case ImageStatusChanged(name=name, old=old, new=new, reason=reason):
                if name in self.images:
                    self.images[name] = _with_status(self.images[name], new)
                self._announce_status(name, old, new, reason)
            case ImageHealthChanged(name=name, new=new, rtt=rtt):
                if name in self.images:
                    self.images[name] = _with_health(self.images[name], new, rtt)
            case ImageRestarted(name=name, lost_sessions=lost):
                text = f"{name} restarted (a new image process)"
                if lost:
                    text += f"; {len(lost)} session(s) could not be re-attached: " + ", ".join(
                        s[:8] for s in lost
                    )
                self.notice(text, "warn")
            case SessionOrphaned(image_id=image_id, session_id=session_id, reason=reason):
                name = self._name_of(image_id)
                self.notice(f"{name}: session {session_id[:8]} orphaned ({reason})", "warn")
            case TranscriptReceived(image_id=image_id, text=text):
                name = self._name_of(image_id)
                self.print(transcript_fragments(name, text, label=name != self.current))
            case _:  # ContextSwitched: nothing to print
                pass
        self._invalidate()

    def _name_of(self, image_id: str) -> str:
        """The name of the connected image with this image id (the id itself when none is)."""
        return next((n for n, s in self.images.items() if s.image_id == image_id), image_id)

    def _announce_status(
        self, name: str, old: ConnectionStatus, new: ConnectionStatus, reason: str
    ) -> None:
        why = f" ({reason})" if reason else ""
        match new:
            case ConnectionStatus.CONNECTED:
                if old is not ConnectionStatus.UNKNOWN:
                    self.notice(f"{name} is connected again{why}")
            case ConnectionStatus.RECONNECTING:
                text = f"{name}: link lost, reconnecting{why}"
                other = self.next_image(exclude=name) if name == self.current else None
                if other:
                    text += f"; :use {other} to go on there meanwhile"
                self.notice(text, "warn")
            case ConnectionStatus.DISCONNECTED if name in self.disconnecting:
                self.disconnecting.discard(name)
            case ConnectionStatus.DISCONNECTED | ConnectionStatus.FAILED:
                kind = "bad" if new is ConnectionStatus.FAILED else "warn"
                text = f"{name} is {new.value}{why}"
                if name == self.current:
                    other = self.next_image(exclude=name)
                    text += (
                        f"; :use {other} to go on there" if other else "; :connect ADDRESS to go on"
                    )
                self.notice(text, kind)
            case _:
                pass

    # ----------------------------------------------------------------------------------------------
    # History

    def history_for(self, name: str | None) -> StoreHistory:
        """The history of image `name` (its stable image id keys it), created on first use."""
        image_id = self.image_id(name)
        if image_id is None:
            return self._memory_history
        history = self._histories.get(image_id)
        if history is None:
            history = StoreHistory(
                load=self._history_loader(image_id) if self.store is not None else None,
                save=self._history_saver(image_id) if self.store is not None else None,
            )
            self._histories[image_id] = history
        return history

    def _history_loader(self, image_id: str) -> Callable[[], Awaitable[list[str]]]:
        async def load() -> list[str]:
            entries = await self.call(
                self.store.history, image_id, limit=self.config.repl.history_limit
            )
            return [entry.source for entry in entries]

        return load

    def _history_saver(self, image_id: str) -> Callable[[str], None]:
        def save(text: str) -> None:
            # The image actor writes an evaluation just before sending it, so the REPL writes only
            # what the actor will not: its own :commands, and code typed while the image is down
            # (the actor refuses to send it, but what the user typed belongs in the history).
            status = next((s for s in self.images.values() if s.image_id == image_id), None)
            image_up = status is not None and status.status is ConnectionStatus.CONNECTED
            if text.lstrip().startswith(":") or not image_up:
                with contextlib.suppress(TrioGuestStopped):
                    self.guest.spawn(self.store.add_history, image_id, None, text)

        return save

    # ----------------------------------------------------------------------------------------------
    # Completion

    async def complete_smalltalk(self, source: str, cursor: int) -> Completions | None:
        if self.current is None:
            return None
        timeout = self.config.repl.complete_timeout
        try:
            return await asyncio.wait_for(
                self.call(self.sup.complete, source, cursor, image=self.current, timeout=timeout),
                timeout + 0.25,
            )
        except Exception:  # too slow, image down, no session: no candidates, never a broken prompt
            return None

    # ----------------------------------------------------------------------------------------------
    # Evaluation

    def set_next_mode(self, mode: EvalMode) -> None:
        self._next_mode = mode

    async def evaluate(self, source: str, mode: EvalMode = EvalMode.DISPLAY) -> None:
        """Evaluate `source` on the current image and print the outcome.

        Ctrl-C (or `[repl] eval_timeout` running out) interrupts it: an `Interrupt` goes to the image
        and the prompt comes back. The timeout is the REPL's own rather than the request's, so the
        image is always told to stop: a request that merely timed out would keep the image busy.
        """
        image = self.current
        if image is None:
            self.notice("no current image: :connect ADDRESS or :use NAME first", "bad")
            return
        timeout = self.config.repl.eval_timeout or None
        task = asyncio.ensure_future(self.call(self.sup.evaluate, source, image=image, mode=mode))
        self.running += 1
        self._interrupt.clear()
        self._evaluating = True
        waiter = asyncio.ensure_future(self._interrupt.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                if not waiter.done():
                    self.notice(f"no answer after {timeout:g} s ([repl] eval_timeout)", "warn")
                await self._interrupt_running(image, task)
        finally:
            self._evaluating = False
            waiter.cancel()
        if task.done():
            self.running -= 1
            self._print_outcome(image, source, mode, task, late=False)
        else:
            task.add_done_callback(functools.partial(self._late_outcome, image, source, mode))

    async def _interrupt_running(self, image: str, task: asyncio.Future[Any]) -> None:
        self.notice(f"interrupting the evaluation on {image} …", "warn")
        with contextlib.suppress(TrioGuestStopped):
            self.guest.spawn(self._interrupt_image, image)
        self._interrupt.clear()
        waiter = asyncio.ensure_future(self._interrupt.wait())  # a second Ctrl-C gives up waiting
        try:
            await asyncio.wait(
                {task, waiter}, timeout=INTERRUPT_GRACE, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if not task.done():
            self.notice(
                f"{image} has not stopped yet; its result will be printed when it comes", "warn"
            )

    async def _interrupt_image(self, image: str) -> None:
        # Two races are expected and harmless: the evaluation ended just before the Interrupt came
        # (the image refuses it), or the link dropped meanwhile. Either way the evaluation's own
        # outcome is what the user sees; anything else is a background failure worth showing.
        with contextlib.suppress(RemoteError, ImageDisconnected):
            await self.sup.interrupt(image=image)

    def _late_outcome(
        self, image: str, source: str, mode: EvalMode, task: asyncio.Future[Any]
    ) -> None:
        self.running -= 1
        if not self.quitting:
            self._print_outcome(image, source, mode, task, late=True)
            self._invalidate()

    def _print_outcome(
        self, image: str, source: str, mode: EvalMode, task: asyncio.Future[Any], *, late: bool
    ) -> None:
        prefix: StyleAndTextTuples = [("class:transcript.label", f"[{image}] ")] if late else []
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            if mode is EvalMode.DISPLAY:
                self.print(prefix + result_fragments(task.result()))
            elif late:
                self.print(prefix + notice_fragments("done"))
            return
        self.print(prefix + self.error_fragments(exc, source, image))

    def error_fragments(
        self, exc: BaseException, source: str | None, image: str | None
    ) -> StyleAndTextTuples:
        """How an error from the supervisor reads for a person (one line, two with a caret)."""
        match exc:
            case EvaluationError(error=error) if error is not None:
                if error.code is ErrorCode.INTERRUPTED:
                    return notice_fragments("Interrupted", "warn")
                return error_fragments(error, source)
            case RemoteError(error=error) if error is not None:
                return error_fragments(error, source)
            case RequestTimeout():
                return notice_fragments(
                    f"{image} did not answer in time; it may still be running (:interrupt stops it)",
                    "bad",
                )
            case ImageDisconnected():
                return notice_fragments(f"{exc}", "bad")
            case ImageNotFound():
                return notice_fragments(f"{exc}", "bad")
            case SessionError(error=None) if str(exc).endswith("has no active session"):
                hint = "; :session new [NAME] opens one, :session attach ID takes one up"
                return notice_fragments(f"{exc}{hint}", "bad")
            case StuiError():
                return notice_fragments(str(exc), "bad")
            case TrioGuestStopped():
                return notice_fragments("stui is shutting down", "bad")
            case _:
                return notice_fragments(f"internal error: {type(exc).__name__}: {exc}", "bad")

    def request_interrupt(self) -> None:
        """What Ctrl-C outside the prompt does: interrupt the evaluation, or cancel the slow command.

        `run_repl` calls it from its SIGINT handler. Call it on the REPL's loop
        (`loop.call_soon_threadsafe` from another thread)."""
        if self._evaluating:
            self._interrupt.set()
        elif self._command_task is not None and not self._command_task.done():
            self._command_task.cancel()  # a slow command (:connect to a dead address): give up

    async def save_contexts(self) -> int:
        """Runs in trio at quit: persist every image's active session and notes to the store.

        The supervisor saves an image's context when the user switches away from it; quitting is
        switching away from all of them, so the next run can restore where each image was.

        Returns:
            How many contexts were saved (0 without a store).
        """
        if self.store is None:
            return 0
        from stui.actors.persistence import save_context

        saved = 0
        for status in self.sup.images():
            try:
                actor = self.sup.actor(status.name)
                if not actor.cache.image_id:
                    continue
                await save_context(
                    self.store, actor.cache.image_id, actor.cache.preserve(now=time.time())
                )
                saved += 1
            except Exception:  # a store or image problem must not keep the user from quitting
                continue
        return saved

    # ----------------------------------------------------------------------------------------------
    # The loop

    async def handle(self, text: str) -> None:
        """Run one input: a `:command` or Smalltalk source."""
        from stui.repl.command_registry import CommandError

        mode, self._next_mode = self._next_mode or EvalMode.DISPLAY, None
        source = text.strip()
        if not source:
            return
        if source.startswith(":"):
            try:
                command, args = self.commands.parse(source)
                self._command_task = asyncio.ensure_future(command.handler(self, args))
                await self._command_task
            except asyncio.CancelledError:
                if not self._command_task or not self._command_task.cancelled():
                    raise  # the REPL itself is being cancelled
                self.notice(f"{source.split()[0]} cancelled", "warn")
            except CommandError as exc:
                self.notice(str(exc), "bad")
            except StuiError as exc:
                self.print(self.error_fragments(exc, None, self.current))
            except TrioGuestStopped:
                self.notice("stui is shutting down", "bad")
            finally:
                self._command_task = None
            await self.refresh_quietly()
            return
        await self.evaluate(text, mode)

    async def refresh_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh()

    def _new_prompt_session(self) -> PromptSession[str]:
        completer = ReplCompleter(
            self.commands,
            image_names=self.image_names,
            local_images=self.local_image_names,
            session_ids=lambda: self.session_choices,
            complete_smalltalk=self.complete_smalltalk,
        )
        return PromptSession(
            message=self._prompt,
            multiline=True,
            prompt_continuation=self._continuation,
            lexer=ReplLexer(),
            completer=completer,
            complete_while_typing=True,
            key_bindings=repl_key_bindings(lambda: self.set_next_mode(EvalMode.EXECUTE)),
            bottom_toolbar=self._toolbar if self.config.repl.toolbar else None,
            style=self.style,
            include_default_pygments_style=False,
            editing_mode=EditingMode.VI
            if self.config.repl.editing_mode == "vi"
            else EditingMode.EMACS,
            refresh_interval=STATUS_REFRESH,
            history=self._memory_history,
            enable_history_search=False,
            enable_open_in_editor=True,
            mouse_support=False,
        )

    async def read(self) -> str:
        """Read one input with the current image's history."""
        assert self.session is not None
        history = self.history_for(self.current)
        self.session.history = history
        self.session.default_buffer.history = history
        return await self.session.prompt_async(handle_sigint=False)

    async def run(self, banner: Sequence[tuple[str, str]] = ()) -> int:
        """Read, evaluate, print until Ctrl-D or `:quit`. Returns the exit status."""
        with create_app_session(input=self._input, output=self._output):
            self._context = contextvars.copy_context()
            return await self._loop(banner)

    async def _loop(self, banner: Sequence[tuple[str, str]]) -> int:
        self.session = self._new_prompt_session()
        await self.refresh_quietly()
        self.guest.spawn(self._status_pump)
        self.guest.spawn(self._event_pump)
        for text, kind in [*banner, *self.backend.notices]:
            self.notice(text, kind)
        while not self.quitting:
            try:
                text = await self.read()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt: the line is cleared
            except EOFError:
                self.quitting = True
                break
            except Exception:
                self.notice("error while reading input:\n" + traceback.format_exc(limit=3), "bad")
                continue
            try:
                await self.handle(text)
            except Exception:
                self.notice("internal error:\n" + traceback.format_exc(limit=5), "bad")
        return 0


def _with_status(status: ImageConnectionStatus, new: ConnectionStatus) -> ImageConnectionStatus:

    return replace(status, status=new)


def _with_health(
    status: ImageConnectionStatus, health: Any, rtt: float | None
) -> ImageConnectionStatus:

    return replace(status, health=health, rtt=rtt if rtt is not None else status.rtt)
