"""A small Smalltalk in pure Python, faithful to Pharo where it matters to a developer at a prompt.

Public API (used by the reference image server)::

    image = SmalltalkImage(name="alpha")
    ws = image.new_workspace()
    ev = ws.start("3 + 4", transcript=callback)
    outcome = ev.resume(slice_seconds=0.0005)   # Success | Failure | None (not finished)
    ev.interrupt("Interrupted")
    ws.inspect(handle); ws.complete(source, cursor); ws.variables

The package does no I/O and imports no event loop; see docs/smalltalk.md for the language subset.
"""

from stui.image.smalltalk.errors import SmalltalkSyntaxError as SmalltalkSyntaxError
from stui.image.smalltalk.evaluation import Evaluation as Evaluation
from stui.image.smalltalk.evaluation import EvaluationState as EvaluationState
from stui.image.smalltalk.evaluation import Failure as Failure
from stui.image.smalltalk.evaluation import Outcome as Outcome
from stui.image.smalltalk.evaluation import Success as Success
from stui.image.smalltalk.image import SmalltalkImage as SmalltalkImage
from stui.image.smalltalk.parser import parse_doit as parse_doit
from stui.image.smalltalk.parser import parse_method as parse_method
from stui.image.smalltalk.workspace import InspectionData as InspectionData
from stui.image.smalltalk.workspace import SlotData as SlotData
from stui.image.smalltalk.workspace import UnknownHandle as UnknownHandle
from stui.image.smalltalk.workspace import Workspace as Workspace

__all__ = (
    "Evaluation",
    "EvaluationState",
    "Failure",
    "InspectionData",
    "Outcome",
    "SlotData",
    "SmalltalkImage",
    "SmalltalkSyntaxError",
    "Success",
    "UnknownHandle",
    "Workspace",
    "parse_doit",
    "parse_method",
)
