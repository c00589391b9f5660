"""The VM of one image: its classes, globals, method lookup, exception signalling and checkpoints.

One :class:`VM` per image. It holds no reference to any evaluation except the one currently running:
the fields that belong to a running evaluation (``depth``, ``handlers``, ``ticks``, the transcript, the
interrupt reason, the greenlet to switch back to) are saved and restored by the evaluation around each
time slice, so compiled methods, which are shared by every workspace of the image, simply read ``vm``.

Exceptions follow Pharo's semantics: ``signal`` looks for a handler *at signal time*, walking the
chain of active ``on:do:`` handlers, and runs it on top of the signalling code; only then does the stack
unwind (``HandlerReturn``), so ``resume:`` and ``pass`` work and ``ensure:`` blocks run after the handler.
"""

from __future__ import annotations

import random
import sys
import time
from fractions import Fraction
from typing import Any

from stui.image.smalltalk.ast import ArrayLit, ByteArrayLit, CharLit, LiteralValue, StrLit, SymLit
from stui.image.smalltalk.compiler import Compiler
from stui.image.smalltalk.objects import (
    MAX_ELEMENTS,
    Block,
    Char,
    EvaluationInterrupted,
    HandlerResume,
    HandlerReturn,
    Kind,
    Method,
    Obj,
    StClass,
    StString,
    UnhandledError,
)
from stui.image.smalltalk.parser import parse_doit, parse_method

__all__ = ("SMALL_MAX", "SMALL_MIN", "VM")

SMALL_MAX = 2**60 - 1
SMALL_MIN = -(2**60)
TICKS_PER_CLOCK_CHECK = 64
#: Parsed do-its kept by source text (`VM.doit_trees`): at most this many, of this many source
#: characters in all (a tree takes up to ~60 bytes per character: ~1 MB), each at most this long.
DOIT_TREES = 256
DOIT_TREE_CHARS = 16_384
DOIT_TREE_MAX_SOURCE = 1024
UNWIND_GRACE = 0.05  # seconds the ensure: blocks of an interrupted evaluation get to finish

