"""The image keeps the syntax trees of recent do-its by source text (parsing only, never compiling):
a repeated do-it sees every change made since it last ran, exactly as if it were parsed afresh."""

from __future__ import annotations

import pytest

from stui.image.smalltalk import Failure, SmalltalkImage, Success
from stui.image.smalltalk.runtime import DOIT_TREE_CHARS, DOIT_TREE_MAX_SOURCE, DOIT_TREES


@pytest.fixture
def image() -> SmalltalkImage:
    return SmalltalkImage("trees")


def printed(image: SmalltalkImage, ws: object, source: str) -> str:
    outcome = ws.evaluate(source)  # type: ignore[attr-defined]
    assert isinstance(outcome, Success), outcome
    return outcome.print_string


def test_a_repeated_do_it_reuses_its_tree(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    assert printed(image, ws, "3 + 4") == "7"
    tree = image.vm.doit_trees["3 + 4"]
    assert printed(image, ws, "3 + 4") == "7"
    assert image.vm.doit_trees["3 + 4"] is tree


def test_names_are_resolved_afresh_each_time(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    assert printed(image, ws, "x") == "nil"  # not a workspace variable yet
    assert printed(image, ws, "x := 3") == "3"
    assert printed(image, ws, "x") == "3"
    other = image.new_workspace()  # the same text in another workspace: its own variables
    assert printed(image, other, "x") == "nil"
    assert printed(image, ws, "Smalltalk at: #Gv put: 1") == "1"
    assert printed(image, ws, "Gv") == "1"
    assert printed(image, ws, "Smalltalk at: #Gv put: 2") == "2"
    assert printed(image, ws, "Gv") == "2"


def test_classes_and_methods_defined_or_changed_later_are_seen(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    outcome = ws.evaluate("Later new answer")
    assert isinstance(outcome, Failure) and outcome.error_class == "MessageNotUnderstood"
    ws.evaluate(
        "Object subclass: #Later instanceVariableNames: '' classVariableNames: '' package: 'T'"
    )
    ws.evaluate("Later compile: 'answer ^42'")
    assert printed(image, ws, "Later new answer") == "42"
    ws.evaluate("Later compile: 'answer ^43'")
    assert printed(image, ws, "Later new answer") == "43"
    ws.evaluate("Later removeSelector: #answer")
    outcome = ws.evaluate("Later new answer")
    assert isinstance(outcome, Failure) and outcome.selector == "answer"


def test_literals_and_temporaries_are_fresh_in_every_run(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    for _ in range(3):
        assert printed(image, ws, "| s | s := 'abc'. s at: 1 put: $z. s") == "'zbc'"
        assert printed(image, ws, "#(1 2 3) at: 1 put: 9; yourself") == "#(9 2 3)"
        assert printed(image, ws, "| c | c := OrderedCollection new. c add: 1. c size") == "1"
        assert printed(image, ws, "| t | t isNil") == "true"
        assert printed(image, ws, "| t | t := 5") == "5"


def test_syntax_errors_are_reported_every_time_and_not_kept(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    for _ in range(2):
        outcome = ws.evaluate("3 +")
        assert isinstance(outcome, Failure) and outcome.error_class == "SyntaxError"
        assert outcome.position == 3
    assert "3 +" not in image.vm.doit_trees


def test_the_trees_kept_are_bounded(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    for n in range(DOIT_TREES + 10):
        assert printed(image, ws, f"{n} + 0") == str(n)
    trees = image.vm.doit_trees
    assert len(trees) == DOIT_TREES
    assert "0 + 0" not in trees and f"{DOIT_TREES + 9} + 0" in trees
    long_source = "1. " * (DOIT_TREE_MAX_SOURCE // 3 + 1) + "2"
    assert len(long_source) > DOIT_TREE_MAX_SOURCE
    assert printed(image, ws, long_source) == "2"
    assert long_source not in trees


def test_the_characters_kept_are_bounded(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    sources = [f"{n}. " + "1. " * (DOIT_TREE_MAX_SOURCE // 3 - 2) + "2" for n in range(40)]
    for source in sources:
        assert len(source) <= DOIT_TREE_MAX_SOURCE
        assert printed(image, ws, source) == "2"
    trees = image.vm.doit_trees
    assert sum(len(s) for s in trees) <= DOIT_TREE_CHARS
    assert sources[-1] in trees and sources[0] not in trees
    assert len(trees) == DOIT_TREE_CHARS // len(sources[-1])
