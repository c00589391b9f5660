"""The enumeration protocol every collection shares (strings join in through :func:`elements`), the
class-side constructors, sorting, and the helpers lib_sequences and lib_dictionary build on.

Every built-in collection is an :class:`Obj` whose class's :class:`Kind` says what its payload is, so a
user subclass of OrderedCollection is just an Obj with extra named slots and the same payload, and all
of these primitives work on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import cull, print_string, truth
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import (
    Block,
    Char,
    Kind,
    Obj,
    StClass,
    StString,
    check_length,
    denorm_key,
    hashed_view,
    norm_key,
    range_items,
)

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = (
    "SEQUENCE_KINDS",
    "check_index",
    "elements",
    "empty_error",
    "new_like",
    "new_ordered",
    "reduce",
    "sort_items",
    "st_equal",
    "value1",
)

SEQUENCE_KINDS = (Kind.ARRAY, Kind.ORDERED)


def elements(vm: VM, c: Any) -> list[Any]:
    """The elements of any collection, in enumeration order (the live list for Array/OC)."""
    t = type(c)
    if t is Obj:
        kind = c.cls.kind
        if kind is Kind.ARRAY or kind is Kind.ORDERED:
            return c.data
        if kind is Kind.SET:
            return [denorm_key(k) for k in hashed_view(c.data)]
        if kind is Kind.DICT:
            return list(hashed_view(c.data).values())
        if kind is Kind.INTERVAL:
            return range_items(c.data)
        if kind is Kind.BAG:
            return [denorm_key(k) for k, n in hashed_view(c.data).items() for _ in range(n)]
        if kind is Kind.BYTES:
            return list(c.data)
    if t is StString:
        return [Char(ch) for ch in c.s]
    if t is str:
        return [Char(ch) for ch in c]
    vm.dnu(c, "do:", (None,))
    return []


def st_equal(vm: VM, a: Any, b: Any) -> bool:
    ta = type(a)
    if ta in (int, float, str, Char, StString) or a is None or ta is bool:
        if ta is bool or type(b) is bool:
            return a is b
        return bool(a == b) and (ta is not str or type(b) is str)
    return vm.send(a, "=", b) is True


def new_like(vm: VM, rcv: Any, items: list[Any], collecting: bool = False) -> Any:
    """A collection like *rcv* (Pharo's ``species``) holding *items*."""
    t = type(rcv)
    if t is StString or t is str:
        if all(type(x) is Char for x in items):
            return StString("".join(x.ch for x in items))
        return vm.new_array(items)
    kind = rcv.cls.kind
    if kind is Kind.ARRAY:
        return Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), items)
    if kind is Kind.ORDERED:
        if rcv.cls.builtin_name == "SortedCollection":
            if collecting:
                return Obj(vm.classes["OrderedCollection"], [], items)
            new = Obj(rcv.cls, list(rcv.slots), items)
            return new
        return Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), items)
    if kind is Kind.SET:
        return Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), {norm_key(x): None for x in items})
    if kind is Kind.BAG:
        return _bag_of(vm, items, rcv.cls)
    if kind is Kind.BYTES and all(type(x) is int and 0 <= x <= 255 for x in items):
        return Obj(rcv.cls, [], bytearray(items))
    return vm.new_array(items)


def _bag_of(vm: VM, items: list[Any], cls: StClass | None = None) -> Obj:
    counts: dict[Any, int] = {}
    for x in items:
        k = norm_key(x)
        counts[k] = counts.get(k, 0) + 1
    return Obj(cls or vm.classes["Bag"], [], counts)


def new_ordered(vm: VM, items: list[Any]) -> Obj:
    return Obj(vm.classes["OrderedCollection"], [], items)


def check_index(vm: VM, index: Any, size: int) -> bool:
    if type(index) is int and 1 <= index <= size:
        return True
    vm.signal_error(
        "SubscriptOutOfBounds", f"{print_string(vm, index)} is not between 1 and {size}"
    )
    return False


def empty_error(vm: VM, rcv: Any) -> Any:
    return vm.signal_error("CollectionIsEmpty", f"{print_string(vm, rcv)} is empty")


# -- sorting -----------------------------------------------------------------------------------------------


