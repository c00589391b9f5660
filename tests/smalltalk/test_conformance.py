"""The conformance table: every expression must print as Pharo prints it (or fail with its error)."""

from __future__ import annotations

import pytest

from stui.image.smalltalk import Failure, SmalltalkImage, Success
from tests.smalltalk.conformance_table import ALL, Row
from tests.smalltalk.library_table import LIBRARY


def run_row(source: str | tuple[tuple[int, str], ...]) -> Success | Failure:
    image = SmalltalkImage("conformance")
    workspaces = {1: image.new_workspace(), 2: image.new_workspace()}
    steps = ((1, source),) if isinstance(source, str) else source
    outcome: Success | Failure | None = None
    for number, text in steps:
        outcome = workspaces[number].evaluate(text, max_slices=200)
    assert outcome is not None
    return outcome


def check(outcome: Success | Failure, expected: str) -> None:
    if not expected.startswith("!"):
        assert isinstance(outcome, Success), outcome
        assert outcome.print_string == expected
        return
    assert isinstance(outcome, Failure), outcome
    spec = expected[1:]
    error_class, _, rest = spec.partition("|")
    assert outcome.error_class == error_class, outcome
    if rest:
        text, _, position = rest.partition("@")
        assert outcome.message_text == text, outcome
        if position:
            assert outcome.position == int(position), outcome


def test_table_is_big_enough() -> None:
    assert len(ALL) >= 300
    sources = [row[0] for row in ALL]
    assert len(set(sources)) == len(sources), "duplicate rows"


@pytest.mark.parametrize(("source", "expected"), ALL, ids=[str(i) for i in range(len(ALL))])
def test_conformance(source: Row, expected: str) -> None:
    check(run_row(source), expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "expected"), LIBRARY, ids=[f"lib{i}" for i in range(len(LIBRARY))]
)
def test_library(source: Row, expected: str) -> None:
    check(run_row(source), expected)  # type: ignore[arg-type]
