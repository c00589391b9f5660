"""ReadStream and WriteStream over strings and arrays.

A stream's data is ``[buffer, position, is_text]``: a write stream's buffer is a list of text chunks (when
``is_text``) or of elements; a read stream's buffer is the list of elements and position the next index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import display_string, print_string
from stui.image.smalltalk.lib_text import text_of
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Block, Char, Obj, StClass, StString

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("new_write_stream",)


def new_write_stream(vm: VM, is_text: bool) -> Obj:
    return Obj(vm.classes["WriteStream"], [], [[], 0, is_text])


@primitive("WriteStream class", "on:", "with:")
def _write_stream_on(vm: VM, cls: StClass, collection: Any) -> Obj:
    stream = Obj(cls, [], [[], 0, text_of(collection) is not None])
    return stream


@primitive("ReadStream class", "on:")
def _read_stream_on(vm: VM, cls: StClass, collection: Any) -> Obj:
    from stui.image.smalltalk.lib_collections import elements

    return Obj(cls, [], [list(elements(vm, collection)), 0, text_of(collection) is not None])


@primitive("Collection", "readStream")
def _read_stream(vm: VM, rcv: Any) -> Obj:
    """``ReadStream on: rcv`` (a stream over a String reads Strings back)."""
    return _read_stream_on(vm, vm.classes["ReadStream"], rcv)


def _write(vm: VM, stream: Obj, text: str) -> None:
    stream.data[0].append(text)


@primitive("WriteStream", "nextPutAll:", "<<")
def _next_put_all(vm: VM, rcv: Obj, value: Any) -> Obj:
    text = text_of(value)
    if rcv.data[2]:
        _write(vm, rcv, text if text is not None else display_string(vm, value))
    else:
        from stui.image.smalltalk.lib_collections import elements

        rcv.data[0].extend(elements(vm, value))
    return rcv


@primitive("WriteStream", "nextPut:")
def _next_put(vm: VM, rcv: Obj, value: Any) -> Any:
    if rcv.data[2]:
        if type(value) is not Char:
            return vm.signal_error("Error", "Improper store into indexable object")
        _write(vm, rcv, value.ch)
    else:
        rcv.data[0].append(value)
    return value


@primitive("WriteStream", "print:")
def _stream_print(vm: VM, rcv: Obj, value: Any) -> Obj:
    _write(vm, rcv, print_string(vm, value))
    return rcv


@primitive("WriteStream", "display:")
def _stream_display(vm: VM, rcv: Obj, value: Any) -> Obj:
    _write(vm, rcv, display_string(vm, value))
    return rcv


@primitive("WriteStream", "cr")
def _stream_cr(vm: VM, rcv: Obj) -> Obj:
    _write(vm, rcv, "\r")
    return rcv


@primitive("WriteStream", "lf")
def _stream_lf(vm: VM, rcv: Obj) -> Obj:
    _write(vm, rcv, "\n")
    return rcv


@primitive("WriteStream", "tab")
def _stream_tab(vm: VM, rcv: Obj) -> Obj:
    _write(vm, rcv, "\t")
    return rcv


@primitive("WriteStream", "space")
def _stream_space(vm: VM, rcv: Obj) -> Obj:
    _write(vm, rcv, " ")
    return rcv


@primitive("WriteStream", "contents")
def _stream_contents(vm: VM, rcv: Obj) -> Any:
    if rcv.data[2]:
        return StString("".join(rcv.data[0]))
    return vm.new_array(list(rcv.data[0]))


def _read_part(vm: VM, items: list[Any], is_text: bool) -> Any:
    """Elements read from a stream, as a String for a stream over text, else as an Array."""
    return StString("".join(c.ch for c in items)) if is_text else vm.new_array(items)


@primitive("ReadStream", "next")
def _stream_next(vm: VM, rcv: Obj) -> Any:
    items, pos, _ = rcv.data
    if pos >= len(items):
        return None
    rcv.data[1] = pos + 1
    return items[pos]


@primitive("ReadStream", "next:")
def _stream_next_n(vm: VM, rcv: Obj, n: int) -> Any:
    items, pos, is_text = rcv.data
    chunk = items[pos : pos + n]
    rcv.data[1] = pos + len(chunk)
    return _read_part(vm, chunk, is_text)


@primitive("ReadStream", "peek")
def _stream_peek(vm: VM, rcv: Obj) -> Any:
    items, pos, _ = rcv.data
    return items[pos] if pos < len(items) else None


@primitive("ReadStream", "atEnd")
def _stream_at_end(vm: VM, rcv: Obj) -> bool:
    return rcv.data[1] >= len(rcv.data[0])


@primitive("ReadStream", "skip:")
def _stream_skip(vm: VM, rcv: Obj, n: int) -> Obj:
    rcv.data[1] = max(0, min(len(rcv.data[0]), rcv.data[1] + n))
    return rcv


@primitive("ReadStream", "upToEnd")
def _stream_up_to_end(vm: VM, rcv: Obj) -> Any:
    items, pos, is_text = rcv.data
    rcv.data[1] = len(items)
    rest = items[pos:]
    return _read_part(vm, rest, is_text)


@primitive("ReadStream", "upTo:")
def _stream_up_to(vm: VM, rcv: Obj, stop: Any) -> Any:
    items, pos, is_text = rcv.data
    out = []
    while pos < len(items):
        item = items[pos]
        pos += 1
        if item == stop:
            break
        out.append(item)
    rcv.data[1] = pos
    return _read_part(vm, out, is_text)


@primitive("PositionableStream", "position")
def _stream_position(vm: VM, rcv: Obj) -> int:
    buffer, position, is_text = rcv.data
    if rcv.cls.name == "ReadStream":
        return position
    return sum(map(len, buffer)) if is_text else len(buffer)


@primitive("PositionableStream", "reset")
def _stream_reset(vm: VM, rcv: Obj) -> Obj:
    rcv.data[1] = 0
    return rcv


@primitive("String class", "streamContents:")
def _string_stream_contents(vm: VM, cls: StClass, block: Block) -> StString:
    stream = new_write_stream(vm, True)
    block.call(stream)
    return StString("".join(stream.data[0]))
