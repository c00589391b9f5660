"""A tiny protocol client for the image server tests: a raw DEALER or WebSocket plus encode/decode.

Deliberately independent of stui.actors' ImageActor (only the socket adapter is reused), so these tests
check the server against the protocol and nothing else.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import trio
import trio_websocket
import zmq
from stui.actors.zmq_trio import ZmqSocket
from stui.protocol import Error, Event, Frame, Hello, Welcome, decode, encode

REPLY_TIMEOUT = 15.0


class ZmqLink:
    """One DEALER socket, used by one task (the test)."""

    def __init__(self, context: zmq.Context, address: str) -> None:
        raw = context.socket(zmq.DEALER)
        self.socket = ZmqSocket(raw)
        raw.connect(address)

    async def send(self, data: bytes) -> None:
        await self.socket.send_multipart([data])

    async def send_parts(self, parts: list[bytes]) -> None:
        await self.socket.send_multipart(parts)

    async def receive(self) -> bytes:
        parts = await self.socket.recv_multipart()
        assert len(parts) == 1, parts
        return parts[0]

    async def aclose(self) -> None:
        self.socket.close()


class WsLink:
    """One WebSocket connection."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, nursery: trio.Nursery, url: str) -> WsLink:
        ws = await trio_websocket.connect_websocket_url(
            nursery, url, message_queue_size=64, max_message_size=8 * 1024 * 1024
        )
        return cls(ws)

    async def send(self, data: bytes) -> None:
        await self.ws.send_message(data)

    async def send_text(self, text: str) -> None:
        await self.ws.send_message(text)

    async def receive(self) -> bytes:
        message = await self.ws.get_message()
        assert isinstance(message, bytes)
        return message

    async def aclose(self) -> None:
        await self.ws.aclose()


class Client:
    """Speaks the protocol over a link: numbered requests, replies matched by id, events kept aside."""

    def __init__(self, link: Any, *, key: bytes = b"", client_id: str | None = None) -> None:
        self.link = link
        self.key = key
        self.client_id = client_id or secrets.token_hex(8)
        self.ids = itertools.count(1)
        self.frames: list[Frame] = []  # frames received but not yet claimed (events, other replies)
        self.welcome: Welcome | None = None

    async def send(self, msg: Any, *, rid: int | None = None, key: bytes | None = None) -> int:
        rid = next(self.ids) if rid is None else rid
        await self.link.send(encode(msg, request_id=rid, key=self.key if key is None else key))
        return rid

    async def next_frame(self, timeout: float = REPLY_TIMEOUT) -> Frame:
        with trio.fail_after(timeout):
            data = await self.link.receive()
        return decode(data, key=self.key)

    async def wait_for(self, rid: int, timeout: float = REPLY_TIMEOUT) -> Any:
        """The reply to request `rid` (events and other replies seen meanwhile are kept)."""
        for i, frame in enumerate(self.frames):
            if frame.request_id == rid and not _is_event(frame.message):
                del self.frames[i]
                return frame.message
        with trio.fail_after(timeout):
            while True:
                frame = await self.next_frame(timeout)
                if frame.request_id == rid and not _is_event(frame.message):
                    return frame.message
                self.frames.append(frame)

    async def wait_event(self, kind: type, timeout: float = REPLY_TIMEOUT) -> Frame:
        for i, frame in enumerate(self.frames):
            if isinstance(frame.message, kind):
                del self.frames[i]
                return frame
        with trio.fail_after(timeout):
            while True:
                frame = await self.next_frame(timeout)
                if isinstance(frame.message, kind):
                    return frame
                self.frames.append(frame)

    async def request(self, msg: Any, timeout: float = REPLY_TIMEOUT) -> Any:
        rid = await self.send(msg)
        return await self.wait_for(rid, timeout)

    async def hello(self) -> Welcome:
        reply = await self.request(Hello(client_id=self.client_id))
        assert isinstance(reply, Welcome), reply
        self.welcome = reply
        return reply

    def events(self, kind: type) -> list[Frame]:
        return [f for f in self.frames if isinstance(f.message, kind)]

    async def aclose(self) -> None:
        await self.link.aclose()


def _is_event(msg: Any) -> bool:
    return isinstance(msg, Event)


def expect_error(reply: Any, code: Any) -> Error:
    assert isinstance(reply, Error), reply
    assert reply.code == code, reply
    return reply
