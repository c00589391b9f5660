"""Codec speed, run by hand: `python bench/bench_codec.py [--quick] [--json PATH]`.

Times `stui.protocol.encode` and `stui.protocol.decode` on typical messages, unsigned and signed, in
microseconds per call (the best of several repeats, so a busy machine inflates the numbers less). The
heartbeat (Ping/Pong) is the one that matters most: every connected image pays an encode and a decode
on each side once per heartbeat interval.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stui.protocol import (
    EvalMode,
    EvalResult,
    Evaluate,
    Inspection,
    Ping,
    Pong,
    Slot,
    TranscriptOutput,
    Welcome,
    decode,
    encode,
)

KEY = b"bench-key-0123456789abcdef"


def messages() -> dict[str, Any]:
    """One typical instance of each message measured, by name."""
    slots = tuple(
        Slot(
            name=f"slot{i}",
            print_string=f"an Object({i})",
            class_name="Object",
            handle=None if i % 3 == 0 else 1000 + i,
        )
        for i in range(20)
    )
    return {
        "Ping": Ping(timestamp=1732190000.123456),
        "Pong": Pong(timestamp=1732190000.123456, image_time=1732190000.2),
        "Evaluate": Evaluate(
            session_id="s-4f3a9c", source="3 + 4 factorial", mode=EvalMode.DISPLAY, time_budget=30.0
        ),
        "EvalResult": EvalResult(
            print_string="5040", class_name="SmallInteger", handle=None, elapsed=0.0012
        ),
        "Welcome": Welcome(
            version=1,
            image_id="img-7d1e",
            instance_id="inst-20261121",
            image_name="pharo-dev",
            dialect="Pharo",
            dialect_version="12.0",
            capabilities=("interrupt", "inspect", "complete", "transcript"),
            metadata=(("max_sessions", "64"), ("max_in_flight", "32"), ("idle_expiry", "3600")),
        ),
        "Inspection(20 slots)": Inspection(
            class_name="OrderedCollection",
            print_string="an OrderedCollection(...)",
            handle=42,
            named=slots[:4],
            indexed=slots[4:],
            indexed_size=16,
        ),
        "TranscriptOutput": TranscriptOutput(session_id="s-4f3a9c", text="hello world\n"),
    }


def per_call_us(fn: Callable[[], object], *, target_s: float, repeats: int) -> float:
    """Best-of-`repeats` microseconds per call, each repeat running about `target_s` seconds."""
    n = 1
    while True:  # calibrate the loop count
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if (elapsed := time.perf_counter() - t) >= target_s / 4 or n >= 1 << 22:
            break
        n *= 2
    n = max(1, int(n * target_s / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def run(*, target_s: float, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name, msg in messages().items():
        for signed in (False, True):
            key = KEY if signed else b""
            raw = encode(msg, request_id=123456, key=key)
            assert decode(raw, key=key).message == msg  # the bench measures a working codec
            rows.append(
                {
                    "message": name,
                    "signed": signed,
                    "bytes": len(raw),
                    "encode_us": per_call_us(
                        lambda m=msg, k=key: encode(m, request_id=123456, key=k),
                        target_s=target_s,
                        repeats=repeats,
                    ),
                    "decode_us": per_call_us(
                        lambda r=raw, k=key: decode(r, key=k), target_s=target_s, repeats=repeats
                    ),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (noisier numbers)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    target_s, repeats = (0.02, 3) if args.quick else (0.2, 5)
    rows = run(target_s=target_s, repeats=repeats)
    print(f"# stui codec, python {platform.python_version()}, µs per call (best of {repeats})")
    print(f"{'message':<22} {'signed':<6} {'bytes':>6} {'encode':>8} {'decode':>8} {'both':>8}")
    for r in rows:
        print(
            f"{r['message']:<22} {'yes' if r['signed'] else 'no':<6} {r['bytes']:>6}"
            f" {r['encode_us']:>8.2f} {r['decode_us']:>8.2f} {r['encode_us'] + r['decode_us']:>8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
