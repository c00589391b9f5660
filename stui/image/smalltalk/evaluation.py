"""Running workspace code in time slices, and the outcomes it produces.

An :class:`Evaluation` runs the compiled do-it inside a greenlet. The VM's checkpoint (every few dozen
activations or loop iterations) looks at the clock and, once the slice is used up, switches back to
whoever called :meth:`Evaluation.resume`, which then answers None. The next ``resume`` switches back in
and the code carries on where it stopped. ``interrupt`` makes the next checkpoint raise, so the
evaluation unwinds (running its ``ensure:`` blocks) and finishes with a :class:`Failure`.

``resume`` must always be called from the same thread. The package does no I/O and never blocks:
Transcript output goes to the callback given to ``start``, synchronously, as it is produced.
"""

from __future__ import annotations

import enum
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import greenlet

from stui.image.smalltalk.errors import SmalltalkSyntaxError
from stui.image.smalltalk.lib_blocks import PYTHON_ERRORS
from stui.image.smalltalk.objects import (
    EvaluationInterrupted,
    HandlerResume,
    HandlerRetry,
    HandlerReturn,
    NonLocalReturn,
    Obj,
    UnhandledError,
)
from stui.image.smalltalk.printing import PLAIN_SCALARS, Printer, prints_plainly

if TYPE_CHECKING:
    from stui.image.smalltalk.workspace import Workspace

__all__ = ("Evaluation", "EvaluationState", "Failure", "Outcome", "Success", "error_failure")


@dataclass(frozen=True, slots=True)
class Success:
    """The evaluation answered a value.

    Attributes:
        print_string: its printString, cut at the image's print limit.
        display_string: its displayString, cut likewise.
        class_name: the name of its class (``SmallInteger``, ``an Account`` is ``Account``).
        handle: its handle in the workspace registry; None for nil, booleans, SmallIntegers, Characters.
        truncated: True if print_string was cut (it then ends with ``...(truncated)``).
    """

    print_string: str
    display_string: str
    class_name: str
    handle: int | None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """The evaluation failed: a syntax error, an unhandled Smalltalk error, or an interrupt.

    Attributes:
        error_class: ``SyntaxError``, a Smalltalk exception class name (``ZeroDivide``,
            ``MessageNotUnderstood``...), or the interrupt reason (``Interrupted``, ``Timeout``).
        message_text: Pharo's messageText (``SmallInteger>>zork``, ``Argument expected``).
        selector: the selector not understood, for MessageNotUnderstood.
        receiver_class: the class of the receiver that did not understand it.
        position: 0-based source offset, for syntax errors.
        stack: ``Class>>selector`` lines, innermost first.
    """

    error_class: str
    message_text: str
    selector: str | None = None
    receiver_class: str | None = None
    position: int | None = None
    stack: tuple[str, ...] = ()


Outcome = Success | Failure


class EvaluationState(enum.Enum):
    """Where an evaluation is in its life."""

    READY = "ready"  #: started, no slice run yet
    SUSPENDED = "suspended"  #: ran at least one slice and is waiting for the next
    FINISHED = "finished"  #: has an outcome


#: Idle worker greenlets kept per image and thread (see `_workers`).
MAX_IDLE_WORKERS = 4


