"""Classes and metaclasses (Behavior, Class, Metaclass: instantiation, reflection, subclass:
and compile:) and the ``Smalltalk`` global (SmalltalkImage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.errors import SmalltalkSyntaxError
from stui.image.smalltalk.lib_kernel import as_text, cull, print_string
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Kind, Obj, StClass, StString

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ()


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


@primitive("Behavior", "name", "printString", "displayString")
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


@primitive("Behavior", ">>", "compiledMethodAt:")
def _compiled_method_at(vm: VM, cls: StClass, selector: Any) -> Any:
    method = cls.methods.get(as_text(vm, selector))
    if method is None:
        return vm.signal_error(
            "KeyNotFound", f"key {print_string(vm, selector)} not found in MethodDictionary"
        )
    return Obj(vm.classes["CompiledMethod"], [], method)


@primitive("CompiledMethod", "selector")
def _method_selector(vm: VM, rcv: Obj) -> str:
    return str(rcv.data.selector)


@primitive("CompiledMethod", "methodClass")
def _method_class(vm: VM, rcv: Obj) -> StClass:
    return rcv.data.owner  # type: ignore[no-any-return]


@primitive("CompiledMethod", "sourceCode")
def _method_source(vm: VM, rcv: Obj) -> StString:
    method = rcv.data
    return StString(method.source or f"{method.selector} <primitive>")


@primitive("CompiledMethod", "isPrimitive")
def _method_is_primitive(vm: VM, rcv: Obj) -> bool:
    return not rcv.data.source


@primitive("CompiledMethod", "numArgs")
def _method_num_args(vm: VM, rcv: Obj) -> int:
    selector = rcv.data.selector
    if selector and all(ch in "+-*/\\<>=~@%|&?," for ch in selector):
        return 1
    return int(selector.count(":"))


@primitive("CompiledMethod", "valueWithReceiver:arguments:")
def _method_run(vm: VM, rcv: Obj, receiver: Any, args: Obj) -> Any:
    return rcv.data.fn(receiver, *args.data)


@primitive("Behavior", "removeSelector:")
def _remove_selector(vm: VM, cls: StClass, selector: Any) -> Any:
    method = cls.methods.get(as_text(vm, selector))
    if method is not None and not method.source:
        return vm.signal_error(
            "Error", f"{cls.name}>>{method.selector} is a primitive and cannot be removed"
        )
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


# Pharo 11/12's fluid class definition: `(Object << #Point3 slots: {#x. #y}; package: 'Demo') install`.
# `<<` answers a builder; the cascade fills it in; `install` (or `build`) defines the class.
_SUPERCLASS, _NAME, _SLOTS, _SHARED, _PACKAGE, _TAG = range(6)


@primitive("Class", "<<")
def _fluid_builder(vm: VM, cls: StClass, name: Any) -> Obj:
    return Obj(vm.classes["FluidClassBuilder"], [cls, name, None, None, None, None])


def _fluid_setter(index: int) -> Any:
    def setter(vm: VM, builder: Obj, value: Any) -> Obj:
        builder.slots[index] = value
        return builder

    return setter


primitive("FluidClassBuilder", "slots:")(_fluid_setter(_SLOTS))
primitive("FluidClassBuilder", "sharedVariables:")(_fluid_setter(_SHARED))
primitive("FluidClassBuilder", "package:")(_fluid_setter(_PACKAGE))
primitive("FluidClassBuilder", "tag:")(_fluid_setter(_TAG))


@primitive("FluidClassBuilder", "sharedPools:", "traits:", "classTraits:")
def _fluid_ignored(vm: VM, builder: Obj, value: Any) -> Any:
    from stui.image.smalltalk.lib_collections import elements

    if value is not None and elements(vm, value):
        return vm.signal_error("Error", "traits and shared pools are not supported here")
    return builder


@primitive("FluidClassBuilder", "install", "build")
def _fluid_install(vm: VM, builder: Obj) -> Any:
    from stui.image.smalltalk.lib_collections import elements

    superclass, name, slots, shared, package, tag = builder.slots

    def names(value: Any) -> StString | None:
        if value is None:
            return None
        return StString(" ".join(as_text(vm, x) for x in elements(vm, value)))

    category = None
    if package is not None:
        category = as_text(vm, package) + (f"-{as_text(vm, tag)}" if tag is not None else "")
    return _define(vm, superclass, name, names(slots), names(shared), category)


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


# -- Smalltalk ----------------------------------------------------------------------------------------------


@primitive("SmalltalkImage", "at:put:")
def _smalltalk_at_put(vm: VM, rcv: Obj, key: Any, value: Any) -> Any:
    name = as_text(vm, key)
    if type(vm.globals.get(name)) is StClass and value is not vm.globals[name]:
        return vm.signal_error("Error", f"{name} is a class; define classes with subclass:")
    vm.globals[name] = value
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
    name = as_text(vm, key)
    if name in vm.system_class_names or name in ("Transcript", "Smalltalk"):
        return vm.signal_error("Error", f"{name} is part of the system and cannot be removed")
    return vm.globals.pop(name, None)


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
