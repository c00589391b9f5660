"""Object, Boolean, UndefinedObject, classes and metaclasses, Association, Point, Message,
Transcript and the ``Smalltalk`` global."""

from __future__ import annotations

import copy as _copy
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.errors import SmalltalkSyntaxError
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Block, Char, Kind, Obj, StClass, StString
from stui.image.smalltalk.printing import Printer

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("as_text", "install_globals", "new_string", "print_string", "subscript_error")


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


@primitive("Object", "printString")
def _print_string(vm: VM, rcv: Any) -> StString:
    return StString(print_string(vm, rcv))


@primitive("Object", "displayString")
def _display_string(vm: VM, rcv: Any) -> StString:
    return StString(display_string(vm, rcv))


@primitive("Object", "printOn:")
def _print_on(vm: VM, rcv: Any, stream: Obj) -> Any:
    printer = Printer(vm)
    printer.builtin(rcv, vm.class_of(rcv))
    stream_write(vm, stream, printer.text())
    return rcv


@primitive("Object", "storeString")
def _store_string(vm: VM, rcv: Any) -> StString:
    return StString(print_string(vm, rcv))


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


@primitive("Object", "asString")
def _as_string(vm: VM, rcv: Any) -> StString:
    return StString(display_string(vm, rcv))


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


