"""Key bindings: Enter submits a complete input, Meta-Enter always starts a new line, F5 runs in
Execute mode.

    Enter              run the input when it is complete (balanced brackets, quotes and comments, no
                       dangling keyword or operator: see input_rules.py); otherwise a new line,
                       indented like the one above (one step deeper after an opening bracket);
                       Enter on an empty continuation line runs the input as it is, so `3 +` then
                       Enter twice shows the image's "Argument expected" instead of waiting forever
    Esc Enter / Meta-Enter   always a new line (for a statement sequence you want to keep typing)
    F5                 run the input in Execute mode (Pharo's "Do it": no printString)
    Ctrl-C             clear the line (during an evaluation: interrupt it)
    Ctrl-D             quit, on an empty line
    Ctrl-R             search this image's history
    Tab                complete commands, image names, session ids and Smalltalk names
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import completion_is_selected, has_completions, has_focus
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from stui.repl.input_rules import scan

__all__ = ["INDENT", "newline_indent", "repl_key_bindings"]

INDENT = "    "
_OPENERS = "([{"


def newline_indent(buffer: Buffer) -> str:
    """The indentation for a new line after the cursor's line."""
    line = buffer.document.current_line_before_cursor
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith(tuple(_OPENERS)):
        indent += INDENT
    return indent


def _on_blank_continuation_line(buffer: Buffer) -> bool:
    document = buffer.document
    return (
        document.line_count > 1
        and document.is_cursor_at_the_end
        and not document.current_line.strip()
        and bool(document.text.strip())
    )


def repl_key_bindings(on_execute: Callable[[], None]) -> KeyBindings:
    """The REPL's bindings, added to prompt_toolkit's defaults.

    Args:
        on_execute: called just before F5 submits, so the REPL evaluates this input in Execute mode.
    """
    kb = KeyBindings()
    # Only the input buffer: Enter in the Ctrl-R search field must keep accepting the search.
    editing = has_focus(DEFAULT_BUFFER)

    @kb.add("enter", filter=editing & ~(has_completions & completion_is_selected))
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        # Enter in the middle of a complete multi-line input still submits the whole input. Enter on
        # a blank last line gives up waiting for the rest (as IPython does): the image says what is wrong.
        if scan(buffer.text).complete or _on_blank_continuation_line(buffer):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n" + newline_indent(buffer))

    @kb.add("escape", "enter", filter=editing)
    def _newline(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        buffer.insert_text("\n" + newline_indent(buffer))

    @kb.add("f5", filter=editing)
    def _execute(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.text.strip():
            on_execute()
            buffer.validate_and_handle()

    return kb
