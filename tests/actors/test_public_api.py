"""The public embedding API is importable from `stui` itself, with the documented shape."""

from __future__ import annotations

import inspect

import pytest
import stui.actors

import stui


def test_stui_reexports_the_embedding_api() -> None:
    assert stui.__version__
    assert stui.open_supervisor is stui.actors.open_supervisor
    assert stui.SupervisorConfig is stui.actors.SupervisorConfig
    for name in (
        "ImageNotFound",
        "ImageDisconnected",
        "ImageFailed",
        "RequestTimeout",
        "EvaluationError",
        "SessionError",
        "ImageProtocolError",
        "RemoteError",
    ):
        error = getattr(stui, name)
        assert issubclass(error, stui.StuiError), name
    assert issubclass(stui.ImageFailed, stui.ImageDisconnected)
    assert issubclass(stui.EvaluationError, stui.RemoteError)
    assert issubclass(stui.RequestTimeout, TimeoutError)
    assert stui.EvalMode.DISPLAY.value == "display"
    assert set(stui.__all__) <= set(dir(stui))
    with pytest.raises(AttributeError):
        stui.no_such_thing  # noqa: B018


def test_supervisor_methods_have_the_documented_signatures() -> None:
    sup = stui.Supervisor
    params = inspect.signature(sup.connect).parameters
    assert list(params)[1:] == [
        "address",
        "name",
        "key",
        "heartbeat_interval",
        "heartbeat_misses",
        "open_link",
    ]
    assert params["heartbeat_interval"].default == 1.0 and params["heartbeat_misses"].default == 3
    params = inspect.signature(sup.evaluate).parameters
    assert {"image", "session", "mode", "timeout"} <= set(params)
    assert params["mode"].default is stui.EvalMode.DISPLAY
    assert inspect.signature(sup.complete).parameters["timeout"].default == 0.5
    for name in (
        "interrupt",
        "inspect",
        "switch",
        "new_session",
        "attach_session",
        "close_session",
        "disconnect",
        "command",
    ):
        assert inspect.iscoroutinefunction(getattr(sup, name)), name
    for name in ("sessions", "active_session", "status", "images", "subscribe", "events"):
        assert not inspect.iscoroutinefunction(getattr(sup, name)), name
