"""The REPL command registry: `:name args` commands declared with a decorator, help generated from it.

litecli's habit (packages/special/main.py): each command is a function registered with its name,
argument synopsis, one line of help and aliases, and everything else — `:help`, completion of command
names and of their arguments, "did you mean" for typos — is derived from the registry, so a new command
cannot be forgotten in the help.

A command handler is `async def handler(repl, args: str) -> None`; it reports a user mistake by raising
`CommandError` with a one-line explanation, which the REPL prints without a traceback.
"""

from __future__ import annotations

import difflib
import enum
import shlex
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples

__all__ = ["ArgKind", "Command", "CommandError", "CommandRegistry", "split_args"]

#: Commands start with this character; anything else is Smalltalk.
PREFIX = ":"

Handler = Callable[[Any, str], Awaitable[None]]


class CommandError(Exception):
    """A command was used wrongly (unknown name, bad arguments). The message is one line for a person."""


class ArgKind(enum.Enum):
    """What a command's first argument is, for completion."""

    NONE = "none"
    IMAGE = "image"
    IMAGE_OR_ALL = "image-or-all"
    LOCAL_IMAGE = "local-image"
    SESSION_ACTION = "session-action"
    COMMAND = "command"
    SMALLTALK = "smalltalk"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Command:
    """One registered command.

    Attributes:
        name: what follows the `:` (e.g. "use").
        usage: the argument synopsis for help (e.g. "NAME").
        help: one line saying what it does.
        handler: `async (repl, args) -> None`.
        aliases: other names that run it.
        args: what its first argument is, for completion.
    """

    name: str
    usage: str
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    args: ArgKind = ArgKind.NONE

    @property
    def synopsis(self) -> str:
        return f"{PREFIX}{self.name}" + (f" {self.usage}" if self.usage else "")


class CommandRegistry:
    """An ordered set of commands, in the order they were registered (which is the help order)."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._names: dict[str, Command] = {}

    def command(
        self,
        name: str,
        usage: str = "",
        *,
        help: str,
        aliases: tuple[str, ...] = (),
        args: ArgKind = ArgKind.NONE,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler as `:name`.

        Raises:
            ValueError: the name or an alias is taken.
        """

        def register(handler: Handler) -> Handler:
            cmd = Command(name, usage, help, handler, aliases, args)
            for key in (name, *aliases):
                if key in self._names:
                    raise ValueError(f"command name {key!r} registered twice")
                self._names[key] = cmd
            self._commands[name] = cmd
            return handler

        return register

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)

    def names(self) -> list[str]:
        """Every name and alias, for completion."""
        return list(self._names)

    def find(self, name: str) -> Command | None:
        return self._names.get(name)

    def parse(self, line: str) -> tuple[Command, str]:
        """Split `:name args` into the command and its argument text.

        Raises:
            CommandError: not a command line, or an unknown command (with a suggestion when close).
        """
        text = line.strip()
        if not text.startswith(PREFIX):
            raise CommandError(f"commands start with {PREFIX!r}")
        name, _, args = text[len(PREFIX) :].partition(" ")
        if not name:
            raise CommandError(f"type a command after {PREFIX!r}; {PREFIX}help lists them")
        cmd = self._names.get(name)
        if cmd is None:
            close = difflib.get_close_matches(name, self._names, n=1, cutoff=0.6)
            hint = f"; did you mean {PREFIX}{close[0]}?" if close else f"; {PREFIX}help lists them"
            raise CommandError(f"unknown command {PREFIX}{name}{hint}")
        if args.strip() and not cmd.usage:  # `:q uit` must not quit, `:images beta` not ignore beta
            raise CommandError(f"{PREFIX}{cmd.name} takes no arguments")
        return cmd, args.strip()

    def help_fragments(self) -> StyleAndTextTuples:
        """`:help`: one line per command, synopsis then what it does."""
        width = max((len(c.synopsis) for c in self), default=0)
        fragments: StyleAndTextTuples = []
        for i, cmd in enumerate(self):
            if i:
                fragments.append(("", "\n"))
            name = f"{PREFIX}{cmd.name}"
            fragments += [
                ("class:help.command", name),
                ("class:help.args", cmd.synopsis[len(name) :].ljust(width - len(name))),
                ("", "  " + cmd.help),
            ]
            if cmd.aliases:
                fragments.append(
                    (
                        "class:table.dim",
                        " (also " + ", ".join(PREFIX + a for a in cmd.aliases) + ")",
                    )
                )
        return fragments


def split_args(args: str, usage: str) -> list[str]:
    """Split command arguments like a shell would (quotes group words).

    Raises:
        CommandError: unbalanced quotes; the message repeats the usage.
    """
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"{exc} (usage: {usage})") from None
