"""Codec speed, run by hand: `python bench/bench_codec.py [--quick] [--json PATH] [--against REV]`.

Times `stui.protocol.encode` and `stui.protocol.decode` on typical messages, unsigned and signed, in
microseconds per call (the best of several repeats, so a busy machine inflates the numbers less). The
heartbeat (Ping/Pong) is the one that matters most: every connected image pays an encode and a decode
on each side once per heartbeat interval.

`--against REV` also times the codec as it was at git revision REV (its protocol/ package, unpacked into
a temporary directory), interleaving old and new runs so machine load hits both alike, and prints both
columns side by side: the before/after table of a codec change.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import stui.protocol

REPO = Path(__file__).resolve().parents[1]

KEY = b"bench-key-0123456789abcdef"


def messages(p: ModuleType) -> dict[str, Any]:
    """One typical instance of each message measured, by name, built from protocol package `p`."""
    slots = tuple(
        p.Slot(
            name=f"slot{i}",
            print_string=f"an Object({i})",
            class_name="Object",
            handle=None if i % 3 == 0 else 1000 + i,
        )
        for i in range(20)
    )
    return {
        "Ping": p.Ping(timestamp=1732190000.123456),
        "Pong": p.Pong(timestamp=1732190000.123456, image_time=1732190000.2),
        "Evaluate": p.Evaluate(
            session_id="s-4f3a9c",
            source="3 + 4 factorial",
            mode=p.EvalMode.DISPLAY,
            time_budget=30.0,
        ),
        "EvalResult": p.EvalResult(
            print_string="5040", class_name="SmallInteger", handle=None, elapsed=0.0012
        ),
        "Welcome": p.Welcome(
            version=1,
            image_id="img-7d1e",
            instance_id="inst-20261121",
            image_name="pharo-dev",
            dialect="Pharo",
            dialect_version="12.0",
            capabilities=("interrupt", "inspect", "complete", "transcript"),
            metadata=(("max_sessions", "64"), ("max_in_flight", "32"), ("idle_expiry", "3600")),
        ),
        "Inspection(20 slots)": p.Inspection(
            class_name="OrderedCollection",
            print_string="an OrderedCollection(...)",
            handle=42,
            named=slots[:4],
            indexed=slots[4:],
            indexed_size=16,
        ),
        "TranscriptOutput": p.TranscriptOutput(session_id="s-4f3a9c", text="hello world\n"),
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


def run(p: ModuleType, *, target_s: float, repeats: int) -> list[dict[str, Any]]:
    """One row per message and signedness: bytes, encode and decode µs with protocol package `p`."""
    encode, decode = p.encode, p.decode
    rows = []
    for name, msg in messages(p).items():
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


def old_protocol(rev: str, into: Path) -> ModuleType:
    """The protocol package as it was at git revision `rev`, imported as `protocol` from `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "protocol"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    sys.path.insert(0, str(into))
    return importlib.import_module("protocol")  # its own name: it cannot clash with stui.protocol


def best_rows(p: ModuleType, rounds: int, target_s: float, repeats: int) -> list[dict[str, Any]]:
    """`run` `rounds` times; per row the best encode and decode times seen."""
    best: list[dict[str, Any]] = []
    for _ in range(rounds):
        rows = run(p, target_s=target_s, repeats=repeats)
        if not best:
            best = rows
        for b, r in zip(best, rows, strict=True):
            b["encode_us"] = min(b["encode_us"], r["encode_us"])
            b["decode_us"] = min(b["decode_us"], r["decode_us"])
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (noisier numbers)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--against", metavar="REV", help="also time the codec of git revision REV")
    args = parser.parse_args(argv)
    # Many short repeats, best kept: on a shared machine a preempted repeat is simply not the best.
    target_s, repeats, rounds = (0.005, 5, 1) if args.quick else (0.01, 15, 3)
    head = f"# stui codec, python {platform.python_version()}, µs per call (best of {repeats * rounds})"
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            old = old_protocol(args.against, Path(tmp))
            before: list[dict[str, Any]] = []
            after: list[dict[str, Any]] = []
            for _ in range(rounds):  # interleaved, so load changes hit both alike
                for rows, p in ((before, old), (after, stui.protocol)):
                    new = best_rows(p, 1, target_s, repeats)
                    rows[:] = (
                        new if not rows else [_best(a, b) for a, b in zip(rows, new, strict=True)]
                    )
        print(f"{head}; before = {args.against}, after = working tree")
        print(
            f"{'message':<22} {'signed':<6} {'enc before':>10} {'enc after':>10}"
            f" {'dec before':>10} {'dec after':>10} {'both before':>11} {'both after':>10}"
        )
        for b, a in zip(before, after, strict=True):
            print(
                f"{a['message']:<22} {'yes' if a['signed'] else 'no':<6}"
                f" {b['encode_us']:>10.2f} {a['encode_us']:>10.2f}"
                f" {b['decode_us']:>10.2f} {a['decode_us']:>10.2f}"
                f" {b['encode_us'] + b['decode_us']:>11.2f} {a['encode_us'] + a['decode_us']:>10.2f}"
            )
        rows = [{**a, "before": b} for a, b in zip(after, before, strict=True)]
    else:
        rows = best_rows(stui.protocol, rounds, target_s, repeats)
        print(head)
        print(f"{'message':<22} {'signed':<6} {'bytes':>6} {'encode':>8} {'decode':>8} {'both':>8}")
        for r in rows:
            print(
                f"{r['message']:<22} {'yes' if r['signed'] else 'no':<6} {r['bytes']:>6}"
                f" {r['encode_us']:>8.2f} {r['decode_us']:>8.2f}"
                f" {r['encode_us'] + r['decode_us']:>8.2f}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)


def _best(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        **a,
        "encode_us": min(a["encode_us"], b["encode_us"]),
        "decode_us": min(a["decode_us"], b["decode_us"]),
    }


if __name__ == "__main__":
    main()
