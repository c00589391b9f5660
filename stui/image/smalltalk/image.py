"""SmalltalkImage: one image (classes, globals, compiled methods), the factory for its workspaces."""

from __future__ import annotations

import threading
from typing import Any

from stui.image.smalltalk.runtime import VM
from stui.image.smalltalk.workspace import Workspace

__all__ = ("SmalltalkImage",)


class SmalltalkImage:
    """A live image. Everything in it (classes, ``Smalltalk at:put:`` globals) is shared by its
    workspaces; workspace variables are not.

    Args:
        name: the image's name (``Smalltalk imageName``).
        print_limit: printStrings handed out are cut after this many characters.
        handle_limit: each workspace keeps at most this many handles (oldest evicted).
        max_depth: deepest nesting of activations before StackOverflow (None: fit the Python
            recursion limit in force when the image is created).
    """

    def __init__(
        self,
        name: str = "image",
        *,
        print_limit: int = 64 * 1024,
        handle_limit: int = 10_000,
        max_depth: int | None = None,
    ) -> None:
        self.name = name
        self.print_limit = print_limit
        self.handle_limit = handle_limit
        self.vm = VM(name, max_depth)
        #: Idle evaluation greenlets, per thread (stui.image.smalltalk.evaluation keeps them).
        self.idle_workers = threading.local()

    def new_workspace(self) -> Workspace:
        """A fresh workspace (one per session)."""
        return Workspace(self)

    @property
    def globals(self) -> dict[str, Any]:
        """The image-wide globals (class names included)."""
        return self.vm.globals

    def class_names(self) -> list[str]:
        """Names of all classes, sorted."""
        return sorted(c.name for c in self.vm.all_classes if not c.is_meta)