# name, superclass, instance variables, kind (None: inherit), category
_CLASSES: tuple[tuple[str, str | None, tuple[str, ...], Kind | None, str], ...] = (
    ("ProtoObject", None, (), Kind.POINTERS, "Kernel-Objects"),
    ("Object", "ProtoObject", (), None, "Kernel-Objects"),
    ("Behavior", "Object", (), Kind.NONE, "Kernel-Classes"),
    ("ClassDescription", "Behavior", (), None, "Kernel-Classes"),
    ("Class", "ClassDescription", (), None, "Kernel-Classes"),
    ("Metaclass", "ClassDescription", (), None, "Kernel-Classes"),
    ("UndefinedObject", "Object", (), Kind.NONE, "Kernel-Objects"),
    ("Boolean", "Object", (), Kind.NONE, "Kernel-Objects"),
    ("True", "Boolean", (), None, "Kernel-Objects"),
    ("False", "Boolean", (), None, "Kernel-Objects"),
    ("Magnitude", "Object", (), None, "Kernel-Numbers"),
    ("Character", "Magnitude", (), Kind.NONE, "Kernel-BasicObjects"),
    ("Number", "Magnitude", (), Kind.NONE, "Kernel-Numbers"),
    ("Integer", "Number", (), None, "Kernel-Numbers"),
    ("SmallInteger", "Integer", (), None, "Kernel-Numbers"),
    ("LargePositiveInteger", "Integer", (), None, "Kernel-Numbers"),
    ("LargeNegativeInteger", "LargePositiveInteger", (), None, "Kernel-Numbers"),
    ("Float", "Number", (), None, "Kernel-Numbers"),
    ("SmallFloat64", "Float", (), None, "Kernel-Numbers"),
    ("Fraction", "Number", (), None, "Kernel-Numbers"),
    ("Collection", "Object", (), None, "Collections-Abstract"),
    ("SequenceableCollection", "Collection", (), None, "Collections-Abstract"),
    ("ArrayedCollection", "SequenceableCollection", (), None, "Collections-Abstract"),
    ("Array", "ArrayedCollection", (), Kind.ARRAY, "Collections-Sequenceable"),
    ("ByteArray", "ArrayedCollection", (), Kind.BYTES, "Collections-Native"),
    ("String", "ArrayedCollection", (), Kind.NONE, "Collections-Strings"),
    ("ByteString", "String", (), None, "Collections-Strings"),
    ("WideString", "String", (), None, "Collections-Strings"),
    ("Symbol", "String", (), None, "Collections-Strings"),
    ("ByteSymbol", "Symbol", (), None, "Collections-Strings"),
    ("OrderedCollection", "SequenceableCollection", (), Kind.ORDERED, "Collections-Sequenceable"),
    ("SortedCollection", "OrderedCollection", ("sortBlock",), None, "Collections-Sequenceable"),
    ("Interval", "SequenceableCollection", (), Kind.INTERVAL, "Collections-Sequenceable"),
    ("HashedCollection", "Collection", (), None, "Collections-Abstract"),
    ("Set", "HashedCollection", (), Kind.SET, "Collections-Unordered"),
    ("IdentitySet", "Set", (), None, "Collections-Unordered"),
    ("Dictionary", "HashedCollection", (), Kind.DICT, "Collections-Unordered"),
    ("IdentityDictionary", "Dictionary", (), None, "Collections-Unordered"),
    ("Bag", "Collection", (), Kind.BAG, "Collections-Unordered"),
    ("LookupKey", "Magnitude", ("key",), None, "Collections-Support"),
    ("Association", "LookupKey", ("value",), None, "Collections-Support"),
    ("Point", "Object", ("x", "y"), None, "Kernel-BasicObjects"),
    ("Message", "Object", ("selector", "args", "lookupClass"), None, "Kernel-Methods"),
    ("BlockClosure", "Object", (), Kind.NONE, "Kernel-Methods"),
    ("FullBlockClosure", "BlockClosure", (), None, "Kernel-Methods"),
    ("CompiledMethod", "Object", (), None, "Kernel-Methods"),
    ("Stream", "Object", (), Kind.STREAM, "Collections-Streams"),
    ("PositionableStream", "Stream", (), None, "Collections-Streams"),
    ("WriteStream", "PositionableStream", (), None, "Collections-Streams"),
    ("ReadStream", "PositionableStream", (), None, "Collections-Streams"),
    ("ThreadSafeTranscript", "Stream", (), Kind.POINTERS, "Transcript-Core"),
    ("SmalltalkImage", "Object", (), None, "System-Support"),
    ("Random", "Object", (), None, "Random-Core"),
    ("Date", "Magnitude", (), None, "Kernel-Chronology"),
    ("Time", "Magnitude", (), None, "Kernel-Chronology"),
    ("DateAndTime", "Magnitude", (), None, "Kernel-Chronology"),
    ("Exception", "Object", ("messageText", "signaler"), None, "Kernel-Exceptions"),
    ("Error", "Exception", (), None, "Kernel-Exceptions"),
    ("ArithmeticError", "Error", (), None, "Kernel-Exceptions"),
    ("ZeroDivide", "ArithmeticError", ("dividend",), None, "Kernel-Exceptions"),
    ("DomainError", "ArithmeticError", (), None, "Kernel-Exceptions"),
    ("MessageNotUnderstood", "Error", ("message", "receiver"), None, "Kernel-Exceptions"),
    ("SubscriptOutOfBounds", "Error", (), None, "Kernel-Exceptions"),
    ("NotFound", "Error", (), None, "Kernel-Exceptions"),
    ("KeyNotFound", "NotFound", (), None, "Kernel-Exceptions"),
    ("ValueNotFound", "NotFound", (), None, "Kernel-Exceptions"),
    ("CollectionIsEmpty", "Error", (), None, "Kernel-Exceptions"),
    ("NonBooleanReceiver", "Error", (), None, "Kernel-Exceptions"),
    ("ArgumentsCountMismatch", "Error", (), None, "Kernel-Exceptions"),
    ("BlockCannotReturn", "Error", (), None, "Kernel-Exceptions"),
    ("AssertionFailure", "Error", (), None, "Kernel-Exceptions"),
    ("InvalidArgument", "Error", (), None, "Kernel-Exceptions"),
    ("ShouldNotImplement", "Error", (), None, "Kernel-Exceptions"),
    ("SubclassResponsibility", "Error", (), None, "Kernel-Exceptions"),
    ("ModificationForbidden", "Error", (), None, "Kernel-Exceptions"),
    ("StackOverflow", "Error", (), None, "Kernel-Exceptions"),
    ("PrimitiveFailed", "Error", (), None, "Kernel-Exceptions"),
    ("IllegalResumeAttempt", "Error", (), None, "Kernel-Exceptions"),
    ("Notification", "Exception", (), None, "Kernel-Exceptions"),
    ("Warning", "Exception", (), None, "Kernel-Exceptions"),
    ("ExceptionSet", "Object", ("exceptions",), None, "Kernel-Exceptions"),
    (
        "FluidClassBuilder",
        "Object",
        ("superclassToBuild", "nameToBuild", "slots", "sharedVariables", "package", "tag"),
        None,
        "FluidClassBuilder",
    ),
)


