"""How errors from the supervisor read at the prompt: one line each, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prompt_toolkit.formatted_text import fragment_list_to_text
from prompt_toolkit.output.plain_text import PlainTextOutput
from stui.actors.errors import (
    EvaluationError,
    ImageDisconnected,
    ImageFailed,
    ImageNotFound,
    RequestTimeout,
    SessionError,
    StuiError,
)
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    Error,
    ErrorCode,
    ErrorDetails,
    ImageConnectionStatus,
    ImageHealthChanged,
    ImageRestarted,
    ImageStatusChanged,
    SessionOrphaned,
    TranscriptReceived,
)

from stui.cli import _build_parser
from stui.config import load_config
from stui.repl.app import Backend, Repl
from stui.repl.cli_options import repl_main
from stui.repl.trio_guest import TrioGuest, TrioGuestStopped


@pytest.fixture
def repl() -> Repl:
    return Repl(Backend(sup=None), TrioGuest(), load_config())


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


def make_repl_with_output() -> tuple[Repl, io.StringIO]:
    buffer = io.StringIO()
    repl = Repl(
        Backend(sup=None),
        TrioGuest(),
        load_config(),
        output=PlainTextOutput(buffer),
    )
    for name in ("alpha", "beta"):
        repl.images[name] = ImageConnectionStatus(
            image_id=f"id-{name}",
            name=name,
            address="tcp://127.0.0.1:1",
            status=ConnectionStatus.CONNECTED,
            health=ConnectionHealth.HEALTHY,
            rtt=0.001,
        )
    repl.current = "alpha"
    return repl, buffer


def test_events_become_notices_above_the_prompt() -> None:
    repl, buffer = make_repl_with_output()
    repl._on_event(
        ImageStatusChanged(
            image_id="id-alpha",
            name="alpha",
            old=ConnectionStatus.CONNECTED,
            new=ConnectionStatus.FAILED,
            reason="restart budget spent",
            at=0.0,
        )
    )
    assert repl.images["alpha"].status is ConnectionStatus.FAILED
    repl._on_event(
        ImageStatusChanged(
            image_id="id-beta",
            name="beta",
            old=ConnectionStatus.RECONNECTING,
            new=ConnectionStatus.CONNECTED,
            reason="handshake complete",
            at=0.0,
        )
    )
    repl.disconnecting.add("beta")
    repl._on_event(
        ImageStatusChanged(
            image_id="id-beta",
            name="beta",
            old=ConnectionStatus.CONNECTED,
            new=ConnectionStatus.DISCONNECTED,
            reason="disconnected on request",
            at=0.0,
        )
    )
    repl._on_event(
        ImageHealthChanged(
            image_id="id-beta",
            name="beta",
            old=ConnectionHealth.HEALTHY,
            new=ConnectionHealth.WARNING,
            rtt=0.4,
            at=0.0,
        )
    )
    assert repl.images["beta"].health is ConnectionHealth.WARNING and repl.images["beta"].rtt == 0.4
    repl._on_event(
        ImageRestarted(
            image_id="id-beta",
            name="beta",
            old_instance_id="a",
            new_instance_id="b",
            lost_sessions=("0123456789abcdef",),
            at=0.0,
        )
    )
    repl._on_event(
        SessionOrphaned(
            image_id="id-beta", session_id="fedcba9876543210", reason="image restarted", at=0.0
        )
    )
    repl._on_event(TranscriptReceived(image_id="id-beta", session_id=None, text="hello\n", at=0.0))
    repl._on_event(TranscriptReceived(image_id="id-alpha", session_id=None, text="here\n", at=0.0))
    lines = [line for line in buffer.getvalue().replace("\r", "").splitlines() if line]
    assert lines == [
        "alpha is failed (restart budget spent); :use beta to go on there",
        "beta is connected again (handshake complete)",
        "beta restarted (a new image process); 1 session(s) could not be re-attached: 01234567",
        "beta: session fedcba98 orphaned (image restarted)",
        "[beta] hello",
        "here",
    ]
    assert not repl.disconnecting  # the requested disconnect was expected, and said nothing


def test_repl_main_reports_a_bad_config_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[repl]\neval_timeout = 'soon'\n")
    args = _build_parser().parse_args(["--config", str(bad)])
    assert repl_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("stui: ") and "eval_timeout must be an int or float" in err
