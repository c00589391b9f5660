"""Inspecting an object in time slices, like an evaluation.

`Workspace.inspect(handle)` prints the object and its slots, and printing runs Smalltalk: a class may
override `printOn:` or `printString`, and a broken one can loop forever. Called directly from the
server it would hold the whole image (every session, every heartbeat) for as long as it runs. So the
server runs it as an `Evaluation` whose greenlet body is the inspection: it advances in the same 0.5 ms
slices, and Interrupt and the time budget stop it the same way, with a `Failure`.

This leans on one seam of `stui.image.smalltalk.Evaluation`: the greenlet it resumes is its
`_greenlet` attribute, and its body answers the outcome. Everything else (slicing, interrupts, the VM
state switch) is the evaluator's own code. tests/image/test_server.py inspects a looping `printOn:`,
so a change of that seam fails loudly there.
"""

from __future__ import annotations

import functools
from typing import Any

import greenlet

from stui.image.smalltalk import Evaluation, Failure, Workspace
from stui.image.smalltalk.objects import EvaluationInterrupted, UnhandledError

__all__ = ["InspectRun"]


class InspectRun(Evaluation):
    """`workspace.inspect(handle)` run in slices; `resume()` answers `InspectionData` or a `Failure`.

    Check the handle with `workspace.lookup(handle)` first: a handle that vanishes in between
    (evicted by another evaluation) comes out as `Failure("UnknownHandle", ...)`.
    """

    def __init__(self, workspace: Workspace, handle: int) -> None:
        super().__init__(workspace, f"<inspect {handle}>", None)
        if not isinstance(getattr(self, "_greenlet", None), greenlet.greenlet):
            raise RuntimeError("stui.image.smalltalk.Evaluation changed: cannot inspect in slices")
        # Like the evaluator's own body, it must not refer back to this object.
        self._greenlet = greenlet.greenlet(functools.partial(_inspect, workspace, handle))


def _inspect(workspace: Workspace, handle: int) -> Any:
    try:
        return workspace.inspect(handle)
    except EvaluationInterrupted as err:
        return Failure(err.reason, f"inspection stopped: {err.reason}")
    except UnhandledError as err:
        return Failure(
            err.exception.cls.name, "error while printing the object", stack=tuple(err.stack)
        )
    except KeyError:
        return Failure("UnknownHandle", f"no object with handle {handle}")
    except RecursionError:
        return Failure("StackOverflow", "recursion too deep while printing")
