"""How Smalltalk objects are represented in Python.

Immediate and value-like objects are plain Python values, because that is fast and prints right:
``nil``/``true``/``false`` are None/True/False, integers are ``int`` (SmallInteger or LargePositive/
NegativeInteger depending on magnitude, as on 64-bit Pharo), floats are ``float``, fractions are
``fractions.Fraction`` (never with denominator 1), Symbols are Python ``str`` (immutable, compared by
value, which gives them identity semantics without an intern table).

Everything mutable gets a wrapper: :class:`StString` (a String is mutable and is not a Symbol),
:class:`Char`, :class:`Obj` (every other object: a class, named slots, and a payload for built-in
shapes such as Array or Dictionary), :class:`StClass` (classes and metaclasses), :class:`Block`.

Control flow that crosses Python frames (non-local return, exception handler return/retry/resume,
unhandled errors, interrupts) is carried by the Python exceptions at the bottom of this module.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = (
    "DEAD",
    "MAX_ELEMENTS",
    "Block",
    "Char",
    "EvaluationInterrupted",
    "HandlerResume",
    "HandlerRetry",
    "HandlerReturn",
    "Kind",
    "Method",
    "NonLocalReturn",
    "Obj",
    "StClass",
    "StString",
    "UnhandledError",
    "check_length",
)


class Kind(enum.Enum):
    """The shape of a class's instances (inherited by subclasses, user classes included)."""

    POINTERS = "pointers"  #: named slots only
    ARRAY = "array"  #: fixed-size list in ``data``
    ORDERED = "ordered"  #: growable list in ``data`` (OrderedCollection, SortedCollection)
    SET = "set"  #: dict key -> key in ``data`` (keys normalised, see collections)
    BAG = "bag"  #: dict key -> count
    DICT = "dict"  #: dict key -> value
    INTERVAL = "interval"  #: (start, stop, step) in ``data``
    BYTES = "bytes"  #: bytearray in ``data``
    STREAM = "stream"  #: list of str chunks (WriteStream) or (collection, position) for ReadStream
    NONE = "none"  #: not instantiable with new (numbers, booleans, nil, strings, symbols, blocks)


class Char:
    """A Character; equal (and identical, for ``==``) by code point."""

    __slots__ = ("ch",)

    def __init__(self, ch: str) -> None:
        self.ch = ch

    def __eq__(self, other: object) -> bool:
        return type(other) is Char and other.ch == self.ch

    def __hash__(self) -> int:
        return hash(self.ch) ^ 0x5A5A

    def __repr__(self) -> str:
        return f"${self.ch}"


class StString:
    """A mutable Smalltalk String. Equal by content to other Strings, never to Symbols."""

    __slots__ = ("s",)

    def __init__(self, s: str) -> None:
        self.s = s

    def __eq__(self, other: object) -> bool:
        return type(other) is StString and other.s == self.s

    def __hash__(self) -> int:
        return hash(self.s)

    def __repr__(self) -> str:
        return f"StString({self.s!r})"


# Kinds whose instances compare by content (for use as Dictionary/Set keys).
_VALUE_KINDS = frozenset({Kind.ARRAY, Kind.ORDERED, Kind.INTERVAL, Kind.BYTES})
_VALUE_CLASS_NAMES = frozenset({"Point", "Association"})


class Obj:
    """Any other object: its class, its named slots, and the payload of a built-in shape."""

    __slots__ = ("cls", "data", "slots")

    def __init__(self, cls: StClass, slots: list[Any], data: Any = None) -> None:
        self.cls = cls
        self.slots = slots
        self.data = data

    def _key(self) -> Any:
        kind = self.cls.kind
        if kind in _VALUE_KINDS:
            if kind is Kind.INTERVAL:
                return ("seq", tuple(range_items(self.data)))
            return ("seq", tuple(self.data))
        if self.cls.builtin_name in _VALUE_CLASS_NAMES:
            return (self.cls.builtin_name, tuple(self.slots))
        return None

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not Obj:
            return False
        mine = self._key()
        return mine is not None and mine == other._key()

    def __hash__(self) -> int:
        key = self._key()
        return id(self) if key is None else hash(key)

    def __repr__(self) -> str:
        return f"<{self.cls.name} {self.slots!r} {self.data!r}>"


