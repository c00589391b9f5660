"""Frames and the smallest compiled-code pieces shared by the compiler and the inliner.

A frame is a plain list: ``[receiver, outer_frame, home_frame, slot0, slot1, ...]`` (see compiler).
Compiled code is a Python callable ``code(frame) -> value``.
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "OFFSET",
    "Code",
    "Frame",
    "frame_reader",
    "frame_writer",
    "nil_code",
    "self_code",
    "then_self_code",
)

Frame = list[Any]
Code = Any  # Callable[[Frame], Any]
OFFSET = 3  # slot 0 of a frame's variables


def frame_reader(depth: int, index: int) -> Code:
    """Code reading slot *index* of the frame *depth* levels out."""
    if depth == 0:
        return lambda frame: frame[index]
    if depth == 1:
        return lambda frame: frame[1][index]
    if depth == 2:
        return lambda frame: frame[1][1][index]

    def deep(frame: Frame) -> Any:
        for _ in range(depth):
            frame = frame[1]
        return frame[index]

    return deep


def frame_writer(depth: int, index: int, value: Code) -> Code:
    """Code storing *value*'s result in slot *index* of the frame *depth* levels out."""
    if depth == 0:

        def set0(frame: Frame) -> Any:
            v = frame[index] = value(frame)
            return v

        return set0

    def set_outer(frame: Frame) -> Any:
        v = value(frame)
        target = frame
        for _ in range(depth):
            target = target[1]
        target[index] = v
        return v

    return set_outer


def then_self_code(code: Code) -> Code:
    """Run *code* for effect, then answer the receiver (a method's implicit ``^self``)."""

    def then_self(frame: Frame) -> Any:
        code(frame)
        return frame[0]

    return then_self


def self_code(frame: Frame) -> Any:
    """Code answering the receiver."""
    return frame[0]


def nil_code(frame: Frame) -> Any:
    """Code answering nil."""
    return None
