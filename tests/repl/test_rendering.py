"""The prompt, the toolbar and the printer: pure functions of status snapshots and protocol records."""

from __future__ import annotations

from prompt_toolkit.formatted_text import fragment_list_to_text
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    Error,
    ErrorCode,
    ErrorDetails,
    EvalMode,
    EvalResult,
    ImageConnectionStatus,
    Inspection,
    Slot,
)

from stui.repl.printer import (
    Column,
    caret_lines,
    error_fragments,
    inspection_fragments,
    result_fragments,
    table_fragments,
    transcript_fragments,
)
from stui.repl.status_line import (
    PromptState,
    format_rtt,
    prompt_fragments,
    session_label,
    toolbar_fragments,
)
from stui.repl.style import health_class, repl_style, status_class


def snap(
    name: str,
    status: ConnectionStatus = ConnectionStatus.CONNECTED,
    health: ConnectionHealth = ConnectionHealth.HEALTHY,
    rtt: float | None = 0.0004,
) -> ImageConnectionStatus:
    return ImageConnectionStatus(
        image_id=f"id-{name}",
        name=name,
        address="tcp://127.0.0.1:1",
        status=status,
        health=health,
        rtt=rtt,
    )


def text(fragments) -> str:
    return fragment_list_to_text(fragments)


def style_of(fragments, needle: str) -> str:
    return next(style for style, t in fragments if needle in t)


def test_prompt_names_image_and_session_with_a_coloured_light() -> None:
    fragments = prompt_fragments(PromptState("alpha", "main", snap("alpha")))
    assert text(fragments) == "alpha:main ●> "
    assert style_of(fragments, "●") == "class:status.healthy"
    warn = prompt_fragments(
        PromptState("alpha", "main", snap("alpha", health=ConnectionHealth.WARNING))
    )
    assert style_of(warn, "●") == "class:status.warning"
    crit = prompt_fragments(
        PromptState("alpha", "main", snap("alpha", health=ConnectionHealth.CRITICAL))
    )
    assert style_of(crit, "●") == "class:status.critical"


def test_prompt_counts_running_evaluations_and_execute_mode() -> None:
    state = PromptState("alpha", "main", snap("alpha"), running=2, mode=EvalMode.EXECUTE)
    assert text(prompt_fragments(state)) == "alpha:main ● 2 running exec> "


def test_prompt_says_when_the_current_image_is_gone() -> None:
    down = snap("alpha", ConnectionStatus.DISCONNECTED, ConnectionHealth.UNKNOWN)
    assert text(prompt_fragments(PromptState("alpha", "main", down))) == "alpha ○ disconnected> "
    failed = snap("alpha", ConnectionStatus.FAILED, ConnectionHealth.UNKNOWN)
    fragments = prompt_fragments(PromptState("alpha", "main", failed))
    assert text(fragments) == "alpha ✕ failed> "
    assert style_of(fragments, "✕") == "class:status.failed"
    assert text(prompt_fragments(PromptState("alpha", "main", None))) == "alpha ✕ gone> "
    assert text(prompt_fragments(PromptState(None))) == "no image ✕> "
    back = snap("alpha", ConnectionStatus.RECONNECTING, ConnectionHealth.UNKNOWN)
    assert text(prompt_fragments(PromptState("alpha", "main", back))) == "alpha:main ◐> "


def test_toolbar_lists_every_image_with_status_health_and_rtt() -> None:
    images = [
        snap("alpha", rtt=0.00042),
        snap("beta", health=ConnectionHealth.WARNING, rtt=0.25),
        snap("gamma", ConnectionStatus.DISCONNECTED, ConnectionHealth.UNKNOWN, rtt=None),
    ]
    fragments = toolbar_fragments(images, "beta", hint="F5 exec")
    assert text(fragments) == (
        " ● alpha connected healthy 0.42 ms │ ● beta connected warning 250 ms │ ○ gamma disconnected -  F5 exec"
    )
    assert style_of(fragments, " beta") == "class:toolbar.current"
    assert "no images" in text(toolbar_fragments([], None))


def test_small_helpers() -> None:
    assert format_rtt(2.5) == "2.5 s"
    assert format_rtt(0.012) == "12 ms"
    assert session_label("0123456789abcdef") == "01234567"
    assert session_label("0123456789abcdef", "main") == "main"
    assert (
        status_class(ConnectionStatus.UNKNOWN, ConnectionHealth.UNKNOWN) == "class:status.unknown"
    )
    assert health_class(ConnectionHealth.CRITICAL) == "class:status.critical"
    assert health_class(ConnectionHealth.UNKNOWN) == "class:status.unknown"
    style = repl_style()  # monokai for Smalltalk tokens, the REPL's own classes on top
    assert style.get_attrs_for_style_str("class:pygments.keyword").color == "66d9ef"
    assert style.get_attrs_for_style_str("class:status.failed").color == "d75f5f"


def test_result_and_truncation() -> None:
    assert text(result_fragments(EvalResult(print_string="7", class_name="SmallInteger"))) == "7"
    cut = EvalResult(print_string="'aaa", class_name="String", truncated=True)
    assert text(result_fragments(cut)) == "'aaa …(truncated)"


