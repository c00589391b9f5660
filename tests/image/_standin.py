"""A throw-away stand-in for stui.image.smalltalk, used only until the real evaluator lands."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Success:
    print_string: str
    display_string: str
    class_name: str
    handle: int | None
    truncated: bool = False


@dataclass
class Failure:
    error_class: str
    message_text: str
    selector: str | None = None
    receiver_class: str | None = None
    position: int | None = None
    stack: tuple = ()


@dataclass
class SlotData:
    print_string: str
    class_name: str
    handle: int | None


@dataclass
class InspectionData:
    class_name: str
    print_string: str
    handle: int | None
    named: list
    indexed: list
    indexed_size: int


class _Evaluation:
    def __init__(self, ws, source, transcript):
        self.ws, self.source, self.transcript = ws, source.strip(), transcript
        self.reason = None

    def interrupt(self, reason):
        self.reason = reason

    def resume(self, slice_seconds):
        if self.reason:
            return Failure(self.reason, "stopped")
        src = self.source
        if src == "[true] whileTrue":
            end = time.perf_counter() + slice_seconds
            while time.perf_counter() < end:
                pass
            return None
        if src.startswith("Transcript show: "):
            self.transcript(src.split("'")[1])
            return Success("Transcript", "Transcript", "ThreadSafeTranscript", 1)
        if ":=" in src:
            name, expr = src.split(":=")
            value = eval(expr)
            self.ws.vars[name.strip()] = value
            return Success(repr(value), repr(value), "SmallInteger", None)
        if src in self.ws.vars:
            return Success(repr(self.ws.vars[src]), "", "SmallInteger", None)
        if src.endswith("+"):
            return Failure("SyntaxErrorNotification", "expected expression", position=len(src))
        try:
            value = eval(src, {}, {})
        except ZeroDivisionError:
            return Failure("ZeroDivide", "division by zero", stack=("SmallInteger>>/",))
        except Exception:
            return Failure(
                "MessageNotUnderstood",
                "doesNotUnderstand",
                selector="zork",
                receiver_class="UndefinedObject",
            )
        if isinstance(value, list):
            self.ws.handles.append(value)
            return Success(repr(value), "", "Array", len(self.ws.handles))
        return Success(repr(value), repr(value), type(value).__name__, None)


class _Workspace:
    def __init__(self):
        self.vars = {}
        self.handles = []

    @property
    def variables(self):
        return tuple(self.vars)

    def start(self, source, transcript):
        return _Evaluation(self, source, transcript)

    def inspect(self, handle):
        if not 1 <= handle <= len(self.handles):
            raise KeyError(handle)
        v = self.handles[handle - 1]
        return InspectionData(
            "Array",
            repr(v),
            handle,
            [],
            [(str(i + 1), SlotData(repr(x), "SmallInteger", None)) for i, x in enumerate(v)],
            len(v),
        )

    def complete(self, source, cursor):
        word_start = cursor
        while word_start > 0 and source[word_start - 1].isalnum():
            word_start -= 1
        prefix = source[word_start:cursor]
        names = [
            n for n in ("Transcript", "True", "printString", *self.vars) if n.startswith(prefix)
        ]
        return word_start, [(n, "global") for n in names]


class SmalltalkImage:
    def __init__(self, name="image", **kw):
        self.name = name

    def new_workspace(self):
        return _Workspace()
