"""Object, UndefinedObject and Boolean, and the helpers every library module uses (text of a String or
Symbol, printString, cull:, truth of a condition, the standard subscript error).

The rest of the library: lib_classes (classes, metaclasses, ``Smalltalk``), lib_support (Association,
Point, Message, Transcript), lib_numbers/lib_integers, lib_text/lib_streams, lib_collections/
lib_sequences/lib_dictionary, lib_blocks (blocks and exceptions).
"""

from __future__ import annotations

import copy as _copy
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Block, Kind, Obj, StClass, StString
from stui.image.smalltalk.printing import Printer

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = (
    "as_text",
    "cull",
    "display_string",
    "install_globals",
    "new_string",
    "print_string",
    "subscript_error",
    "truth",
)


def install_globals(vm: VM) -> None:
    vm.globals["Transcript"] = Obj(vm.classes["ThreadSafeTranscript"], [], None)
    vm.globals["Smalltalk"] = Obj(vm.classes["SmalltalkImage"], [], None)


def new_string(text: str) -> StString:
    return StString(text)


def as_text(vm: VM, value: Any) -> str:
    """The Python text of a String or Symbol; other objects give their printString."""
    if type(value) is StString:
        return value.s
    if type(value) is str:
        return value
    return print_string(vm, value)


def print_string(vm: VM, obj: Any) -> str:
    return Printer(vm).result(obj)[0]


def display_string(vm: VM, obj: Any) -> str:
    return Printer(vm, display=True).result(obj)[0]


def subscript_error(vm: VM, index: Any, size: int) -> Any:
    """Signal SubscriptOutOfBounds with Pharo's standard text (``5 is not between 1 and 3``)."""
    return vm.signal_error(
        "SubscriptOutOfBounds", f"{print_string(vm, index)} is not between 1 and {size}"
    )


def truth(vm: VM, value: Any) -> bool:
    if value is True or value is False:
        return value
    vm.non_boolean(value)
    return False


# -- Object ------------------------------------------------------------------------------------------


@primitive("Object", "printString", "storeString")
def _print_string(vm: VM, rcv: Any) -> StString:
    return StString(print_string(vm, rcv))


@primitive("Object", "displayString", "asString")
def _display_string(vm: VM, rcv: Any) -> StString:
    return StString(display_string(vm, rcv))


@primitive("Object", "printOn:")
def _print_on(vm: VM, rcv: Any, stream: Obj) -> Any:
    printer = Printer(vm)
    printer.builtin(rcv, vm.class_of(rcv))
    stream_write(vm, stream, printer.text())
    return rcv


@primitive("Object", "displayNl", "printNl")
def _print_nl(vm: VM, rcv: Any) -> Any:
    vm.show(display_string(vm, rcv) + "\n")
    return rcv


def stream_write(vm: VM, stream: Any, text: str) -> None:
    if type(stream) is Obj and stream.cls.kind is Kind.STREAM:
        stream.data[0].append(text)
    elif type(stream) is Obj and stream.cls.builtin_name == "ThreadSafeTranscript":
        vm.show(text)
    else:
        vm.send(stream, "nextPutAll:", StString(text))


@primitive("ProtoObject", "==")
def _identical(vm: VM, rcv: Any, other: Any) -> bool:
    return vm.identical(rcv, other)


@primitive("ProtoObject", "~~")
def _not_identical(vm: VM, rcv: Any, other: Any) -> bool:
    return not vm.identical(rcv, other)


@primitive("Object", "=")
def _equal(vm: VM, rcv: Any, other: Any) -> bool:
    if type(rcv) is Obj and type(other) is Obj:
        return bool(rcv == other)
    return vm.identical(rcv, other)


@primitive("Object", "~=")
def _not_equal(vm: VM, rcv: Any, other: Any) -> bool:
    return vm.send(rcv, "=", other) is not True


@primitive("Object", "hash", "identityHash")
def _hash(vm: VM, rcv: Any) -> int:
    return hash(rcv) & 0x3FFFFFFF


@primitive("ProtoObject", "class")
def _class(vm: VM, rcv: Any) -> StClass:
    return vm.class_of(rcv)


@primitive("Object", "isNil")
def _is_nil(vm: VM, rcv: Any) -> bool:
    return rcv is None


@primitive("Object", "notNil", "isNotNil")
def _not_nil(vm: VM, rcv: Any) -> bool:
    return rcv is not None


@primitive("Object", "ifNil:")
def _if_nil(vm: VM, rcv: Any, block: Any) -> Any:
    return rcv


@primitive("Object", "ifNotNil:", "ifNotNil:ifNil:")
def _if_not_nil(vm: VM, rcv: Any, not_nil: Any, nil: Any = None) -> Any:
    return cull(vm, not_nil, rcv)


