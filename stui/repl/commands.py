"""The REPL's `:commands`, registered in `COMMANDS` with a decorator; `:help` is generated from it.

Every handler is `async def (repl, args) -> None`. A usage mistake raises `CommandError` (printed as one
line); errors from the supervisor (`ImageNotFound`, `SessionError`, ...) are printed by the REPL loop.
Handlers reach the supervisor and the store only through `repl.call(...)` (trio, see trio_guest.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stui.config import ConfigError, read_key_file
from stui.protocol import (
    CleanupImageSessions,
    ConnectionStatus,
    EvalMode,
    GetImageSessionStats,
    Inspection,
    ListImageSessions,
    SessionStatus,
)
from stui.repl.command_registry import ArgKind, CommandError, CommandRegistry, split_args
from stui.repl.printer import Column, inspection_fragments, table_fragments
from stui.repl.status_line import format_rtt, light
from stui.repl.style import health_class, status_class

if TYPE_CHECKING:
    from stui.image.connection_file import ConnectionInfo
    from stui.repl.app import Repl

__all__ = ["COMMANDS", "Inspector", "running_local_image"]

COMMANDS = CommandRegistry()
command = COMMANDS.command


def _one_name(args: str, usage: str) -> str:
    words = split_args(args, usage)
    if len(words) != 1:
        raise CommandError(f"usage: {usage}")
    return words[0]


def _name_or_current(repl: Repl, args: str, usage: str) -> str | None:
    """The one name in `args`, or the current image's when none is given."""
    words = split_args(args, usage)
    if len(words) > 1:
        raise CommandError(f"usage: {usage}")
    return words[0] if words else repl.current


def _known_image(repl: Repl, name: str) -> None:
    if name not in repl.images:
        raise CommandError(f"no image called {name!r}")


