"""BlockClosure (evaluation, loops, ensure:, ifCurtailed:, on:do:) and the Exception protocol.

``on:do:`` pushes a handler on the VM's handler chain and runs the protected block; ``signal`` (see
runtime.VM.signal) finds the handler and runs it on top of the stack. What the handler does decides how
the stack unwinds: falling off its end or ``return:`` unwinds to the ``on:do:`` with a value, ``retry``
unwinds and runs the protected block again, ``resume:`` makes ``signal`` answer, ``pass``/``outer``/
``signal`` look for the next enclosing handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import as_text, cull, truth
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import (
    Block,
    HandlerResume,
    HandlerRetry,
    HandlerReturn,
    Obj,
    StClass,
    StString,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("PYTHON_ERRORS", "primitive_failed")


# -- evaluation -------------------------------------------------------------------------------------------


@primitive(
    "BlockClosure",
    "value",
    "value:",
    "value:value:",
    "value:value:value:",
    "value:value:value:value:",
)
def _value(vm: VM, rcv: Block, *args: Any) -> Any:
    return rcv.run(rcv.outer, *args)


@primitive("BlockClosure", "valueWithArguments:")
def _value_with_arguments(vm: VM, rcv: Block, args: Obj) -> Any:
    return rcv.run(rcv.outer, *args.data)


@primitive("BlockClosure", "cull:", "cull:cull:", "cull:cull:cull:")
def _cull(vm: VM, rcv: Block, *args: Any) -> Any:
    return rcv.run(rcv.outer, *args[: rcv.nargs])


@primitive("BlockClosure", "numArgs", "argumentCount")
def _num_args(vm: VM, rcv: Block) -> int:
    return rcv.nargs


@primitive("BlockClosure", "whileTrue:")
def _while_true(vm: VM, rcv: Block, body: Any) -> None:
    while truth(vm, rcv.call()):
        cull(vm, body)


@primitive("BlockClosure", "whileFalse:")
def _while_false(vm: VM, rcv: Block, body: Any) -> None:
    while not truth(vm, rcv.call()):
        cull(vm, body)


@primitive("BlockClosure", "whileTrue")
def _while_true0(vm: VM, rcv: Block) -> None:
    while truth(vm, rcv.call()):
        pass


@primitive("BlockClosure", "whileFalse")
def _while_false0(vm: VM, rcv: Block) -> None:
    while not truth(vm, rcv.call()):
        pass


@primitive("BlockClosure", "repeat")
def _repeat(vm: VM, rcv: Block) -> None:
    while True:
        rcv.call()


@primitive("BlockClosure", "ensure:")
def _ensure(vm: VM, rcv: Block, after: Any) -> Any:
    try:
        return rcv.call()
    finally:
        cull(vm, after)


@primitive("BlockClosure", "ifCurtailed:")
def _if_curtailed(vm: VM, rcv: Block, after: Any) -> Any:
    try:
        return rcv.call()
    except Exception:
        cull(vm, after)
        raise


@primitive("BlockClosure", "on:do:")
def _on_do(vm: VM, rcv: Block, spec: Any, handler: Any) -> Any:
    marker = object()
    saved = vm.handlers
    while True:
        vm.handlers = ((spec, handler, marker), saved)
        try:
            try:
                return rcv.call()
            except PYTHON_ERRORS as err:
                return vm.signal(primitive_failed(vm, err))
        except HandlerReturn as done:
            if done.marker is not marker:
                raise
            return done.value
        except HandlerRetry as again:
            if again.marker is not marker:
                raise
        finally:
            vm.handlers = saved


# Python errors escaping a primitive (a bad argument type, say) become PrimitiveFailed errors.
PYTHON_ERRORS = (
    TypeError,
    AttributeError,
    ValueError,
    IndexError,
    KeyError,
    OverflowError,
    ZeroDivisionError,
)


def primitive_failed(vm: VM, err: Exception) -> Obj:
    return vm.new_exception("PrimitiveFailed", f"primitive failed: {type(err).__name__}: {err}")


@primitive("BlockClosure", "on:do:on:do:")
def _on_do_on_do(vm: VM, rcv: Block, spec1: Any, handler1: Any, spec2: Any, handler2: Any) -> Any:
    inner = Block(lambda outer: _on_do(vm, rcv, spec1, handler1), [], 0, "")
    return _on_do(vm, inner, spec2, handler2)


@primitive("BlockClosure", "numArgsError:")
def _num_args_error(vm: VM, rcv: Block, n: int) -> Any:
    return vm.wrong_argument_count(rcv.nargs, n)


# -- Exception class side --------------------------------------------------------------------------------


@primitive("Exception class", "signal")
def _class_signal(vm: VM, cls: StClass) -> Any:
    return vm.signal(vm.send(cls, "new"))


@primitive("Exception class", "signal:")
def _class_signal_text(vm: VM, cls: StClass, text: Any) -> Any:
    exc = vm.send(cls, "new")
    exc.slots[0] = StString(as_text(vm, text))
    return vm.signal(exc)


@primitive("Exception class", ",")
def _class_comma(vm: VM, cls: StClass, other: Any) -> Obj:
    return Obj(vm.classes["ExceptionSet"], [[cls, other]])


@primitive("ExceptionSet", ",")
def _set_comma(vm: VM, rcv: Obj, other: Any) -> Obj:
    return Obj(vm.classes["ExceptionSet"], [[*rcv.slots[0], other]])


@primitive("Exception class", "handles:")
def _class_handles(vm: VM, cls: StClass, exc: Any) -> bool:
    return type(exc) is Obj and exc.cls.inherits_from(cls)


# -- Exception instance side -----------------------------------------------------------------------------


@primitive("Exception", "signal")
def _signal(vm: VM, rcv: Obj) -> Any:
    if rcv.data is not None:
        return _pass(vm, rcv)
    return vm.signal(rcv)


@primitive("Exception", "signal:")
def _signal_text(vm: VM, rcv: Obj, text: Any) -> Any:
    rcv.slots[0] = StString(as_text(vm, text))
    return _signal(vm, rcv)


@primitive("Exception", "messageText")
def _message_text(vm: VM, rcv: Obj) -> Any:
    text = rcv.slots[0]
    return text if text is not None else StString("")


@primitive("Exception", "description")
def _description(vm: VM, rcv: Obj) -> Any:
    text = vm.send(rcv, "messageText")
    if text is None or (type(text) in (StString, str) and not as_text(vm, text)):
        return StString(rcv.cls.name)
    return StString(f"{rcv.cls.name}: {as_text(vm, text)}")


@primitive("Exception", "messageText:")
def _set_message_text(vm: VM, rcv: Obj, text: Any) -> Obj:
    rcv.slots[0] = StString(as_text(vm, text)) if text is not None else None
    return rcv


@primitive("Exception", "return:")
def _return(vm: VM, rcv: Obj, value: Any) -> Any:
    if rcv.data is None:
        return vm.signal_error("Error", "the exception has not been signalled")
    raise HandlerReturn(rcv.data[1], value)


@primitive("Exception", "return")
def _return_nil(vm: VM, rcv: Obj) -> Any:
    return _return(vm, rcv, None)


@primitive("Exception", "retry")
def _retry(vm: VM, rcv: Obj) -> Any:
    if rcv.data is None:
        return vm.signal_error("Error", "the exception has not been signalled")
    raise HandlerRetry(rcv.data[1])


@primitive("Exception", "resume:")
def _resume(vm: VM, rcv: Obj, value: Any) -> Any:
    if vm.send(rcv, "isResumable") is not True:
        return vm.signal_error("IllegalResumeAttempt", f"{rcv.cls.name} is not resumable")
    raise HandlerResume(rcv, value)


@primitive("Exception", "resume")
def _resume_nil(vm: VM, rcv: Obj) -> Any:
    return _resume(vm, rcv, None)


@primitive("Exception", "pass", "outer")
def _pass(vm: VM, rcv: Obj) -> Any:
    if rcv.data is None:
        return vm.signal(rcv)
    node, _marker = rcv.data
    return vm.signal(rcv, node[1])


@primitive("Exception", "retryUsing:")
def _retry_using(vm: VM, rcv: Obj, block: Block) -> Any:
    if rcv.data is None:
        return vm.signal_error("Error", "the exception has not been signalled")
    raise HandlerReturn(rcv.data[1], block.call())


@primitive("Exception", "signalerContext")
def _signaler_context(vm: VM, rcv: Obj) -> None:
    return None


@primitive("Exception", "isResumable")
def _is_resumable(vm: VM, rcv: Obj) -> bool:
    return (
        not rcv.cls.inherits_from(vm.classes["Error"])
        or rcv.cls.builtin_name == "MessageNotUnderstood"
        or rcv.cls.inherits_from(vm.classes["ArithmeticError"])
    )


@primitive("MessageNotUnderstood", "messageText")
def _mnu_message_text(vm: VM, rcv: Obj) -> Any:
    if rcv.slots[0] is not None:
        return rcv.slots[0]
    message, receiver = rcv.slots[2], rcv.slots[3]
    return StString(f"{vm.class_of(receiver).name}>>{message.slots[0] if message else '?'}")


@primitive("MessageNotUnderstood", "message")
def _mnu_message(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[2]


@primitive("MessageNotUnderstood", "receiver")
def _mnu_receiver(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[3]


@primitive("ZeroDivide", "dividend")
def _dividend(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[2]
