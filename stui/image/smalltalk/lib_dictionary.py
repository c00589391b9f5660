"""Dictionary (and IdentityDictionary): keyed access, enumeration of keys, values and associations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_collections import sort_items, st_equal, value1
from stui.image.smalltalk.lib_kernel import cull, print_string
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import (
    Block,
    Obj,
    denorm_key,
    hashed_view,
    norm_key,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ()


# -- Dictionary --------------------------------------------------------------------------------------------


def _key_error(vm: VM, rcv: Obj, key: Any) -> Any:
    return vm.signal_error(
        "KeyNotFound", f"key {print_string(vm, key)} not found in {rcv.cls.name}"
    )


@primitive("Dictionary", "at:")
def _dict_at(vm: VM, rcv: Obj, key: Any) -> Any:
    k = norm_key(key)
    if k in rcv.data:
        return rcv.data[k]
    return _key_error(vm, rcv, key)


@primitive("Dictionary", "at:put:")
def _dict_at_put(vm: VM, rcv: Obj, key: Any, value: Any) -> Any:
    rcv.data[norm_key(key)] = value
    return value


@primitive("Dictionary", "at:ifAbsent:")
def _dict_at_if_absent(vm: VM, rcv: Obj, key: Any, block: Any) -> Any:
    k = norm_key(key)
    return rcv.data[k] if k in rcv.data else cull(vm, block)


@primitive("Dictionary", "at:ifAbsentPut:")
def _dict_at_if_absent_put(vm: VM, rcv: Obj, key: Any, block: Any) -> Any:
    k = norm_key(key)
    if k not in rcv.data:
        rcv.data[k] = cull(vm, block)
    return rcv.data[k]


@primitive("Dictionary", "at:ifPresent:")
def _dict_at_if_present(vm: VM, rcv: Obj, key: Any, block: Any) -> Any:
    k = norm_key(key)
    return cull(vm, block, rcv.data[k]) if k in rcv.data else None


@primitive("Dictionary", "at:ifPresent:ifAbsent:")
def _dict_at_if_present_if_absent(vm: VM, rcv: Obj, key: Any, present: Any, absent: Any) -> Any:
    k = norm_key(key)
    return cull(vm, present, rcv.data[k]) if k in rcv.data else cull(vm, absent)


@primitive("Dictionary", "add:")
def _dict_add(vm: VM, rcv: Obj, assoc: Any) -> Any:
    if type(assoc) is not Obj or not assoc.cls.inherits_from(vm.classes["LookupKey"]):
        return vm.dnu(assoc, "key", ())
    rcv.data[norm_key(assoc.slots[0])] = assoc.slots[1]
    return assoc


@primitive("Dictionary", "removeKey:")
def _dict_remove_key(vm: VM, rcv: Obj, key: Any) -> Any:
    k = norm_key(key)
    if k in rcv.data:
        return rcv.data.pop(k)
    return _key_error(vm, rcv, key)


@primitive("Dictionary", "removeKey:ifAbsent:")
def _dict_remove_key_if_absent(vm: VM, rcv: Obj, key: Any, block: Any) -> Any:
    k = norm_key(key)
    return rcv.data.pop(k) if k in rcv.data else cull(vm, block)


@primitive("Dictionary", "includesKey:")
def _dict_includes_key(vm: VM, rcv: Obj, key: Any) -> bool:
    return norm_key(key) in rcv.data


@primitive("Dictionary", "keys")
def _dict_keys(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array([denorm_key(k) for k in hashed_view(rcv.data)])


@primitive("Dictionary", "values")
def _dict_values(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array(list(hashed_view(rcv.data).values()))


@primitive("Dictionary", "associations")
def _dict_associations(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array(
        [vm.association(denorm_key(k), v) for k, v in hashed_view(rcv.data).items()]
    )


@primitive("Dictionary", "keysAndValuesDo:")
def _dict_keys_and_values_do(vm: VM, rcv: Obj, block: Block) -> Obj:
    for k, v in list(hashed_view(rcv.data).items()):
        block.call(denorm_key(k), v)
    return rcv


@primitive("Dictionary", "associationsDo:")
def _dict_associations_do(vm: VM, rcv: Obj, block: Any) -> Obj:
    for k, v in list(hashed_view(rcv.data).items()):
        value1(vm, block, vm.association(denorm_key(k), v))
    return rcv


@primitive("Dictionary", "keysDo:")
def _dict_keys_do(vm: VM, rcv: Obj, block: Any) -> Obj:
    for k in list(hashed_view(rcv.data)):
        value1(vm, block, denorm_key(k))
    return rcv


@primitive("Dictionary", "valuesDo:")
def _dict_values_do(vm: VM, rcv: Obj, block: Any) -> Obj:
    for v in list(hashed_view(rcv.data).values()):
        value1(vm, block, v)
    return rcv


@primitive("Dictionary", "keyAtValue:")
def _dict_key_at_value(vm: VM, rcv: Obj, value: Any) -> Any:
    for k, v in hashed_view(rcv.data).items():
        if st_equal(vm, v, value):
            return denorm_key(k)
    return None


@primitive("Dictionary", "keysSortedSafely")
def _dict_keys_sorted(vm: VM, rcv: Obj) -> Obj:
    return vm.new_array(sort_items(vm, [denorm_key(k) for k in hashed_view(rcv.data)]))


@primitive("Dictionary", "includes:")
def _dict_includes(vm: VM, rcv: Obj, value: Any) -> bool:
    return any(st_equal(vm, v, value) for v in rcv.data.values())


@primitive("Dictionary", "remove:", "remove:ifAbsent:")
def _dict_remove(vm: VM, rcv: Obj, value: Any, block: Any = None) -> Any:
    return vm.signal_error("ShouldNotImplement", "use removeKey: on a Dictionary")


@primitive("Dictionary", "keysAndValuesRemove:")
def _dict_keys_values_remove(vm: VM, rcv: Obj, block: Block) -> Obj:
    for k, v in list(hashed_view(rcv.data).items()):
        if block.call(denorm_key(k), v) is True:
            del rcv.data[k]
    return rcv
