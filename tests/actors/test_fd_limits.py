"""Running out of file descriptors is named as such (checked in a child process with a low limit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from stui.actors.fd_limits import (
    descriptors_exhausted,
    fd_exhaustion_hint,
    fd_limit,
    open_fd_count,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="counts /proc/self/fd")


def run_child(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_far_from_the_limit_there_is_nothing_to_say() -> None:
    count = open_fd_count()
    assert count is not None and count > 2  # stdin, stdout, stderr at least
    assert fd_limit() is None or fd_limit() > count
    assert not descriptors_exhausted()
    assert fd_exhaustion_hint() == ""


def test_at_the_limit_the_hint_names_the_numbers() -> None:
    out = run_child(
        """
        import os, resource
        from stui.actors.fd_limits import descriptors_exhausted, fd_exhaustion_hint, open_fd_count
        limit = open_fd_count() + 40
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        print(repr(fd_exhaustion_hint()))
        held = []
        while not descriptors_exhausted():
            held.append(os.open(os.devnull, os.O_RDONLY))
        print(repr(fd_exhaustion_hint()))
        os.close(held.pop())
        print(descriptors_exhausted())
        """
    )
    far, full, one_free = out.splitlines()
    assert far == "''"
    assert "file descriptors open" in full and "RLIMIT_NOFILE" in full and "ulimit -n" in full
    assert one_free == "False"


#: A child that connects to a ROUTER in another process with exactly LEFT descriptors to spare (after a
#: first connect with room, which must work), and prints what the connect said.
_CONNECT_AT_THE_LIMIT = """
import os, resource, subprocess, sys, trio
from stui.actors.errors import TransportConnectError
from stui.actors.fd_limits import descriptors_exhausted
from stui.actors.transport import open_transport
from stui.actors.zmq_trio import new_context

server = subprocess.Popen(
    [sys.executable, "-c", (
        "import sys, zmq\\n"
        "r = zmq.Context().socket(zmq.ROUTER)\\n"
        "r.setsockopt(zmq.LINGER, 0)\\n"
        "print(r.bind_to_random_port('tcp://127.0.0.1'), flush=True)\\n"
        "sys.stdin.read()\\n"
    )],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
)
address = f"tcp://127.0.0.1:{int(server.stdout.readline())}"
ctx = new_context()

async def connect():
    try:
        async with open_transport(address, zmq_context=ctx, connect_timeout=30):
            return "connected"
    except TransportConnectError as exc:
        return str(exc)

async def main():
    assert await connect() == "connected"  # with room, it works
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 4096), hard))
    held = []
    while not descriptors_exhausted():
        held.append(os.open(os.devnull, os.O_RDONLY))
    for _ in range(LEFT):
        os.close(held.pop())
    try:
        return await connect()
    finally:
        for fd in held:
            os.close(fd)

print(trio.run(main))
ctx.term()
server.stdin.close()
server.wait()
"""


def test_a_connect_with_no_descriptor_left_for_its_connection_fails_at_once_and_says_why() -> None:
    """One descriptor left: enough for the DEALER, none for its TCP connection, which libzmq would
    retry silently until the timeout; the transport refuses at once and names the limit."""
    message = run_child(_CONNECT_AT_THE_LIMIT.replace("LEFT", "1")).strip()
    assert "no file descriptor left for the connection" in message
    assert "file descriptors open (RLIMIT_NOFILE" in message


def test_a_connect_with_exactly_enough_descriptors_succeeds() -> None:
    """Two descriptors left (the DEALER's and its TCP connection's): the link works, so the transport
    must not refuse it. The probe once ran after connect(), by when libzmq's I/O thread had taken the
    last descriptor for this very connection: refused every time."""
    assert run_child(_CONNECT_AT_THE_LIMIT.replace("LEFT", "2")).strip() == "connected"
