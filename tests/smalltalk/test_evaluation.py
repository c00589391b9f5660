"""Evaluation in time slices: resumable, interruptible, transcript streaming, depth and size limits."""

from __future__ import annotations

import sys
import time

import pytest

from stui.image.smalltalk import EvaluationState, Failure, SmalltalkImage, Success


@pytest.fixture
def image() -> SmalltalkImage:
    return SmalltalkImage("test")


def test_infinite_loop_is_resumable_and_interruptible(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("[true] whileTrue")
    for _ in range(5):
        started = time.perf_counter()
        assert ev.resume(slice_seconds=0.002) is None
        assert time.perf_counter() - started < 2.0
    assert ev.state is EvaluationState.SUSPENDED
    ev.interrupt("Interrupted")
    outcome = ev.resume(slice_seconds=0.002)
    assert isinstance(outcome, Failure)
    assert outcome.error_class == "Interrupted"
    assert ev.state is EvaluationState.FINISHED
    assert ev.resume() is outcome


def test_timeout_reason_is_reported(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("| n | n := 0. [n := n + 1] repeat")
    assert ev.resume(0.001) is None
    ev.interrupt("Timeout")
    outcome = ev.resume(0.001)
    assert isinstance(outcome, Failure)
    assert outcome.error_class == "Timeout"
    assert "time budget" in outcome.message_text


def test_interrupt_before_first_slice(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("3 + 4")
    ev.interrupt()
    outcome = ev.resume()
    assert isinstance(outcome, Failure) and outcome.error_class == "Interrupted"


def test_interrupt_after_finish_is_ignored(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("3 + 4")
    outcome = ev.resume(1.0)
    ev.interrupt()
    assert ev.resume() == outcome == Success("7", "7", "SmallInteger", None, False)


def test_transcript_output_arrives_before_the_evaluation_ends(image: SmalltalkImage) -> None:
    seen: list[str] = []
    ev = image.new_workspace().start(
        "Transcript show: 'started'; cr. [true] whileTrue", transcript=seen.append
    )
    assert ev.resume(0.002) is None
    assert "".join(seen) == "started\n"
    ev.interrupt()
    assert isinstance(ev.resume(), Failure)


def test_transcript_protocol(image: SmalltalkImage) -> None:
    seen: list[str] = []
    ws = image.new_workspace()
    source = "Transcript show: 'a'; tab; space; print: 'q'; display: 'd'; cr; show: 42; nextPutAll: 'x'; nextPut: $y"
    assert isinstance(ws.evaluate(source, transcript=seen.append), Success)
    assert "".join(seen) == "a\t 'q'd\n42xy"


def test_long_loop_yields_many_times_then_finishes(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("| s | s := 0. 1 to: 300000 do: [:i | s := s + i]. s")
    slices = 0
    while (outcome := ev.resume(0.0005)) is None:
        slices += 1
    assert slices >= 2
    assert isinstance(outcome, Success) and outcome.print_string == str(sum(range(300001)))


def test_two_evaluations_interleave_without_sharing_state(image: SmalltalkImage) -> None:
    a = image.new_workspace().start(
        "[| s | s := 0. 1 to: 200000 do: [:i | s := s + i]. s] on: ZeroDivide do: [:e | -1]"
    )
    b = image.new_workspace().start(
        "| n | n := 0. 1 to: 100000 do: [:i | n := n + ([i \\\\ 1000 = 0 ifTrue: [1/0]. 0] on: ZeroDivide do: [:e | 1])]. n"
    )
    outcomes: dict[str, object] = {}
    while len(outcomes) < 2:
        for name, ev in (("a", a), ("b", b)):
            if name not in outcomes and (out := ev.resume(0.0003)) is not None:
                outcomes[name] = out
    assert outcomes["a"] == Success("20000100000", "20000100000", "SmallInteger", None, False)
    assert outcomes["b"] == Success("100", "100", "SmallInteger", None, False)
    assert image.vm.depth == 0 and image.vm.handlers is None


def test_close_unwinds_a_suspended_evaluation(image: SmalltalkImage) -> None:
    seen: list[str] = []
    ev = image.new_workspace().start(
        "[[true] whileTrue] ensure: [Transcript show: 'cleanup']", transcript=seen.append
    )
    assert ev.resume(0.001) is None
    ev.close()
    assert seen == ["cleanup"]
    outcome = ev.outcome
    assert isinstance(outcome, Failure) and outcome.error_class == "Interrupted"
    ev.close()  # idempotent
    assert ev.outcome is outcome and seen == ["cleanup"]
    assert image.vm.depth == 0 and image.vm.handlers is None


def test_close_of_an_unstarted_evaluation(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("3")
    ev.close()
    assert isinstance(ev.outcome, Failure) and ev.outcome.error_class == "Interrupted"


def test_deep_recursion_is_a_smalltalk_error(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    ws.evaluate(
        "Object subclass: #Deep instanceVariableNames: '' classVariableNames: '' package: 'T'"
    )
    ws.evaluate("Deep compile: 'down: n ^(self down: n + 1) + 1'")
    outcome = ws.evaluate("Deep new down: 1")
    assert isinstance(outcome, Failure)
    assert outcome.error_class == "StackOverflow"
    assert outcome.stack[0] == "Deep>>down:"
    # The image is still fine afterwards.
    assert image.vm.depth == 0
    assert ws.evaluate("Deep new class").print_string == "Deep"
    assert ws.evaluate("3 + 4") == Success("7", "7", "SmallInteger", None, False)
    assert image.vm.depth == 0


def test_recursion_through_blocks_is_caught_too(image: SmalltalkImage) -> None:
    outcome = image.new_workspace().evaluate(
        "| b | b := nil. b := [:n | (b value: n + 1) + 1]. b value: 1"
    )
    assert isinstance(outcome, Failure) and outcome.error_class == "StackOverflow"


def test_python_recursion_limit_is_a_fallback() -> None:
    image = SmalltalkImage("deep", max_depth=sys.getrecursionlimit() * 10)
    ws = image.new_workspace()
    ws.evaluate(
        "Object subclass: #Deep instanceVariableNames: '' classVariableNames: '' package: 'T'"
    )
    ws.evaluate("Deep compile: 'down: n ^(self down: n + 1) + 1'")
    outcome = ws.evaluate("Deep new down: 1")
    assert isinstance(outcome, Failure) and outcome.error_class == "StackOverflow"
    assert ws.evaluate("#(1 2) size") == Success("2", "2", "SmallInteger", None, False)


@pytest.mark.parametrize("source", ["(" * 5000 + "1" + ")" * 5000, "[" * 5000 + "1" + "]" * 5000])
def test_code_nested_too_deeply_to_compile_is_a_stack_overflow(
    image: SmalltalkImage, source: str
) -> None:
    outcome = image.new_workspace().evaluate(source)
    assert isinstance(outcome, Failure) and outcome.error_class == "StackOverflow"
    assert "compile" in outcome.message_text


def test_reasonable_recursion_depth_works(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    ws.evaluate("Object subclass: #M instanceVariableNames: '' classVariableNames: '' package: 'T'")
    ws.evaluate("M class compile: 'sum: n n = 0 ifTrue: [^0]. ^n + (self sum: n - 1)'")
    assert image.vm.max_depth >= 100
    outcome = ws.evaluate("M sum: 100")
    assert isinstance(outcome, Success) and outcome.print_string == "5050"


def test_huge_results_are_truncated() -> None:
    image = SmalltalkImage("small", print_limit=100)
    outcome = image.new_workspace().evaluate("(1 to: 100000) asArray")
    assert isinstance(outcome, Success)
    assert outcome.truncated
    assert outcome.print_string.endswith("...(truncated)")
    assert len(outcome.print_string) == 100 + len("...(truncated)")
    assert outcome.print_string.startswith("#(1 2 3 ")


def test_huge_results_print_only_as_far_as_the_limit(image: SmalltalkImage) -> None:
    """Printing stops at the print limit: an element far past it is never printed (its printOn: would
    fail), so a huge result costs what its first few thousand characters cost."""
    ws = image.new_workspace()
    for source in (
        "Object subclass: #Bomb instanceVariableNames: '' classVariableNames: '' package: 'T'",
        "Bomb compile: 'printOn: aStream self error: ##printed past the limit##'",
    ):
        assert isinstance(ws.evaluate(source.replace("##", "''")), Success)
    outcome = ws.evaluate("(1 to: 200000) asOrderedCollection addLast: Bomb new; yourself")
    assert isinstance(outcome, Success) and outcome.truncated
    assert len(outcome.print_string) <= image.print_limit + 20
    assert outcome.print_string.startswith("an OrderedCollection(1 2 3 ")


def test_self_containing_collection_prints(image: SmalltalkImage) -> None:
    outcome = image.new_workspace().evaluate("| c | c := OrderedCollection new. c add: c. c")
    assert isinstance(outcome, Success)
    assert outcome.print_string.startswith("an OrderedCollection(an OrderedCollection(")
    assert "..." in outcome.print_string


def test_failure_details_for_does_not_understand(image: SmalltalkImage) -> None:
    outcome = image.new_workspace().evaluate("nil foo: 3")
    assert outcome == Failure(
        "MessageNotUnderstood",
        "UndefinedObject>>foo:",
        selector="foo:",
        receiver_class="UndefinedObject",
        stack=("UndefinedObject>>DoIt",),
    )


def test_syntax_error_details(image: SmalltalkImage) -> None:
    outcome = image.new_workspace().evaluate("3 +")
    assert outcome == Failure("SyntaxError", "Argument expected", position=3)


def test_python_errors_in_primitives_become_primitive_failed(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    outcome = ws.evaluate("'abc' copyFrom: 'x' to: 2")
    assert isinstance(outcome, Failure) and outcome.error_class == "PrimitiveFailed"
    caught = ws.evaluate("['abc' copyFrom: 'x' to: 2] on: Error do: [:e | e class]")
    assert isinstance(caught, Success) and caught.print_string == "PrimitiveFailed"


def test_stale_handler_use_is_an_error(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    ws.evaluate("ex := [Error signal: 'x'] on: Error do: [:e | e]")
    outcome = ws.evaluate("ex return: 3")
    assert outcome == Failure("Error", "the exception handler is no longer active")


def test_display_string_and_class_name(image: SmalltalkImage) -> None:
    outcome = image.new_workspace().evaluate("'hello'")
    assert isinstance(outcome, Success)
    assert (outcome.print_string, outcome.display_string, outcome.class_name) == (
        "'hello'",
        "hello",
        "ByteString",
    )
    assert outcome.handle is not None


def test_giant_integers_print_within_the_limit(image: SmalltalkImage) -> None:
    ws = image.new_workspace()
    outcome = ws.evaluate("2 raisedTo: 1000000")
    assert isinstance(outcome, Success) and outcome.truncated
    assert outcome.print_string.startswith("990065622929589825069792361630190325")
    assert len(outcome.print_string) == image.print_limit + len("...(truncated)")
    size = ws.evaluate("(2 raisedTo: 20000) printString size")
    assert isinstance(size, Success) and size.print_string == "6021"
    digits = ws.evaluate("3000 factorial numberOfDigits")
    assert isinstance(digits, Success) and digits.print_string == "9131"


@pytest.mark.parametrize(
    ("source", "error_class"),
    [
        ("(1 to: 100000000) asArray", "PrimitiveFailed"),
        ("Array new: 100000000", "Error"),
        ("1e100000", "SyntaxError"),
        ("2 raisedTo: 100000000", "Error"),
        ("100000 factorial", "Error"),
        ("s := 'x'. 40 timesRepeat: [s := s , s]", "PrimitiveFailed"),
        ("a := #(1). 40 timesRepeat: [a := a , a]", "PrimitiveFailed"),
        ("String new: 100000000", "PrimitiveFailed"),
        ("String new: 100000000 withAll: $a", "PrimitiveFailed"),
        ("'aa' copyReplaceAll: 'a' with: (String new: 15000000)", "PrimitiveFailed"),
    ],
)
def test_resource_limits(image: SmalltalkImage, source: str, error_class: str) -> None:
    outcome = image.new_workspace().evaluate(source)
    assert isinstance(outcome, Failure) and outcome.error_class == error_class


def test_garbage_collected_evaluation_unwinds_cleanly(image: SmalltalkImage) -> None:
    import gc

    seen: list[str] = []
    ws = image.new_workspace()
    ev = ws.start("[[true] whileTrue] ensure: [Transcript show: 'gone']", transcript=seen.append)
    assert ev.resume(0.001) is None
    other = ws.start("| s | s := 0. 1 to: 50000 do: [:i | s := s + 1]. s")
    assert other.resume(0.0002) is None
    del ev
    gc.collect()
    assert seen == ["gone"]
    while (outcome := other.resume(0.01)) is None:
        pass
    assert isinstance(outcome, Success) and outcome.print_string == "50000"
    assert image.vm.depth == 0


def test_primitive_loops_still_yield(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("(1 to: 3000000) inject: 0 into: #+")
    slices = 0
    while (outcome := ev.resume(0.001)) is None:
        slices += 1
    assert slices >= 1
    assert isinstance(outcome, Success) and outcome.print_string == str(3000000 * 3000001 // 2)


def test_internal_errors_never_escape(
    image: SmalltalkImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("evaluator bug")

    monkeypatch.setattr(image.vm, "compile_doit", lambda source, ws: broken)
    outcome = image.new_workspace().evaluate("3")
    assert outcome == Failure("InternalError", "RuntimeError: evaluator bug")


def test_memory_errors_are_failures(image: SmalltalkImage, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(image.vm, "compile_doit", lambda source, ws: exhausted)
    outcome = image.new_workspace().evaluate("3")
    assert isinstance(outcome, Failure) and outcome.error_class == "OutOfMemory"


def test_ensure_blocks_of_an_interrupted_evaluation_run_to_completion(
    image: SmalltalkImage,
) -> None:
    seen: list[str] = []
    ev = image.new_workspace().start(
        "[[true] whileTrue] ensure: [1 to: 500 do: [:i | Transcript show: '.']]",
        transcript=seen.append,
    )
    assert ev.resume(0.001) is None
    ev.interrupt()
    outcome = ev.resume(0.5)
    assert isinstance(outcome, Failure) and outcome.error_class == "Interrupted"
    assert "".join(seen) == "." * 500


def test_a_looping_ensure_block_is_stopped_after_the_grace_period(image: SmalltalkImage) -> None:
    seen: list[str] = []
    ev = image.new_workspace().start(
        "[[true] whileTrue] ensure: [Transcript show: 'start'. [true] whileTrue]",
        transcript=seen.append,
    )
    assert ev.resume(0.001) is None
    ev.interrupt()
    started = time.perf_counter()
    while (outcome := ev.resume(0.01)) is None:
        assert time.perf_counter() - started < 5
    assert isinstance(outcome, Failure) and outcome.error_class == "Interrupted"
    assert seen == ["start"]


def test_printing_a_huge_collection_yields(image: SmalltalkImage) -> None:
    ev = image.new_workspace().start("((1 to: 300000) asArray printString) size")
    slices = 0
    while (outcome := ev.resume(0.001)) is None:
        slices += 1
    assert slices >= 1
    assert isinstance(outcome, Success) and int(outcome.print_string) > 300000
