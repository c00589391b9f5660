"""Completion: REPL commands and their arguments locally, Smalltalk names from the image.

Following ptpython's `PythonCompleter`, the completer holds *callables* that read live state (image
names, session ids, local images) rather than snapshots, so it never goes stale. Smalltalk names come
from the current image's `Complete` request through an async callable; the REPL bounds it with a short
timeout (0.5 s by default) and a slow or absent image simply yields no candidates. prompt_toolkit runs
`get_completions_async` as a task and cancels it when the user types on, so a late answer never lands
on text that has changed.

What completes where:
    :us|                   command names (and aliases)
    :use b|                image names            (:use, :disconnect, :stats, :cleanup)
    :sessions a|           image names and "all"
    :connect al|           local images found through connection files
    :session at|           new / attach / close, then session ids
    :help u|               command names
    :inspect Obj|, :exec   Smalltalk, through the image
    Transcript sh|         Smalltalk, through the image
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from stui.protocol import Completions
from stui.repl.command_registry import PREFIX, ArgKind, CommandRegistry

__all__ = ["ReplCompleter"]

SESSION_ACTIONS = ("new", "attach", "close")


class ReplCompleter(Completer):
    """Completes commands, their arguments and Smalltalk.

    Args:
        commands: the command registry.
        image_names: the names of the images the supervisor knows.
        local_images: names of running local images (connection files) not connected yet.
        session_ids: (session id, label) pairs of the current image's sessions.
        complete_smalltalk: `await complete_smalltalk(source, cursor)` → `Completions`, or None when the
            image cannot answer in time. Must not raise for ordinary failures.
    """

    def __init__(
        self,
        commands: CommandRegistry,
        *,
        image_names: Callable[[], Sequence[str]],
        local_images: Callable[[], Sequence[str]],
        session_ids: Callable[[], Sequence[tuple[str, str]]],
        complete_smalltalk: Callable[[str, int], Awaitable[Completions | None]],
    ) -> None:
        self.commands = commands
        self.image_names = image_names
        self.local_images = local_images
        self.session_ids = session_ids
        self.complete_smalltalk = complete_smalltalk

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        """The synchronous part: everything except Smalltalk names."""
        text = document.text_before_cursor
        if not text.lstrip().startswith(PREFIX):
            return
        yield from self._command_completions(text.lstrip())

    async def get_completions_async(
        self, document: Document, complete_event: CompleteEvent
    ) -> AsyncGenerator[Completion, None]:
        text = document.text_before_cursor
        stripped = text.lstrip()
        if stripped.startswith(PREFIX):
            name, space, rest = stripped[len(PREFIX) :].partition(" ")
            cmd = self.commands.find(name)
            if space and cmd is not None and cmd.args is ArgKind.SMALLTALK:
                async for completion in self._smalltalk(rest, len(rest), complete_event):
                    yield completion
                return
            for completion in self._command_completions(stripped):
                yield completion
            return
        async for completion in self._smalltalk(
            document.text, document.cursor_position, complete_event
        ):
            yield completion

    async def _smalltalk(
        self, source: str, cursor: int, complete_event: CompleteEvent
    ) -> AsyncGenerator[Completion, None]:
        word = _word_before(source, cursor)
        if not word and not complete_event.completion_requested:
            return  # typing spaces or punctuation: do not ask the image
        result = await self.complete_smalltalk(source, cursor)
        if result is None:
            return
        start = max(0, min(result.start, cursor))
        seen: set[str] = set()
        for item in result.items:
            if item.text in seen:
                continue
            seen.add(item.text)
            yield Completion(item.text, start_position=start - cursor, display_meta=item.kind)

    def _command_completions(self, text: str) -> Iterable[Completion]:
        body = text[len(PREFIX) :]
        name, space, rest = body.partition(" ")
        if not space:
            for candidate in self.commands.names():
                if candidate.startswith(name):
                    cmd = self.commands.find(candidate)
                    yield Completion(
                        PREFIX + candidate,
                        start_position=-len(text),
                        display_meta=cmd.help if cmd else None,
                    )
            return
        cmd = self.commands.find(name)
        if cmd is None:
            return
        words = rest.split(" ")
        current = words[-1]
        position = len(words) - 1  # which argument the cursor is in
        yield from _matching(self._argument_candidates(cmd.args, position, words), current)

    def _argument_candidates(
        self, kind: ArgKind, position: int, words: list[str]
    ) -> Iterable[tuple[str, str]]:
        match kind:
            case ArgKind.IMAGE if position == 0:
                return [(name, "image") for name in self.image_names()]
            case ArgKind.IMAGE_OR_ALL if position == 0:
                return [*((name, "image") for name in self.image_names()), ("all", "every image")]
            case ArgKind.LOCAL_IMAGE if position == 0:
                return [(name, "local image") for name in self.local_images()]
            case ArgKind.COMMAND if position == 0:
                return [(name, "command") for name in self.commands.names()]
            case ArgKind.SESSION_ACTION if position == 0:
                return [(action, "session") for action in SESSION_ACTIONS]
            case ArgKind.SESSION_ACTION if position == 1 and words[0] in ("attach", "close"):
                return [(sid, name or "session") for sid, name in self.session_ids()]
            case _:
                return []


def _matching(candidates: Iterable[tuple[str, str]], current: str) -> Iterable[Completion]:
    for text, meta in candidates:
        if text.startswith(current):
            yield Completion(text, start_position=-len(current), display_meta=meta)


def _word_before(source: str, cursor: int) -> str:
    i = cursor
    while i > 0 and (source[i - 1].isalnum() or source[i - 1] in "_:"):
        i -= 1
    return source[i:cursor]
