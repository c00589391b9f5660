"""Positioned errors raised while reading Smalltalk source.

The lexer and the parser only know offsets into the source; the line, column and the caret picture are
computed when someone wants to show the error, from the source passed back in (the tomllib habit).
Runtime errors are *Smalltalk* exceptions (instances of Error and friends), not these.
"""

from __future__ import annotations

__all__ = ("SmalltalkSyntaxError", "line_and_column", "render_caret")


class SmalltalkSyntaxError(Exception):
    """The source is not valid Smalltalk.

    Attributes:
        message: Pharo's wording, e.g. ``"Argument expected"``.
        position: 0-based offset into the source where the problem was found.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at offset {position})")
        self.message = message
        self.position = position

    def render(self, source: str) -> str:
        """Return the offending line with a caret under the error and the message."""
        return render_caret(source, self.position, self.message)


def line_and_column(source: str, position: int) -> tuple[int, int]:
    """Return the 1-based line and column of a 0-based *position* in *source*."""
    position = max(0, min(position, len(source)))
    line = source.count("\n", 0, position) + 1
    start = source.rfind("\n", 0, position) + 1
    return line, position - start + 1


def render_caret(source: str, position: int, message: str) -> str:
    """Render ``line\\n   ^ message`` for the line holding *position*.

    Args:
        source: the whole source text.
        position: 0-based offset of the error.
        message: the text to put after the caret.

    Returns:
        Two lines: the source line and a caret line.
    """
    position = max(0, min(position, len(source)))
    start = source.rfind("\n", 0, position) + 1
    end = source.find("\n", position)
    if end < 0:
        end = len(source)
    text = source[start:end]
    return f"{text}\n{' ' * (position - start)}^ {message}"
