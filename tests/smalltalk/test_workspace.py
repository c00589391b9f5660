"""Workspaces: variables, isolation, handles, inspection and completion."""

from __future__ import annotations

import pytest

from stui.image.smalltalk import (
    InspectionData,
    SlotData,
    SmalltalkImage,
    Success,
    UnknownHandle,
    Workspace,
)


def value(ws: Workspace, source: str) -> Success:
    outcome = ws.evaluate(source)
    assert isinstance(outcome, Success), outcome
    return outcome


@pytest.fixture
def ws() -> Workspace:
    return SmalltalkImage("ws").new_workspace()


def test_variables_live_in_their_workspace_only() -> None:
    image = SmalltalkImage("iso")
    one, two = image.new_workspace(), image.new_workspace()
    value(one, "x := 42. y := 1")
    assert one.variables == ("x", "y")
    assert two.variables == ()
    assert value(two, "x").print_string == "nil"
    value(two, "Smalltalk at: #Shared put: 7")
    assert value(one, "Shared + x").print_string == "49"


def test_images_are_isolated() -> None:
    a, b = SmalltalkImage("a").new_workspace(), SmalltalkImage("b").new_workspace()
    value(
        a, "Object subclass: #OnlyInA instanceVariableNames: '' classVariableNames: '' package: 'T'"
    )
    value(a, "Integer compile: 'double ^self * 2'")
    assert value(a, "21 double").print_string == "42"
    assert value(b, "OnlyInA").print_string == "nil"
    assert b.evaluate("21 double").error_class == "MessageNotUnderstood"  # type: ignore[union-attr]


def test_handles_for_immediates_are_none(ws: Workspace) -> None:
    for source in ("nil", "true", "3", "$a", "SmallInteger maxVal"):
        assert value(ws, source).handle is None
    assert value(ws, "SmallInteger maxVal + 1").handle is not None
    assert value(ws, "1.5").handle is not None


def test_same_object_same_handle(ws: Workspace) -> None:
    value(ws, "obj := Object new")
    first = value(ws, "obj").handle
    assert first is not None and value(ws, "obj").handle == first
    assert value(ws, "Object new").handle != first


def test_handle_registry_is_capped() -> None:
    image = SmalltalkImage("cap", handle_limit=3)
    ws = image.new_workspace()
    handles = [value(ws, f"Array with: {i}").handle for i in range(5)]
    assert all(h is not None for h in handles)
    with pytest.raises(UnknownHandle):
        ws.inspect(handles[0])  # type: ignore[arg-type]
    assert ws.inspect(handles[-1]).print_string == "#(4)"  # type: ignore[arg-type]


def test_unknown_handle_is_a_lookup_error(ws: Workspace) -> None:
    with pytest.raises(LookupError):
        ws.inspect(12345)


def test_inspect_user_object(ws: Workspace) -> None:
    value(
        ws,
        "Object subclass: #Account instanceVariableNames: 'balance owner' classVariableNames: '' package: 'T'",
    )
    value(ws, "Account compile: 'setUp balance := 10. owner := ''ann'''")
    handle = value(ws, "Account new setUp; yourself").handle
    assert handle is not None
    data = ws.inspect(handle)
    assert isinstance(data, InspectionData)
    assert (data.class_name, data.print_string, data.handle) == ("Account", "an Account", handle)
    assert data.named[0] == ("balance", SlotData("10", "SmallInteger", None))
    name, owner = data.named[1]
    assert name == "owner" and owner.print_string == "'ann'" and owner.handle is not None
    assert ws.inspect(owner.handle).indexed[0] == ("1", SlotData("$a", "Character", None))
    assert data.indexed == () and data.indexed_size == 0


def test_inspect_collections(ws: Workspace) -> None:
    arr = ws.inspect(value(ws, "(1 to: 500) asArray").handle)  # type: ignore[arg-type]
    assert arr.indexed_size == 500 and len(arr.indexed) == 100
    assert arr.indexed[2] == ("3", SlotData("3", "SmallInteger", None))
    oc = ws.inspect(value(ws, "OrderedCollection new add: 'x'; yourself").handle)  # type: ignore[arg-type]
    assert oc.indexed[0][1].class_name == "ByteString"
    d = ws.inspect(value(ws, "Dictionary new at: #k put: 3; yourself").handle)  # type: ignore[arg-type]
    assert d.indexed == (("#k", SlotData("3", "SmallInteger", None)),)
    assert d.indexed_size == 1


