"""How close this process is to its open-file limit, for errors that name the cause.

Every ZeroMQ link costs the client two file descriptors (the DEALER's mailbox and its TCP connection), a
WebSocket link one. Past `RLIMIT_NOFILE`, creating a DEALER fails at once with EMFILE, but a DEALER
created with the very last descriptor connects in libzmq's I/O thread, which cannot open its TCP socket
and retries silently: the connect only times out, much later, as if the image were unreachable. These
helpers let the transport fail at once when not even one descriptor is left, and let a timed-out connect
say that the descriptors ran out instead of blaming the network.

Linux and macOS only in part: counting open descriptors reads `/proc/self/fd` (or `/dev/fd`); where
neither exists the count is unknown and the hints are empty. Nothing here is on a hot path: the probe is
two system calls per connect, the count runs only after a connect failed.
"""

from __future__ import annotations

import errno
import os

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

__all__ = ["descriptors_exhausted", "fd_exhaustion_hint", "fd_limit", "open_fd_count"]

#: Descriptors left over at which a failed connect is blamed on the limit: a few connects may be
#: racing for the last ones when many images connect at once.
_NEAR = 16


def fd_limit() -> int | None:
    """This process's soft limit on open files, None when unknown or unlimited."""
    if resource is None:  # pragma: no cover - Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def open_fd_count() -> int | None:
    """How many file descriptors this process has open now, None when the OS does not say.

    Reads a directory with one entry per descriptor: cheap once, too slow for every request. Reading it
    takes a descriptor itself, so a process that has none left is counted as full.
    """
    for path in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(path)) - 1  # not counting the listing's own descriptor
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                return fd_limit()
            continue
    return None  # pragma: no cover - neither directory exists


def descriptors_exhausted() -> bool:
    """True when this process cannot open even one more file descriptor (EMFILE or ENFILE)."""
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
    except OSError as exc:
        return exc.errno in (errno.EMFILE, errno.ENFILE)
    os.close(fd)
    return False


def fd_exhaustion_hint() -> str:
    """A sentence for an error message when this process is at (or within a few of) its open-file
    limit, else "" (the failure had another cause)."""
    limit, count = fd_limit(), open_fd_count()
    if limit is None or count is None or count < limit - _NEAR:
        return ""
    return (
        f"this process has {count:,} of its {limit:,} file descriptors open (RLIMIT_NOFILE; each"
        " ZeroMQ image takes 2): raise the limit (`ulimit -n`) or connect fewer images"
    )
