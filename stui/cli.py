"""The `stui` command: the REPL (no subcommand) and `stui image serve|list`.

This is the one place that may call `trio.run` and handle signals: `stui image serve` runs
`serve_image` through `stui.image.process` (its loop on a deep-stack thread, so Smalltalk can recurse
10,000 deep) and turns SIGTERM/SIGINT into a clean stop (ImageShutdown to clients,
connection file removed, exit status 0). The library underneath stays embeddable.

`stui image serve` prints one JSON line when the image is ready (to stdout, or to `--ready-fd`):

    {"event": "ready", "name": "alpha", "image_id": "...", "instance_id": "...", "pid": 123,
     "zmq_address": "tcp://127.0.0.1:40123", "ws_address": null, "connection_file": "/run/user/..."}

Keys: `--key-file F` (the file's text, stripped, is the key), else the `STUI_IMAGE_KEY` environment
variable (how `stui.image.launcher` passes one), else a fresh random key (kept in `--state-dir` if given,
so restarts keep it); `--no-key` turns signing off. Local clients find the key in the connection file.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

import stui
from stui import paths
from stui.image.config import KEY_ENV

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the `stui` command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    match getattr(args, "command", None):
        case "image":
            match args.image_command:
                case "serve":
                    return _image_serve(args)
                case "list":
                    return _image_list(args)
                case _:
                    args.image_parser.print_help(sys.stderr)
                    return 2
        case _:  # the REPL, imported only when used
            from stui.repl.cli_options import repl_main

            return repl_main(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stui",
        description="Talk to many live Smalltalk images at once.",
    )
    parser.add_argument("--version", action="version", version=f"stui {stui.__version__}")
    from stui.repl.cli_options import add_repl_arguments  # argparse only: no prompt_toolkit here

    add_repl_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    image = commands.add_parser("image", help="run or list local reference images")
    image.set_defaults(image_parser=image)
    image_commands = image.add_subparsers(dest="image_command", metavar="IMAGE_COMMAND")

    serve = image_commands.add_parser(
        "serve",
        help="run a reference image (a Python Smalltalk speaking the stui protocol)",
        description="Run one reference image until SIGTERM or SIGINT.",
    )
    serve.add_argument("--name", default="alpha", help="image name (default: alpha)")
    serve.add_argument("--bind", default="127.0.0.1", help="host to bind (default: 127.0.0.1)")
    zmq_group = serve.add_mutually_exclusive_group()
    zmq_group.add_argument(
        "--zmq", metavar="ADDR", help="ZeroMQ address, e.g. tcp://127.0.0.1:5555"
    )
    zmq_group.add_argument(
        "--port", type=int, help="ZeroMQ TCP port on --bind (default: a free one)"
    )
    zmq_group.add_argument("--no-zmq", action="store_true", help="no ZeroMQ endpoint")
    ws_group = serve.add_mutually_exclusive_group()
    ws_group.add_argument(
        "--ws", metavar="ADDR", help="WebSocket URL, e.g. ws://127.0.0.1:8765/stui"
    )
    ws_group.add_argument("--ws-port", type=int, help="WebSocket port on --bind (0: a free one)")
    key_group = serve.add_mutually_exclusive_group()
    key_group.add_argument("--key-file", type=Path, help="file holding the signing key")
    key_group.add_argument("--no-key", action="store_true", help="do not sign or check frames")
    serve.add_argument("--state-dir", type=Path, help="keeps image_id (and a generated key)")
    serve.add_argument("--no-connection-file", action="store_true", help="do not write one")
    serve.add_argument("--connection-dir", type=Path, help="where to write the connection file")
    serve.add_argument("--ready-fd", type=int, help="write the ready line to this fd, not stdout")
    serve.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop cleanly when the process that started this one exits",
    )
    serve.add_argument("--max-sessions", type=int, default=1000)
    serve.add_argument("--max-sessions-per-client", type=int, default=100)
    serve.add_argument("--session-expiry", type=float, default=3600.0, metavar="SECONDS")
    serve.add_argument("--eval-budget", type=float, default=60.0, metavar="SECONDS")

    listing = image_commands.add_parser(
        "list",
        help="list local images from their connection files (stale files are removed)",
    )
    listing.add_argument("--dir", type=Path, help="runtime directory (default: per-user)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--keep-stale", action="store_true", help="report stale files only")
    return parser


# --------------------------------------------------------------------------------------------------
# stui image serve


def _image_serve(args: argparse.Namespace) -> int:
    from stui.actors.exception_groups import single_leaf
    from stui.image.config import ImageServerConfig
    from stui.image.process import serve_image_process

    try:
        config = ImageServerConfig(
            name=args.name,
            zmq_address=_zmq_address(args),
            ws_address=_ws_address(args),
            key=_key(args),
            state_dir=args.state_dir,
            write_connection_file=not args.no_connection_file,
            connection_dir=args.connection_dir,
            max_sessions=args.max_sessions,
            max_sessions_per_client=args.max_sessions_per_client,
            session_idle_expiry=args.session_expiry,
            eval_time_budget=args.eval_budget,
        )
    except (ValueError, OSError) as e:
        print(f"stui image serve: {e}", file=sys.stderr)
        return 2
    try:
        serve_image_process(config, args.ready_fd, args.exit_with_parent)
    except Exception as e:  # OSError, zmq.ZMQError (address in use, bad endpoint), maybe grouped
        e = single_leaf(e)
        print(f"stui image serve: cannot start: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _zmq_address(args: argparse.Namespace) -> str | None:
    if args.no_zmq:
        return None
    if args.zmq:
        return args.zmq
    return f"tcp://{_bracket(args.bind)}:{args.port if args.port is not None else 0}"


def _ws_address(args: argparse.Namespace) -> str | None:
    if args.ws:
        return args.ws
    if args.ws_port is not None:
        return f"ws://{_bracket(args.bind)}:{args.ws_port}/stui"
    return None


def _key(args: argparse.Namespace) -> bytes:
    if args.no_key:
        return b""
    if args.key_file is not None:
        key = args.key_file.read_text(encoding="utf-8").strip().encode()
        if not key:
            raise ValueError(f"key file {args.key_file} is empty")
        return key
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].strip().encode()
    if args.state_dir is not None:
        from stui.image.connection_file import load_or_create_key

        return load_or_create_key(args.state_dir)
    return secrets.token_hex(32).encode()


# --------------------------------------------------------------------------------------------------
# stui image list


def _image_list(args: argparse.Namespace) -> int:
    from stui.image.connection_file import find_connection_files, remove_connection_file

    directory = args.dir or paths.runtime_dir()
    rows = []
    for info in find_connection_files(directory):
        stale = info.stale
        if stale and not args.keep_stale:
            remove_connection_file(info.path)
        rows.append(
            {
                "name": info.image_name,
                "image_id": info.image_id,
                "instance_id": info.instance_id,
                "pid": info.pid,
                "zmq_address": info.zmq_address,
                "ws_address": info.ws_address,
                "signed": bool(info.key),
                "status": "stale" if stale else "running",
                "removed": stale and not args.keep_stale,
                "connection_file": str(info.path),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no images in {directory}")
        return 0
    for row in rows:
        where = " ".join(a for a in (row["zmq_address"], row["ws_address"]) if a)
        status = row["status"] + (" (removed)" if row["removed"] else "")
        print(f"{row['name']:<12} {row['image_id'][:8]}  pid {row['pid']:<7} {status:<16} {where}")
    return 0
