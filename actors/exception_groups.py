"""Exception groups as callers want to see them.

Every actor and transport runs helper tasks in a nursery around its caller's `async with` body, so with
strict exception groups whatever the body raises would come out wrapped in a one-member group. These
two helpers give the caller its own exception back (or the one real failure at the bottom of nested
groups) while leaving genuine multi-failure groups alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collapse_single_group", "single_leaf"]


@contextmanager
def collapse_single_group() -> Iterator[None]:
    """Re-raise the only exception of a one-member exception group as itself.

    Groups of several exceptions are re-raised unchanged. The original `__context__` is kept, so the
    traceback still shows what was being handled when the exception was raised.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        exc = group.exceptions[0]
        context = exc.__context__
        try:
            raise exc
        finally:
            exc.__context__ = context
            del exc, context


def single_leaf(exc: BaseException) -> BaseException:
    """The single exception at the bottom of nested one-member groups; `exc` itself otherwise."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
