"""Compile a method's syntax tree, once, into nested Python closures.

Each node becomes a function ``f(frame) -> value``; running a method is calling the closure for its
body. This is several times faster than re-walking the tree, because every decision that depends only
on the source (which variable slot, which selector, which control structure) is taken here, once.

Frames are plain lists: ``[receiver, outer_frame, home_frame, slot0, slot1, ...]``. A method frame has
``outer`` None (``DEAD`` once it returned, when some block might still try to ``^`` through it) and
``home`` None (it is its own home); a block frame points to the frame it was created in and to the home
method frame. Variables are resolved here to (depth, index).

Like Pharo's compiler, sends of ``ifTrue:``, ``and:``, ``whileTrue:``, ``to:do:``, ``timesRepeat:``,
``ifNil:`` and friends whose arguments are literal blocks are inlined into loops and branches; their
block variables live in the enclosing frame (inlining.py). Sends of arithmetic and comparison selectors take a
SmallInteger fast path. Every other send goes through a per-site inline cache, invalidated when any
method changes (``vm.epoch``).

Interruptibility: every method or block activation and every inlined loop iteration decrements
``vm.ticks``; when it runs out the VM checkpoint looks at the clock and may switch out of the
evaluation's greenlet.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.ast import (
    ArrayLit,
    Assign,
    BlockNode,
    BraceArray,
    ByteArrayLit,
    Cascade,
    Expr,
    Literal,
    LiteralValue,
    MethodNode,
    Return,
    Send,
    Statement,
    StrLit,
    Variable,
)
from stui.image.smalltalk.errors import SmalltalkSyntaxError
from stui.image.smalltalk.frames import (
    OFFSET,
    Code,
    Frame,
    frame_reader,
    frame_writer,
    nil_code,
    self_code,
    then_self_code,
)
from stui.image.smalltalk.inlining import INLINERS
from stui.image.smalltalk.objects import (
    DEAD,
    Block,
    NonLocalReturn,
    Obj,
    StClass,
    StString,
    UnhandledError,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("Compiler", "Frame")

PSEUDO = frozenset({"self", "super", "thisContext", "nil", "true", "false"})
# Literal values that are their own Smalltalk object (VM.literal_object answers them unchanged).
_SELF_LITERALS = (int, float, bool, type(None))

_INT_OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "=": operator.eq,
    "~=": operator.ne,
}


class _Scope:
    """The variables of one frame (a method or a real block), with nested visibility for inlined blocks."""

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.size = 0
        self.visible: list[dict[str, int]] = [{}]
        self.arguments: set[int] = set()  # slots of method and block arguments: read-only

    def declare(self, name: str, *, argument: bool = False) -> int:
        """Give *name* the next slot of this frame (in the innermost visibility level)."""
        index = OFFSET + self.size
        self.size += 1
        self.visible[-1][name] = index
        if argument:
            self.arguments.add(index)
        return index

    def find(self, name: str) -> int | None:
        """The slot of *name* in this frame, innermost declaration first, or None."""
        for names in reversed(self.visible):
            if name in names:
                return names[name]
        return None


class Compiler:
    """Compiles one method (or do-it) for a class.

    Args:
        vm: the image's VM (class table, lookup, errors).
        cls: the class the method is compiled in (its instance variables are visible); None for a
            do-it, whose receiver is nil.
        workspace: a do-it's workspace variables (read and assigned by name), or None in a method.
    """

    def __init__(
        self, vm: VM, cls: StClass | None, workspace: dict[str, Any] | None = None
    ) -> None:
        self.vm = vm
        self.cls = cls
        self.workspace = workspace
        self.source = ""
        self.selector = "DoIt"
        self.scope = _Scope(None)
        self.in_block = 0
        self.nonlocal_return = False

    # -- entry --------------------------------------------------------------------------------------

    def compile(self, node: MethodNode) -> Any:
        """Return the method's Python callable ``fn(receiver, *args)``."""
        self.source = node.source
        self.selector = node.selector
        scope = self.scope = _Scope(None)
        for name in node.params:
            scope.declare(name, argument=True)
        for name in node.temps:
            scope.declare(name)
        body = self.sequence(node.body, "doit" if self.workspace is not None else "method")
        nargs = len(node.params)
        tail = (None,) * (scope.size - nargs)
        vm = self.vm
        owner = self.cls.name if self.cls is not None else "UndefinedObject"
        label = f"{owner}>>{self.selector}"
        catch = self.nonlocal_return

        def invoke(receiver: Any, *args: Any) -> Any:
            frame = [receiver, None, None, *args, *tail]
            vm.depth += 1
            try:
                if vm.depth > vm.max_depth:
                    vm.stack_overflow()
                vm.ticks -= 1
                if vm.ticks < 0:
                    vm.checkpoint()
                if catch:
                    try:
                        return body(frame)
                    except NonLocalReturn as ret:
                        if ret.home is frame:
                            return ret.value
                        raise
                    finally:
                        frame[1] = DEAD
                return body(frame)
            except UnhandledError as err:
                err.stack.append(label)
                raise
            finally:
                vm.depth -= 1

        return invoke

    # -- statements ---------------------------------------------------------------------------------

    def sequence(self, statements: tuple[Statement, ...], kind: str) -> Code:
        """Compile statements. kind: 'method' (answers self), 'doit'/'block'/'inline' (last value)."""
        codes: list[Code] = []
        final: Code | None = None
        for st in statements:
            if isinstance(st, Return):
                if kind in ("method", "doit"):
                    final = self.expr(st.value)
                else:
                    codes.append(self.nonlocal_return_code(st))
                    final = codes.pop()
                break
            codes.append(self.expr(st))
        else:
            if kind == "method":
                final = then_self_code(codes.pop()) if codes else self_code
            elif codes:
                final = codes.pop()
            else:
                final = nil_code
        if not codes:
            return final
        if len(codes) == 1:
            first = codes[0]

            def two(frame: Frame) -> Any:
                first(frame)
                return final(frame)

            return two
        prefix = tuple(codes)

        def many(frame: Frame) -> Any:
            for code in prefix:
                code(frame)
            return final(frame)

        return many

    def nonlocal_return_code(self, st: Return) -> Code:
        """``^ value`` below the method's top level: unwind to the home frame."""
        value = self.expr(st.value)
        self.nonlocal_return = True
        vm = self.vm

        def ret(frame: Frame) -> Any:
            home = frame[2] or frame
            result = value(frame)
            if home[1] is DEAD:
                return vm.signal_error(
                    "BlockCannotReturn", "BlockCannotReturn: block cannot return"
                )
            raise NonLocalReturn(home, result)

        return ret

    # -- expressions --------------------------------------------------------------------------------

    def expr(self, node: Expr) -> Code:
        """Compile one expression node (a ``match`` over the closed union of expression nodes)."""
        match node:
            case Literal(value=value):
                return self.literal(value)
            case Variable(name=name):
                return self.read(name, node.span[0])
            case Assign(name=name, value=value):
                return self.write(name, self.expr(value), node.span[0])
            case Send():
                return self.send(node)
            case Cascade():
                return self.cascade(node)
            case BlockNode():
                return self.block(node)
            case BraceArray(items=items):
                codes = tuple(self.expr(item) for item in items)
                new_array = self.vm.new_array
                return lambda frame: new_array([c(frame) for c in codes])
            case _:
                raise AssertionError(f"not an expression: {node!r}")

    def literal(self, value: LiteralValue) -> Code:
        """A literal: constants are built once, mutable ones (strings, arrays) fresh each time."""
        if type(value) in _SELF_LITERALS:  # the commonest: the object is the value itself
            return lambda frame: value
        match value:
            case StrLit(text=text):
                return lambda frame: StString(text)
            case ArrayLit() | ByteArrayLit():
                build = self.vm.literal_object
                return lambda frame: build(value)
            case _:
                constant = self.vm.literal_object(value)
                return lambda frame: constant

    # -- variables ----------------------------------------------------------------------------------

    def resolve(self, name: str) -> tuple[int, int] | None:
        """(depth, slot) of a temporary or argument visible here, or None."""
        scope: _Scope | None = self.scope
        depth = 0
        while scope is not None:
            index = scope.find(name)
            if index is not None:
                return depth, index
            scope = scope.parent
            depth += 1
        return None

    def read(self, name: str, position: int) -> Code:
        """Code reading a variable: temp/arg, self/super, instance or class-side variable, class variable, workspace variable or global."""
        found = self.resolve(name)
        if found is not None:
            return frame_reader(*found)
        if name in ("self", "super"):
            return self_code
        if name == "thisContext":
            return nil_code
        k = self._ivar_slot(name)
        if k is not None:
            return lambda frame: frame[0].slots[k]
        if self._is_class_side_ivar(name):
            return lambda frame: frame[0].class_slots.get(name)
        pool = self._class_pool(name)
        if pool is not None:
            return lambda frame: pool[name]
        globals_ = self.vm.globals
        ws = self.workspace
        if ws is not None:
            return lambda frame: ws[name] if name in ws else globals_.get(name)
        return lambda frame: globals_.get(name)

    def write(self, name: str, value: Code, position: int) -> Code:
        """Code assigning a variable (see :meth:`read` for the lookup order)."""
        if name in PSEUDO:
            raise SmalltalkSyntaxError("Cannot store into", position)
        found = self.resolve(name)
        if found is not None:
            scope = self.scope
            for _ in range(found[0]):
                scope = scope.parent
            if found[1] in scope.arguments:  # as in Pharo, arguments cannot be assigned
                raise SmalltalkSyntaxError("Cannot store into", position)
            return frame_writer(found[0], found[1], value)
        k = self._ivar_slot(name)
        if k is not None:

            def set_ivar(frame: Frame) -> Any:
                v = value(frame)
                frame[0].slots[k] = v
                return v

            return set_ivar
        if self._is_class_side_ivar(name):

            def set_class_ivar(frame: Frame) -> Any:
                v = frame[0].class_slots[name] = value(frame)
                return v

            return set_class_ivar
        pool = self._class_pool(name)
        if pool is not None:

            def set_classvar(frame: Frame) -> Any:
                v = pool[name] = value(frame)
                return v

            return set_classvar
        globals_ = self.vm.globals
        existing = globals_.get(name)
        if isinstance(existing, StClass):
            raise SmalltalkSyntaxError("Cannot store into", position)
        ws = self.workspace
        if ws is None:
            if name in globals_:

                def set_global(frame: Frame) -> Any:
                    v = globals_[name] = value(frame)
                    return v

                return set_global
            raise SmalltalkSyntaxError("Undeclared variable", position)

        def set_workspace(frame: Frame) -> Any:
            v = value(frame)
            if name not in ws and name in globals_:
                globals_[name] = v
            else:
                ws[name] = v
            return v

        return set_workspace

    def _ivar_slot(self, name: str) -> int | None:
        """The slot of instance variable *name* in an instance-side method, or None."""
        cls = self.cls
        if cls is None or cls.is_meta or name not in cls.all_ivars:
            return None
        return cls.all_ivars.index(name)

    def _is_class_side_ivar(self, name: str) -> bool:
        """True if *name* is an instance variable of the metaclass (a class-side method's variable)."""
        return self.cls is not None and self.cls.is_meta and name in self.cls.all_ivars

    def _instance_side(self) -> StClass | None:
        if self.cls is None:
            return None
        return self.cls.instance_class if self.cls.is_meta else self.cls

    def _class_pool(self, name: str) -> dict[str, Any] | None:
        c = self._instance_side()
        while c is not None:
            if name in c.classvars:
                return c.classvars
            c = c.superclass
        return None

    # -- sends --------------------------------------------------------------------------------------

    def send(self, node: Send) -> Code:
        """A message send: inlined control structure, SmallInteger fast path, or a cached send."""
        inlined = self.inline(node)
        if inlined is not None:
            return inlined
        selector = node.selector
        args = tuple(self.expr(a) for a in node.args)
        if isinstance(node.receiver, Variable) and node.receiver.name == "super":
            return self.super_send(selector, args)
        receiver = self.expr(node.receiver)
        if selector == "==" and len(args) == 1:
            identical = self.vm.identical
            arg = args[0]
            return lambda frame: identical(receiver(frame), arg(frame))
        if len(args) == 1 and selector in _INT_OPS:
            site = self.vm.make_site(selector)
            op = _INT_OPS[selector]
            arg = args[0]

            def binary(frame: Frame) -> Any:
                a = receiver(frame)
                b = arg(frame)
                if type(a) is int and type(b) is int:
                    return op(a, b)
                return site(a, b)

            return binary
        if selector == "subclassResponsibility" and not args:
            return self._subclass_responsibility_send(self.cached_send(selector, receiver, args))
        return self.cached_send(selector, receiver, args)

    def _subclass_responsibility_send(self, send: Code) -> Code:
        """Pharo says which method a subclass should have overridden (`... overridden #area`), which
        the primitive learns from here: nothing runs between this store and the primitive's read."""
        vm, method = self.vm, self.selector

        def send_naming_the_method(frame: Frame) -> Any:
            vm.overridable_selector = method
            return send(frame)

        return send_naming_the_method

    def cached_send(self, selector: str, receiver: Code, args: tuple[Code, ...]) -> Code:
        """A send with its own inline cache (class -> method), checked against ``vm.epoch``."""
        vm = self.vm
        class_of = vm.class_of
        lookup = vm.lookup_in
        cached_cls: Any = None
        cached_fn: Any = None
        cached_epoch = -1
        if len(args) == 0:

            def send0(frame: Frame) -> Any:
                nonlocal cached_cls, cached_fn, cached_epoch
                r = receiver(frame)
                cls = r.cls if type(r) is Obj else class_of(r)
                if cls is not cached_cls or cached_epoch != vm.epoch:
                    cached_fn, cached_cls, cached_epoch = lookup(cls, selector), cls, vm.epoch
                return cached_fn(r)

            return send0
        if len(args) == 1:
            (arg,) = args

            def send1(frame: Frame) -> Any:
                nonlocal cached_cls, cached_fn, cached_epoch
                r = receiver(frame)
                a = arg(frame)
                cls = r.cls if type(r) is Obj else class_of(r)
                if cls is not cached_cls or cached_epoch != vm.epoch:
                    cached_fn, cached_cls, cached_epoch = lookup(cls, selector), cls, vm.epoch
                return cached_fn(r, a)

            return send1

        def send_n(frame: Frame) -> Any:
            nonlocal cached_cls, cached_fn, cached_epoch
            r = receiver(frame)
            values = [a(frame) for a in args]
            cls = r.cls if type(r) is Obj else class_of(r)
            if cls is not cached_cls or cached_epoch != vm.epoch:
                cached_fn, cached_cls, cached_epoch = lookup(cls, selector), cls, vm.epoch
            return cached_fn(r, *values)

        return send_n

    def super_send(self, selector: str, args: tuple[Code, ...]) -> Code:
        """A send to super: the lookup starts above the method's class."""
        vm = self.vm
        start = self.cls.superclass if self.cls is not None else vm.classes["Object"]
        lookup = vm.lookup_in

        def send_super(frame: Frame) -> Any:
            fn = lookup(start, selector)
            return fn(frame[0], *[a(frame) for a in args])

        return send_super

    def cascade(self, node: Cascade) -> Code:
        """A cascade: the receiver is evaluated once, kept in a hidden slot, and every message goes to it."""
        receiver = self.expr(node.receiver)
        hidden = self.scope.declare(f"<cascade{self.scope.size}>")
        if isinstance(node.receiver, Variable) and node.receiver.name == "super":
            receiver = self_code
        reader = frame_reader(0, hidden)
        parts = []
        for selector, arg_nodes in node.messages:
            args = tuple(self.expr(a) for a in arg_nodes)
            parts.append(self.cached_send(selector, reader, args))
        prefix, last = tuple(parts[:-1]), parts[-1]

        def cascade(frame: Frame) -> Any:
            frame[hidden] = receiver(frame)
            for part in prefix:
                part(frame)
            return last(frame)

        return cascade

    def block(self, node: BlockNode) -> Code:
        """A real block (not inlined): its own frame, closing over the current one."""
        outer_scope = self.scope
        scope = self.scope = _Scope(outer_scope)
        for name in node.params:
            scope.declare(name, argument=True)
        for name in node.temps:
            scope.declare(name)
        self.in_block += 1
        try:
            body = self.sequence(node.body, "block")
        finally:
            self.in_block -= 1
            self.scope = outer_scope
        nargs = len(node.params)
        tail = (None,) * (scope.size - nargs)
        source = self.source[node.span[0] : node.span[1]]
        vm = self.vm
        owner = self.cls.name if self.cls is not None else "UndefinedObject"
        label = f"[] in {owner}>>{self.selector}"

        def run(outer: Frame, *args: Any) -> Any:
            if len(args) != nargs:
                return vm.wrong_argument_count(nargs, len(args))
            frame = [outer[0], outer, outer[2] or outer, *args, *tail]
            vm.depth += 1
            try:
                if vm.depth > vm.max_depth:
                    vm.stack_overflow()
                vm.ticks -= 1
                if vm.ticks < 0:
                    vm.checkpoint()
                return body(frame)
            except UnhandledError as err:
                err.stack.append(label)
                raise
            finally:
                vm.depth -= 1

        return lambda frame: Block(run, frame, nargs, source)

    # -- inlined control structures -----------------------------------------------------------------

    def inline_body(
        self, node: Expr, nparams: int | tuple[int, ...] = 0
    ) -> tuple[Code, list[int]] | None:
        """Compile a literal block's statements into the current frame, or None if not inlinable."""
        if not isinstance(node, BlockNode):
            return None
        allowed = nparams if isinstance(nparams, tuple) else (nparams,)
        if len(node.params) not in allowed:
            return None
        self.scope.visible.append({})
        try:
            params = [self.scope.declare(p, argument=True) for p in node.params]
            temps = [self.scope.declare(t) for t in node.temps]
            body = self.sequence(node.body, "inline")
        finally:
            self.scope.visible.pop()
        if temps:
            inner = body

            def with_temps(frame: Frame) -> Any:
                for t in temps:
                    frame[t] = None
                return inner(frame)

            body = with_temps
        return body, params

    def inline(self, node: Send) -> Code | None:
        """The inlined code for a control-structure send, or None if it must stay a send."""
        sel, args = node.selector, node.args
        handler = INLINERS.get(sel)
        if handler is None:
            return None
        return handler(self, node.receiver, args)
