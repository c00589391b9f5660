"""The prompt and the bottom toolbar, rendered from status snapshots.

Both are pure functions of plain data (the supervisor's `ImageConnectionStatus` records, the current image
and session, the count of evaluations in flight), so they are cheap to call on every redraw and easy to
test. The prompt answers "where will Enter send this, and is it alive?" at a glance:

    alpha:main ●>           healthy (green light)
    alpha:main ● 2 running> two evaluations still running (e.g. interrupted, not yet acknowledged)
    alpha:main ◐>           reconnecting (yellow)
    alpha ✕ disconnected>   the current image went away; `:use` offers another

The toolbar lists every image: light, name, status, health and the last heartbeat round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prompt_toolkit.formatted_text import StyleAndTextTuples, fragment_list_to_text

from stui.protocol import ConnectionHealth, ConnectionStatus, EvalMode, ImageConnectionStatus
from stui.repl.style import status_class

__all__ = [
    "PromptState",
    "format_rtt",
    "light",
    "prompt_fragments",
    "session_label",
    "toolbar_fragments",
]


@dataclass(frozen=True, slots=True)
class PromptState:
    """What the prompt shows.

    Attributes:
        image: the current image's name, None when there is none.
        session: the label of the current session on it ("" when none yet).
        status: the current image's snapshot, None when unknown or gone.
        running: evaluations in flight on any image.
        mode: the mode Enter evaluates in.
    """

    image: str | None
    session: str = ""
    status: ImageConnectionStatus | None = None
    running: int = 0
    mode: EvalMode = EvalMode.DISPLAY


def light(status: ConnectionStatus) -> str:
    """The glyph for a status: ● up, ◐ coming back, ○ down or unknown, ✕ given up."""
    match status:
        case ConnectionStatus.CONNECTED:
            return "●"
        case ConnectionStatus.RECONNECTING:
            return "◐"
        case ConnectionStatus.FAILED:
            return "✕"
        case _:
            return "○"


def session_label(session_id: str, name: str = "") -> str:
    """How a session appears in the prompt: its name, else the first 8 characters of its id."""
    return name or session_id[:8]


def format_rtt(rtt: float | None) -> str:
    """A round trip for people: "0.42 ms", "12 ms", "1.3 s", "-" before the first heartbeat."""
    if rtt is None:
        return "-"
    ms = rtt * 1000.0
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{rtt:.1f} s"


def prompt_fragments(state: PromptState) -> StyleAndTextTuples:
    """The prompt, e.g. `alpha:main ●> `, as style/text fragments."""
    if state.image is None:
        fragments: StyleAndTextTuples = [("class:prompt.gone", "no image ✕")]
    else:
        fragments = [("class:prompt.image", state.image)]
        status = state.status
        gone = status is None or status.status in (
            ConnectionStatus.DISCONNECTED,
            ConnectionStatus.FAILED,
        )
        if state.session and not gone:
            fragments += [("class:prompt.sep", ":"), ("class:prompt.session", state.session)]
        fragments.append(("", " "))
        if status is None:
            fragments.append(("class:prompt.gone", "✕ gone"))
        elif gone:
            fragments += [
                (status_class(status.status, status.health), light(status.status)),
                ("class:prompt.gone", f" {status.status.value}"),
            ]
        else:
            fragments.append((status_class(status.status, status.health), light(status.status)))
    if state.running:
        fragments.append(("class:prompt.running", f" {state.running} running"))
    if state.mode is EvalMode.EXECUTE:
        fragments.append(("class:prompt.running", " exec"))
    fragments.append(("class:prompt.arrow", "> "))
    return fragments


def continuation_fragments(width: int) -> StyleAndTextTuples:
    """The prefix of continuation lines in multi-line input: dots aligned under the prompt's arrow."""
    return [("class:prompt.sep", "." * max(width - 2, 0) + "  ")]


def toolbar_fragments(
    images: Sequence[ImageConnectionStatus],
    current: str | None,
    *,
    hint: str = "",
    width: int | None = None,
) -> StyleAndTextTuples:
    """The bottom toolbar: `● alpha connected healthy 0.41 ms │ ○ beta disconnected -`.

    With `width` (the terminal's columns) it gets terser until it fits: first the key hint goes,
    then the status and health words (the light keeps their colour), then the round trips.
    """
    detail_levels = (2, 1, 0) if width is not None else (2,)
    for detail in detail_levels:
        for with_hint in (True, False) if hint else (False,):
            fragments = _toolbar(images, current, hint if with_hint else "", detail)
            if width is None or len(fragment_list_to_text(fragments)) <= width:
                return fragments
    return fragments


def _toolbar(
    images: Sequence[ImageConnectionStatus], current: str | None, hint: str, detail: int
) -> StyleAndTextTuples:
    fragments: StyleAndTextTuples = []
    if not images:
        fragments.append(("class:toolbar.image", " no images — :connect ADDRESS or :help"))
    for index, image in enumerate(images):
        if index:
            fragments.append(("class:toolbar.sep", " │" if detail else ""))
        name_class = "class:toolbar.current" if image.name == current else "class:toolbar.image"
        fragments += [
            ("", " "),
            (status_class(image.status, image.health), light(image.status)),
            (name_class, f" {image.name}"),
        ]
        if detail >= 2:
            fragments.append(("class:toolbar.image", f" {image.status.value}"))
            if (
                image.status is ConnectionStatus.CONNECTED
                and image.health is not ConnectionHealth.UNKNOWN
            ):
                fragments.append(
                    (status_class(image.status, image.health), f" {image.health.value}")
                )
        if detail >= 1:
            fragments.append(("class:toolbar.rtt", f" {format_rtt(image.rtt)}"))
    if hint:
        fragments += [("class:toolbar.sep", "  "), ("class:toolbar.keys", hint)]
    return fragments