def _when(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


# --------------------------------------------------------------------------------------------------
# Images


@command("images", help="list images: address, status, health, round trip, sessions")
async def images(repl: Repl, args: str) -> None:
    await repl.refresh()
    if not repl.images:
        repl.notice("no images; :connect ADDRESS, or :connect NAME for a local image")
        return
    counts: dict[str, int] = {}
    for name in repl.images:
        try:
            reply = await repl.call(repl.sup.command, ListImageSessions(image_id=name))
            counts[name] = len(reply.sessions)
        except Exception:
            counts[name] = 0
    rows = []
    for name, status in repl.images.items():
        light_class = status_class(status.status, status.health)
        marker = "*" if name == repl.current else " "
        rows.append(
            [
                (light_class, f"{marker}{light(status.status)} {name}"),
                status.address,
                "websocket" if status.address.startswith(("ws://", "wss://")) else "zmq",
                (light_class, status.status.value),
                (health_class(status.health), status.health.value),
                format_rtt(status.rtt),
                str(counts.get(name, 0)),
            ]
        )
    repl.print(
        table_fragments(
            [
                Column("  image"),
                Column("address"),
                Column("transport"),
                Column("status"),
                Column("health"),
                Column("rtt", right=True),
                Column("sessions", right=True),
            ],
            rows,
        )
    )
    local = repl.local_image_names()
    if local:
        repl.notice("local images not connected: " + ", ".join(local) + " (:connect NAME)")


@command(
    "use",
    "NAME",
    help="switch image (its session and context come back)",
    args=ArgKind.IMAGE,
)
async def use(repl: Repl, args: str) -> None:
    words = split_args(args, ":use NAME")
    if len(words) != 1:
        known = f" (images: {', '.join(repl.images)})" if repl.images else ""
        raise CommandError(f"usage: :use NAME{known}")
    name = words[0]
    if name not in repl.images:
        await repl.refresh()
    if name not in repl.images:
        hint = ""
        if name in repl.local_image_names() or repl.config.image(name) is not None:
            hint = f"; :connect {name} first"
        elif repl.images:
            hint = "; images: " + ", ".join(repl.images)
        raise CommandError(f"no image called {name!r}{hint}")
    await repl.call(repl.sup.switch, name, preserve_context=True)
    repl.inspector = None
    await repl.refresh()
    status = repl.images.get(name)
    where = f"{name}:{repl.session_label}" if repl.session_label else name
    if status is not None and status.status is not ConnectionStatus.CONNECTED:
        repl.notice(f"now on {where} ({status.status.value})", "warn")
    else:
        repl.notice(f"now on {where}")


@command(
    "connect",
    "ADDRESS [as NAME] | NAME",
    help="connect by address, or a local or configured image by name",
    args=ArgKind.LOCAL_IMAGE,
)
async def connect(repl: Repl, args: str) -> None:
    usage = ":connect ADDRESS [as NAME] | :connect NAME"
    words = split_args(args, usage)
    if len(words) == 3 and words[1] == "as":
        target, alias = words[0], words[2]
    elif len(words) == 1:
        target, alias = words[0], ""
    else:
        raise CommandError(f"usage: {usage}")
    key = b""
    interval, misses = 1.0, 3
    address = target
    if "://" in target:
        # a local image's address: its key is in its file
        local = running_local_image(address=target)
        if local is not None:
            key = local.key
    else:
        configured = repl.config.image(target)
        if configured is not None:
            address = configured.address
            interval, misses = configured.heartbeat_interval, configured.heartbeat_misses
            if configured.key_file is not None:
                try:
                    key = read_key_file(configured.key_file)
                except ConfigError as exc:
                    raise CommandError(str(exc)) from None
        else:
            info = running_local_image(target)
            if info is None and target in repl.images:
                status = repl.images[target]
                raise CommandError(
                    f"{target} is {status.status.value} at {status.address}; it comes back by itself"
                    " when the image runs there again"
                )
            if info is None:
                raise CommandError(
                    f"no local image or configured image called {target!r}; give an address "
                    "(tcp://host:port or ws://host:port/stui)"
                )
            address = info.zmq_address or info.ws_address or ""
            key = info.key
        alias = alias or target
    existing = repl.images.get(alias) if alias else None
    if existing is not None:
        if existing.status is ConnectionStatus.CONNECTED:
            raise CommandError(f"an image called {alias!r} is already connected")
        if existing.address == address:
            raise CommandError(
                f"{alias} is {existing.status.value} at {address}; it comes back by itself"
                " when the image runs there again"
            )
        # The image was restarted elsewhere (a new port): reconnecting to the old address would
        # never succeed, so let go of it and connect to where the image is now.
        repl.disconnecting.add(alias)
        await repl.call(repl.sup.disconnect, alias)
    connected = await repl.call(
        repl.sup.connect,
        address,
        name=alias,
        key=key,
        heartbeat_interval=interval,
        heartbeat_misses=misses,
    )
    shown = connected.name  # the image's own name when no alias was given
    await repl.refresh()
    status = repl.images.get(shown)
    state = status.status.value if status is not None else "connecting"
    repl.notice(
        f"{shown}: {state} at {address}"
        + ("" if repl.current == shown else f"; :use {shown} to switch")
    )


def running_local_image(
    name: str | None = None, *, address: str | None = None
) -> ConnectionInfo | None:
    """The newest running local image with this name (or serving this address), from its file."""
    from stui.image.connection_file import find_connection_files
    from stui.paths import runtime_dir

    for info in reversed(find_connection_files(runtime_dir())):  # newest first
        if info.stale:
            continue
        if name is not None and info.image_name == name:
            return info
        if address is not None and address in (info.zmq_address, info.ws_address):
            return info
    return None


@command(
    "disconnect",
    "NAME",
    help="disconnect from an image (its sessions stay there)",
    args=ArgKind.IMAGE,
)
async def disconnect(repl: Repl, args: str) -> None:
    name = _one_name(args, ":disconnect NAME")
    _known_image(repl, name)
    was_current = repl.current == name
    repl.disconnecting.add(name)
    await repl.call(repl.sup.disconnect, name)
    await repl.refresh()
    text = f"disconnected from {name}"
    if was_current:
        text += f"; now on {repl.current}" if repl.current else "; no image left: :connect ADDRESS"
    repl.notice(text)


# --------------------------------------------------------------------------------------------------
# Sessions


@command(
    "sessions",
    "[NAME|all]",
    help="list the sessions of this image, of NAME, or of all",
    args=ArgKind.IMAGE_OR_ALL,
)
async def sessions(repl: Repl, args: str) -> None:
    target = _name_or_current(repl, args, ":sessions [NAME|all]")
    if target is None:
        raise CommandError("no current image; :sessions NAME or :sessions all")
    image_id = None if target == "all" else target
    if image_id is not None:
        _known_image(repl, image_id)
    reply = await repl.call(
        repl.sup.command, ListImageSessions(image_id=image_id, include_disconnected=True)
    )
    records = reply.sessions
    hidden = 0
    if (
        image_id is not None
    ):  # one image: its closed sessions (every earlier run leaves some) are noise
        shown = [r for r in records if r.status is not SessionStatus.CLOSED]
        hidden, records = len(records) - len(shown), shown
    more = f"{hidden} closed session(s) not shown; :sessions all lists them" if hidden else ""
    if not records:
        repl.notice(
            (f"no sessions on {target}" if image_id else "no sessions")
            + (f"; {more}" if more else "")
        )
        return
    names = {status.image_id: name for name, status in repl.images.items()}
    active = {name: _active(repl, name) for name in repl.images}
    rows = []
    for record in records:
        image = names.get(record.image_id, record.image_id[:8])
        marker = "*" if active.get(image) == record.session_id else " "
        rows.append(
            [
                f"{marker}{record.session_id}",
                record.name or "-",
                image,
                record.status.value,
                _when(record.created_at),
                _when(record.last_activity),
            ]
        )
    repl.print(
        table_fragments(
            [
                Column(" id"),
                Column("name"),
                Column("image"),
                Column("status"),
                Column("created"),
                Column("last used"),
            ],
            rows,
        )
    )
    if more:
        repl.notice(more)


def _active(repl: Repl, name: str) -> str | None:
    try:
        return repl.sup.active_session(name)
    except Exception:
        return None


@command(
    "session",
    "new [NAME]|attach ID|close ID",
    help="open, take up or close a session",
    args=ArgKind.SESSION_ACTION,
)
async def session(repl: Repl, args: str) -> None:
    usage = ":session new [NAME] | :session attach ID | :session close ID"
    words = split_args(args, usage)
    if repl.current is None:
        raise CommandError("no current image; :use NAME first")
    image = repl.current
    match words:
        case ["new"] | ["new", _]:
            summary = await repl.call(
                repl.sup.new_session, image=image, name=words[1] if len(words) == 2 else ""
            )
            repl.notice(
                f"new session {summary.session_id}"
                + (f" ({summary.name})" if summary.name else "")
                + f" on {image}"
            )
        case ["attach", session_id]:
            session_id = _expand_session(repl, session_id)
            summary = await repl.call(repl.sup.attach_session, session_id, image=image)
            repl.notice(f"attached session {summary.session_id} on {image}")
        case ["close", session_id]:
            await repl.refresh()
            session_id = _expand_session(repl, session_id)
            if session_id not in {sid for sid, _ in repl.session_choices}:
                raise CommandError(f"no session {session_id!r} on {image}; :sessions lists them")
            await repl.call(repl.sup.close_session, session_id, image=image)
            repl.notice(f"closed session {session_id} on {image}")
        case _:
            raise CommandError(f"usage: {usage}")


def _expand_session(repl: Repl, prefix: str) -> str:
    """A session's name, or a unique prefix of its id (as the prompt shows it), stands for its id."""
    named = [sid for sid, name in repl.session_choices if name and name == prefix]
    if len(named) == 1:
        return named[0]
    matches = named or [sid for sid, _ in repl.session_choices if sid.startswith(prefix)]
    if len(matches) > 1 and prefix not in matches:
        ids = ", ".join(sid[:8] for sid in matches)
        raise CommandError(
            f"{prefix!r} could be any of {len(matches)} sessions ({ids}); give more of the id"
        )
    return matches[0] if len(matches) == 1 else prefix


@command(
    "stats",
    "[NAME]",
    help="session counts and context size of an image",
    args=ArgKind.IMAGE,
)
async def stats(repl: Repl, args: str) -> None:
    name = _name_or_current(repl, args, ":stats [NAME]")
    if name is None:
        raise CommandError("usage: :stats NAME")
    _known_image(repl, name)
    reply = await repl.call(repl.sup.command, GetImageSessionStats(image_id=name))
    repl.print(
        table_fragments(
            [
                Column("image"),
                Column("total", True),
                Column("active", True),
                Column("orphaned", True),
                Column("context bytes", True),
                Column("last activity"),
            ],
            [
                [
                    name,
                    str(reply.total),
                    str(reply.active),
                    str(reply.orphaned),
                    str(reply.context_bytes),
                    _when(reply.last_activity),
                ]
            ],
        )
    )


@command(
    "cleanup",
    "NAME [--force] [--keep-active]",
    help="close orphaned sessions; --force: live ones too",
    args=ArgKind.IMAGE,
)
async def cleanup(repl: Repl, args: str) -> None:
    usage = ":cleanup NAME [--force] [--keep-active]"
    words = split_args(args, usage)
    flags = {w for w in words if w.startswith("--")}
    names = [w for w in words if not w.startswith("--")]
    if len(names) != 1 or flags - {"--force", "--keep-active"}:
        raise CommandError(f"usage: {usage}")
    name = names[0]
    _known_image(repl, name)
    force = "--force" in flags
    report = await repl.call(
        repl.sup.command,
        CleanupImageSessions(
            image_id=name, force=force, preserve_active=("--keep-active" in flags) or not force
        ),
    )
    closed = ", ".join(s[:8] for s in report.closed) or "nothing"
    text = f"{name}: closed {closed}"
    if report.kept:
        text += f"; kept {len(report.kept)}"
    repl.notice(text)


# --------------------------------------------------------------------------------------------------
# Evaluation helpers


@command(
    "exec",
    "CODE",
    help="evaluate in Execute mode, no printString (or F5)",
    args=ArgKind.SMALLTALK,
)
async def exec_(repl: Repl, args: str) -> None:
    if not args.strip():
        raise CommandError("usage: :exec CODE")
    await repl.evaluate(args, EvalMode.EXECUTE)


@dataclass
class Inspector:
    """Where `:inspect` is: the stack of inspected objects, newest last, and the path of slot names."""

    image: str
    stack: list[Inspection] = field(default_factory=list)
    path: list[str] = field(default_factory=list)


@command(
    "inspect",
    "EXPR | N | back",
    help="inspect a value; N opens slot N, back goes up",
    aliases=("i",),
    args=ArgKind.SMALLTALK,
)
async def inspect(repl: Repl, args: str) -> None:
    arg = args.strip()
    inspector = repl.inspector if isinstance(repl.inspector, Inspector) else None
    if inspector is not None and inspector.image != repl.current:
        inspector = repl.inspector = None
    if not arg:
        if inspector is None or not inspector.stack:
            raise CommandError(
                "usage: :inspect EXPR (then :inspect N to open slot N, :inspect back)"
            )
        repl.print(inspection_fragments(inspector.stack[-1], inspector.path))
        return
    if arg in ("back", "..") and inspector is not None:
        if len(inspector.stack) <= 1:
            repl.inspector = None
            repl.notice("left the inspector")
            return
        inspector.stack.pop()
        inspector.path.pop()
        repl.print(inspection_fragments(inspector.stack[-1], inspector.path))
        return
    if arg.isdigit() and inspector is not None and inspector.stack:
        current = inspector.stack[-1]
        slots = (*current.named, *current.indexed)
        number = int(arg)
        if not 1 <= number <= len(slots):
            raise CommandError(f"slot {number} does not exist; 1 to {len(slots)}")
        slot = slots[number - 1]
        if slot.handle is None:
            repl.notice(
                f"{slot.name}: {slot.print_string} ({slot.class_name}) has no slots to open"
            )
            return
        inspection = await repl.call(repl.sup.inspect, handle=slot.handle, image=inspector.image)
        inspector.stack.append(inspection)
        inspector.path.append(slot.name)
        repl.print(inspection_fragments(inspection, inspector.path))
        return
    if repl.current is None:
        raise CommandError("no current image; :use NAME first")
    inspection = await repl.call(repl.sup.inspect, expression=arg, image=repl.current)
    repl.inspector = Inspector(image=repl.current, stack=[inspection], path=[_short(arg)])
    repl.print(inspection_fragments(inspection, repl.inspector.path))


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 24 else flat[:23] + "…"


@command("interrupt", help="interrupt what runs on this image")
async def interrupt(repl: Repl, args: str) -> None:
    if repl.current is None:
        raise CommandError("no current image")
    acks = await repl.call(repl.sup.interrupt, image=repl.current)
    count = len(acks) if isinstance(acks, (tuple, list)) else 0
    repl.notice(
        f"interrupted {count} evaluation(s) on {repl.current}"
        if count
        else f"nothing is running on {repl.current}"
    )


@command(
    "history",
    "[TEXT]",
    help="this image's history, or the entries containing TEXT",
    args=ArgKind.TEXT,
)
async def history(repl: Repl, args: str) -> None:
    search = args.strip() or None
    image_id = repl.image_id(repl.current)
    if repl.store is not None and image_id is not None:
        entries = await repl.call(repl.store.history, image_id, search=search, limit=20)
        lines = [(entry.created_at, entry.source) for entry in entries]
        if lines and lines[-1][1].strip() == f":history {args}".strip():
            lines.pop()  # the :history command itself, just written
    else:
        loaded = list(reversed(repl.history_for(repl.current).get_strings()))
        lines = [(None, s) for s in loaded if search is None or search.lower() in s.lower()][-20:]
    if not lines:
        repl.notice("no history" + (f" containing {search!r}" if search else ""))
        return
    fragments: list[tuple[str, str]] = []
    for i, (at, source) in enumerate(lines):
        if i:
            fragments.append(("", "\n"))
        when = time.strftime("%H:%M:%S ", time.localtime(at)) if at else ""
        body = source.replace("\n", "\n" + " " * (len(when) + 2))
        fragments += [("class:table.dim", f"{when}"), ("", "  " + body)]
    repl.print(fragments)


# --------------------------------------------------------------------------------------------------
# The REPL itself


@command(
    "help",
    "[COMMAND]",
    help="list the commands, or explain one",
    aliases=("h", "?"),
    args=ArgKind.COMMAND,
)
async def help_(repl: Repl, args: str) -> None:
    name = args.strip().lstrip(":")
    if name:
        cmd = COMMANDS.find(name)
        if cmd is None:
            raise CommandError(f"unknown command :{name}")
        repl.print([("class:help.command", cmd.synopsis), ("", "\n  " + cmd.help)])
        return
    repl.print(COMMANDS.help_fragments())
    repl.print(
        [
            (
                "class:table.dim",
                "Anything else is Smalltalk. Enter runs a complete input, Esc-Enter adds a line, "
                "F5 runs in Execute mode,\nCtrl-C clears the line or interrupts, Ctrl-R searches history, Ctrl-D quits.",
            )
        ]
    )


@command(
    "quit",
    help="leave; images stui started are stopped",
    aliases=("q", "exit"),
)
async def quit_(repl: Repl, args: str) -> None:
    repl.quitting = True
