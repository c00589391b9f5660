"""The REPL's look: one prompt_toolkit `Style` for every class the renderers use, plus Smalltalk colours.

Renderers (status_line.py, printer.py) emit `(class:…, text)` fragments and never colours, so the whole
palette lives here and a test can check text without caring about escape codes. Status classes follow
the prompt's traffic light: healthy green, warning yellow, critical red, disconnected grey, failed red.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer, PygmentsLexer
from prompt_toolkit.styles import Style, merge_styles, style_from_pygments_cls
from pygments.lexers.smalltalk import SmalltalkLexer
from pygments.styles import get_style_by_name

from stui.protocol import ConnectionHealth, ConnectionStatus

__all__ = ["REPL_STYLE", "ReplLexer", "health_class", "repl_style", "status_class"]

REPL_STYLE = Style.from_dict(
    {
        # the prompt
        "prompt.image": "bold #5f87ff",
        "prompt.session": "#8787af",
        "prompt.sep": "#6c6c6c",
        "prompt.arrow": "bold",
        "prompt.running": "#d7af00",
        "prompt.gone": "bold #d75f5f",
        # status lights, in the prompt, the toolbar and the tables
        "status.healthy": "#5faf5f",
        "status.warning": "#d7af00",
        "status.critical": "#d75f5f",
        "status.reconnecting": "#d7af00",
        "status.disconnected": "#808080",
        "status.failed": "bold #d75f5f",
        "status.unknown": "#808080",
        # the bottom toolbar
        "bottom-toolbar": "noreverse bg:#262626 #bcbcbc",
        "toolbar.current": "bold #ffffff",
        "toolbar.image": "#bcbcbc",
        "toolbar.rtt": "#8a8a8a",
        "toolbar.sep": "#585858",
        "toolbar.keys": "#8a8a8a",
        # results and messages
        "result": "",
        "result.class": "#8a8a8a",
        "result.truncated": "italic #8a8a8a",
        "error": "#d75f5f",
        "error.class": "bold #d75f5f",
        "error.caret": "bold #d75f5f",
        "error.source": "",
        "error.stack": "#8a8a8a",
        "notice": "#87afaf",
        "notice.warn": "#d7af00",
        "notice.bad": "#d75f5f",
        "transcript": "#afaf87",
        "transcript.label": "#6c6c6c",
        "table.header": "bold underline",
        "table.dim": "#8a8a8a",
        "help.command": "bold",
        "help.args": "#87afaf",
        "inspect.title": "bold",
        "inspect.index": "#5f87ff",
        "inspect.name": "bold",
        "inspect.class": "#8a8a8a",
    }
)


def repl_style() -> Style:
    """The REPL style merged with Pygments' monokai palette for Smalltalk highlighting."""
    return merge_styles([style_from_pygments_cls(get_style_by_name("monokai")), REPL_STYLE])


def status_class(status: ConnectionStatus, health: ConnectionHealth) -> str:
    """The style class for an image's light: health while connected, the status otherwise."""
    match status:
        case ConnectionStatus.CONNECTED:
            match health:
                case ConnectionHealth.WARNING:
                    return "class:status.warning"
                case ConnectionHealth.CRITICAL:
                    return "class:status.critical"
                case _:
                    return "class:status.healthy"
        case ConnectionStatus.RECONNECTING:
            return "class:status.reconnecting"
        case ConnectionStatus.DISCONNECTED:
            return "class:status.disconnected"
        case ConnectionStatus.FAILED:
            return "class:status.failed"
        case _:
            return "class:status.unknown"


def health_class(health: ConnectionHealth) -> str:
    return {
        ConnectionHealth.HEALTHY: "class:status.healthy",
        ConnectionHealth.WARNING: "class:status.warning",
        ConnectionHealth.CRITICAL: "class:status.critical",
    }.get(health, "class:status.unknown")


class ReplLexer(Lexer):
    """Smalltalk highlighting (Pygments' SmalltalkLexer), except for `:command` lines, whose command
    name is shown as a command rather than mis-read as Smalltalk."""

    def __init__(self) -> None:
        self._smalltalk = PygmentsLexer(SmalltalkLexer)

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        if not document.text.lstrip().startswith(":"):
            return self._smalltalk.lex_document(document)
        lines = document.lines

        def get_line(number: int) -> StyleAndTextTuples:
            line = lines[number] if number < len(lines) else ""
            if number > 0:
                return [("", line)]
            indent = line[: len(line) - len(line.lstrip())]
            name, space, rest = line.lstrip().partition(" ")
            return [("", indent), ("class:help.command", name), ("", space + rest)]

        return get_line
