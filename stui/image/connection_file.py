"""Connection files: how a running local image tells clients where it is and which key it signs with.

One JSON file per running image in the per-user runtime directory (`stui.paths.runtime_dir()`), as
Jupyter does for kernels. The directory is created 0700 and the file 0600 because the file holds the
signing key; it is written to a temporary name and renamed, so a reader never sees half a file. The
image removes it on a clean exit; a file whose pid is gone is *stale* and `stui image list` cleans it.

    {
      "format": 1,
      "image_name": "alpha",
      "image_id": "3f1c...",          stable across restarts when the image has a state dir
      "instance_id": "9a0b...",       new at every start
      "pid": 12345,
      "transports": ["zmq", "ws"],
      "zmq_address": "tcp://127.0.0.1:40123",   or null
      "ws_address": "ws://127.0.0.1:40124/stui", or null
      "key": "<hex>",                 "" when frames are not signed
      "signature_scheme": "hmac-sha256",
      "protocol_versions": [1],
      "started_at": 1763719200.5
    }

Also here: the image's persistent identity (`load_or_create_image_id`), kept in its state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stui.protocol import SUPPORTED_VERSIONS

__all__ = [
    "FORMAT_VERSION",
    "ConnectionInfo",
    "find_connection_files",
    "load_or_create_image_id",
    "load_or_create_key",
    "pid_alive",
    "read_connection_file",
    "remove_connection_file",
    "write_connection_file",
]

FORMAT_VERSION = 1
_STATE_FILE = "image.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInfo:
    """The content of one connection file, plus where it was found."""

    path: Path
    image_name: str
    image_id: str
    instance_id: str
    pid: int
    zmq_address: str | None
    ws_address: str | None
    key: bytes
    started_at: float

    @property
    def transports(self) -> tuple[str, ...]:
        return tuple(
            t for t, a in (("zmq", self.zmq_address), ("ws", self.ws_address)) if a is not None
        )

    @property
    def stale(self) -> bool:
        """True when the process that wrote the file is gone."""
        return not pid_alive(self.pid)


def _private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to fix (e.g. a shared tmp dir given on purpose)
        if directory.stat().st_mode & 0o077:
            directory.chmod(0o700)


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    _write_private(path, json.dumps(data, indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (0600) atomically: readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_connection_file(
    directory: Path,
    *,
    image_name: str,
    image_id: str,
    instance_id: str,
    zmq_address: str | None,
    ws_address: str | None,
    key: bytes,
) -> Path:
    """Write the connection file of a running image (0600 in a 0700 directory) and return its path.

    The file is named `<image_name>-<instance_id[:12]>.json`, so several images with one name (tests,
    benches) never overwrite each other's files.

    Raises:
        OSError: the directory or the file cannot be written.
    """
    _private_dir(directory)
    path = directory / f"{image_name}-{instance_id[:12]}.json"
    transports = [t for t, a in (("zmq", zmq_address), ("ws", ws_address)) if a is not None]
    _write_private_json(
        path,
        {
            "format": FORMAT_VERSION,
            "image_name": image_name,
            "image_id": image_id,
            "instance_id": instance_id,
            "pid": os.getpid(),
            "transports": transports,
            "zmq_address": zmq_address,
            "ws_address": ws_address,
            "key": key.hex(),
            "signature_scheme": "hmac-sha256",
            "protocol_versions": list(SUPPORTED_VERSIONS),
            "started_at": time.time(),
        },
    )
    return path


def remove_connection_file(path: Path | None) -> None:
    """Remove a connection file; a missing file is fine. Never raises."""
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def read_connection_file(path: Path) -> ConnectionInfo:
    """Read and check one connection file.

    Raises:
        ValueError: the file is not a connection file this version understands.
        OSError: it cannot be read.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a stui connection file (format {FORMAT_VERSION})")
    try:
        info = ConnectionInfo(
            path=path,
            image_name=str(data["image_name"]),
            image_id=str(data["image_id"]),
            instance_id=str(data["instance_id"]),
            pid=int(data["pid"]),
            zmq_address=data.get("zmq_address"),
            ws_address=data.get("ws_address"),
            key=bytes.fromhex(data.get("key", "")),
            started_at=float(data.get("started_at", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: bad connection file ({e!r})") from None
    return info


def find_connection_files(directory: Path) -> list[ConnectionInfo]:
    """Every readable connection file in `directory`, oldest first; unreadable files are skipped."""
    found = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            found.append(read_connection_file(path))
        except (OSError, ValueError):
            continue
    found.sort(key=lambda info: info.started_at)
    return found


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (it may belong to someone else)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_or_create_image_id(state_dir: Path) -> str:
    """The image_id kept in `state_dir`, created (and stored 0600) on first use.

    Raises:
        OSError: the state directory cannot be created or written.
    """
    _private_dir(state_dir)
    path = state_dir / _STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        image_id = data["image_id"]
        if isinstance(image_id, str) and 0 < len(image_id) <= 128:
            return image_id
    except (OSError, ValueError, KeyError, TypeError):
        pass
    image_id = secrets.token_hex(16)
    _write_private_json(path, {"image_id": image_id, "created_at": time.time()})
    return image_id


def load_or_create_key(state_dir: Path) -> bytes:
    """The signing key kept in `state_dir`/key, created (64 hex digits, stored 0600) on first use.

    Raises:
        OSError: the state directory cannot be created or written.
    """
    path = state_dir / "key"
    try:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key.encode()
    except OSError:
        pass
    _private_dir(state_dir)
    key = secrets.token_hex(32)
    _write_private(path, key + "\n")
    return key.encode()
