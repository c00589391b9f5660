"""Deep recursion in a served image (`stui.image.process`): the loop on a deep stack, signals forwarded.

The subprocess test is the one that matters: every recursion path we know to be heavy on the C stack,
driven past `MAX_DEPTH` (and, for recursion through primitives alone, past the recursion limit), must
answer `StackOverflow` and leave the image serving; a crash would be exit status -11 (139 in a shell).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import pytest
import trio
from stui.protocol import CreateSession, Error, ErrorCode, EvalResult, Evaluate, ImageShutdown

from stui.image import process
from stui.image.config import ImageServerConfig
from stui.image.launcher import start_image_process
from tests.image.client import Client, ZmqLink

# Recursion paths, each through a different primitive or unwinding mechanism. Class-side methods of R.
DEFINITIONS = (
    "Object subclass: #R instanceVariableNames: '' classVariableNames: '' package: 'D'",
    "Object subclass: #P instanceVariableNames: 'n' classVariableNames: '' package: 'D'",
    "P compile: 'n: x n := x'",
    "P compile: 'printOn: aStream n = 0 ifTrue: [aStream nextPutAll: ''P''] "
    "ifFalse: [aStream print: (Array with: (P new n: n - 1))]'",
    "R class compile: 'down: n ^n = 0 ifTrue: [0] ifFalse: [1 + (self down: n - 1)]'",
    "R class compile: 'viaInject: n ^n = 0 ifTrue: [0] ifFalse: [(Array with: n) inject: 0 "
    "into: [:a :b | 1 + (self viaInject: n - 1)]]'",
    "R class compile: 'viaSort: n ^n = 0 ifTrue: [0] ifFalse: [((Array with: 2 with: 1) "
    "asSortedCollection: [:a :b | (self viaSort: n - 1). a <= b]) size]'",
    "R class compile: 'viaEnsure: n ^n = 0 ifTrue: [0] ifFalse: [[1 + (self viaEnsure: n - 1)] "
    "ensure: [nil]]'",
    "R class compile: 'viaCurtailed: n ^n = 0 ifTrue: [0] ifFalse: "
    "[[1 + (self viaCurtailed: n - 1)] ifCurtailed: [nil]]'",
    "R class compile: 'viaOnDo: n ^n = 0 ifTrue: [0] ifFalse: [[1 + (self viaOnDo: n - 1)] "
    "on: ZeroDivide do: [:e | 0]]'",
    "R class compile: 'viaReturn: n n = 0 ifTrue: [^0]. #(1) do: [:e | ^1 + (self viaReturn: n - 1)]. ^nil'",
    "R class compile: 'viaPass: n ^n = 0 ifTrue: [1/0] ifFalse: [[self viaPass: n - 1] "
    "on: ZeroDivide do: [:e | e pass]]'",
    "R class compile: 'viaSignal: n ^n = 0 ifTrue: [Error signal: ''deep''] "
    "ifFalse: [1 + (self viaSignal: n - 1)]'",
    "R class compile: 'viaPerform: n ^n = 0 ifTrue: [0] ifFalse: "
    "[1 + (self perform: #viaPerform: with: n - 1)]'",
    "R class compile: 'nest: n | a | a := 1. n timesRepeat: [a := 1 -> a]. ^a'",
)

#: Each answers StackOverflow in a served image (MAX_DEPTH activations, RECURSION_LIMIT frames).
TOO_DEEP = (
    "R down: 30000",
    "R viaInject: 30000",
    "R viaSort: 30000",
    "R viaEnsure: 30000",
    "R viaCurtailed: 30000",
    "R viaOnDo: 30000",
    "R viaReturn: 30000",
    "[R viaPass: 30000] on: ZeroDivide do: [:e | e return: -1]",
    "[R viaSignal: 30000] on: ZeroDivide do: [:e | e return: -1]",
    "R viaPerform: 30000",
    "(P new n: 30000) printString size",
    # No Smalltalk activation at all: hashing a 150,000-deep chain recurses in Python primitives
    # (2 frames, ~600 bytes of C stack per level: the worst per frame measured); the recursion limit
    # is the guard here.
    "(Set with: (R nest: 150000)) size",
    "((R nest: 150000) = (R nest: 150000))",
    "(" * 60000 + "1" + ")" * 60000,
)


async def evaluate(client: Client, sid: str, source: str) -> EvalResult | Error:
    return await client.request(Evaluate(session_id=sid, source=source, time_budget=120), 120)


async def test_a_served_image_recurses_deep_and_overflows_cleanly(runtime_dir, zmq_context):
    image = await start_image_process(
        "deep", env={**os.environ, "STUI_RUNTIME_DIR": str(runtime_dir)}
    )
    try:
        client = Client(ZmqLink(zmq_context, image.zmq_address), key=image.key)
        welcome = await client.hello()
        assert dict(welcome.metadata)["max_depth"] == str(process.MAX_DEPTH)
        sid = (await client.request(CreateSession())).session.session_id
        for source in DEFINITIONS:
            assert isinstance(await evaluate(client, sid, source), EvalResult), source
        deep = {
            "R down: 5000": "5000",
            "R viaOnDo: 3000": "3000",  # 2 activations per level
            "R viaPerform: 5000": "5000",
            "[R viaSignal: 4000] on: Error do: [:e | e messageText]": "'deep'",
            "[R viaPass: 2000] on: ZeroDivide do: [:e | e return: -1]": "-1",
            "[R down: 30000] on: StackOverflow do: [:e | #caught]": "#caught",
        }
        for source, expected in deep.items():
            result = await evaluate(client, sid, source)
            assert isinstance(result, EvalResult) and result.print_string == expected, (
                source,
                result,
            )
        for source in TOO_DEEP:
            result = await evaluate(client, sid, source)
            assert isinstance(result, Error), (source[:40], result)
            assert result.code is ErrorCode.EVALUATION_ERROR, (source[:40], result)
            assert result.details.error_class == "StackOverflow", (source[:40], result)
            assert image.returncode is None
            assert (await evaluate(client, sid, "3 + 4")).print_string == "7"
        assert await image.stop() == 0
        shutdown = await client.wait_event(ImageShutdown, timeout=5)
        assert shutdown.request_id == 0
        assert not image.connection_file.exists()
        await client.aclose()
    finally:
        image.kill()


# --------------------------------------------------------------------------------------------------
# run_on_deep_stack in this process


def signal_main_thread_when(
    ready: threading.Event, signum: int = signal.SIGTERM
) -> threading.Thread:
    main = threading.main_thread().ident
    assert main is not None

    def later() -> None:
        if ready.wait(30):
            signal.pthread_kill(main, signum)

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    return thread


def test_runs_on_a_deep_stack_and_restores_the_process_state():
    limit, handler = sys.getrecursionlimit(), signal.getsignal(signal.SIGTERM)

    async def deep() -> tuple[str, int, int]:
        def down(n: int) -> int:  # through C (sorted's key) on every level: C stack per frame
            return 0 if n == 0 else sorted([n], key=lambda k: down(k - 1))[0]

        down(30_000)  # ~60,000 frames and ~9 MiB of C stack: beyond an 8 MiB main thread
        await trio.sleep(0)
        return threading.current_thread().name, sys.getrecursionlimit(), 30_000

    name, inside_limit, depth = process.run_on_deep_stack(deep)
    assert name == "stui-image-loop" and inside_limit == process.RECURSION_LIMIT and depth == 30_000
    assert sys.getrecursionlimit() == limit and signal.getsignal(signal.SIGTERM) == handler


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_cancels_the_loop_which_cleans_up(signum):
    started, cleaned = threading.Event(), threading.Event()

    async def serve() -> str:
        try:
            started.set()
            await trio.sleep_forever()
        finally:
            cleaned.set()
        return "not reached"

    signal_main_thread_when(started, signum)
    assert process.run_on_deep_stack(serve) is None
    assert cleaned.is_set()


def test_errors_reach_the_caller():
    async def fail() -> None:
        raise OSError("address in use")

    with pytest.raises(OSError, match="address in use"):
        process.run_on_deep_stack(fail)


async def test_a_stop_requested_before_the_loop_runs_still_stops_it():
    stopper = process._Stopper()
    stopper.request_stop()  # the signal came first: nothing to cancel yet
    with trio.CancelScope() as scope:
        stopper.publish(trio.lowlevel.current_trio_token(), scope)
        await trio.sleep_forever()
    assert scope.cancelled_caught


def test_serve_image_process_reports_ready_and_stops_on_sigterm(runtime_dir):
    config = ImageServerConfig(name="sig", connection_dir=runtime_dir, shutdown_grace=0.1)
    read_end, write_end = os.pipe()
    ready: dict = {}
    seen = threading.Event()

    def read_ready() -> None:
        ready.update(json.loads(os.read(read_end, 4096)))
        ready["file_existed"] = os.path.exists(ready["connection_file"])
        seen.set()

    threading.Thread(target=read_ready, daemon=True).start()
    signal_main_thread_when(seen)
    try:
        process.serve_image_process(config, write_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert ready["event"] == "ready" and ready["pid"] == os.getpid() and ready["file_existed"]
    assert not os.path.exists(ready["connection_file"])