class VM:
    """The classes, globals and execution state of one image.

    Args:
        image_name: shown by ``Smalltalk imageName``.
        max_depth: deepest allowed nesting of method and block activations; None picks a depth that
            fits the current Python recursion limit.
    """

    def __init__(self, image_name: str = "image", max_depth: int | None = None) -> None:
        self.image_name = image_name
        self.classes: dict[str, StClass] = {}
        self.globals: dict[str, Any] = {}
        self.all_classes: list[StClass] = []
        self.system_class_names: frozenset[str] = frozenset()
        self.epoch = 0
        # Per-evaluation state, swapped by Evaluation around each slice.
        self.depth = 0
        # About four Python frames per Smalltalk activation; deeper recursion that still hits
        # Python's limit (through primitives) is caught as a RecursionError at the boundary.
        self.max_depth = max_depth or max(50, (sys.getrecursionlimit() - 200) // 4)
        self.ticks = TICKS_PER_CLOCK_CHECK
        self.deadline = float("inf")
        self.interrupt_reason: str | None = None
        self.unwind_deadline: float | None = None  # set when an interrupt was raised
        self.yield_to: Any = None  # a greenlet, or None when running outside an Evaluation
        self.handlers: Any = None  # linked tuples ((spec, handler, marker), parent)
        self.transcript: Any = None  # callable(str) or None
        self.workspace: dict[str, Any] | None = None
        #: the method that sent `subclassResponsibility` last (see Compiler.send)
        self.overridable_selector = "DoIt"
        self.random = random.Random()  # this image's generator (atRandom, Random new)
        # Syntax trees of recent do-its, by source text. Only parsing is cached, never compiling:
        # parsing is a pure function of the text and the tree is immutable (frozen nodes, tuples,
        # immutable literal values), while what a name means (temporary, workspace variable,
        # global, class, undeclared) and which method a send finds are decided by the compiler and
        # the sends, afresh for every evaluation. A client that repeats a do-it (a REPL user, a
        # tool polling `Smalltalk at: #Foo`) saves lexing and parsing; oldest entries go first.
        self.doit_trees: dict[str, Any] = {}
        self._doit_chars = 0  # characters of the sources in doit_trees
        # Classes known to print without Smalltalk overrides, and the epoch they were checked at
        # (stui.image.smalltalk.printing.prints_plainly).
        self.plain_printing: dict[StClass, int] = {}
        self._bootstrap()

    # -- classes ------------------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        for name, superclass, ivars, kind, category in _CLASSES:
            sup = self.classes[superclass] if superclass else None
            self._add_class(StClass(name, sup, ivars, kind, category))
        for cls in self.all_classes:
            cls.builtin_name = cls.name
        self.system_class_names = frozenset(self.classes)
        from stui.image.smalltalk import library

        library.install(self)

    def _add_class(self, cls: StClass) -> None:
        sup = cls.superclass
        meta_super = sup.meta if sup is not None else self.classes.get("Class")
        meta = StClass(f"{cls.name} class", meta_super, (), Kind.NONE, cls.category)
        meta.instance_class = cls
        meta.builtin_name = "Class"
        cls.meta = meta
        self.classes[cls.name] = cls
        self.globals[cls.name] = cls
        self.all_classes.append(cls)
        self.all_classes.append(meta)
        if cls.name == "Class":  # ProtoObject class superclass is Class (the metaclass loop)
            proto_meta = self.classes["ProtoObject"].meta
            assert proto_meta is not None
            proto_meta.superclass = cls

    def define_class(
        self,
        superclass: StClass,
        name: str,
        ivars: tuple[str, ...],
        classvars: tuple[str, ...],
        category: str,
    ) -> StClass:
        """Create or redefine a class (``subclass:instanceVariableNames:...``).

        A redefinition keeps the class object and its methods, so existing references stay valid.
        The image's own classes cannot be redefined: every session of the image depends on them.
        """
        if name in self.system_class_names:
            return self.signal_error("Error", f"{name} is a system class and cannot be redefined")
        if not name or not name[0].isupper():
            raise ValueError(f"class names must start with an uppercase letter: {name!r}")
        if superclass.kind is Kind.NONE and superclass.name not in ("Object",):
            self.signal_error("Error", f"{superclass.name} cannot be subclassed here")
        existing = self.classes.get(name)
        if existing is not None and not existing.is_meta:
            existing.superclass = superclass
            existing.ivars = ivars
            existing.all_ivars = superclass.all_ivars + ivars
            existing.kind = superclass.kind
            existing.builtin_name = superclass.builtin_name
            existing.category = category
            assert existing.meta is not None
            existing.meta.superclass = superclass.meta
            for cv in classvars:
                existing.classvars.setdefault(cv, None)
            self.invalidate()
            return existing
        cls = StClass(name, superclass, ivars, None, category)
        cls.builtin_name = superclass.builtin_name
        cls.classvars = dict.fromkeys(classvars)
        self._add_class(cls)
        self.invalidate()
        return cls

    def invalidate(self) -> None:
        """Forget every cached lookup (a method or the hierarchy changed)."""
        self.epoch += 1
        for cls in self.all_classes:
            cls.lookup_cache.clear()

    def install(self, cls: StClass, selector: str, fn: Any, source: str = "") -> Method:
        """Install a Python callable as the method for *selector* in *cls*."""
        method = Method(selector, fn, cls, source)
        cls.methods[selector] = method
        self.invalidate()
        return method

    def compile_method(self, cls: StClass, source: str) -> Method:
        """Compile *source* (a method definition) into *cls*.

        Raises:
            SmalltalkSyntaxError: the source does not parse or compile.
        """
        node = parse_method(source)
        fn = Compiler(self, cls).compile(node)
        return self.install(cls, node.selector, fn, source)

    # -- sending ------------------------------------------------------------------------------------

    def class_of(self, x: Any) -> StClass:
        """The Smalltalk class of any object (SmallInteger or Large*Integer by magnitude, as on 64-bit Pharo)."""
        t = type(x)
        if t is int:
            c = self.classes
            if SMALL_MIN <= x <= SMALL_MAX:
                return c["SmallInteger"]
            return c["LargePositiveInteger"] if x > 0 else c["LargeNegativeInteger"]
        if t is Obj:
            return x.cls
        if t is StClass:
            return x.meta if x.meta is not None else self.classes["Metaclass"]
        if t is bool:
            return self.classes["True" if x else "False"]
        name = _TYPE_CLASS.get(t)
        if name is not None:
            if t is StString and not x.s.isascii() and max(map(ord, x.s)) > 255:
                return self.classes["WideString"]
            return self.classes[name]
        raise TypeError(f"not a Smalltalk object: {x!r}")

    def lookup_in(self, cls: StClass, selector: str) -> Any:
        """The callable answering *selector* for instances of *cls* (a DNU trampoline if none)."""
        fn = cls.lookup_cache.get(selector)
        if fn is None:
            method = cls.lookup(selector)
            if method is not None:
                fn = method.fn
            else:
                vm = self

                def fn(receiver: Any, *args: Any) -> Any:
                    return vm.dnu(receiver, selector, args)

            cls.lookup_cache[selector] = fn
        return fn

    def send(self, receiver: Any, selector: str, *args: Any) -> Any:
        """Send a message from Python code (primitives); counts as a step for the checkpoint."""
        self.ticks -= 1
        if self.ticks < 0:
            self.checkpoint()
        return self.lookup_in(self.class_of(receiver), selector)(receiver, *args)

    def responds_to(self, receiver: Any, selector: str) -> bool:
        """True if the receiver's class (or a superclass) has a method for *selector*."""
        return self.class_of(receiver).lookup(selector) is not None

    def make_site(self, selector: str) -> Any:
        """A reusable send of *selector* with an inline cache: ``site(receiver, *args)``."""
        vm = self
        class_of = self.class_of
        lookup = self.lookup_in
        cached_cls: Any = None
        cached_fn: Any = None
        cached_epoch = -1

        def site(r: Any, *args: Any) -> Any:
            nonlocal cached_cls, cached_fn, cached_epoch
            cls = r.cls if type(r) is Obj else class_of(r)
            if cls is not cached_cls or cached_epoch != vm.epoch:
                cached_fn, cached_cls, cached_epoch = lookup(cls, selector), cls, vm.epoch
            return cached_fn(r, *args)

        return site

    @staticmethod
    def identical(a: Any, b: Any) -> bool:
        """``==``: identity, except that immediates (SmallIntegers, Characters, Symbols, floats) compare by value."""
        if a is b:
            return True
        ta = type(a)
        if ta is not type(b):
            return False
        if ta is int:
            return SMALL_MIN <= a <= SMALL_MAX and a == b
        return ta in (Char, str, float) and a == b

    # -- object construction ------------------------------------------------------------------------

    def new_array(self, items: list[Any]) -> Obj:
        """A new Array holding *items* (the list itself, not a copy)."""
        return Obj(self.classes["Array"], [], items)

    def new_instance(self, cls: StClass, size: int = 0) -> Obj:
        """A fresh instance of *cls* shaped by its kind (``basicNew``/``basicNew:``)."""
        slots = [None] * len(cls.all_ivars)
        if size > MAX_ELEMENTS:
            return self.signal_error("Error", f"{size} elements is more than this image allows")
        match cls.kind:
            case Kind.ARRAY:
                return Obj(cls, slots, [None] * size)
            case Kind.ORDERED:
                return Obj(cls, slots, [])
            case Kind.SET | Kind.BAG | Kind.DICT:
                return Obj(cls, slots, {})
            case Kind.BYTES:
                return Obj(cls, slots, bytearray(size))
            case Kind.INTERVAL:
                return Obj(cls, slots, (1, 0, 1))
            case Kind.STREAM:
                return Obj(cls, slots, [[], 0])
            case Kind.NONE:
                return self.signal_error(
                    "Error", f"{cls.name} instances cannot be created with new"
                )
            case _:
                return Obj(cls, slots, None)

    def literal_object(self, value: LiteralValue) -> Any:
        """Build the Smalltalk object for a literal (fresh for mutable ones)."""
        match value:
            case StrLit(text=text):
                return StString(text)
            case SymLit(name=name):
                return name
            case CharLit(char=ch):
                return Char(ch)
            case ArrayLit(items=items):
                return self.new_array([self.literal_object(i) for i in items])
            case ByteArrayLit(data=data):
                return Obj(self.classes["ByteArray"], [], bytearray(data))
            case Fraction() if value.denominator == 1:
                return int(value)
            case _:
                return value

    def association(self, key: Any, value: Any) -> Obj:
        """``key -> value``."""
        return Obj(self.classes["Association"], [key, value])

    # -- errors and exceptions ----------------------------------------------------------------------

    def new_exception(self, class_name: str, text: str | None = None, **fields: Any) -> Obj:
        """A new, unsignalled exception of a built-in class, with its messageText and named fields set."""
        cls = self.classes[class_name]
        exc = Obj(cls, [None] * len(cls.all_ivars), None)
        if text is not None:
            exc.slots[0] = StString(text)
        for name, value in fields.items():
            exc.slots[cls.all_ivars.index(name)] = value
        return exc

    def signal_error(self, class_name: str, text: str | None = None, **fields: Any) -> Any:
        """Signal a new exception of a built-in class; answers only if a handler resumes it."""
        return self.signal(self.new_exception(class_name, text, **fields))

    def signal(self, exc: Obj, start: Any = ...) -> Any:
        """Find a handler for *exc* and run it on top of the current stack (Pharo semantics).

        Returns the value given to ``resume:`` when a handler resumes; otherwise unwinds with
        ``HandlerReturn`` (to the handler's ``on:do:``) or ``UnhandledError`` (to the evaluation).
        """
        node = self.handlers if start is ... else start
        while node is not None:
            (spec, handler, marker), parent = node
            if self.handles(spec, exc):
                saved = self.handlers
                self.handlers = parent
                exc.data = (node, marker)
                try:
                    if type(handler) is Block:
                        value = handler.call(exc) if handler.nargs == 1 else handler.call()
                    else:
                        value = handler
                except HandlerResume as resumed:
                    if resumed.exception is exc:
                        return resumed.value
                    raise
                finally:
                    self.handlers = saved
                raise HandlerReturn(marker, value)
            node = parent
        if exc.cls.inherits_from(self.classes["Notification"]):
            return None
        raise UnhandledError(exc)

    def handles(self, spec: Any, exc: Obj) -> bool:
        """True if the ``on:`` argument *spec* (a class or an ExceptionSet) catches *exc*."""
        if type(spec) is StClass:
            return exc.cls.inherits_from(spec)
        if type(spec) is Obj and spec.cls.builtin_name == "ExceptionSet":
            return any(self.handles(s, exc) for s in spec.slots[0])
        return False

    def dnu(self, receiver: Any, selector: str, args: tuple[Any, ...]) -> Any:
        """``doesNotUnderstand:``: a user override if there is one, else MessageNotUnderstood."""
        cls = self.class_of(receiver)
        message = Obj(self.classes["Message"], [selector, self.new_array(list(args)), cls])
        override = cls.lookup("doesNotUnderstand:")
        if override is not None and override.source:
            return override.fn(receiver, message)
        exc = self.new_exception("MessageNotUnderstood", message=message, receiver=receiver)
        return self.signal(exc)

    def non_boolean(self, value: Any) -> Any:
        """Signal NonBooleanReceiver: a control structure got something other than true or false."""
        return self.signal_error("NonBooleanReceiver", "proceed for truth.")

    def wrong_argument_count(self, expected: int, given: int) -> Any:
        """Signal ArgumentsCountMismatch for a block called with the wrong number of arguments."""
        plural = "argument" if expected == 1 else "arguments"
        return self.signal_error(
            "ArgumentsCountMismatch",
            f"This block accepts {expected} {plural}, but was called with {given}.",
        )

    def stack_overflow(self) -> None:
        """Signal StackOverflow, leaving some room for a handler to run."""
        self.max_depth += 100
        try:
            self.signal_error(
                "StackOverflow", f"recursion deeper than {self.max_depth - 100} activations"
            )
        finally:
            self.max_depth -= 100

    def check_loop_bounds(self, start: Any, stop: Any, step: Any) -> None:
        """``to:do:`` needs numbers and a non-zero step; signal otherwise."""
        for v in (start, stop, step):
            if not _is_number(v):
                self.dnu(v, "<=", (start,))
                return
        if step == 0:
            self.signal_error("Error", "step must not be zero")

    # -- evaluation support -------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Called every few dozen steps: honour interrupts, and yield when the slice is over.

        An interrupt raises once; the stack then unwinds and its ``ensure:`` blocks run, with
        UNWIND_GRACE seconds to finish before the interrupt is raised again (inside them).
        """
        self.ticks = TICKS_PER_CLOCK_CHECK
        if self.interrupt_reason is not None:
            self._interrupt()
        if self.yield_to is not None and time.perf_counter() >= self.deadline:
            self.yield_to.switch(None)
            if self.interrupt_reason is not None:
                self._interrupt()

    def _interrupt(self) -> None:
        assert self.interrupt_reason is not None
        now = time.perf_counter()
        if self.unwind_deadline is None:
            self.unwind_deadline = now + UNWIND_GRACE
            raise EvaluationInterrupted(self.interrupt_reason)
        if now >= self.unwind_deadline:
            raise EvaluationInterrupted(self.interrupt_reason)

    def show(self, text: str) -> None:
        """Write to the Transcript (the current evaluation's callback)."""
        if self.transcript is not None:
            self.transcript(text)

    def compile_doit(self, source: str, workspace: dict[str, Any]) -> Any:
        """Compile workspace code; returns ``fn(nil)``.

        Raises:
            SmalltalkSyntaxError: the source does not parse or compile.
        """

        trees = self.doit_trees
        node = trees.get(source)
        if node is None:
            node = parse_doit(source)
            size = len(source)
            if size <= DOIT_TREE_MAX_SOURCE:
                self._doit_chars += size
                while len(trees) >= DOIT_TREES or self._doit_chars > DOIT_TREE_CHARS:
                    oldest = next(iter(trees))
                    del trees[oldest]
                    self._doit_chars -= len(oldest)
                trees[source] = node
        return Compiler(self, None, workspace).compile(node)


def _is_number(v: Any) -> bool:
    return type(v) in (int, float, Fraction)


_TYPE_CLASS: dict[type, str] = {
    type(None): "UndefinedObject",
    float: "SmallFloat64",
    Fraction: "Fraction",
    Char: "Character",
    str: "ByteSymbol",
    StString: "ByteString",
    Block: "FullBlockClosure",
}