@primitive("Object", "ifNil:ifNotNil:")
def _if_nil_if_not_nil(vm: VM, rcv: Any, nil: Any, not_nil: Any) -> Any:
    return cull(vm, not_nil, rcv)


@primitive("Object", "yourself", "value")
def _yourself(vm: VM, rcv: Any) -> Any:
    return rcv


@primitive("Object", "initialize", "postCopy", "halt")
def _noop(vm: VM, rcv: Any) -> Any:
    return rcv


@primitive("Object", "->")
def _arrow(vm: VM, rcv: Any, value: Any) -> Obj:
    return vm.association(rcv, value)


@primitive("Object", "copy")
def _copy_obj(vm: VM, rcv: Any) -> Any:
    result = shallow_copy(rcv)
    if result is not rcv:
        vm.send(result, "postCopy")
    return result


@primitive("Object", "shallowCopy")
def _shallow_copy(vm: VM, rcv: Any) -> Any:
    return shallow_copy(rcv)


@primitive("Object", "deepCopy")
def _deep_copy(vm: VM, rcv: Any) -> Any:
    if type(rcv) is Obj:
        memo: dict[int, Any] = {id(rcv.cls): rcv.cls}
        for c in vm.all_classes:
            memo[id(c)] = c
        return _copy.deepcopy(rcv, memo)
    return shallow_copy(rcv)


def shallow_copy(obj: Any) -> Any:
    t = type(obj)
    if t is StString:
        return StString(obj.s)
    if t is Obj:
        data = obj.data
        if isinstance(data, list | dict | bytearray):
            data = data.copy()
        return Obj(obj.cls, list(obj.slots), data)
    return obj


@primitive("Object", "respondsTo:")
def _responds_to(vm: VM, rcv: Any, selector: Any) -> bool:
    return vm.responds_to(rcv, as_text(vm, selector))


@primitive("Object", "isKindOf:")
def _is_kind_of(vm: VM, rcv: Any, cls: Any) -> bool:
    return type(cls) is StClass and vm.class_of(rcv).inherits_from(cls)


@primitive("Object", "isMemberOf:")
def _is_member_of(vm: VM, rcv: Any, cls: Any) -> bool:
    return vm.class_of(rcv) is cls


@primitive("Object", "error:")
def _error(vm: VM, rcv: Any, text: Any) -> Any:
    return vm.signal_error("Error", as_text(vm, text))


@primitive("Object", "assert:", "assert:description:")
def _assert(vm: VM, rcv: Any, condition: Any, description: Any = None) -> Any:
    value = condition.call() if type(condition) is Block else condition
    if value is not True:
        text = "Assertion failed" if description is None else as_text(vm, description)
        return vm.signal_error("AssertionFailure", text)
    return rcv


@primitive("Object", "subclassResponsibility")
def _subclass_responsibility(vm: VM, rcv: Any) -> Any:
    selector, vm.overridable_selector = vm.overridable_selector, "DoIt"
    return vm.signal_error(
        "SubclassResponsibility", f"My subclass should have overridden #{selector}"
    )


@primitive("Object", "shouldNotImplement")
def _should_not_implement(vm: VM, rcv: Any) -> Any:
    return vm.signal_error("ShouldNotImplement", "This message is not appropriate for this object")


@primitive("Object", "doesNotUnderstand:")
def _does_not_understand(vm: VM, rcv: Any, message: Obj) -> Any:
    exc = vm.new_exception("MessageNotUnderstood", message=message, receiver=rcv)
    return vm.signal(exc)


@primitive("Object", "perform:", "perform:with:", "perform:with:with:", "perform:with:with:with:")
def _perform(vm: VM, rcv: Any, selector: Any, *args: Any) -> Any:
    return vm.send(rcv, as_text(vm, selector), *args)


@primitive("Object", "perform:withArguments:")
def _perform_with_arguments(vm: VM, rcv: Any, selector: Any, args: Obj) -> Any:
    return vm.send(rcv, as_text(vm, selector), *args.data)


@primitive("Object", "instVarAt:")
def _inst_var_at(vm: VM, rcv: Any, index: int) -> Any:
    if type(rcv) is Obj and type(index) is int and 1 <= index <= len(rcv.slots):
        return rcv.slots[index - 1]
    return subscript_error(vm, index, len(rcv.slots) if type(rcv) is Obj else 0)


@primitive("Object", "instVarAt:put:")
def _inst_var_at_put(vm: VM, rcv: Any, index: int, value: Any) -> Any:
    if type(rcv) is Obj and type(index) is int and 1 <= index <= len(rcv.slots):
        rcv.slots[index - 1] = value
        return value
    return subscript_error(vm, index, len(rcv.slots) if type(rcv) is Obj else 0)


@primitive("Object", "instVarNamed:")
def _inst_var_named(vm: VM, rcv: Any, name: Any) -> Any:
    text = as_text(vm, name)
    if type(rcv) is Obj and text in rcv.cls.all_ivars:
        return rcv.slots[rcv.cls.all_ivars.index(text)]
    return vm.signal_error("Error", f"no instance variable named {text}")