def test_errors_print_class_and_text_with_a_caret_for_syntax_errors() -> None:
    error = Error(
        code=ErrorCode.EVALUATION_ERROR,
        message="expected expression",
        details=ErrorDetails(error_class="SyntaxError", position=4),
    )
    assert (
        text(error_fragments(error, "3 + * 4"))
        == "SyntaxError: expected expression\n  3 + * 4\n      ^"
    )
    at_plus = Error(
        code=error.code, message="m", details=ErrorDetails(error_class="SyntaxError", position=7)
    )
    multi = text(error_fragments(at_plus, "x :=\n3 +"))
    assert multi.splitlines()[1:] == ["  line 2: 3 +", " " * 12 + "^"]


def test_errors_without_position_show_a_few_stack_lines() -> None:
    error = Error(
        code=ErrorCode.EVALUATION_ERROR,
        message="Division by zero",
        details=ErrorDetails(error_class="ZeroDivide", stack=tuple(f"frame{i}" for i in range(8))),
    )
    lines = text(error_fragments(error, "1/0")).splitlines()
    assert lines[0] == "ZeroDivide: Division by zero"
    assert lines[1:7] == [f"  frame{i}" for i in range(6)]
    assert lines[7] == "  … 2 more"
    bare = Error(code=ErrorCode.TIMEOUT, message="too long")
    assert text(error_fragments(bare)) == "Timeout: too long"


def test_caret_lines_handles_tabs_and_out_of_range() -> None:
    assert caret_lines("\tx + ", 3) == ("\tx + ", "\t  ^")
    assert caret_lines("abc", 99) == ("abc", "   ^")
    assert caret_lines("abc", -3) == ("abc", "^")


def test_table_aligns_columns() -> None:
    fragments = table_fragments(
        [Column("name"), Column("sessions", right=True)],
        [["alpha", "1"], [("class:status.healthy", "beta-long"), "12"]],
    )
    assert text(fragments).splitlines() == [
        "name       sessions",
        "alpha             1",
        "beta-long        12",
    ]
    assert style_of(fragments, "beta-long") == "class:status.healthy"


def test_inspection_numbers_slots_and_says_what_is_hidden() -> None:
    inspection = Inspection(
        class_name="Point",
        print_string="3@4",
        handle=1,
        named=(
            Slot(name="x", print_string="3", class_name="SmallInteger"),
            Slot(name="y", print_string="a long\nvalue", class_name="String", handle=2),
        ),
        indexed=(Slot(name="1", print_string="9", class_name="SmallInteger"),),
        indexed_size=5,
    )
    lines = text(inspection_fragments(inspection, ["p", "y"])).splitlines()
    assert lines[0] == "Point  3@4"
    assert lines[1] == "  at p / y"
    assert lines[2] == "  1 x: 3  (SmallInteger)"
    assert lines[3] == "  2 y: a long value  (String)"
    assert lines[5] == "  … 4 more indexed slots"
    empty = Inspection(class_name="UndefinedObject", print_string="x" * 100)
    out = text(inspection_fragments(empty))
    assert "(no slots)" in out and "…" in out


def test_transcript_labels_other_images() -> None:
    assert text(transcript_fragments("beta", "hello\n", label=True)) == "[beta] hello"
    assert text(transcript_fragments("alpha", "hello", label=False)) == "hello"


def test_smalltalk_line_ends_show_as_lines_and_control_characters_cannot_act_on_the_terminal() -> (
    None
):
    crs = EvalResult(print_string="'a\rb\r\nc'", class_name="ByteString")
    assert text(result_fragments(crs)) == "'a\nb\nc'"  # `'a', String cr, 'b'` shows two lines
    assert text(transcript_fragments("alpha", "x\ry\r", label=False)) == "x\ny"
    evil = EvalResult(print_string="'\x1b[2J\x07\x7f\tok'", class_name="ByteString")
    assert text(result_fragments(evil)) == "'^[[2J^G^?\tok'"
    error = Error(code=ErrorCode.EVALUATION_ERROR, message="Error: a\rb")
    assert "Error: a\nb" in text(error_fragments(error))


def test_lexer_highlights_smalltalk_and_shows_commands_as_commands() -> None:
    from prompt_toolkit.document import Document

    from stui.repl.style import ReplLexer

    lexer = ReplLexer()
    command = lexer.lex_document(Document("  :use beta"))(0)
    assert command == [("", "  "), ("class:help.command", ":use"), ("", " beta")]
    assert lexer.lex_document(Document(":x\nmore"))(1) == [("", "more")]
    code = lexer.lex_document(Document("x := 'hi' , 3 printString"))(0)
    assert fragment_list_to_text(code) == "x := 'hi' , 3 printString"
    styles = {style for style, _ in code}
    assert "class:pygments.literal.string" in styles and "class:pygments.literal.number" in styles


def test_toolbar_gets_terser_to_fit_the_terminal() -> None:
    images = [snap(name) for name in ("alpha", "beta", "gamma", "delta")]
    full = text(toolbar_fragments(images, "alpha", hint="F5 exec"))
    assert text(toolbar_fragments(images, "alpha", hint="F5 exec", width=len(full))) == full
    no_hint = text(toolbar_fragments(images, "alpha", hint="F5 exec", width=len(full) - 1))
    assert "F5" not in no_hint and "healthy" in no_hint
    terse = text(toolbar_fragments(images, "alpha", hint="F5 exec", width=70))
    assert terse == " ● alpha 0.40 ms │ ● beta 0.40 ms │ ● gamma 0.40 ms │ ● delta 0.40 ms"
    tiny = text(toolbar_fragments(images, "alpha", width=20))
    assert tiny == " ● alpha ● beta ● gamma ● delta"  # the tersest form, even if still too wide
