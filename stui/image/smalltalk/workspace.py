"""A workspace: one session's variables, its handle registry, inspection and completion.

Like a Pharo Playground, a variable assigned at the top level of workspace code without being declared
becomes a workspace variable and lives on in this workspace only. Values handed to the client get a
*handle* (a small int) in a registry with a size cap, oldest evicted first, so the client can drill
down with :meth:`Workspace.inspect` without the image keeping everything alive forever.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.evaluation import Evaluation, Failure, Outcome, error_failure
from stui.image.smalltalk.lib_collections import elements
from stui.image.smalltalk.objects import (
    Char,
    EvaluationInterrupted,
    Kind,
    Obj,
    StClass,
    StString,
    UnhandledError,
    denorm_key,
    hashed_view,
)
from stui.image.smalltalk.printing import Printer
from stui.image.smalltalk.runtime import SMALL_MAX, SMALL_MIN

if TYPE_CHECKING:
    from stui.image.smalltalk.image import SmalltalkImage

__all__ = ("InspectionData", "SlotData", "UnknownHandle", "Workspace")

SLOT_PRINT_LIMIT = 200
INSPECT_PRINT_LIMIT = 4096
INDEXED_SLOTS_SHOWN = 100
COMPLETIONS_MAX = 200


class UnknownHandle(KeyError):
    """No object has this handle in this workspace (never issued, or evicted)."""


@dataclass(frozen=True, slots=True)
class SlotData:
    """One slot of an inspected object: its value's printString, class name and handle."""

    print_string: str
    class_name: str
    handle: int | None


@dataclass(frozen=True, slots=True)
class InspectionData:
    """What the inspector shows about one object.

    Attributes:
        named: (name, slot) for each instance variable.
        indexed: (label, slot) for the first indexed elements (label "1", "2"... or a dictionary key).
        indexed_size: how many indexed elements there are in all.
    """

    class_name: str
    print_string: str
    handle: int | None
    named: tuple[tuple[str, SlotData], ...]
    indexed: tuple[tuple[str, SlotData], ...]
    indexed_size: int


