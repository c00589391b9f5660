"""The REPL's command-line options, and turning them into `ReplOptions`.

Kept apart from the REPL itself so that `stui image serve` (which shares the parser) never imports
prompt_toolkit: this module needs only argparse and stui.config.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stui.config import Config, ConfigError, default_config_path, load_config, transport_for_address

if TYPE_CHECKING:
    from stui.repl.main import ReplOptions

__all__ = ["STORE_ENV", "add_repl_arguments", "options_from_args", "repl_main"]

#: Environment variable naming the session store file (like --store).
STORE_ENV = "STUI_STORE"

EPILOG = """\
With no options stui starts two local reference images, "alpha" and "beta", connects to both and
opens the REPL on alpha; they are stopped when you quit. With images in the config file (or --connect)
it connects to those instead.

at the prompt:
  3 + 4                    Smalltalk: Enter runs a complete input and prints the result
  Esc-Enter (Meta-Enter)   new line without running; an unfinished input (open bracket,
                           string, trailing keyword) continues on the next line by itself
  F5 or :exec CODE         run in Execute mode (no printString)
  Ctrl-C                   clear the line; during an evaluation: interrupt it
  Ctrl-D or :quit          leave
  Ctrl-R, Up/Down          this image's history;  Tab  complete
  :help                    the commands (:images, :use NAME, :connect, :sessions, :inspect, ...)

files and environment:
  config      --config FILE, else $STUI_CONFIG_DIR/config.toml (default ~/.config/stui/config.toml)
  store       --store FILE, else $STUI_STORE, else [store] path, else $STUI_DATA_DIR/sessions.sqlite3
  local images  connection files in $STUI_RUNTIME_DIR (`stui image list`)
"""


def add_repl_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the REPL's options to the top-level `stui` parser."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    group = parser.add_argument_group("REPL options (stui with no COMMAND)")
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"config file (default: {_short_home(default_config_path())} if it exists)",
    )
    group.add_argument(
        "--store", type=Path, metavar="FILE", help="session store file (also $STUI_STORE)"
    )
    group.add_argument(
        "--no-store",
        action="store_true",
        help="keep nothing on disk: no history, no session restore",
    )
    group.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="[NAME=]ADDRESS",
        help="also connect to this image (tcp://, ipc://, ws://; a local image's key is found in its connection file); repeatable",
    )
    group.add_argument(
        "--local",
        action="append",
        default=None,
        metavar="NAME",
        help="start this local reference image (instead of alpha and beta); repeatable",
    )
    group.add_argument("--no-local", action="store_true", help="start no local images")
    group.add_argument("--image", metavar="NAME", help="the image to open the REPL on")
    group.add_argument("--no-toolbar", action="store_true", help="hide the bottom toolbar")
    group.add_argument("--vi", action="store_true", help="vi key bindings (default: emacs)")


def _short_home(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


def options_from_args(args: argparse.Namespace) -> ReplOptions:
    """Build `ReplOptions` from parsed arguments and the environment.

    Raises:
        ConfigError: the config file is bad, or a --connect value is not an address.
    """
    from stui.repl.main import ConnectTarget, ReplOptions

    config: Config = load_config(args.config)
    repl = config.repl
    if args.image:
        repl = dataclasses.replace(repl, default_image=args.image)
    if args.no_toolbar:
        repl = dataclasses.replace(repl, toolbar=False)
    if args.vi:
        repl = dataclasses.replace(repl, editing_mode="vi")
    config = dataclasses.replace(config, repl=repl)
    targets = []
    for value in args.connect:
        name, sep, address = value.partition("=")
        if not sep or "://" in name:
            name, address = "", value
        transport_for_address(address)  # raises ConfigError for a bad scheme
        targets.append(ConnectTarget(name=name, address=address))
    local: tuple[str, ...] | None = None
    if args.no_local:
        local = ()
    elif args.local:
        local = tuple(args.local)
    store = args.store or (Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else None)
    return ReplOptions(
        config=config,
        store_path=store,
        use_store=not args.no_store,
        local_images=local,
        extra_targets=tuple(targets),
    )


def repl_main(args: argparse.Namespace) -> int:
    """The `stui` no-subcommand path: options, then the REPL. Returns the exit status."""
    try:
        options = options_from_args(args)
    except ConfigError as exc:
        print(f"stui: {exc}", file=sys.stderr)
        return 2
    from stui.repl.main import run_repl

    return run_repl(options)
