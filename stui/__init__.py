"""stui — a client that connects a Smalltalk developer to many live Smalltalk images at once.

The embedding API (docs/embedding.md)::

    async with stui.open_supervisor() as sup:
        await sup.connect("tcp://127.0.0.1:5555", name="alpha")
        result = await sup.evaluate("3 + 4")

The names below are loaded on first use, so `import stui` stays cheap for code that only needs a
submodule (the image server, the CLI's argument parsing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "EvalMode",
    "EvaluationError",
    "ImageDisconnected",
    "ImageFailed",
    "ImageNotFound",
    "ImageProtocolError",
    "RemoteError",
    "RequestTimeout",
    "SessionError",
    "StuiError",
    "Supervisor",
    "SupervisorConfig",
    "__version__",
    "open_supervisor",
]

_FROM_ACTORS = frozenset(__all__) - {"EvalMode", "__version__"}

if TYPE_CHECKING:
    from stui.actors import (
        EvaluationError,
        ImageDisconnected,
        ImageFailed,
        ImageNotFound,
        ImageProtocolError,
        RemoteError,
        RequestTimeout,
        SessionError,
        StuiError,
        Supervisor,
        SupervisorConfig,
        open_supervisor,
    )
    from stui.protocol import EvalMode


def __getattr__(name: str) -> Any:
    if name in _FROM_ACTORS:
        import stui.actors

        return getattr(stui.actors, name)
    if name == "EvalMode":
        from stui.protocol import EvalMode

        return EvalMode
    raise AttributeError(f"module 'stui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