def sort_items(vm: VM, items: list[Any], block: Any = None) -> list[Any]:
    """Sort like Pharo's merge sort: *block* answers whether its first argument goes first."""
    if block is None:
        if all(type(x) in (int, float) or type(x).__name__ == "Fraction" for x in items):
            return sorted(items)
        if all(type(x) in (StString, str) for x in items):
            return sorted(items, key=lambda x: (x.s if type(x) is StString else x).lower())
        if all(type(x) is Char for x in items):
            return sorted(items, key=lambda x: x.ch)

        def before(a: Any, b: Any) -> bool:
            return vm.send(a, "<=", b) is True

    elif type(block) is Block:

        def before(a: Any, b: Any) -> bool:
            return block.call(a, b) is True

    else:

        def before(a: Any, b: Any) -> bool:
            return vm.send(block, "value:value:", a, b) is True

    return _merge_sort(list(items), before)


def _merge_sort(items: list[Any], before: Any) -> list[Any]:
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    left = _merge_sort(items[:mid], before)
    right = _merge_sort(items[mid:], before)
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if before(left[i], right[j]):
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


def _sorted_collection(vm: VM, items: list[Any], block: Any = None) -> Obj:
    return Obj(vm.classes["SortedCollection"], [block], sort_items(vm, items, block))


# -- class side --------------------------------------------------------------------------------------------


@primitive(
    "Collection class",
    "with:",
    "with:with:",
    "with:with:with:",
    "with:with:with:with:",
    "with:with:with:with:with:",
    "with:with:with:with:with:with:",
)
def _with(vm: VM, cls: StClass, *items: Any) -> Any:
    return _from_items(vm, cls, list(items))


@primitive("Collection class", "withAll:", "newFrom:")
def _with_all(vm: VM, cls: StClass, source: Any) -> Any:
    if cls.kind is Kind.DICT:
        result = vm.new_instance(cls)
        for assoc in elements(vm, source):
            result.data[norm_key(assoc.slots[0])] = assoc.slots[1]
        return result
    return _from_items(vm, cls, list(elements(vm, source)))


def _from_items(vm: VM, cls: StClass, items: list[Any]) -> Any:
    if cls.builtin_name in ("String", "ByteString", "Symbol", "ByteSymbol"):
        return StString("".join(c.ch for c in items))
    obj = vm.new_instance(cls, 0)
    match cls.kind:
        case Kind.ARRAY | Kind.ORDERED:
            obj.data = items
            if cls.builtin_name == "SortedCollection":
                obj.data = sort_items(vm, items, obj.slots[0])
        case Kind.SET:
            obj.data = {norm_key(x): None for x in items}
        case Kind.BAG:
            obj.data = _bag_of(vm, items, cls).data
        case Kind.DICT:
            for assoc in items:
                obj.data[norm_key(assoc.slots[0])] = assoc.slots[1]
        case Kind.BYTES:
            obj.data = bytearray(items)
        case _:
            return vm.signal_error("Error", f"{cls.name} cannot be built from elements")
    return obj


@primitive("ArrayedCollection class", "new:withAll:")
def _new_with_all(vm: VM, cls: StClass, size: int, value: Any) -> Any:
    if cls.builtin_name in ("String", "ByteString"):
        return StString(value.ch * check_length(size))
    obj = vm.new_instance(cls, size)
    if cls.kind is Kind.ARRAY:
        obj.data = [value] * size
    return obj


@primitive("SortedCollection class", "sortBlock:")
def _sort_block(vm: VM, cls: StClass, block: Any) -> Obj:
    obj = vm.new_instance(cls)
    obj.slots[0] = block
    return obj


@primitive("Interval class", "from:to:")
def _interval_from_to(vm: VM, cls: StClass, start: Any, stop: Any) -> Obj:
    return Obj(cls, [], (start, stop, 1))


@primitive("Interval class", "from:to:by:")
def _interval_from_to_by(vm: VM, cls: StClass, start: Any, stop: Any, step: Any) -> Obj:
    return Obj(cls, [], (start, stop, step))


# -- enumeration (Collection) ------------------------------------------------------------------------------


@primitive("Collection", "do:")
def _do(vm: VM, rcv: Any, block: Any) -> Any:
    if type(block) is Block and block.nargs == 1:
        run, outer = block.run, block.outer
        for x in elements(vm, rcv):
            run(outer, x)
    else:
        for x in elements(vm, rcv):
            cull(vm, block, x) if type(block) is Block else vm.send(block, "value:", x)
    return rcv


@primitive("Collection", "collect:")
def _collect(vm: VM, rcv: Any, block: Any) -> Any:
    if type(rcv) is Obj and rcv.cls.kind is Kind.DICT:
        result = Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), {})
        for k, v in rcv.data.items():
            result.data[k] = value1(vm, block, v)
        return result
    return new_like(vm, rcv, [value1(vm, block, x) for x in elements(vm, rcv)], collecting=True)


def value1(vm: VM, block: Any, x: Any) -> Any:
    if type(block) is Block:
        return block.run(block.outer, x)
    return vm.send(block, "value:", x)


