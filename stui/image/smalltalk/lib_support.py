"""Association, Point, Message and the Transcript (whose output goes to the running evaluation's
callback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import as_text, display_string, print_string
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Char, Obj, StClass, StString

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("make_point",)


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
