"""SequenceableCollection, OrderedCollection, SortedCollection and Interval primitives, and the
add/remove protocol of the growable collections (Set and Bag included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_collections import (
    SEQUENCE_KINDS,
    check_index,
    elements,
    empty_error,
    new_like,
    new_ordered,
    reduce,
    sort_items,
    st_equal,
    value1,
)
from stui.image.smalltalk.lib_kernel import cull, print_string
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import (
    Block,
    Kind,
    Obj,
    norm_key,
    range_items,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ()


# -- sequenceable -----------------------------------------------------------------------------------------


@primitive("SequenceableCollection", "at:")
def _at(vm: VM, rcv: Obj, index: Any) -> Any:
    items = (
        rcv.data
        if rcv.cls.kind in SEQUENCE_KINDS or rcv.cls.kind is Kind.BYTES
        else elements(vm, rcv)
    )
    if type(index) is int and 0 < index <= len(items):
        return items[index - 1]
    check_index(vm, index, len(items))
    return None


@primitive("SequenceableCollection", "at:put:")
def _at_put(vm: VM, rcv: Obj, index: Any, value: Any) -> Any:
    if (
        rcv.cls.kind not in (Kind.ARRAY, Kind.ORDERED, Kind.BYTES)
        or rcv.cls.builtin_name == "SortedCollection"
    ):
        return vm.signal_error("ShouldNotImplement", f"{rcv.cls.name}>>at:put: is not appropriate")
    items = rcv.data
    if type(index) is int and 0 < index <= len(items):
        if rcv.cls.kind is Kind.BYTES and not (type(value) is int and 0 <= value <= 255):
            return vm.signal_error("Error", "Improper store into indexable object")
        items[index - 1] = value
        return value
    check_index(vm, index, len(items))
    return None


@primitive("SequenceableCollection", "at:ifAbsent:")
def _at_if_absent(vm: VM, rcv: Obj, index: Any, block: Any) -> Any:
    items = elements(vm, rcv)
    if type(index) is int and 0 < index <= len(items):
        return items[index - 1]
    return cull(vm, block)


@primitive("SequenceableCollection", "first")
def _first(vm: VM, rcv: Obj) -> Any:
    items = elements(vm, rcv)
    if items:
        return items[0]
    if rcv.cls.kind is Kind.ORDERED:
        return empty_error(vm, rcv)
    check_index(vm, 1, 0)
    return None


@primitive("SequenceableCollection", "last")
def _last(vm: VM, rcv: Obj) -> Any:
    items = elements(vm, rcv)
    if items:
        return items[-1]
    if rcv.cls.kind is Kind.ORDERED:
        return empty_error(vm, rcv)
    check_index(vm, 0, 0)
    return None


@primitive("SequenceableCollection", "first:")
def _first_n(vm: VM, rcv: Obj, n: int) -> Any:
    items = elements(vm, rcv)
    if n > len(items):
        return check_index(vm, n, len(items))
    return new_like(vm, rcv, items[:n])


@primitive("SequenceableCollection", "last:")
def _last_n(vm: VM, rcv: Obj, n: int) -> Any:
    items = elements(vm, rcv)
    if n > len(items):
        return check_index(vm, n, len(items))
    return new_like(vm, rcv, items[len(items) - n :])


@primitive("SequenceableCollection", "allButFirst")
def _all_but_first(vm: VM, rcv: Obj) -> Any:
    return new_like(vm, rcv, elements(vm, rcv)[1:])


@primitive("SequenceableCollection", "allButLast")
def _all_but_last(vm: VM, rcv: Obj) -> Any:
    return new_like(vm, rcv, elements(vm, rcv)[:-1])


@primitive("SequenceableCollection", "second")
def _second(vm: VM, rcv: Obj) -> Any:
    return _at(vm, rcv, 2)


@primitive("SequenceableCollection", "third")
def _third(vm: VM, rcv: Obj) -> Any:
    return _at(vm, rcv, 3)


@primitive("SequenceableCollection", "indexOf:")
def _index_of(vm: VM, rcv: Obj, value: Any) -> int:
    for i, x in enumerate(elements(vm, rcv)):
        if st_equal(vm, x, value):
            return i + 1
    return 0


@primitive("SequenceableCollection", "copyFrom:to:")
def _copy_from_to(vm: VM, rcv: Obj, start: int, stop: int) -> Any:
    items = elements(vm, rcv)
    if stop < start:
        return new_like(vm, rcv, [])
    if not (start >= 1 and stop <= len(items)):
        return check_index(vm, start if start < 1 else stop, len(items))
    return new_like(vm, rcv, items[start - 1 : stop])


@primitive("SequenceableCollection", "reversed", "reverse")
def _reversed(vm: VM, rcv: Obj) -> Any:
    items = elements(vm, rcv)[::-1]
    if rcv.cls.builtin_name == "SortedCollection":
        return new_ordered(vm, items)
    return new_like(vm, rcv, items)


@primitive("SequenceableCollection", "reverseDo:")
def _reverse_do(vm: VM, rcv: Obj, block: Any) -> Obj:
    for x in elements(vm, rcv)[::-1]:
        value1(vm, block, x)
    return rcv


@primitive("SequenceableCollection", "doWithIndex:", "withIndexDo:")
def _do_with_index(vm: VM, rcv: Obj, block: Block) -> Obj:
    for i, x in enumerate(elements(vm, rcv)):
        block.call(x, i + 1)
    return rcv


@primitive("SequenceableCollection", "keysAndValuesDo:")
def _keys_and_values_do(vm: VM, rcv: Obj, block: Block) -> Obj:
    for i, x in enumerate(elements(vm, rcv)):
        block.call(i + 1, x)
    return rcv


@primitive("SequenceableCollection", "collectWithIndex:", "withIndexCollect:")
def _collect_with_index(vm: VM, rcv: Obj, block: Block) -> Any:
    return new_like(vm, rcv, [block.call(x, i + 1) for i, x in enumerate(elements(vm, rcv))], True)


@primitive("SequenceableCollection", "with:collect:")
def _with_collect(vm: VM, rcv: Obj, other: Any, block: Block) -> Any:
    a, b = elements(vm, rcv), elements(vm, other)
    if len(a) != len(b):
        return vm.signal_error("Error", "otherCollection must be the same size")
    return new_like(vm, rcv, [block.call(x, y) for x, y in zip(a, b, strict=True)], True)


@primitive("SequenceableCollection", "pairsDo:")
def _pairs_do(vm: VM, rcv: Obj, block: Block) -> Obj:
    items = elements(vm, rcv)
    for i in range(0, len(items) - 1, 2):
        block.call(items[i], items[i + 1])
    return rcv


@primitive("SequenceableCollection", "shuffled")
def _shuffled(vm: VM, rcv: Obj) -> Any:
    items = list(elements(vm, rcv))
    vm.random.shuffle(items)
    return new_like(vm, rcv, items)


@primitive("SequenceableCollection", "with:do:")
def _with_do(vm: VM, rcv: Obj, other: Any, block: Block) -> Any:
    a, b = elements(vm, rcv), elements(vm, other)
    if len(a) != len(b):
        return vm.signal_error("Error", "otherCollection must be the same size")
    for x, y in zip(a, b, strict=True):
        block.call(x, y)
    return rcv


@primitive("SequenceableCollection", "sort")
def _sort(vm: VM, rcv: Obj) -> Obj:
    return _sort_by(vm, rcv, None)


@primitive("SequenceableCollection", "sort:")
def _sort_by(vm: VM, rcv: Obj, block: Any) -> Obj:
    if rcv.cls.kind not in SEQUENCE_KINDS:
        return vm.signal_error("ShouldNotImplement", "sort is for Arrays and OrderedCollections")
    rcv.data[:] = sort_items(vm, rcv.data, block)
    return rcv


@primitive("SequenceableCollection", "swap:with:")
def _swap(vm: VM, rcv: Obj, i: int, j: int) -> Obj:
    if check_index(vm, i, len(rcv.data)) and check_index(vm, j, len(rcv.data)):
        rcv.data[i - 1], rcv.data[j - 1] = rcv.data[j - 1], rcv.data[i - 1]
    return rcv


@primitive("SequenceableCollection", "atAllPut:")
def _at_all_put(vm: VM, rcv: Obj, value: Any) -> Obj:
    rcv.data[:] = [value] * len(rcv.data)
    return rcv


@primitive("SequenceableCollection", "indexOf:ifAbsent:")
def _index_of_if_absent(vm: VM, rcv: Obj, value: Any, block: Any) -> Any:
    i = _index_of(vm, rcv, value)
    return i if i else cull(vm, block)


def _elementwise(selector: str) -> Any:
    def arithmetic(vm: VM, rcv: Any, other: Any) -> Any:
        items = elements(vm, rcv)
        if type(other) is Obj and other.cls.kind in (Kind.ARRAY, Kind.ORDERED, Kind.INTERVAL):
            others = elements(vm, other)
            if len(others) != len(items):
                return vm.signal_error("Error", "arguments must be the same size")
            return new_like(
                vm, rcv, [vm.send(a, selector, b) for a, b in zip(items, others, strict=True)], True
            )
        return new_like(vm, rcv, [vm.send(a, selector, other) for a in items], True)

    return arithmetic


for _selector in ("+", "-", "*", "/"):
    primitive("SequenceableCollection", _selector)(_elementwise(_selector))


# -- OrderedCollection -----------------------------------------------------------------------------------


def _growable(vm: VM, rcv: Obj) -> bool:
    if rcv.cls.kind is Kind.ORDERED:
        return True
    vm.signal_error("ShouldNotImplement", f"{rcv.cls.name} cannot grow: use an OrderedCollection")
    return False


def _sorted_insert(vm: VM, rcv: Obj, value: Any) -> None:
    items = rcv.data
    block = rcv.slots[0]
    i = len(items)
    while i > 0:
        prev = items[i - 1]
        before = block.call(prev, value) if type(block) is Block else vm.send(prev, "<=", value)
        if before is True:
            break
        i -= 1
    items.insert(i, value)


@primitive("OrderedCollection", "add:", "addLast:")
def _add(vm: VM, rcv: Obj, value: Any) -> Any:
    if rcv.cls.builtin_name == "SortedCollection":
        _sorted_insert(vm, rcv, value)
    else:
        rcv.data.append(value)
    return value


@primitive("OrderedCollection", "addFirst:")
def _add_first(vm: VM, rcv: Obj, value: Any) -> Any:
    if rcv.cls.builtin_name == "SortedCollection":
        return vm.signal_error(
            "ShouldNotImplement", "SortedCollection>>addFirst: is not appropriate"
        )
    rcv.data.insert(0, value)
    return value


@primitive("OrderedCollection", "add:beforeIndex:", "insert:before:")
def _add_before(vm: VM, rcv: Obj, value: Any, index: int) -> Any:
    rcv.data.insert(index - 1, value)
    return value


@primitive("OrderedCollection", "addAll:", "addAllLast:")
def _add_all(vm: VM, rcv: Obj, other: Any) -> Any:
    for x in list(elements(vm, other)):
        _add(vm, rcv, x)
    return other


@primitive("OrderedCollection", "addAllFirst:")
def _add_all_first(vm: VM, rcv: Obj, other: Any) -> Any:
    rcv.data[:0] = list(elements(vm, other))
    return other


@primitive("OrderedCollection", "removeFirst")
def _remove_first(vm: VM, rcv: Obj) -> Any:
    return rcv.data.pop(0) if rcv.data else empty_error(vm, rcv)


@primitive("OrderedCollection", "removeLast")
def _remove_last(vm: VM, rcv: Obj) -> Any:
    return rcv.data.pop() if rcv.data else empty_error(vm, rcv)


@primitive("OrderedCollection", "removeFirst:")
def _remove_first_n(vm: VM, rcv: Obj, n: int) -> Any:
    if n > len(rcv.data):
        return empty_error(vm, rcv)
    taken, rcv.data[:n] = rcv.data[:n], []
    return vm.new_array(taken)


@primitive("OrderedCollection", "removeAll")
def _remove_all_elements(vm: VM, rcv: Obj) -> Obj:
    rcv.data.clear()
    return rcv


@primitive("OrderedCollection", "removeAt:", "removeIndex:")
def _remove_at(vm: VM, rcv: Obj, index: int) -> Any:
    if check_index(vm, index, len(rcv.data)):
        return rcv.data.pop(index - 1)
    return None


@primitive("Collection", "remove:")
def _remove(vm: VM, rcv: Obj, value: Any) -> Any:
    return _remove_if_absent(vm, rcv, value, None, raise_error=True)


@primitive("Collection", "remove:ifAbsent:")
def _remove_if_absent(vm: VM, rcv: Obj, value: Any, block: Any, raise_error: bool = False) -> Any:
    kind = rcv.cls.kind if type(rcv) is Obj else None
    if kind is Kind.ORDERED:
        for i, x in enumerate(rcv.data):
            if st_equal(vm, x, value):
                del rcv.data[i]
                return value
    elif kind is Kind.SET:
        key = norm_key(value)
        if key in rcv.data:
            del rcv.data[key]
            return value
    elif kind is Kind.BAG:
        key = norm_key(value)
        if key in rcv.data:
            rcv.data[key] -= 1
            if rcv.data[key] == 0:
                del rcv.data[key]
            return value
    else:
        return vm.signal_error(
            "ShouldNotImplement", f"{vm.class_of(rcv).name} cannot remove elements"
        )
    if raise_error:
        return vm.signal_error(
            "NotFound", f"{print_string(vm, value)} not found in {print_string(vm, rcv)}"
        )
    return cull(vm, block)


@primitive("Collection", "removeAll:")
def _remove_all(vm: VM, rcv: Obj, other: Any) -> Any:
    for x in list(elements(vm, other)):
        _remove(vm, rcv, x)
    return other


@primitive("Collection", "add:")
def _collection_add(vm: VM, rcv: Any, value: Any) -> Any:
    if type(rcv) is Obj and rcv.cls.kind is Kind.SET:
        rcv.data[norm_key(value)] = None
        return value
    if type(rcv) is Obj and rcv.cls.kind is Kind.BAG:
        key = norm_key(value)
        rcv.data[key] = rcv.data.get(key, 0) + 1
        return value
    return vm.signal_error(
        "ShouldNotImplement", f"{vm.class_of(rcv).name}>>add: is not appropriate"
    )


@primitive("Collection", "addAll:")
def _collection_add_all(vm: VM, rcv: Any, other: Any) -> Any:
    for x in list(elements(vm, other)):
        vm.send(rcv, "add:", x)
    return other


@primitive("Bag", "add:withOccurrences:")
def _add_with_occurrences(vm: VM, rcv: Obj, value: Any, n: int) -> Any:
    key = norm_key(value)
    rcv.data[key] = rcv.data.get(key, 0) + n
    return value


@primitive("Bag", "size")
def _bag_size(vm: VM, rcv: Obj) -> int:
    return sum(rcv.data.values())


@primitive("Bag", "asSet")
def _bag_as_set(vm: VM, rcv: Obj) -> Obj:
    return Obj(vm.classes["Set"], [], dict.fromkeys(rcv.data))


@primitive("SortedCollection", "sortBlock")
def _get_sort_block(vm: VM, rcv: Obj) -> Any:
    return rcv.slots[0]


@primitive("SortedCollection", "median")
def _median(vm: VM, rcv: Obj) -> Any:
    return rcv.data[(len(rcv.data) + 1) // 2 - 1] if rcv.data else empty_error(vm, rcv)


# -- Interval --------------------------------------------------------------------------------------------


@primitive("Interval", "first")
def _interval_first(vm: VM, rcv: Obj) -> Any:
    items = range_items(rcv.data)
    return items[0] if items else empty_error(vm, rcv)


@primitive("Interval", "last")
def _interval_last(vm: VM, rcv: Obj) -> Any:
    items = range_items(rcv.data)
    return items[-1] if items else empty_error(vm, rcv)


@primitive("Interval", "increment")
def _interval_step(vm: VM, rcv: Obj) -> Any:
    return rcv.data[2]


@primitive("Interval", "size")
def _interval_size(vm: VM, rcv: Obj) -> int:
    start, stop, step = rcv.data
    if type(start) is int and type(stop) is int and type(step) is int:
        return len(range(start, stop + (1 if step > 0 else -1), step))
    return len(range_items(rcv.data))


@primitive("Interval", "includes:")
def _interval_includes(vm: VM, rcv: Obj, value: Any) -> bool:
    start, stop, step = rcv.data
    if type(value) is int and type(start) is int and type(stop) is int and type(step) is int:
        return value in range(start, stop + (1 if step > 0 else -1), step)
    return any(st_equal(vm, x, value) for x in range_items(rcv.data))


@primitive("Interval", "sum")
def _interval_sum(vm: VM, rcv: Obj) -> Any:
    start, stop, step = rcv.data
    if type(start) is int and type(stop) is int and type(step) is int:
        r = range(start, stop + (1 if step > 0 else -1), step)
        if len(r):
            return sum(r)
    return reduce(vm, rcv, "+")