def _test(vm: VM, block: Any, x: Any) -> bool:
    result = value1(vm, block, x)
    if result is True or result is False:
        return result
    return truth(vm, result)


@primitive("Collection", "select:")
def _select(vm: VM, rcv: Any, block: Any) -> Any:
    if type(rcv) is Obj and rcv.cls.kind is Kind.DICT:
        result = Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), {})
        for k, v in rcv.data.items():
            if _test(vm, block, v):
                result.data[k] = v
        return result
    return new_like(vm, rcv, [x for x in elements(vm, rcv) if _test(vm, block, x)])


@primitive("Collection", "reject:")
def _reject(vm: VM, rcv: Any, block: Any) -> Any:
    if type(rcv) is Obj and rcv.cls.kind is Kind.DICT:
        result = Obj(rcv.cls, [None] * len(rcv.cls.all_ivars), {})
        for k, v in rcv.data.items():
            if not _test(vm, block, v):
                result.data[k] = v
        return result
    return new_like(vm, rcv, [x for x in elements(vm, rcv) if not _test(vm, block, x)])


@primitive("Collection", "select:thenCollect:")
def _select_then_collect(vm: VM, rcv: Any, test: Any, block: Any) -> Any:
    return new_like(
        vm,
        rcv,
        [value1(vm, block, x) for x in elements(vm, rcv) if _test(vm, test, x)],
        collecting=True,
    )


@primitive("Collection", "collect:thenSelect:")
def _collect_then_select(vm: VM, rcv: Any, block: Any, test: Any) -> Any:
    mapped = [value1(vm, block, x) for x in elements(vm, rcv)]
    return new_like(vm, rcv, [x for x in mapped if _test(vm, test, x)], collecting=True)


@primitive("Collection", "flatCollect:")
def _flat_collect(vm: VM, rcv: Any, block: Any) -> Any:
    out: list[Any] = []
    for x in elements(vm, rcv):
        out.extend(elements(vm, value1(vm, block, x)))
    return new_like(vm, rcv, out, collecting=True)


@primitive("Collection", "detect:")
def _detect(vm: VM, rcv: Any, block: Any) -> Any:
    for x in elements(vm, rcv):
        if _test(vm, block, x):
            return x
    return vm.signal_error("NotFound", "Object is not in the collection.")


@primitive("Collection", "detect:ifNone:")
def _detect_if_none(vm: VM, rcv: Any, block: Any, none: Any) -> Any:
    for x in elements(vm, rcv):
        if _test(vm, block, x):
            return x
    return cull(vm, none)


@primitive("Collection", "detect:ifFound:ifNone:")
def _detect_if_found(vm: VM, rcv: Any, block: Any, found: Any, none: Any) -> Any:
    for x in elements(vm, rcv):
        if _test(vm, block, x):
            return cull(vm, found, x)
    return cull(vm, none)


@primitive("Collection", "inject:into:")
def _inject(vm: VM, rcv: Any, acc: Any, block: Any) -> Any:
    if type(block) is Block and block.nargs == 2:
        run, outer = block.run, block.outer
        for x in elements(vm, rcv):
            acc = run(outer, acc, x)
        return acc
    for x in elements(vm, rcv):
        acc = vm.send(block, "value:value:", acc, x)
    return acc


@primitive("Collection", "includes:")
def _includes(vm: VM, rcv: Any, value: Any) -> bool:
    if type(rcv) is Obj and rcv.cls.kind in (Kind.SET, Kind.BAG):
        try:
            return norm_key(value) in rcv.data
        except TypeError:
            return False
    return any(st_equal(vm, x, value) for x in elements(vm, rcv))


@primitive("Collection", "identityIncludes:")
def _identity_includes(vm: VM, rcv: Any, value: Any) -> bool:
    return any(vm.identical(x, value) for x in elements(vm, rcv))


@primitive("Collection", "anySatisfy:", "contains:")
def _any_satisfy(vm: VM, rcv: Any, block: Any) -> bool:
    return any(_test(vm, block, x) for x in elements(vm, rcv))


@primitive("Collection", "allSatisfy:")
def _all_satisfy(vm: VM, rcv: Any, block: Any) -> bool:
    return all(_test(vm, block, x) for x in elements(vm, rcv))


@primitive("Collection", "noneSatisfy:")
def _none_satisfy(vm: VM, rcv: Any, block: Any) -> bool:
    return not any(_test(vm, block, x) for x in elements(vm, rcv))


@primitive("Collection", "count:")
def _count(vm: VM, rcv: Any, block: Any) -> int:
    return sum(1 for x in elements(vm, rcv) if _test(vm, block, x))