class Workspace:
    """Variables and handles of one session. Made by ``SmalltalkImage.new_workspace()``."""

    def __init__(self, image: SmalltalkImage) -> None:
        self.image = image
        self.vars: dict[str, Any] = {}
        self._handles: OrderedDict[int, Any] = OrderedDict()
        self._handle_of: dict[int, int] = {}
        self._next_handle = 1

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the workspace variables, in order of first assignment."""
        return tuple(self.vars)

    def start(self, source: str, transcript: Callable[[str], None] | None = None) -> Evaluation:
        """Begin evaluating *source*; advance it with ``resume()``."""
        return Evaluation(self, source, transcript)

    def start_inspection(self, handle: int, depth: int = 1) -> Evaluation:
        """Begin :meth:`inspect` as a sliced evaluation: printing may run user ``printOn:`` code.

        ``resume()`` answers the :class:`InspectionData`, or a Failure (``UnknownHandle`` for a handle
        that is not, or no longer, registered; the interrupt reason; an unhandled error's class).
        """
        body = functools.partial(_inspect_body, self, handle, depth)
        return Evaluation(self, f"<inspect {handle}>", None, body=body)

    def evaluate(
        self,
        source: str,
        transcript: Callable[[str], None] | None = None,
        max_slices: int | None = None,
    ) -> Outcome:
        """Evaluate *source* to completion (a convenience for tests and tools; blocks the caller).

        Args:
            max_slices: interrupt with ``Timeout`` after this many 10 ms slices (None: never).
        """
        ev = self.start(source, transcript)
        slices = 0
        while True:
            outcome = ev.resume(0.01)
            if outcome is not None:
                return outcome
            slices += 1
            if max_slices is not None and slices >= max_slices:
                ev.interrupt("Timeout")

    # -- handles ------------------------------------------------------------------------------------

    def register(self, value: Any) -> int | None:
        """The handle for *value* (registering it); None for immediate objects."""
        t = type(value)
        if (
            value is None
            or t is bool
            or t is Char
            or (t is int and SMALL_MIN <= value <= SMALL_MAX)
        ):
            return None
        key = id(value)
        handle = self._handle_of.get(key)
        if handle is not None and self._handles.get(handle) is value:
            self._handles.move_to_end(handle)
            return handle
        handle = self._next_handle
        self._next_handle += 1
        self._handles[handle] = value
        self._handle_of[key] = handle
        while len(self._handles) > self.image.handle_limit:
            _, old = self._handles.popitem(last=False)
            self._handle_of.pop(id(old), None)
        return handle

    def lookup(self, handle: int) -> Any:
        """The object registered under *handle*.

        Raises:
            UnknownHandle: no such handle (never issued, or evicted).
        """
        try:
            return self._handles[handle]
        except KeyError:
            raise UnknownHandle(handle) from None

    def inspect(self, handle: int, depth: int = 1) -> InspectionData:
        """Describe the object with *handle*: class, printString, named and indexed slots.

        Args:
            depth: 0 describes the object alone (class, printString, handle, ``indexed_size``; no
                slots, so no slot is printed); 1 or more adds its slots, each with its printString,
                class and handle. A slot's own slots are one more ``inspect`` of its handle: an
                :class:`InspectionData` has no place for them, so depths above 1 answer the same as 1.

        Raises:
            UnknownHandle: no such handle.
        """
        obj = self.lookup(handle)
        vm = self.image.vm
        cls = vm.class_of(obj)
        printed, _ = Printer(vm, INSPECT_PRINT_LIMIT).result(obj)
        named, indexed, size = self._slot_values(obj)
        if depth < 1:
            return InspectionData(cls.name, printed, handle, (), (), size)
        return InspectionData(
            cls.name,
            printed,
            handle,
            tuple((name, self._slot(v)) for name, v in named),
            tuple((label(), self._slot(v)) for label, v in indexed),
            size,
        )

    def _slot_values(
        self, obj: Any
    ) -> tuple[list[tuple[str, Any]], list[tuple[Callable[[], str], Any]], int]:
        """The object's named slots, its first indexed ones and the count of all indexed slots.

        Nothing is printed here (labels of dictionary keys are printed by calling them), so an
        inspection at depth 0 runs no user code beyond the object's own printString.
        """
        vm = self.image.vm
        named: list[tuple[str, Any]] = []
        indexed: list[tuple[Callable[[], str], Any]] = []
        size = 0
        t = type(obj)
        if t is Obj:
            named = list(zip(obj.cls.all_ivars, obj.slots, strict=False))
            kind = obj.cls.kind
            if kind is Kind.DICT:
                size = len(obj.data)
                for k, v in list(hashed_view(obj.data).items())[:INDEXED_SLOTS_SHOWN]:
                    indexed.append((functools.partial(_key_label, vm, denorm_key(k)), v))
            elif kind in (Kind.ARRAY, Kind.ORDERED, Kind.SET, Kind.BAG, Kind.INTERVAL, Kind.BYTES):
                items = elements(vm, obj)
                size = len(items)
                indexed = [
                    (str(i + 1).__str__, v) for i, v in enumerate(items[:INDEXED_SLOTS_SHOWN])
                ]
        elif t is StString or t is str:
            text = obj.s if t is StString else obj
            size = len(text)
            indexed = [
                (str(i + 1).__str__, Char(ch)) for i, ch in enumerate(text[:INDEXED_SLOTS_SHOWN])
            ]
        elif t is Fraction:
            named = [("numerator", obj.numerator), ("denominator", obj.denominator)]
        elif t is StClass:
            named = [
                ("name", StString(obj.name)),
                ("superclass", obj.superclass),
                ("instanceVariables", vm.new_array([StString(n) for n in obj.ivars])),
                ("category", StString(obj.category)),
            ]
        return named, indexed, size

    def _slot(self, value: Any) -> SlotData:
        vm = self.image.vm
        printed, _ = Printer(vm, SLOT_PRINT_LIMIT).result(value)
        return SlotData(printed, vm.class_of(value).name, self.register(value))

    # -- completion ---------------------------------------------------------------------------------

    def complete(self, source: str, cursor: int) -> tuple[int, list[tuple[str, str]]]:
        """Completions for the word before *cursor*.

        After a receiver (a name, a literal, ``)`` or ``]``) the candidates are selectors (kind
        ``selector`` for unary/binary, ``keyword`` for keyword selectors); elsewhere they are names:
        workspace variables (``variable``), classes (``class``), other globals (``global``).

        Returns:
            (start offset of the word being completed, [(text, kind), ...]).
        """
        cursor = max(0, min(cursor, len(source)))
        head = source[:cursor]
        match = re.search(r"[A-Za-z_][A-Za-z0-9_]*:?$", head)
        prefix = match.group() if match else ""
        start = cursor - len(prefix)
        before = head[:start].rstrip()
        receiver_match = re.search(r"([A-Za-z_][A-Za-z0-9_]*|[\)\]\}'0-9])$", before)
        after_receiver = receiver_match is not None and not re.search(r"[A-Za-z0-9_]+:$", before)
        if (
            after_receiver
            and receiver_match is not None
            and receiver_match.group() in _NOT_RECEIVERS
        ):
            after_receiver = False
        if after_receiver and receiver_match is not None:
            return start, self._selectors(prefix, receiver_match.group())
        return start, self._names(prefix)

    def _names(self, prefix: str) -> list[tuple[str, str]]:
        vm = self.image.vm
        out = [(n, "variable") for n in self.vars if n.startswith(prefix)]
        for name, value in sorted(vm.globals.items()):
            if name.startswith(prefix) and name not in self.vars:
                out.append((name, "class" if type(value) is StClass else "global"))
        out.extend((p, "variable") for p in _PSEUDO if p.startswith(prefix) and prefix)
        return out[:COMPLETIONS_MAX]

    def _selectors(self, prefix: str, receiver: str) -> list[tuple[str, str]]:
        vm = self.image.vm
        classes: list[StClass]
        value: Any = ...
        if receiver in self.vars:
            value = self.vars[receiver]
        elif receiver in vm.globals:
            value = vm.globals[receiver]
        if value is not ...:
            classes = []
            c: StClass | None = vm.class_of(value)
            while c is not None:
                classes.append(c)
                c = c.superclass
        else:
            classes = list(vm.all_classes)
        selectors = sorted(
            {s for c in classes for s in c.methods if s.startswith(prefix) and s[0].isalpha()}
        )
        return [(s, "keyword" if s.endswith(":") else "selector") for s in selectors][
            :COMPLETIONS_MAX
        ]


def _key_label(vm: Any, key: Any) -> str:
    label, _ = Printer(vm, SLOT_PRINT_LIMIT).result(key)
    return label


def _inspect_body(ws: Workspace, handle: int, depth: int) -> Any:
    try:
        return ws.inspect(handle, depth)
    except UnknownHandle:
        return Failure("UnknownHandle", f"no object with handle {handle} in this workspace")
    except EvaluationInterrupted as err:
        return Failure(err.reason, f"inspection stopped: {err.reason}")
    except UnhandledError as err:
        return error_failure(ws, err)
    except RecursionError:
        return Failure("StackOverflow", "recursion too deep while printing")


_PSEUDO = ("self", "super", "nil", "true", "false", "thisContext")
_NOT_RECEIVERS = frozenset({"ifTrue", "ifFalse"})