@primitive("Object", "in:")
def _in(vm: VM, rcv: Any, block: Block) -> Any:
    return block.call(rcv)


@primitive("Object", "isEmptyOrNil")
def _is_empty_or_nil(vm: VM, rcv: Any) -> bool:
    if rcv is None:
        return True
    return vm.send(rcv, "isEmpty") is True if vm.responds_to(rcv, "isEmpty") else False


def _false(vm: VM, rcv: Any) -> bool:
    return False


def _true(vm: VM, rcv: Any) -> bool:
    return True


for _sel in (
    "isString",
    "isSymbol",
    "isNumber",
    "isInteger",
    "isFloat",
    "isFraction",
    "isCharacter",
    "isCollection",
    "isArray",
    "isDictionary",
    "isBlock",
    "isClass",
    "isBoolean",
    "isInterval",
    "isSequenceable",
):
    primitive("Object", _sel)(_false)
primitive("String", "isString")(_true)
primitive("Symbol", "isSymbol")(_true)
primitive("Number", "isNumber")(_true)
primitive("Integer", "isInteger")(_true)
primitive("Float", "isFloat")(_true)
primitive("Fraction", "isFraction")(_true)
primitive("Character", "isCharacter")(_true)
primitive("Collection", "isCollection")(_true)
primitive("Array", "isArray")(_true)
primitive("Dictionary", "isDictionary")(_true)
primitive("BlockClosure", "isBlock")(_true)
primitive("Behavior", "isClass")(_true)
primitive("Boolean", "isBoolean")(_true)
primitive("Interval", "isInterval")(_true)
primitive("SequenceableCollection", "isSequenceable")(_true)


def cull(vm: VM, block: Any, *args: Any) -> Any:
    """``cull:``: call a block with as many of *args* as it takes (non-blocks answer themselves)."""
    if type(block) is not Block:
        return vm.send(block, "value") if block is not None else None
    return block.call(*args[: block.nargs])


# -- UndefinedObject -----------------------------------------------------------------------------------


@primitive("UndefinedObject", "ifNil:", "ifNil:ifNotNil:")
def _nil_if_nil(vm: VM, rcv: Any, block: Any, other: Any = None) -> Any:
    return cull(vm, block)


@primitive("UndefinedObject", "ifNotNil:ifNil:")
def _nil_if_not_nil_if_nil(vm: VM, rcv: Any, other: Any, block: Any) -> Any:
    return cull(vm, block)


@primitive("UndefinedObject", "ifNotNil:")
def _nil_if_not_nil(vm: VM, rcv: Any, block: Any) -> Any:
    return None


@primitive("UndefinedObject", "isEmptyOrNil")
def _nil_is_empty_or_nil(vm: VM, rcv: Any) -> bool:
    return True


# -- Boolean -------------------------------------------------------------------------------------------


@primitive("Boolean", "&")
def _and_value(vm: VM, rcv: bool, other: Any) -> Any:
    return other if rcv else False


@primitive("Boolean", "|")
def _or_value(vm: VM, rcv: bool, other: Any) -> Any:
    return True if rcv else other


@primitive("Boolean", "and:")
def _and(vm: VM, rcv: bool, block: Any) -> Any:
    return cull(vm, block) if rcv else False


@primitive("Boolean", "or:")
def _or(vm: VM, rcv: bool, block: Any) -> Any:
    return True if rcv else cull(vm, block)


@primitive("Boolean", "not")
def _not(vm: VM, rcv: bool) -> bool:
    return not rcv


@primitive("Boolean", "xor:")
def _xor(vm: VM, rcv: bool, other: Any) -> bool:
    return rcv is not truth(vm, cull(vm, other) if type(other) is Block else other)


@primitive("Boolean", "eqv:")
def _eqv(vm: VM, rcv: bool, other: Any) -> bool:
    return rcv is other


@primitive("Boolean", "ifTrue:")
def _if_true(vm: VM, rcv: bool, block: Any) -> Any:
    return cull(vm, block) if rcv else None


@primitive("Boolean", "ifFalse:")
def _if_false(vm: VM, rcv: bool, block: Any) -> Any:
    return None if rcv else cull(vm, block)


@primitive("Boolean", "ifTrue:ifFalse:")
def _if_true_if_false(vm: VM, rcv: bool, a: Any, b: Any) -> Any:
    return cull(vm, a if rcv else b)


@primitive("Boolean", "ifFalse:ifTrue:")
def _if_false_if_true(vm: VM, rcv: bool, a: Any, b: Any) -> Any:
    return cull(vm, b if rcv else a)


@primitive("Boolean", "asBit")
def _as_bit(vm: VM, rcv: bool) -> int:
    return 1 if rcv else 0