@primitive("Collection", "occurrencesOf:")
def _occurrences_of(vm: VM, rcv: Any, value: Any) -> int:
    if type(rcv) is Obj and rcv.cls.kind is Kind.BAG:
        return rcv.data.get(norm_key(value), 0)
    return sum(1 for x in elements(vm, rcv) if st_equal(vm, x, value))


def reduce(vm: VM, rcv: Any, selector: str) -> Any:
    items = elements(vm, rcv)
    if not items:
        return empty_error(vm, rcv)
    acc = items[0]
    for x in items[1:]:
        if selector == "+":
            acc = acc + x if type(acc) is int and type(x) is int else vm.send(acc, "+", x)
        elif selector == "max":
            acc = x if vm.send(x, ">", acc) is True else acc
        else:
            acc = x if vm.send(x, "<", acc) is True else acc
    return acc


@primitive("Collection", "sum")
def _sum(vm: VM, rcv: Any) -> Any:
    return reduce(vm, rcv, "+")


@primitive("Collection", "max")
def _max(vm: VM, rcv: Any) -> Any:
    return reduce(vm, rcv, "max")


@primitive("Collection", "min")
def _min(vm: VM, rcv: Any) -> Any:
    return reduce(vm, rcv, "min")


@primitive("Collection", "sum:", "detectSum:")
def _sum_of(vm: VM, rcv: Any, block: Any) -> Any:
    items = elements(vm, rcv)
    if not items:
        return 0
    acc = value1(vm, block, items[0])
    for x in items[1:]:
        acc = vm.send(acc, "+", value1(vm, block, x))
    return acc


@primitive("Collection", "average")
def _average(vm: VM, rcv: Any) -> Any:
    items = elements(vm, rcv)
    if not items:
        return empty_error(vm, rcv)
    return vm.send(reduce(vm, rcv, "+"), "/", len(items))


def _detect_extreme(beats: str) -> Any:
    """detectMax: / detectMin:: the first element whose block value *beats* (``>`` / ``<``) all before it."""

    def detect(vm: VM, rcv: Any, block: Any) -> Any:
        best = best_value = None
        for x in elements(vm, rcv):
            v = value1(vm, block, x)
            if best_value is None or vm.send(v, beats, best_value) is True:
                best, best_value = x, v
        return best

    return detect


primitive("Collection", "detectMax:")(_detect_extreme(">"))
primitive("Collection", "detectMin:")(_detect_extreme("<"))


@primitive("Collection", "size")
def _size(vm: VM, rcv: Any) -> int:
    if type(rcv) is Obj and rcv.cls.kind in (
        Kind.ARRAY,
        Kind.ORDERED,
        Kind.SET,
        Kind.DICT,
        Kind.BYTES,
    ):
        return len(rcv.data)
    return len(elements(vm, rcv))


@primitive("Collection", "isEmpty", "isEmptyOrNil")
def _is_empty(vm: VM, rcv: Any) -> bool:
    return _size(vm, rcv) == 0


@primitive("Collection", "notEmpty", "isNotEmpty")
def _not_empty(vm: VM, rcv: Any) -> bool:
    return _size(vm, rcv) != 0


@primitive("Collection", "ifEmpty:")
def _if_empty(vm: VM, rcv: Any, block: Any) -> Any:
    return cull(vm, block) if _size(vm, rcv) == 0 else rcv


@primitive("Collection", "ifNotEmpty:")
def _if_not_empty(vm: VM, rcv: Any, block: Any) -> Any:
    return cull(vm, block, rcv) if _size(vm, rcv) != 0 else rcv


@primitive("Collection", "ifEmpty:ifNotEmpty:")
def _if_empty_if_not_empty(vm: VM, rcv: Any, empty: Any, not_empty: Any) -> Any:
    return cull(vm, empty) if _size(vm, rcv) == 0 else cull(vm, not_empty, rcv)


@primitive("Collection", "atRandom")
def _collection_at_random(vm: VM, rcv: Any) -> Any:
    items = elements(vm, rcv)
    return vm.random.choice(items) if items else empty_error(vm, rcv)


@primitive("Collection", "anyOne")
def _any_one(vm: VM, rcv: Any) -> Any:
    items = elements(vm, rcv)
    return items[0] if items else empty_error(vm, rcv)


@primitive("Collection", "asArray")
def _as_array(vm: VM, rcv: Any) -> Obj:
    return vm.new_array(list(elements(vm, rcv)))


@primitive("Collection", "asOrderedCollection")
def _as_oc(vm: VM, rcv: Any) -> Obj:
    return new_ordered(vm, list(elements(vm, rcv)))