class _Done:
    """What a worker greenlet switches back with when its body has answered (a checkpoint that ends
    a slice switches back with None). The driver empties it, so a parked worker keeps no outcome."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _worker_loop() -> None:
    """The run of a pooled worker greenlet: one body per evaluation, forever.

    Why a pool: a new greenlet costs ~8 us to create, start and tear down, and on Python 3.11 its
    first Python call maps a fresh frame-stack chunk (an mmap, a page fault, and an munmap when it
    dies): about a third of the Smalltalk cost of a ``3 + 4``. A worker that lives on keeps its
    chunk. It parks between bodies holding no reference to the last body or its outcome, so an idle
    worker keeps no workspace alive (which is also why a body is never its start argument: greenlet
    holds those until the run ends). A body that raises (a BaseException: ``_run`` answers every
    Exception as a Failure) ends the worker, as it ended the one-shot greenlet before.
    """
    done: _Done | None = None
    while True:
        parent = greenlet.getcurrent().parent
        assert parent is not None
        body = parent.switch(done)  # parked: the driver has emptied `done`
        del parent
        done = _Done(body())
        del body


def _workers(image: Any) -> list[greenlet.greenlet]:
    """The idle workers of *image* for the calling thread (greenlets never change threads)."""
    local = image.idle_workers
    try:
        return local.workers  # type: ignore[no-any-return]
    except AttributeError:
        local.workers = []
        return local.workers  # type: ignore[no-any-return]


class Evaluation:
    """One run of workspace code, advanced by :meth:`resume`.

    Created by ``Workspace.start`` (or ``Workspace.start_inspection``); not thread-safe; resume it from
    one thread only.

    Args:
        workspace: the workspace whose variables the code sees.
        source: the code.
        transcript: called with each piece of Transcript output, as it is produced.
        body: run this instead of compiling *source* (a callable answering the outcome; it runs inside
            the greenlet, so Smalltalk sends it makes are sliced and interruptible).
    """

    def __init__(
        self,
        workspace: Workspace,
        source: str,
        transcript: Callable[[str], None] | None = None,
        body: Callable[[], Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.source = source
        self.transcript = transcript
        self.state = EvaluationState.READY
        self.outcome: Outcome | None = None
        self._interrupt: str | None = None
        # The greenlet must not refer back to this object, so that dropping an unfinished evaluation
        # frees it at once and __del__ can unwind it (a cycle through suspended frames would leak).
        if body is None:
            body = functools.partial(_run, workspace, source)
        self._body: Callable[[], Any] | None = body
        # A worker from the image's pool, taken at the first resume and given back when it answers.
        self._greenlet: greenlet.greenlet | None = None
        # This evaluation's share of the VM state while it is switched out: depth, handlers,
        # unwind_deadline, ticks (the rest is set afresh for every slice).
        self._saved: tuple[Any, ...] = (0, None, None, workspace.image.vm.ticks)

    def resume(self, slice_seconds: float = 0.0005) -> Outcome | None:
        """Run for about *slice_seconds*; answer the outcome, or None if not finished yet.

        Calling it again after the outcome is known answers the same outcome.
        """
        if self.outcome is not None:
            return self.outcome
        if self._interrupt is not None and self.state is EvaluationState.READY:
            return self._finish(Failure(self._interrupt, self._interrupt))
        result = self._switch_in(slice_seconds)
        if type(result) is _Done:
            outcome = result.value
            result.value = None
            self._release()
            return self._finish(outcome)
        if self._greenlet is None or self._greenlet.dead:  # a worker ends only by raising
            return self._finish(result)
        self.state = EvaluationState.SUSPENDED
        return None

    def interrupt(self, reason: str = "Interrupted") -> None:
        """Stop the evaluation: the next :meth:`resume` finishes it with ``Failure(reason, ...)``."""
        if self.outcome is None and self._interrupt is None:
            self._interrupt = reason

    def close(self) -> None:
        """Abandon an unfinished evaluation now, unwinding it (its ``ensure:`` blocks run)."""
        if self.outcome is not None or (self._greenlet is not None and self._greenlet.dead):
            return
        if self._greenlet is None:  # never started
            self._finish(Failure(self._interrupt or "Interrupted", "evaluation abandoned"))
            return
        self.interrupt("Interrupted")
        while self.resume(0.01) is None:
            pass

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- inside -------------------------------------------------------------------------------------

    def _switch_in(self, slice_seconds: float) -> Any:
        vm = self.workspace.image.vm
        # The fields spelled out (not a loop over names): this runs twice per slice.
        outer = (
            vm.depth,
            vm.handlers,
            vm.interrupt_reason,
            vm.unwind_deadline,
            vm.transcript,
            vm.yield_to,
            vm.deadline,
            vm.ticks,
        )
        vm.depth, vm.handlers, vm.unwind_deadline, vm.ticks = self._saved
        vm.interrupt_reason = self._interrupt
        vm.transcript = self.transcript
        current = greenlet.getcurrent()
        vm.yield_to = current
        vm.deadline = time.perf_counter() + slice_seconds
        worker = self._greenlet
        try:
            if worker is None:
                workers = _workers(self.workspace.image)
                if workers:
                    worker = workers.pop()
                else:
                    worker = greenlet.greenlet(_worker_loop)
                    worker.switch()  # runs to its first park, where it takes bodies
                self._greenlet = worker
                worker.parent = current
                body, self._body = self._body, None
                return worker.switch(body)
            worker.parent = current
            return worker.switch()
        finally:
            self._saved = (vm.depth, vm.handlers, vm.unwind_deadline, vm.ticks)
            (
                vm.depth,
                vm.handlers,
                vm.interrupt_reason,
                vm.unwind_deadline,
                vm.transcript,
                vm.yield_to,
                vm.deadline,
                vm.ticks,
            ) = outer

    def _release(self) -> None:
        """Give the worker, parked after answering, back to the image's pool (if there is room)."""
        worker, self._greenlet = self._greenlet, None
        if worker is None or worker.dead:
            return
        workers = _workers(self.workspace.image)
        if len(workers) < MAX_IDLE_WORKERS:
            worker.parent = greenlet.getcurrent()  # not the driver's task greenlet, if any
            workers.append(worker)

    def _finish(self, outcome: Outcome) -> Outcome:
        self.outcome = outcome
        self.state = EvaluationState.FINISHED
        self._saved = ()
        self._body = None
        return outcome


