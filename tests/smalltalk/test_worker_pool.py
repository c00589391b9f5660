"""Evaluations run on pooled worker greenlets: a worker reused after any kind of ending behaves
like a fresh one (VM state, ensure: blocks, recursion depth, Transcript), and keeps nothing alive."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from stui.image.smalltalk import Failure, SmalltalkImage, Success
from stui.image.smalltalk.evaluation import MAX_IDLE_WORKERS

SEVEN = Success("7", "7", "SmallInteger", None, False)


@pytest.fixture
def image() -> SmalltalkImage:
    return SmalltalkImage("pool")


def idle(image: SmalltalkImage) -> list[object]:
    return list(getattr(image.idle_workers, "workers", []))


def assert_clean(image: SmalltalkImage) -> None:
    vm = image.vm
    assert vm.depth == 0 and vm.handlers is None and vm.yield_to is None
    assert vm.interrupt_reason is None and vm.transcript is None


def test_a_finished_evaluation_gives_its_worker_back(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    assert ws.evaluate("3 + 4") == SEVEN
    (worker,) = idle(image)
    assert ws.evaluate("3 + 4") == SEVEN
    assert idle(image) == [worker]
    assert_clean(image)


@pytest.mark.parametrize(
    ("source", "error_class"),
    [
        ("1/0", "ZeroDivide"),
        ("nil foo", "MessageNotUnderstood"),
        ("3 +", "SyntaxError"),
        ("Error signal: 'x'", "Error"),
        ("| b | b := [:x | ^x]. b", None),  # answers a block whose home is gone
    ],
)
def test_a_worker_reused_after_a_failure_runs_the_next_evaluation_normally(
    image: SmalltalkImage, source: str, error_class: str | None
) -> None:
    ws = image.new_workspace()
    outcome = ws.evaluate(source)
    if error_class is not None:
        assert isinstance(outcome, Failure) and outcome.error_class == error_class
    (worker,) = idle(image)
    seen: list[str] = []
    outcome = ws.evaluate(
        "[Transcript show: 'body'. 3 + 4] ensure: [Transcript show: ' ensure']", seen.append
    )
    assert outcome == SEVEN
    assert seen == ["body", " ensure"]
    assert idle(image) == [worker]
    assert_clean(image)


def test_a_worker_reused_after_an_interrupt_runs_ensure_blocks_of_the_next_one(
    image: SmalltalkImage,
) -> None:
    ws = image.new_workspace()
    first: list[str] = []
    ev = ws.start("[[true] whileTrue] ensure: [Transcript show: 'first']", first.append)
    assert ev.resume(0.001) is None
    ev.interrupt()
    outcome = ev.resume(0.5)
    assert isinstance(outcome, Failure) and outcome.error_class == "Interrupted"
    assert first == ["first"]
    (worker,) = idle(image)

    second: list[str] = []
    ev = ws.start("[[true] whileTrue] ensure: [Transcript show: 'second']", second.append)
    assert ev.resume(0.001) is None
    assert idle(image) == []  # the worker is busy with it
    ev.interrupt("Timeout")
    outcome = ev.resume(0.5)
    assert isinstance(outcome, Failure) and outcome.error_class == "Timeout"
    assert first == ["first"] and second == ["second"]
    assert idle(image) == [worker]
    assert ws.evaluate("3 + 4") == SEVEN
    assert_clean(image)


def test_closed_and_collected_evaluations_give_their_workers_back(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    seen: list[str] = []
    ev = ws.start("[[true] whileTrue] ensure: [Transcript show: 'closed']", seen.append)
    assert ev.resume(0.001) is None
    ev.close()
    assert seen == ["closed"] and len(idle(image)) == 1
    ev = ws.start("[[true] whileTrue] ensure: [Transcript show: ' collected']", seen.append)
    assert ev.resume(0.001) is None
    assert idle(image) == []
    del ev
    gc.collect()
    assert seen == ["closed", " collected"] and len(idle(image)) == 1
    assert ws.evaluate("3 + 4") == SEVEN
    assert_clean(image)


def test_stack_overflow_on_a_reused_worker_then_deep_recursion_still_works(
    image: SmalltalkImage,
) -> None:
    ws = image.new_workspace()
    ws.evaluate(
        "Object subclass: #Deep instanceVariableNames: '' classVariableNames: '' package: 'T'"
    )
    ws.evaluate("Deep compile: 'down: n ^(self down: n + 1) + 1'")
    ws.evaluate("Deep class compile: 'sum: n n = 0 ifTrue: [^0]. ^n + (self sum: n - 1)'")
    for _ in range(3):  # the same worker overflows again and again
        outcome = ws.evaluate("Deep new down: 1")
        assert isinstance(outcome, Failure) and outcome.error_class == "StackOverflow"
        assert outcome.stack[0] == "Deep>>down:"
        assert len(idle(image)) == 1
        assert_clean(image)
    depth = min(image.vm.max_depth - 10, 1000)
    outcome = ws.evaluate(f"Deep sum: {depth}")
    assert outcome == Success(*[str(depth * (depth + 1) // 2)] * 2, "SmallInteger", None, False)


def test_interleaved_evaluations_use_separate_workers_and_the_pool_is_bounded(
    image: SmalltalkImage,
) -> None:
    count = MAX_IDLE_WORKERS + 2
    outputs: list[list[str]] = [[] for _ in range(count)]
    evaluations = [
        image.new_workspace().start(
            f"| s | s := 0. 1 to: 20000 do: [:i | s := s + 1]. Transcript show: '{n}'. s + {n}",
            outputs[n].append,
        )
        for n in range(count)
    ]
    outcomes: dict[int, object] = {}
    while len(outcomes) < count:
        for n, ev in enumerate(evaluations):
            if n not in outcomes and (outcome := ev.resume(0.0002)) is not None:
                outcomes[n] = outcome
    for n in range(count):
        assert outcomes[n] == Success(*[str(20000 + n)] * 2, "SmallInteger", None, False)
        assert outputs[n] == [str(n)]
    assert len(idle(image)) == MAX_IDLE_WORKERS
    assert_clean(image)


def test_an_idle_worker_keeps_no_workspace_alive(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    outcome = ws.evaluate("Object new")
    assert isinstance(outcome, Success) and len(idle(image)) == 1
    gone = weakref.ref(ws)  # it holds the result (its handle registry)
    del ws
    gc.collect()
    assert gone() is None


def test_a_body_that_raises_past_the_evaluator_ends_its_worker_only(
    image: SmalltalkImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = image.new_workspace()
    assert ws.evaluate("3 + 4") == SEVEN
    (worker,) = idle(image)

    def stop(*args: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(image.vm, "compile_doit", lambda source, ws: stop)
        ev = ws.start("3")
        with pytest.raises(KeyboardInterrupt):
            ev.resume()
        ev.close()  # the dead worker: nothing to unwind, never raises
    assert idle(image) == []
    assert ws.evaluate("3 + 4") == SEVEN
    (fresh,) = idle(image)
    assert fresh is not worker
    assert_clean(image)


def test_each_thread_has_its_own_workers(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    assert ws.evaluate("3 + 4") == SEVEN
    mine = idle(image)
    outcomes: list[object] = []
    theirs: list[object] = []

    def other() -> None:
        outcomes.append(image.new_workspace().evaluate("3 + 4"))
        theirs.extend(idle(image))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert outcomes == [SEVEN]
    assert len(theirs) == 1 and theirs[0] not in mine
    assert idle(image) == mine
    assert ws.evaluate("3 + 4") == SEVEN
