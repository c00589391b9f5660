"""Embedding stui in a trio program: start a reference image, talk to it, watch what happens.

Run it as written (it starts its own reference image in a subprocess and stops it at the end):

    python docs/examples/embed.py

or point it at an image that is already running (the key is in the image's connection file):

    python docs/examples/embed.py tcp://127.0.0.1:5555 [KEY]

Everything here is the public API of `stui` (docs/embedding.md), plus the launcher that starts
reference images. The program owns the event loop: `trio.run` is called here, never inside stui.
"""

from __future__ import annotations

import sys

import trio
from stui.protocol import (
    ImageHealthChanged,
    ImageStatusChanged,
    ListImageSessions,
    TranscriptReceived,
)

import stui
from stui.image.launcher import start_image_process


async def watch(events: stui.actors.Subscription) -> None:
    """Print the control events: status and health changes, restarts, transcript output, ..."""
    async for event in events:
        match event:
            case ImageStatusChanged(name=name, old=old, new=new, reason=reason):
                print(f"  [event] {name}: {old.value} -> {new.value} ({reason})")
            case ImageHealthChanged(name=name, new=new, rtt=rtt):
                rtt_text = f"{rtt * 1000:.1f} ms" if rtt is not None else "-"
                print(f"  [event] {name}: health {new.value}, rtt {rtt_text}")
            case TranscriptReceived(text=text):
                print(f"  [transcript] {text.rstrip()}")
            case _:
                print(f"  [event] {type(event).__name__}")


async def demo(sup: stui.Supervisor, address: str, key: bytes) -> None:
    status = await sup.connect(address, name="alpha", key=key, heartbeat_interval=0.5)
    print(
        f"connected to {status.name} ({status.image_id[:8]}) at {status.address}: {status.status.value}"
    )

    result = await sup.evaluate("3 + 4")
    print(f"3 + 4 => {result.print_string} ({result.class_name})")

    await sup.evaluate("greeting := 'hello from a workspace variable'")
    await sup.evaluate("Transcript show: 'written to the Transcript'; cr")
    print(f"greeting => {(await sup.evaluate('greeting')).print_string}")

    try:
        await sup.evaluate("1 / 0")
    except stui.EvaluationError as error:
        print(f"1 / 0 failed: {error.details.error_class} ({error.code.value})")

    # A runaway evaluation, stopped with an interrupt from another task.
    async with trio.open_nursery() as nursery:

        async def runaway() -> None:
            try:
                await sup.evaluate("[true] whileTrue")
            except stui.EvaluationError as error:
                print(f"runaway loop stopped: {error.code.value}")

        nursery.start_soon(runaway)
        await trio.sleep(0.3)
        acks = await sup.interrupt()
        print(f"interrupted {len(acks)} evaluation(s)")

    # Sessions: each has its own workspace.
    main = sup.active_session()
    scratch = await sup.new_session(name="scratch")
    print(f"greeting in a new session => {(await sup.evaluate('greeting')).print_string}")
    sup.use_session(main)
    print(f"back in main, greeting => {(await sup.evaluate('greeting')).print_string}")

    listing = await sup.command(ListImageSessions())
    names = sorted(record.name for record in listing.sessions)
    print(f"sessions: {names} (scratch is {scratch.session_id[:8]})")

    completions = await sup.complete("Transc", 6)
    print(f"completions of 'Transc': {[item.text for item in completions.items][:3]}")

    for image in sup.images():
        print(
            f"{image.name}: {image.status.value}, health {image.health.value}, restarts {image.restarts}"
        )


async def main(argv: list[str]) -> None:
    process = None
    if len(argv) > 1:
        address = argv[1]
        key = argv[2].encode() if len(argv) > 2 else b""
    else:
        process = await start_image_process("alpha", extra_args=["--no-connection-file"])
        address, key = process.address, process.key
    try:
        async with stui.open_supervisor() as sup, trio.open_nursery() as nursery:
            nursery.start_soon(watch, sup.subscribe())
            await demo(sup, address, key)
            await sup.disconnect("alpha")
            await trio.sleep(0.1)  # let the watcher print the last events
            nursery.cancel_scope.cancel()
    finally:
        if process is not None:
            await process.stop()
    print("done")


if __name__ == "__main__":
    trio.run(main, sys.argv)