@primitive("Object", "ifNotNil:", "ifNil:ifNotNil:", "ifNotNil:ifNil:")
def _if_not_nil(vm: VM, rcv: Any, a: Any, b: Any = None) -> Any:
    block = a if type(a) is Block and (b is None or a.nargs == 1 or type(b) is not Block) else b
    return cull(vm, block, rcv)


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
    return vm.signal_error(
        "SubclassResponsibility", "My subclass should have overridden one of my messages."
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


# -- Behavior, Class, Metaclass ------------------------------------------------------------------------


@primitive("Behavior", "new", "basicNew")
def _new(vm: VM, cls: StClass) -> Any:
    obj = vm.new_instance(cls)
    if cls.kind is not Kind.NONE:
        vm.send(obj, "initialize")
    return obj


@primitive("Behavior", "new:", "basicNew:")
def _new_size(vm: VM, cls: StClass, size: Any) -> Any:
    if type(size) is not int or size < 0:
        return vm.signal_error("Error", "size must be a non-negative integer")
    obj = vm.new_instance(cls, size)
    vm.send(obj, "initialize")
    return obj


@primitive("Behavior", "name")
def _name(vm: VM, cls: StClass) -> StString:
    return StString(cls.name)


@primitive("Behavior", "printString", "displayString")
def _class_print_string(vm: VM, cls: StClass) -> StString:
    return StString(cls.name)


@primitive("Behavior", "superclass")
def _superclass(vm: VM, cls: StClass) -> Any:
    return cls.superclass


@primitive("Behavior", "subclasses")
def _subclasses(vm: VM, cls: StClass) -> Obj:
    return vm.new_array(
        [c for c in vm.all_classes if c.superclass is cls and c.is_meta == cls.is_meta]
    )


@primitive("Behavior", "allSubclasses")
def _all_subclasses(vm: VM, cls: StClass) -> Obj:
    return vm.new_array(
        [
            c
            for c in vm.all_classes
            if c is not cls and c.inherits_from(cls) and c.is_meta == cls.is_meta
        ]
    )


@primitive("Behavior", "allSuperclasses")
def _all_superclasses(vm: VM, cls: StClass) -> Obj:
    result = []
    c = cls.superclass
    while c is not None:
        result.append(c)
        c = c.superclass
    return Obj(vm.classes["OrderedCollection"], [], result)


@primitive("Behavior", "instVarNames", "instanceVariableNames")
def _inst_var_names(vm: VM, cls: StClass) -> Obj:
    return vm.new_array([StString(n) for n in cls.ivars])


@primitive("Behavior", "allInstVarNames")
def _all_inst_var_names(vm: VM, cls: StClass) -> Obj:
    return vm.new_array([StString(n) for n in cls.all_ivars])


@primitive("Behavior", "selectors")
def _selectors(vm: VM, cls: StClass) -> Obj:
    return Obj(vm.classes["Set"], [], dict.fromkeys(sorted(cls.methods)))


@primitive("Behavior", "includesSelector:")
def _includes_selector(vm: VM, cls: StClass, selector: Any) -> bool:
    return as_text(vm, selector) in cls.methods


@primitive("Behavior", "canUnderstand:")
def _can_understand(vm: VM, cls: StClass, selector: Any) -> bool:
    return cls.lookup(as_text(vm, selector)) is not None


@primitive("Behavior", "inheritsFrom:")
def _inherits_from(vm: VM, cls: StClass, other: Any) -> bool:
    return type(other) is StClass and cls is not other and cls.inherits_from(other)


@primitive("Behavior", "includesBehavior:")
def _includes_behavior(vm: VM, cls: StClass, other: Any) -> bool:
    return type(other) is StClass and cls.inherits_from(other)


@primitive("Behavior", "category", "package")
def _category(vm: VM, cls: StClass) -> StString:
    return StString(cls.category)


@primitive("Behavior", "comment")
def _comment(vm: VM, cls: StClass) -> StString:
    return StString(cls.comment)


@primitive("Behavior", "comment:")
def _set_comment(vm: VM, cls: StClass, text: Any) -> StClass:
    cls.comment = as_text(vm, text)
    return cls


@primitive("Behavior", "compile:", "compile:classified:")
def _compile(vm: VM, cls: StClass, source: Any, category: Any = None) -> Any:
    text = as_text(vm, source)
    try:
        method = vm.compile_method(cls, text)
    except SmalltalkSyntaxError as err:
        return vm.signal_error("Error", f"Syntax error: {err.message} (at {err.position})")
    return method.selector


@primitive("Behavior", "sourceCodeAt:")
def _source_code_at(vm: VM, cls: StClass, selector: Any) -> Any:
    method = cls.lookup(as_text(vm, selector))
    if method is None:
        return vm.signal_error("KeyNotFound", f"key {selector!s} not found")
    return StString(method.source or f"{method.selector} <primitive>")


@primitive("Behavior", "removeSelector:")
def _remove_selector(vm: VM, cls: StClass, selector: Any) -> Any:
    if cls.methods.pop(as_text(vm, selector), None) is not None:
        vm.invalidate()
    return selector


@primitive("Behavior", "instanceSide", "theNonMetaClass")
def _instance_side(vm: VM, cls: StClass) -> StClass:
    return cls.instance_class or cls


@primitive("Behavior", "classSide")
def _class_side(vm: VM, cls: StClass) -> Any:
    return cls.meta if cls.meta is not None else cls


@primitive("Behavior", "isMeta")
def _is_meta(vm: VM, cls: StClass) -> bool:
    return cls.is_meta


@primitive("Metaclass", "new", "basicNew")
def _metaclass_new(vm: VM, cls: StClass) -> Any:
    return vm.signal_error("Error", "metaclasses cannot be instantiated here")


def _define(
    vm: VM, cls: StClass, name: Any, ivars: Any = None, classvars: Any = None, category: Any = None
) -> Any:
    if type(name) is not str and type(name) is not StString:
        return vm.signal_error("Error", "class name must be a Symbol")
    text = as_text(vm, name)
    ivar_names = as_text(vm, ivars).split() if ivars is not None else []
    classvar_names = as_text(vm, classvars).split() if classvars is not None else []
    for n in (*ivar_names, *classvar_names):
        if not (n[0].isalpha() or n[0] == "_") or not all(ch.isalnum() or ch == "_" for ch in n):
            return vm.signal_error("Error", f"invalid variable name: {n}")
    if not text or not text[0].isupper() or not all(ch.isalnum() or ch == "_" for ch in text):
        return vm.signal_error("Error", f"invalid class name: {text}")
    if cls.kind is Kind.NONE and cls.name != "Object":
        return vm.signal_error("Error", f"{cls.name} cannot be subclassed")
    category_text = as_text(vm, category) if category is not None else ""
    return vm.define_class(cls, text, tuple(ivar_names), tuple(classvar_names), category_text)


@primitive("Class", "subclass:")
def _subclass(vm: VM, cls: StClass, name: Any) -> Any:
    return _define(vm, cls, name)


@primitive("Class", "subclass:instanceVariableNames:")
def _subclass_ivars(vm: VM, cls: StClass, name: Any, ivars: Any) -> Any:
    return _define(vm, cls, name, ivars)


@primitive("Class", "subclass:instanceVariableNames:classVariableNames:")
def _subclass_ivars_cvars(vm: VM, cls: StClass, name: Any, ivars: Any, cvars: Any) -> Any:
    return _define(vm, cls, name, ivars, cvars)


@primitive(
    "Class", "subclass:instanceVariableNames:package:", "subclass:instanceVariableNames:category:"
)
def _subclass_ivars_package(vm: VM, cls: StClass, name: Any, ivars: Any, package: Any) -> Any:
    return _define(vm, cls, name, ivars, None, package)


@primitive(
    "Class",
    "subclass:instanceVariableNames:classVariableNames:package:",
    "subclass:instanceVariableNames:classVariableNames:category:",
)
def _subclass_full(vm: VM, cls: StClass, name: Any, ivars: Any, cvars: Any, package: Any) -> Any:
    return _define(vm, cls, name, ivars, cvars, package)


@primitive("Class", "subclass:instanceVariableNames:classVariableNames:poolDictionaries:category:")
def _subclass_pools(
    vm: VM, cls: StClass, name: Any, ivars: Any, cvars: Any, pools: Any, category: Any
) -> Any:
    return _define(vm, cls, name, ivars, cvars, category)


@primitive("Class", "instanceVariableNames:")
def _add_ivars(vm: VM, cls: StClass, names: Any) -> StClass:
    assert cls.superclass is not None
    return vm.define_class(
        cls.superclass, cls.name, tuple(as_text(vm, names).split()), (), cls.category
    )


@primitive("Metaclass", "instanceVariableNames:")
def _class_side_ivars(vm: VM, meta: StClass, names: Any) -> StClass:
    """``Account class instanceVariableNames: 'count'``: class-side instance variables."""
    meta.ivars = tuple(as_text(vm, names).split())
    for c in vm.all_classes:  # recompute inherited names below this metaclass
        if c.is_meta and c.inherits_from(meta):
            chain = []
            m: StClass | None = c
            while m is not None:
                chain.append(m.ivars if m.is_meta else ())
                m = m.superclass
            c.all_ivars = tuple(n for part in reversed(chain) for n in part)
    vm.invalidate()
    return meta


@primitive("Class", "addClassVarNamed:")
def _add_class_var(vm: VM, cls: StClass, name: Any) -> StClass:
    cls.classvars.setdefault(as_text(vm, name), None)
    return cls


@primitive("Class", "classVarNames")
def _class_var_names(vm: VM, cls: StClass) -> Obj:
    return vm.new_array([StString(n) for n in cls.classvars])


# -- Association, Point, Message -------------------------------------------------------------------------


@primitive("LookupKey", "key")
def _key(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[0]


@primitive("LookupKey", "key:")
def _set_key(vm: VM, rcv: Obj, key: Any) -> Obj:
    rcv.slots[0] = key
    return rcv


@primitive("Association", "value")
def _assoc_value(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[1]


@primitive("Association", "value:")
def _assoc_set_value(vm: VM, rcv: Obj, value: Any) -> Obj:
    rcv.slots[1] = value
    return rcv


@primitive("Association", "key:value:")
def _assoc_key_value(vm: VM, rcv: Obj, key: Any, value: Any) -> Obj:
    rcv.slots[0], rcv.slots[1] = key, value
    return rcv


@primitive("Association class", "key:value:")
def _assoc_new(vm: VM, cls: StClass, key: Any, value: Any) -> Obj:
    obj = vm.new_instance(cls)
    obj.slots[0], obj.slots[1] = key, value
    return obj


@primitive("Point", "x")
def _x(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[0]


@primitive("Point", "y")
def _y(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[1]


@primitive("Point", "setX:setY:", "x:y:")
def _set_xy(vm: VM, rcv: Obj, x: Any, y: Any) -> Obj:
    rcv.slots[0], rcv.slots[1] = x, y
    return rcv


@primitive("Point class", "x:y:")
def _point_new(vm: VM, cls: StClass, x: Any, y: Any) -> Obj:
    return make_point(vm, x, y, cls)


def make_point(vm: VM, x: Any, y: Any, cls: StClass | None = None) -> Obj:
    return Obj(cls or vm.classes["Point"], [x, y])


def _point_op(selector: str) -> Any:
    def op(vm: VM, rcv: Obj, other: Any) -> Any:
        if type(other) is Obj and other.cls.builtin_name == "Point":
            ox, oy = other.slots
        else:
            ox = oy = other
        return make_point(
            vm, vm.send(rcv.slots[0], selector, ox), vm.send(rcv.slots[1], selector, oy)
        )

    return op


for _sel in ("+", "-", "*", "/", "//"):
    primitive("Point", _sel)(_point_op(_sel))


@primitive("Point", "dist:")
def _dist(vm: VM, rcv: Obj, other: Obj) -> float:
    dx = rcv.slots[0] - other.slots[0]
    dy = rcv.slots[1] - other.slots[1]
    return float((dx * dx + dy * dy) ** 0.5)


@primitive("Point", "transposed")
def _transposed(vm: VM, rcv: Obj) -> Obj:
    return make_point(vm, rcv.slots[1], rcv.slots[0])


@primitive("Message", "selector")
def _message_selector(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[0]


@primitive("Message", "arguments")
def _message_arguments(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[1]


# -- Transcript -------------------------------------------------------------------------------------------


@primitive("ThreadSafeTranscript", "show:", "nextPutAll:", "<<", "display:")
def _transcript_show(vm: VM, rcv: Obj, value: Any) -> Obj:
    vm.show(as_text(vm, value) if type(value) in (StString, str) else display_string(vm, value))
    return rcv


@primitive("ThreadSafeTranscript", "print:")
def _transcript_print(vm: VM, rcv: Obj, value: Any) -> Obj:
    vm.show(print_string(vm, value))
    return rcv


@primitive("ThreadSafeTranscript", "nextPut:")
def _transcript_put(vm: VM, rcv: Obj, ch: Any) -> Obj:
    vm.show(ch.ch if type(ch) is Char else as_text(vm, ch))
    return rcv


@primitive("ThreadSafeTranscript", "cr", "lf")
def _transcript_cr(vm: VM, rcv: Obj) -> Obj:
    vm.show("\n")
    return rcv


@primitive("ThreadSafeTranscript", "tab")
def _transcript_tab(vm: VM, rcv: Obj) -> Obj:
    vm.show("\t")
    return rcv


@primitive("ThreadSafeTranscript", "space")
def _transcript_space(vm: VM, rcv: Obj) -> Obj:
    vm.show(" ")
    return rcv


@primitive("ThreadSafeTranscript", "crShow:")
def _transcript_cr_show(vm: VM, rcv: Obj, value: Any) -> Obj:
    vm.show("\n" + as_text(vm, value))
    return rcv


@primitive("ThreadSafeTranscript", "flush", "clear", "endEntry")
def _transcript_flush(vm: VM, rcv: Obj) -> Obj:
    return rcv


# -- Smalltalk ----------------------------------------------------------------------------------------------


@primitive("SmalltalkImage", "at:put:")
def _smalltalk_at_put(vm: VM, rcv: Obj, key: Any, value: Any) -> Any:
    vm.globals[as_text(vm, key)] = value
    return value


@primitive("SmalltalkImage", "at:")
def _smalltalk_at(vm: VM, rcv: Obj, key: Any) -> Any:
    name = as_text(vm, key)
    if name not in vm.globals:
        return vm.signal_error(
            "KeyNotFound", f"key {print_string(vm, key)} not found in SystemDictionary"
        )
    return vm.globals[name]


@primitive("SmalltalkImage", "at:ifAbsent:")
def _smalltalk_at_if_absent(vm: VM, rcv: Obj, key: Any, block: Any) -> Any:
    name = as_text(vm, key)
    return vm.globals[name] if name in vm.globals else cull(vm, block)


@primitive("SmalltalkImage", "includesKey:", "hasClassNamed:")
def _smalltalk_includes(vm: VM, rcv: Obj, key: Any) -> bool:
    return as_text(vm, key) in vm.globals


@primitive("SmalltalkImage", "removeKey:")
def _smalltalk_remove(vm: VM, rcv: Obj, key: Any) -> Any:
    return vm.globals.pop(as_text(vm, key), None)


@primitive("SmalltalkImage", "classNamed:")
def _class_named(vm: VM, rcv: Obj, key: Any) -> Any:
    value = vm.globals.get(as_text(vm, key))
    return value if type(value) is StClass else None


@primitive("SmalltalkImage", "version")
def _version(vm: VM, rcv: Obj) -> StString:
    return StString("stui-smalltalk 0.1 (Pharo-like)")


@primitive("SmalltalkImage", "imageName")
def _image_name(vm: VM, rcv: Obj) -> StString:
    return StString(vm.image_name)


@primitive("SmalltalkImage", "allClasses")
def _all_classes(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array([c for c in vm.all_classes if not c.is_meta])


@primitive("SmalltalkImage", "globals", "keys")
def _global_names(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array([k for k in vm.globals])