# The most elements a primitive will materialise at once (an Interval as a list, ``new:``): beyond this
# one Python operation could hold the evaluation (and the server) for seconds and gigabytes.
MAX_ELEMENTS = 5_000_000


def check_length(n: int) -> int:
    """Refuse to build a string or collection of more than MAX_ELEMENTS elements.

    Raises:
        ValueError: too many (a PrimitiveFailed in Smalltalk).
    """
    if n > MAX_ELEMENTS:
        raise ValueError(f"{n} elements is more than this image allows ({MAX_ELEMENTS})")
    return n


def range_items(data: tuple[Any, Any, Any]) -> list[Any]:
    """The elements of an Interval payload ``(start, stop, step)``.

    Raises:
        ValueError: more than MAX_ELEMENTS elements (a PrimitiveFailed in Smalltalk).
    """
    start, stop, step = data
    if type(start) is int and type(stop) is int and type(step) is int:
        r = range(start, stop + (1 if step > 0 else -1), step)
        if len(r) > MAX_ELEMENTS:
            raise ValueError(f"an Interval of {len(r)} elements is too large to enumerate here")
        return list(r)
    items = []
    n = int((stop - start) // step) + 1 if step != 0 else 0
    if n > MAX_ELEMENTS:
        raise ValueError(f"an Interval of {n} elements is too large to enumerate here")
    for i in range(max(n, 0)):
        value = start + i * step
        if type(value) is not int and type(value) is not float and value.denominator == 1:
            value = int(value)
        items.append(value)
    return items


class StClass:
    """A class or a metaclass.

    A class's ``meta`` is its metaclass (whose ``instance_class`` points back); a metaclass has
    ``meta`` None and its class is Metaclass. Methods are looked up along ``superclass``.
    """

    __slots__ = (
        "all_ivars",
        "builtin_name",
        "category",
        "class_slots",
        "classvars",
        "comment",
        "instance_class",
        "ivars",
        "kind",
        "lookup_cache",
        "meta",
        "methods",
        "name",
        "superclass",
    )

    def __init__(
        self,
        name: str,
        superclass: StClass | None,
        ivars: tuple[str, ...] = (),
        kind: Kind | None = None,
        category: str = "",
    ) -> None:
        self.name = name
        self.superclass = superclass
        self.ivars = ivars
        self.all_ivars: tuple[str, ...] = (superclass.all_ivars if superclass else ()) + ivars
        self.kind = kind if kind is not None else (superclass.kind if superclass else Kind.POINTERS)
        self.methods: dict[str, Method] = {}
        self.lookup_cache: dict[str, Any] = {}
        self.classvars: dict[str, Any] = {}
        self.class_slots: dict[str, Any] = {}  # values of class-side instance variables
        self.meta: StClass | None = None
        self.instance_class: StClass | None = None
        self.category = category
        self.comment = ""
        # The nearest built-in ancestor's name decides built-in behaviour such as value equality.
        self.builtin_name = superclass.builtin_name if superclass else name

    @property
    def is_meta(self) -> bool:
        """True for a metaclass (``Foo class``)."""
        return self.instance_class is not None

    def inherits_from(self, other: StClass) -> bool:
        """True if *other* is this class or one of its superclasses."""
        c: StClass | None = self
        while c is not None:
            if c is other:
                return True
            c = c.superclass
        return False

    def lookup(self, selector: str) -> Method | None:
        """Find the method for *selector* along the superclass chain."""
        c: StClass | None = self
        while c is not None:
            m = c.methods.get(selector)
            if m is not None:
                return m
            c = c.superclass
        return None

    def __repr__(self) -> str:
        return f"<class {self.name}>"


class Method:
    """A method in a class's method dictionary: a Python callable ``fn(receiver, *args)``.

    Attributes:
        selector: the message selector.
        fn: the callable run for a send.
        owner: the class it is installed in.
        source: Smalltalk source text, or "" for a primitive written in Python.
    """

    __slots__ = ("fn", "owner", "selector", "source")

    def __init__(self, selector: str, fn: Any, owner: StClass, source: str = "") -> None:
        self.selector = selector
        self.fn = fn
        self.owner = owner
        self.source = source


class Block:
    """A block closure: compiled code plus the frame it closes over.

    ``run(outer, *args)`` is the compiled entry point; :meth:`call` is the convenience for primitives.
    """

    __slots__ = ("nargs", "outer", "run", "source")

    def __init__(self, run: Any, outer: list[Any], nargs: int, source: str) -> None:
        self.run = run
        self.outer = outer
        self.nargs = nargs
        self.source = source

    def call(self, *args: Any) -> Any:
        """Evaluate the block with *args* (``value:`` and friends)."""
        return self.run(self.outer, *args)


# Marks a method frame that has returned, so a block's ``^`` can no longer return through it.
DEAD: list[Any] = []


class NonLocalReturn(Exception):
    """``^ value`` from inside a block (or an inlined block): unwind to the home method frame."""

    __slots__ = ("home", "value")

    def __init__(self, home: list[Any], value: Any) -> None:
        self.home = home
        self.value = value


class HandlerReturn(Exception):
    """Leave an ``on:do:`` with a value (handler fell off its end, or ``e return: x``)."""

    def __init__(self, marker: object, value: Any) -> None:
        self.marker = marker
        self.value = value


class HandlerRetry(Exception):
    """``e retry``: run the protected block of an ``on:do:`` again."""

    def __init__(self, marker: object) -> None:
        self.marker = marker


class HandlerResume(Exception):
    """``e resume: x``: make the ``signal`` send answer *x*."""

    def __init__(self, exception: Obj, value: Any) -> None:
        self.exception = exception
        self.value = value


class UnhandledError(Exception):
    """A Smalltalk Error nobody handled; it unwinds to the evaluation boundary.

    Attributes:
        exception: the Smalltalk exception object.
        stack: ``Class>>selector`` lines, innermost first, appended while unwinding.
    """

    def __init__(self, exception: Obj) -> None:
        super().__init__("unhandled Smalltalk error")
        self.exception = exception
        self.stack: list[str] = []


class EvaluationInterrupted(Exception):
    """The evaluation was interrupted (user interrupt or time budget); not catchable from Smalltalk."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Python says True == 1, Smalltalk does not: booleans are stored in hashed collections under these keys.
TRUE_KEY = ("<true>",)
FALSE_KEY = ("<false>",)


def norm_key(key: Any) -> Any:
    """The Python dict key for a Smalltalk object in a Set, Bag or Dictionary."""
    if key is True:
        return TRUE_KEY
    if key is False:
        return FALSE_KEY
    return key


def hashed_view(data: dict[Any, Any]) -> dict[Any, Any]:
    """A Set/Bag/Dictionary payload in Pharo's enumeration order, as far as it can be predicted.

    Pharo enumerates hashed collections in bucket order; a SmallInteger's hash is itself, so small
    non-negative integer keys come out ascending. Those are sorted here; other keys keep insertion order.
    """
    previous = -1
    for key in data:
        if type(key) is not int or key < 0:
            return data
        if key < previous:
            break
        previous = key
    else:
        return data
    if all(type(key) is int and key >= 0 for key in data):
        return dict(sorted(data.items()))
    return data


def denorm_key(key: Any) -> Any:
    """Invert :func:`norm_key`."""
    if type(key) is tuple:
        return key is TRUE_KEY
    return key
