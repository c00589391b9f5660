"""Everything the REPL prints above the prompt: results, errors, tables, the inspector, notices.

Pure functions from protocol records to style/text fragments (ptpython keeps its output in `printer.py`
for the same reason): the app decides *when* to print, this module decides *what it looks like*, and a
test can read the text with `fragment_list_to_text` without a terminal.

Errors print the Smalltalk error class and text; when the image gives a position (syntax errors) the
offending source line is shown with a caret under the position:

    SyntaxError: expected expression
      3 + * 4
          ^
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prompt_toolkit.formatted_text import StyleAndTextTuples

from stui.protocol import Error, EvalResult, Inspection, Slot

__all__ = [
    "Column",
    "caret_lines",
    "error_fragments",
    "inspection_fragments",
    "notice_fragments",
    "result_fragments",
    "table_fragments",
    "terminal_text",
    "transcript_fragments",
]

#: Stack lines shown under an error; the image may send more.
MAX_STACK_LINES = 6


#: Smalltalk ends lines with CR (`String cr`, `aStream cr`), a terminal with LF; every other control
#: character would act on the terminal (bell, escape sequences), so it is shown as `^G`, `^[`...
_TERMINAL_TEXT = str.maketrans(
    {
        **{c: f"^{chr(c + 64)}" for c in range(32) if chr(c) not in "\n\t"},
        0x7F: "^?",
        0x0D: "\n",
    }
)


def terminal_text(text: str) -> str:
    """Smalltalk text as a terminal should show it: CR and CR LF end lines, other controls are visible."""
    return text.replace("\r\n", "\n").translate(_TERMINAL_TEXT)


def result_fragments(result: EvalResult) -> StyleAndTextTuples:
    """A Display-mode result: the printString, marked when the image cut it short."""
    fragments: StyleAndTextTuples = [("class:result", terminal_text(result.print_string))]
    if result.truncated:
        fragments.append(("class:result.truncated", " …(truncated)"))
    return fragments


def caret_lines(source: str, position: int) -> tuple[str, str]:
    """The source line holding `position` (0-based offset) and a caret line pointing at it.

    Tabs in the prefix are kept in the caret line so the caret lines up under any tab width. A position
    past the end points just after the last character (an "unexpected end of input").
    """
    position = max(0, min(position, len(source)))
    start = source.rfind("\n", 0, position) + 1
    end = source.find("\n", position)
    line = source[start : end if end >= 0 else len(source)]
    prefix = source[start:position]
    pad = "".join("\t" if ch == "\t" else " " for ch in prefix)
    return line, pad + "^"


def error_fragments(error: Error, source: str | None = None) -> StyleAndTextTuples:
    """An image's error: `Class: message`, the caret for a positioned error, a few stack lines."""
    details = error.details
    error_class = (details.error_class if details else None) or error.code.value
    message = terminal_text(error.message)
    if message.startswith(error_class + ":"):  # some images put the class in the text already
        message = message[len(error_class) + 1 :].lstrip()
    if message == error_class:
        message = ""
    fragments: StyleAndTextTuples = [
        ("class:error.class", error_class),
        ("class:error", f": {message}" if message else ""),
    ]
    if details is not None and details.position is not None and source:
        line, caret = caret_lines(source, details.position)
        line_no = source.count("\n", 0, max(0, min(details.position, len(source)))) + 1
        label = f"line {line_no}: " if "\n" in source else ""
        indent = "  " + " " * len(label)
        fragments += [
            ("", "\n"),
            ("class:error.stack", "  " + label),
            ("class:error.source", line),
            ("", "\n"),
            ("class:error.caret", indent + caret),
        ]
    if details is not None:
        for frame in details.stack[:MAX_STACK_LINES]:
            fragments += [("", "\n"), ("class:error.stack", f"  {frame}")]
        if len(details.stack) > MAX_STACK_LINES:
            more = len(details.stack) - MAX_STACK_LINES
            fragments += [("", "\n"), ("class:error.stack", f"  … {more} more")]
    return fragments


def notice_fragments(text: str, kind: str = "") -> StyleAndTextTuples:
    """A one-line message from stui itself; `kind` is "", "warn" or "bad"."""
    return [(f"class:notice.{kind}" if kind else "class:notice", text)]


def transcript_fragments(image: str, text: str, *, label: bool) -> StyleAndTextTuples:
    """Transcript output; labelled with the image when it comes from an image other than the current."""
    text = terminal_text(text)
    body = text[:-1] if text.endswith("\n") else text
    if not label:
        return [("class:transcript", body)]
    return [("class:transcript.label", f"[{image}] "), ("class:transcript", body)]


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: a header and whether to right-align it (numbers)."""

    header: str
    right: bool = False


def table_fragments(
    columns: Sequence[Column], rows: Sequence[Sequence[str | tuple[str, str]]]
) -> StyleAndTextTuples:
    """A plain aligned table. A cell is text, or (style class, text) for a coloured cell."""

    def text_of(cell: str | tuple[str, str]) -> str:
        return cell if isinstance(cell, str) else cell[1]

    widths = [len(c.header) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(text_of(cell)))

    def pad(text: str, i: int) -> str:
        return text.rjust(widths[i]) if columns[i].right else text.ljust(widths[i])

    fragments: StyleAndTextTuples = []
    for i, column in enumerate(columns):
        fragments.append(("class:table.header", pad(column.header, i)))
        fragments.append(("", "  " if i < len(columns) - 1 else ""))
    for row in rows:
        fragments.append(("", "\n"))
        for i, cell in enumerate(row):
            style = "" if isinstance(cell, str) else cell[0]
            text = pad(text_of(cell), i)
            if i == len(columns) - 1:
                text = text.rstrip()
            fragments.append((style, text))
            if i < len(row) - 1:
                fragments.append(("", "  "))
    return fragments


def inspection_fragments(inspection: Inspection, path: Sequence[str] = ()) -> StyleAndTextTuples:
    """An inspected object: its class and printString, then numbered slots to drill into.

    Slots are numbered from 1 over named then indexed slots; `:inspect N` (or just `N` in the
    inspector) opens slot N, `:inspect back` goes up, `path` shows where we are.
    """
    where = " / ".join(path) if path else ""
    fragments: StyleAndTextTuples = [
        ("class:inspect.title", inspection.class_name),
        ("", "  "),
        ("class:result", _one_line(inspection.print_string, 60)),
    ]
    if where:
        fragments += [("", "\n"), ("class:inspect.class", f"  at {where}")]
    slots = (*inspection.named, *inspection.indexed)
    width = len(str(len(slots))) if slots else 1
    for number, slot in enumerate(slots, start=1):
        indexed = number > len(inspection.named)
        fragments += [("", "\n"), *_slot_fragments(number, slot, width, indexed=indexed)]
    if inspection.indexed_size > len(inspection.indexed):
        hidden = inspection.indexed_size - len(inspection.indexed)
        fragments += [("", "\n"), ("class:inspect.class", f"  … {hidden} more indexed slots")]
    if not slots:
        fragments += [("", "\n"), ("class:inspect.class", "  (no slots)")]
    return fragments


def _slot_fragments(number: int, slot: Slot, width: int, *, indexed: bool) -> StyleAndTextTuples:
    label = f"[{slot.name}]" if indexed else slot.name
    return [
        ("class:inspect.index", f"  {number:>{width}} "),
        ("class:inspect.name", f"{label}: "),
        ("class:result", _one_line(slot.print_string, 60)),
        ("class:inspect.class", f"  ({slot.class_name})"),
    ]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(terminal_text(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