def _interrupt_text(reason: str) -> str:
    if reason == "Timeout":
        return "evaluation stopped: time budget exceeded"
    return "evaluation interrupted"


def _run(ws: Workspace, source: str) -> Outcome:
    """The body of an evaluation's greenlet: compile, run, print."""
    vm = ws.image.vm
    try:
        code = vm.compile_doit(source, ws.vars)
    except SmalltalkSyntaxError as err:
        return Failure("SyntaxError", err.message, position=err.position)
    except RecursionError:  # parsing and compiling recurse once per nested parenthesis or block
        return Failure("StackOverflow", "code nested too deeply to compile")
    try:
        value = code(None)
        limit = ws.image.print_limit
        printed, truncated = Printer(vm, limit).result(value)
        if type(value) in PLAIN_SCALARS and prints_plainly(vm, vm.class_of(value)):
            displayed = printed  # what the display printer would write, and no Smalltalk runs
        else:
            displayed, _ = Printer(vm, limit, display=True).result(value)
    except UnhandledError as err:
        return error_failure(ws, err)
    except EvaluationInterrupted as err:
        return Failure(err.reason, _interrupt_text(err.reason))
    except RecursionError:
        return Failure("StackOverflow", "recursion too deep for the Python stack")
    except NonLocalReturn:
        return Failure("BlockCannotReturn", "BlockCannotReturn: block cannot return")
    except (HandlerReturn, HandlerRetry, HandlerResume):
        return Failure("Error", "the exception handler is no longer active")
    except PYTHON_ERRORS as err:
        return Failure("PrimitiveFailed", f"primitive failed: {type(err).__name__}: {err}")
    except MemoryError:
        return Failure("OutOfMemory", "the evaluation ran out of memory")
    except Exception as err:  # a bug in the evaluator: never let it escape into the server
        return Failure("InternalError", f"{type(err).__name__}: {err}")
    cls = vm.class_of(value)
    return Success(printed, displayed, cls.name, ws.register(value), truncated)


def error_failure(ws: Workspace, err: UnhandledError) -> Failure:
    """The Failure describing an unhandled Smalltalk error (class, messageText, DNU details, stack)."""
    vm = ws.image.vm
    exc = err.exception
    try:
        text = vm.send(exc, "messageText")
        message_text = text.s if hasattr(text, "s") else str(text)
        if not message_text:
            text = vm.send(exc, "description")
            message_text = text.s if hasattr(text, "s") else str(text)
    except Exception:
        message_text = exc.cls.name
    selector = receiver_class = None
    if exc.cls.builtin_name == "MessageNotUnderstood":
        message = exc.slots[2]
        selector = message.slots[0] if isinstance(message, Obj) else None
        receiver_class = vm.class_of(exc.slots[3]).name
    return Failure(
        exc.cls.name,
        message_text,
        selector=selector,
        receiver_class=receiver_class,
        stack=tuple(err.stack),
    )
