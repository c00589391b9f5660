"""Front-end mechanics with a real prompt_toolkit session on a pipe: keys, completion, history, commands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import fragment_list_to_text
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from stui.protocol import CompletionItem, Completions

from stui.repl.command_registry import ArgKind, CommandError, CommandRegistry, split_args
from stui.repl.commands import COMMANDS
from stui.repl.completer import ReplCompleter
from stui.repl.history import StoreHistory
from stui.repl.keys import newline_indent, repl_key_bindings


def read_with_keys(keys: str, *, history: StoreHistory | None = None) -> tuple[str, list[str]]:
    """Type `keys` into a REPL-configured PromptSession and return the accepted text and F5 calls."""
    executed: list[str] = []

    async def main() -> str:
        with create_pipe_input() as inp:
            session: PromptSession[str] = PromptSession(
                multiline=True,
                key_bindings=repl_key_bindings(lambda: executed.append("exec")),
                input=inp,
                output=DummyOutput(),
                history=history or StoreHistory(),
            )
            inp.send_text(keys)
            return await session.prompt_async(handle_sigint=False)

    return asyncio.run(main()), executed


# -- keys ------------------------------------------------------------------------------------------


def test_enter_submits_a_complete_input() -> None:
    assert read_with_keys("3 + 4\r") == ("3 + 4", [])


def test_enter_continues_an_incomplete_input_with_indentation() -> None:
    text, _ = read_with_keys("x > 3 ifTrue: [\r'big']\r")
    assert text == "x > 3 ifTrue: [\n    'big']"
    text, _ = read_with_keys("3 +\r4\r")
    assert text == "3 +\n4"


def test_enter_on_a_blank_continuation_line_runs_the_input_as_it_is() -> None:
    # `3 +` waits for an argument; a second Enter sends it anyway so the image reports the error.
    text, _ = read_with_keys("3 +\r\r")
    assert text.strip() == "3 +"
    text, _ = read_with_keys("#(1 2\r\r")
    assert text.strip() == "#(1 2"


def test_meta_enter_always_inserts_a_newline() -> None:
    text, _ = read_with_keys("x := 3.\x1b\ry := 4.\r")
    assert text == "x := 3.\ny := 4."


def test_f5_submits_in_execute_mode() -> None:
    assert read_with_keys("Transcript show: 'hi'\x1b[15~") == ("Transcript show: 'hi'", ["exec"])


def test_newline_indent_follows_the_line_above() -> None:
    from prompt_toolkit.buffer import Buffer

    buffer = Buffer(document=Document("  foo bar", 9))
    assert newline_indent(buffer) == "  "
    buffer = Buffer(document=Document("  foo: [", 8))
    assert newline_indent(buffer) == "      "


# -- history ---------------------------------------------------------------------------------------


def test_history_loads_from_the_store_callback_newest_first_and_saves() -> None:
    saved: list[str] = []

    async def load() -> list[str]:
        return ["1 + 1", "2 + 2", "2 + 2", "3 + 3"]

    history = StoreHistory(load=load, save=saved.append)

    async def main() -> list[str]:
        return [item async for item in history.load()]

    assert asyncio.run(main()) == ["3 + 3", "2 + 2", "1 + 1"]
    history.append_string(":images")
    assert saved == [":images"]
    assert history.get_strings()[-1] == ":images"
    assert list(history.load_history_strings()) == []


def test_history_survives_a_failing_store() -> None:
    async def load() -> list[str]:
        raise OSError("store closed")

    history = StoreHistory(load=load)

    async def main() -> list[str]:
        return [item async for item in history.load()]

    assert asyncio.run(main()) == []
    assert isinstance(history.load_error, OSError)


def test_up_arrow_and_ctrl_r_search_the_loaded_history() -> None:
    async def load() -> list[str]:
        return ["Smalltalk version", "3 factorial", "x := 42"]

    # Up twice: the second newest entry.
    text, _ = read_with_keys("\x1b[A\x1b[A\r", history=StoreHistory(load=load))
    assert text == "3 factorial"
    # Ctrl-R, type a fragment, Enter accepts the match, Enter runs it.
    text, _ = read_with_keys("\x12version\r\r", history=StoreHistory(load=load))
    assert text == "Smalltalk version"


# -- registry --------------------------------------------------------------------------------------


def test_registry_parses_finds_aliases_and_suggests() -> None:
    registry = CommandRegistry()

    @registry.command("use", "NAME", help="switch", aliases=("u",), args=ArgKind.IMAGE)
    async def use(repl: object, args: str) -> None: ...

    cmd, args = registry.parse(":use  beta ")
    assert cmd.name == "use" and args == "beta"
    assert registry.parse(":u beta")[0] is cmd
    assert len(registry) == 1 and registry.names() == ["use", "u"]
    with pytest.raises(CommandError, match="did you mean :use"):
        registry.parse(":uze beta")
    with pytest.raises(CommandError, match=":help lists them"):
        registry.parse(":zzzzzz")
    with pytest.raises(CommandError, match="type a command"):
        registry.parse(":")
    with pytest.raises(CommandError, match="start with"):
        registry.parse("use")
    with pytest.raises(ValueError, match="twice"):
        registry.command("other", help="x", aliases=("u",))(use)


def test_commands_without_arguments_refuse_some() -> None:
    assert COMMANDS.parse(":quit ")[0].name == "quit"
    with pytest.raises(CommandError, match=r"^:quit takes no arguments$"):
        COMMANDS.parse(":q uit")  # a typo must not quit
    with pytest.raises(CommandError, match=r"^:images takes no arguments$"):
        COMMANDS.parse(":images beta")


def test_help_lists_every_command_with_one_line() -> None:
    text = fragment_list_to_text(COMMANDS.help_fragments())
    lines = text.splitlines()
    assert len(lines) == len(COMMANDS)
    for name in (
        "images",
        "use",
        "connect",
        "disconnect",
        "sessions",
        "session",
        "stats",
        "cleanup",
        "inspect",
        "interrupt",
        "history",
        "help",
        "quit",
        "exec",
    ):
        assert any(line.startswith(f":{name}") for line in lines), name
    assert ":use NAME" in text and ":cleanup NAME [--force] [--keep-active]" in text


def test_split_args_reports_bad_quotes() -> None:
    assert split_args("a 'b c'", ":x") == ["a", "b c"]
    with pytest.raises(CommandError, match="usage: :x"):
        split_args("'open", ":x")


# -- completion ------------------------------------------------------------------------------------


def make_completer(
    answer: Completions | None = None,
) -> tuple[ReplCompleter, list[tuple[str, int]]]:
    asked: list[tuple[str, int]] = []

    async def complete_smalltalk(source: str, cursor: int) -> Completions | None:
        asked.append((source, cursor))
        return answer

    completer = ReplCompleter(
        COMMANDS,
        image_names=lambda: ["alpha", "beta"],
        local_images=lambda: ["gamma"],
        session_ids=lambda: [("abcdef0123", "main"), ("99887766", "scratch")],
        complete_smalltalk=complete_smalltalk,
    )
    return completer, asked


def complete(completer: ReplCompleter, text: str, *, requested: bool = False) -> list[str]:
    async def main() -> list[str]:
        event = CompleteEvent(completion_requested=requested)
        return [c.text async for c in completer.get_completions_async(Document(text), event)]

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":us", [":use"]),
        (":se", [":sessions", ":session"]),
        (":use ", ["alpha", "beta"]),
        (":use b", ["beta"]),
        (":sessions ", ["alpha", "beta", "all"]),
        (":connect ", ["gamma"]),
        (":session ", ["new", "attach", "close"]),
        (":session attach ", ["abcdef0123", "99887766"]),
        (":session attach ab", ["abcdef0123"]),
        (":session new ", []),
        (":help us", ["use"]),
        (":nosuch ", []),
        (":quit ", []),
    ],
)
def test_command_completion(text: str, expected: Sequence[str]) -> None:
    completer, asked = make_completer()
    assert complete(completer, text) == list(expected)
    assert list(c.text for c in completer.get_completions(Document(text), CompleteEvent())) == list(
        expected
    )
    assert asked == []


def test_smalltalk_completion_asks_the_image_and_replaces_the_word() -> None:
    answer = Completions(
        start=11,
        items=(
            CompletionItem(text="show:", kind="selector"),
            CompletionItem(text="show:", kind="selector"),
            CompletionItem(text="space", kind="selector"),
        ),
    )
    completer, asked = make_completer(answer)

    async def main() -> list[tuple[str, int, str]]:
        doc = Document("Transcript sh")
        return [
            (c.text, c.start_position, fragment_list_to_text(c.display_meta))
            async for c in completer.get_completions_async(doc, CompleteEvent())
        ]

    assert asyncio.run(main()) == [("show:", -2, "selector"), ("space", -2, "selector")]
    assert asked == [("Transcript sh", 13)]
    assert list(completer.get_completions(Document("Transcript sh"), CompleteEvent())) == []


def test_smalltalk_completion_is_quiet_without_a_word_unless_asked() -> None:
    completer, asked = make_completer(None)
    assert complete(completer, "3 + ") == []
    assert asked == []
    assert complete(completer, "3 + ", requested=True) == []
    assert asked == [("3 + ", 4)]


def test_inspect_and_exec_arguments_complete_as_smalltalk() -> None:
    completer, asked = make_completer(
        Completions(start=0, items=(CompletionItem(text="Object", kind="class"),))
    )
    assert complete(completer, ":inspect Obj") == ["Object"]
    assert asked == [("Obj", 3)]
