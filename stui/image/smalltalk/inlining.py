"""Inlined control structures: ``ifTrue:``, ``and:``, ``whileTrue:``, ``to:do:``, ``timesRepeat:``,
``repeat`` and the ``ifNil:`` family, compiled into Python branches and loops.

Like Pharo's compiler, a send of one of these selectors is inlined only when the arguments that must be
blocks are literal blocks (with the right number of parameters); the block's variables then live in the
enclosing frame. Otherwise (``x ifTrue: aBlockInAVariable``) it stays an ordinary send. Each inliner
answers the code, or None to fall back to a send. Loops decrement ``vm.ticks`` so they stay
interruptible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.ast import Expr
from stui.image.smalltalk.frames import Code, Frame, nil_code

if TYPE_CHECKING:
    from stui.image.smalltalk.compiler import Compiler

__all__ = ("INLINERS",)


def inline_if(
    c: Compiler, receiver: Expr, args: tuple[Expr, ...], when: bool, both: bool
) -> Code | None:
    """``c ifTrue: [a] ifFalse: [b]`` (and the one-armed and swapped forms) as a Python branch."""
    first = c.inline_body(args[0]) if args else None
    second = c.inline_body(args[1]) if both else None
    if first is None or (both and second is None):
        return None
    cond = c.expr(receiver)
    a = first[0]
    b = second[0] if second is not None else nil_code
    vm = c.vm
    if not when:
        a, b = b, a

    def branch(frame: Frame) -> Any:
        c = cond(frame)
        if c is True:
            return a(frame)
        if c is False:
            return b(frame)
        return vm.non_boolean(c)

    return branch


def inline_and_or(c: Compiler, receiver: Expr, args: tuple[Expr, ...], is_and: bool) -> Code | None:
    """``a and: [b]`` / ``a or: [b]`` with short-circuit evaluation."""
    inlined = c.inline_body(args[0])
    if inlined is None:
        return None
    cond = c.expr(receiver)
    rest = inlined[0]
    vm = c.vm
    if is_and:

        def and_(frame: Frame) -> Any:
            c = cond(frame)
            if c is True:
                return rest(frame)
            if c is False:
                return False
            return vm.non_boolean(c)

        return and_

    def or_(frame: Frame) -> Any:
        c = cond(frame)
        if c is False:
            return rest(frame)
        if c is True:
            return True
        return vm.non_boolean(c)

    return or_


def inline_while(c: Compiler, receiver: Expr, args: tuple[Expr, ...], until: bool) -> Code | None:
    """``[c] whileTrue: [b]``, ``whileFalse:``, and the argument-less forms, as a Python loop."""
    test = c.inline_body(receiver)
    if test is None:
        return None
    body = c.inline_body(args[0]) if args else (nil_code, [])
    if body is None:
        return None
    cond, loop = test[0], body[0]
    vm = c.vm
    stop_on = until

    def while_(frame: Frame) -> Any:
        while True:
            c = cond(frame)
            if c is stop_on:
                return None
            if c is not (not stop_on):
                return vm.non_boolean(c)
            loop(frame)
            vm.ticks -= 1
            if vm.ticks < 0:
                vm.checkpoint()

    return while_


def inline_repeat(c: Compiler, receiver: Expr, args: tuple[Expr, ...]) -> Code | None:
    """``[b] repeat``: loop until a ``^`` or an exception leaves it."""
    body = c.inline_body(receiver)
    if body is None:
        return None
    loop = body[0]
    vm = c.vm

    def repeat(frame: Frame) -> Any:
        while True:
            loop(frame)
            vm.ticks -= 1
            if vm.ticks < 0:
                vm.checkpoint()

    return repeat


def inline_to_do(c: Compiler, receiver: Expr, args: tuple[Expr, ...]) -> Code | None:
    """``a to: b do: [:i | ...]`` and ``to:by:do:``: the loop variable lives in the enclosing frame."""
    body = c.inline_body(args[-1], 1)
    if body is None:
        return None
    loop, (var,) = body
    start = c.expr(receiver)
    stop = c.expr(args[0])
    step = c.expr(args[1]) if len(args) == 3 else (lambda frame: 1)
    vm = c.vm

    def to_do(frame: Frame) -> Any:
        i, end, by = start(frame), stop(frame), step(frame)
        vm.check_loop_bounds(i, end, by)
        if type(i) is int and type(end) is int and type(by) is int:
            for k in range(i, end + (1 if by > 0 else -1), by):
                frame[var] = k
                loop(frame)
                vm.ticks -= 1
                if vm.ticks < 0:
                    vm.checkpoint()
            return i
        k = i
        while (k <= end) if by > 0 else (k >= end):
            frame[var] = k
            loop(frame)
            vm.ticks -= 1
            if vm.ticks < 0:
                vm.checkpoint()
            k = k + by
        return i

    return to_do


def inline_times_repeat(c: Compiler, receiver: Expr, args: tuple[Expr, ...]) -> Code | None:
    """``n timesRepeat: [...]``."""
    body = c.inline_body(args[0])
    if body is None:
        return None
    loop = body[0]
    count = c.expr(receiver)
    vm = c.vm

    def times(frame: Frame) -> Any:
        n = count(frame)
        if type(n) is not int:
            return vm.dnu(n, "timesRepeat:", (None,))
        for _ in range(n):
            loop(frame)
            vm.ticks -= 1
            if vm.ticks < 0:
                vm.checkpoint()
        return n

    return times


def inline_if_nil(c: Compiler, receiver: Expr, args: tuple[Expr, ...], order: str) -> Code | None:
    """``ifNil:``, ``ifNotNil:`` (block with or without argument) and their two-armed forms."""
    nil_arg = not_nil_arg = None
    if order == "nil":
        nil_arg = args[0]
    elif order == "notnil":
        not_nil_arg = args[0]
    elif order == "nil-notnil":
        nil_arg, not_nil_arg = args
    else:
        not_nil_arg, nil_arg = args
    nil_body = c.inline_body(nil_arg) if nil_arg is not None else None
    if nil_arg is not None and nil_body is None:
        return None
    not_nil_body = c.inline_body(not_nil_arg, (0, 1)) if not_nil_arg is not None else None
    if not_nil_arg is not None and not_nil_body is None:
        return None
    value = c.expr(receiver)
    on_nil = nil_body[0] if nil_body is not None else None
    on_value = not_nil_body[0] if not_nil_body is not None else None
    var = not_nil_body[1][0] if not_nil_body is not None and not_nil_body[1] else None

    def if_nil(frame: Frame) -> Any:
        v = value(frame)
        if v is None:
            return on_nil(frame) if on_nil is not None else None
        if on_value is None:
            return v
        if var is not None:
            frame[var] = v
        return on_value(frame)

    return if_nil


INLINERS: dict[str, Any] = {
    "ifTrue:": lambda c, r, a: inline_if(c, r, a, True, False),
    "ifFalse:": lambda c, r, a: inline_if(c, r, a, False, False),
    "ifTrue:ifFalse:": lambda c, r, a: inline_if(c, r, a, True, True),
    "ifFalse:ifTrue:": lambda c, r, a: inline_if(c, r, a, False, True),
    "and:": lambda c, r, a: inline_and_or(c, r, a, True),
    "or:": lambda c, r, a: inline_and_or(c, r, a, False),
    "whileTrue:": lambda c, r, a: inline_while(c, r, a, False),
    "whileFalse:": lambda c, r, a: inline_while(c, r, a, True),
    "whileTrue": lambda c, r, a: inline_while(c, r, a, False),
    "whileFalse": lambda c, r, a: inline_while(c, r, a, True),
    "repeat": lambda c, r, a: inline_repeat(c, r, a),
    "to:do:": lambda c, r, a: inline_to_do(c, r, a),
    "to:by:do:": lambda c, r, a: inline_to_do(c, r, a),
    "timesRepeat:": lambda c, r, a: inline_times_repeat(c, r, a),
    "ifNil:": lambda c, r, a: inline_if_nil(c, r, a, "nil"),
    "ifNotNil:": lambda c, r, a: inline_if_nil(c, r, a, "notnil"),
    "ifNil:ifNotNil:": lambda c, r, a: inline_if_nil(c, r, a, "nil-notnil"),
    "ifNotNil:ifNil:": lambda c, r, a: inline_if_nil(c, r, a, "notnil-nil"),
}
