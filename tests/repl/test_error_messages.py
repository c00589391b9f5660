"""How errors from the supervisor read at the prompt: one line each, never a traceback."""

from __future__ import annotations

import pytest
from prompt_toolkit.formatted_text import fragment_list_to_text
from stui.actors.errors import (
    EvaluationError,
    ImageDisconnected,
    ImageFailed,
    ImageNotFound,
    RequestTimeout,
    SessionError,
    StuiError,
)
from stui.protocol import Error, ErrorCode, ErrorDetails

from stui.config import load_config
from stui.repl.app import Backend, Repl
from stui.repl.trio_guest import TrioGuest, TrioGuestStopped


@pytest.fixture
def repl() -> Repl:
    return Repl(Backend(sup=None), TrioGuest(), load_config(), handle_signals=False)


def text_of(repl: Repl, exc: BaseException, source: str | None = None) -> str:
    return fragment_list_to_text(repl.error_fragments(exc, source, "alpha"))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            EvaluationError(
                "x",
                Error(
                    code=ErrorCode.EVALUATION_ERROR,
                    message="nil does not understand #foo",
                    details=ErrorDetails(error_class="MessageNotUnderstood"),
                ),
            ),
            "MessageNotUnderstood: nil does not understand #foo",
        ),
        (EvaluationError("x", Error(code=ErrorCode.INTERRUPTED, message="stopped")), "Interrupted"),
        (
            SessionError("x", Error(code=ErrorCode.SESSION_NOT_FOUND, message="no session abc")),
            "SessionNotFound: no session abc",
        ),
        (
            RequestTimeout("late"),
            "alpha did not answer in time; it may still be running (:interrupt stops it)",
        ),
        (ImageDisconnected("image 'alpha' is reconnecting"), "image 'alpha' is reconnecting"),
        (ImageFailed("image 'alpha' failed"), "image 'alpha' failed"),
        (ImageNotFound("no image 'x'"), "no image 'x'"),
        (StuiError("the supervisor is shutting down"), "the supervisor is shutting down"),
        (TrioGuestStopped("gone"), "stui is shutting down"),
        (KeyError("boom"), "internal error: KeyError: 'boom'"),
    ],
)
def test_errors_read_as_one_line(repl: Repl, exc: BaseException, expected: str) -> None:
    assert text_of(repl, exc) == expected


def test_state_of_a_fresh_repl(repl: Repl) -> None:
    assert repl.prompt_state().image is None
    assert repl.next_image() is None
    assert repl.history_for(None) is repl.history_for(
        "nowhere"
    )  # in-memory history without an image
    repl.request_interrupt()  # nothing running: nothing happens
    assert not repl._interrupt.is_set()