@primitive("Collection", "asSet")
def _as_set(vm: VM, rcv: Any) -> Obj:
    return Obj(vm.classes["Set"], [], {norm_key(x): None for x in elements(vm, rcv)})


@primitive("Collection", "asBag")
def _as_bag(vm: VM, rcv: Any) -> Obj:
    return _bag_of(vm, list(elements(vm, rcv)))


@primitive("Collection", "asSortedCollection")
def _as_sorted(vm: VM, rcv: Any) -> Obj:
    return _sorted_collection(vm, list(elements(vm, rcv)))


@primitive("Collection", "asSortedCollection:")
def _as_sorted_by(vm: VM, rcv: Any, block: Any) -> Obj:
    return _sorted_collection(vm, list(elements(vm, rcv)), block)


@primitive("Collection", "sorted", "asSortedArray")
def _sorted(vm: VM, rcv: Any) -> Any:
    items = sort_items(vm, list(elements(vm, rcv)))
    return new_like(vm, rcv, items) if _is_sequence(rcv) else vm.new_array(items)


@primitive("Collection", "sorted:")
def _sorted_by(vm: VM, rcv: Any, block: Any) -> Any:
    items = sort_items(vm, list(elements(vm, rcv)), block)
    return new_like(vm, rcv, items) if _is_sequence(rcv) else vm.new_array(items)


def _is_sequence(rcv: Any) -> bool:
    return type(rcv) in (StString, str) or (
        type(rcv) is Obj and rcv.cls.kind in (Kind.ARRAY, Kind.ORDERED, Kind.BYTES)
    )


@primitive("Collection", "asDictionary")
def _as_dictionary(vm: VM, rcv: Any) -> Obj:
    result = Obj(vm.classes["Dictionary"], [], {})
    for assoc in elements(vm, rcv):
        result.data[norm_key(assoc.slots[0])] = assoc.slots[1]
    return result


@primitive("Collection", "do:separatedBy:")
def _do_separated_by(vm: VM, rcv: Any, block: Any, separator: Any) -> Any:
    for i, x in enumerate(elements(vm, rcv)):
        if i:
            cull(vm, separator)
        value1(vm, block, x)
    return rcv


@primitive("Collection", "groupedBy:")
def _grouped_by(vm: VM, rcv: Any, block: Any) -> Obj:
    result = Obj(vm.classes["Dictionary"], [], {})
    for x in elements(vm, rcv):
        key = norm_key(value1(vm, block, x))
        group = result.data.get(key)
        if group is None:
            group = result.data[key] = new_ordered(vm, [])
        group.data.append(x)
    return result


@primitive("Collection", "=")
def _equal(vm: VM, rcv: Any, other: Any) -> bool:
    if rcv is other:
        return True
    if type(other) is not Obj or vm.class_of(rcv) is not vm.class_of(other):
        return False
    if rcv.cls.kind is Kind.DICT:
        return rcv.data.keys() == other.data.keys() and all(
            st_equal(vm, v, other.data[k]) for k, v in rcv.data.items()
        )
    if rcv.cls.kind in (Kind.SET, Kind.BAG):
        return rcv.data == other.data
    a, b = elements(vm, rcv), elements(vm, other)
    return len(a) == len(b) and all(st_equal(vm, x, y) for x, y in zip(a, b, strict=True))


@primitive("Collection", "copyWith:")
def _copy_with(vm: VM, rcv: Any, value: Any) -> Any:
    if (
        type(rcv) is Obj
        and rcv.cls.kind is Kind.ORDERED
        and rcv.cls.builtin_name == "SortedCollection"
    ):
        return new_like(vm, rcv, sort_items(vm, [*rcv.data, value], rcv.slots[0]))
    return new_like(vm, rcv, [*elements(vm, rcv), value])


@primitive("Collection", "copyWithout:")
def _copy_without(vm: VM, rcv: Any, value: Any) -> Any:
    return new_like(vm, rcv, [x for x in elements(vm, rcv) if not st_equal(vm, x, value)])


@primitive("Collection", ",")
def _concatenate(vm: VM, rcv: Any, other: Any) -> Any:
    mine, theirs = elements(vm, rcv), elements(vm, other)
    check_length(len(mine) + len(theirs))
    return new_like(vm, rcv, [*mine, *theirs])


@primitive("Collection", "max:")
def _max_of(vm: VM, rcv: Any, block: Any) -> Any:
    return reduce(
        vm, new_like(vm, rcv, [value1(vm, block, x) for x in elements(vm, rcv)], True), "max"
    )