def test_inspect_depth_zero_describes_the_object_alone(ws: Workspace) -> None:
    for source in (
        "Object subclass: #Slow instanceVariableNames: '' classVariableNames: '' package: 'T'",
        "Slow compile: 'printOn: aStream [true] whileTrue'",
        "Dictionary subclass: #Dict instanceVariableNames: '' classVariableNames: '' package: 'T'",
        "Dict compile: 'printOn: aStream aStream nextPutAll: ''a Dict'''",
        "d := Dict new. d at: Slow new put: 1; at: #k put: 2. nil",
        "Object subclass: #Box instanceVariableNames: 'item' classVariableNames: '' package: 'T'",
        "Box compile: 'printOn: aStream aStream nextPutAll: ''a Box'''",
        "Box compile: 'item: x item := x'",
        "b := Box new item: Slow new; yourself. nil",
    ):
        value(ws, source)
    box = ws.register(ws.vars["b"])
    dict_handle = ws.register(ws.vars["d"])
    assert box is not None and dict_handle is not None
    # Depth 0 prints no slot and no key, so neither Slow's printOn: runs here.
    shallow = ws.inspect(box, depth=0)
    assert (shallow.print_string, shallow.named, shallow.indexed) == ("a Box", (), ())
    d = ws.inspect(dict_handle, depth=0)
    assert (d.print_string, d.indexed, d.indexed_size) == ("a Dict", (), 2)
    point = value(ws, "3 @ 4").handle
    assert point is not None and ws.inspect(point, depth=0).named == ()
    assert ws.inspect(point, depth=5) == ws.inspect(point, depth=1)
    assert len(ws.inspect(point, depth=1).named) == 2
    data = ws.start_inspection(box, depth=0).resume(1.0)
    assert isinstance(data, InspectionData) and data.named == ()
    for handle in (box, dict_handle):  # depth 1 prints the Slow slot / the Slow key, which loops
        looping = ws.start_inspection(handle, depth=1)
        assert looping.resume(0.001) is None
        looping.interrupt()
        assert looping.resume().error_class == "Interrupted"  # type: ignore[union-attr]


def test_inspect_other_shapes(ws: Workspace) -> None:
    frac = ws.inspect(value(ws, "3/4").handle)  # type: ignore[arg-type]
    assert [n for n, _ in frac.named] == ["numerator", "denominator"]
    cls = ws.inspect(value(ws, "OrderedCollection").handle)  # type: ignore[arg-type]
    assert cls.class_name == "OrderedCollection class"
    assert dict(cls.named)["superclass"].print_string == "SequenceableCollection"
    pt = ws.inspect(value(ws, "3 @ 4").handle)  # type: ignore[arg-type]
    assert [(n, s.print_string) for n, s in pt.named] == [("x", "3"), ("y", "4")]
    sym = ws.inspect(value(ws, "#ab").handle)  # type: ignore[arg-type]
    assert sym.indexed_size == 2


def test_complete_names(ws: Workspace) -> None:
    value(ws, "counter := 0. count2 := 1")
    start, items = ws.complete("coun", 4)
    assert start == 0
    assert items[:2] == [("counter", "variable"), ("count2", "variable")]
    start, items = ws.complete("x := Ordered", 12)
    assert start == 5
    assert ("OrderedCollection", "class") in items
    _, items = ws.complete("Trans", 5)
    assert items == [("Transcript", "global")]
    _, items = ws.complete("#(1 2) inject: 0 into: se", 25)
    assert ("self", "variable") in items


def test_complete_selectors(ws: Workspace) -> None:
    start, items = ws.complete("3 facto", 7)
    assert start == 2 and ("factorial", "selector") in items
    _, items = ws.complete("Transcript sh", 13)
    assert ("show:", "keyword") in items
    value(ws, "coll := OrderedCollection new")
    _, items = ws.complete("coll addF", 9)
    assert items == [("addFirst:", "keyword")]
    _, items = ws.complete("(3 + 4) isPri", 13)
    assert ("isPrime", "selector") in items
    _, items = ws.complete("Object ne", 9)
    assert ("new", "selector") in items


def test_complete_with_cursor_in_the_middle(ws: Workspace) -> None:
    start, items = ws.complete("Obj new", 3)
    assert start == 0 and ("Object", "class") in items


def test_evaluate_gives_up_after_max_slices(ws: Workspace) -> None:
    outcome = ws.evaluate("[true] whileTrue", max_slices=2)
    assert outcome.error_class == "Timeout"  # type: ignore[union-attr]


def test_image_accessors() -> None:
    image = SmalltalkImage("acc")
    assert image.name == "acc"
    assert image.globals["Object"] is image.vm.classes["Object"]
    names = image.class_names()
    assert names == sorted(names) and "OrderedCollection" in names and "Object class" not in names


def test_sliced_inspection(ws: Workspace) -> None:
    value(
        ws, "Object subclass: #Slow instanceVariableNames: 'a' classVariableNames: '' package: 'T'"
    )
    value(ws, "Slow compile: 'printOn: aStream [true] whileTrue'")
    handle = value(ws, "Array with: 1").handle
    ev = ws.start_inspection(handle)  # type: ignore[arg-type]
    data = ev.resume(1.0)
    assert isinstance(data, InspectionData) and data.print_string == "#(1)"
    slow = ws.start("Slow new")
    assert slow.resume(0.001) is None  # printing the result loops
    slow.interrupt()
    assert slow.resume().error_class == "Interrupted"  # type: ignore[union-attr]
    # Register a Slow instance without printing it, then inspect it in slices.
    ws.vars["s"] = None
    value(ws, "s := Slow new. nil")
    slow_handle = ws.register(ws.vars["s"])
    assert slow_handle is not None
    ev = ws.start_inspection(slow_handle)
    assert ev.resume(0.001) is None
    ev.interrupt("Timeout")
    assert ev.resume().error_class == "Timeout"  # type: ignore[union-attr]
    missing = ws.start_inspection(999999).resume()
    assert missing.error_class == "UnknownHandle"  # type: ignore[union-attr]
    value(ws, "Slow compile: 'printOn: aStream self error: ''broken'''")
    broken = ws.start_inspection(slow_handle).resume(1.0)
    assert (broken.error_class, broken.message_text) == ("Error", "broken")  # type: ignore[union-attr]
