"""The primitive registry and the installation of the class library into a VM.

Primitives are plain module-level functions ``fn(vm, receiver, *args)`` registered with the
:func:`primitive` decorator against a class name (``"Array class"`` for the class side) and one or more
selectors. The registry is filled once, when the library modules are imported, and never changes after;
each VM binds the functions to itself (``types.MethodType``, the smallest such binding) when it is
created.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("PRIMITIVES", "install", "primitive")

PRIMITIVES: list[tuple[str, str, Callable[..., Any]]] = []


def primitive(
    class_name: str, *selectors: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the method for *selectors* in *class_name*."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for selector in selectors:
            PRIMITIVES.append((class_name, selector, fn))
        return fn

    return register


def install(vm: VM) -> None:
    """Install every registered primitive and the well-known globals into *vm*."""
    from stui.image.smalltalk import (  # noqa: F401  (imported for their registrations)
        lib_blocks,
        lib_classes,
        lib_collections,
        lib_dictionary,
        lib_integers,
        lib_kernel,
        lib_numbers,
        lib_sequences,
        lib_streams,
        lib_support,
        lib_text,
        lib_time,
    )
    from stui.image.smalltalk.objects import Method

    for class_name, selector, fn in PRIMITIVES:
        if class_name.endswith(" class"):
            cls = vm.classes[class_name[:-6]].meta
        else:
            cls = vm.classes[class_name]
        assert cls is not None
        cls.methods[selector] = Method(selector, MethodType(fn, vm), cls)
    lib_kernel.install_globals(vm)
    vm.invalidate()
