"""Fixtures for the image server tests: in-process servers over real loopback sockets, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
import zmq
from stui.actors.zmq_trio import new_context

from stui.image.config import ImageServerConfig, ImageServerInfo
from stui.image.server import serve_image
from tests.image.client import Client, WsLink, ZmqLink


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context]:
    ctx = new_context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "run"
    monkeypatch.setenv("STUI_RUNTIME_DIR", str(directory))
    return directory


class Harness:
    """Starts in-process images and connects clients to them over one transport."""

    def __init__(
        self, nursery: trio.Nursery, context: zmq.Context, runtime_dir: Path, transport: str
    ) -> None:
        self.nursery = nursery
        self.context = context
        self.runtime_dir = runtime_dir
        self.transport = transport
        self.servers: list[tuple[trio.CancelScope, trio.Event]] = []
        self.clients: list[Client] = []

    def config(self, **overrides: Any) -> ImageServerConfig:
        base = ImageServerConfig(
            name="alpha",
            zmq_address="tcp://127.0.0.1:0" if self.transport == "zmq" else None,
            ws_address="ws://127.0.0.1:0/stui" if self.transport == "ws" else None,
            connection_dir=self.runtime_dir,
            shutdown_grace=0.5,
        )
        return replace(base, **overrides)

    async def start(self, **overrides: Any) -> tuple[ImageServerInfo, trio.CancelScope]:
        config = self.config(**overrides)
        scope = trio.CancelScope()
        done = trio.Event()

        async def run(task_status: trio.TaskStatus[ImageServerInfo]) -> None:
            try:
                with scope:
                    await serve_image(config, zmq_context=self.context, task_status=task_status)
            finally:
                done.set()

        info = await self.nursery.start(run)
        self.servers.append((scope, done))
        return info, scope

    async def stop(self, scope: trio.CancelScope) -> None:
        for s, done in self.servers:
            if s is scope:
                s.cancel()
                await done.wait()

    async def link(self, info: ImageServerInfo) -> Any:
        if self.transport == "zmq":
            assert info.zmq_address is not None
            return ZmqLink(self.context, info.zmq_address)
        assert info.ws_address is not None
        return await WsLink.open(self.nursery, info.ws_address)

    async def connect(
        self,
        info: ImageServerInfo,
        *,
        key: bytes = b"",
        client_id: str | None = None,
        hello: bool = True,
    ) -> Client:
        client = Client(await self.link(info), key=key, client_id=client_id)
        self.clients.append(client)
        if hello:
            await client.hello()
        return client

    async def aclose(self) -> None:
        for scope, _done in self.servers:
            scope.cancel()
        for _scope, done in self.servers:
            await done.wait()
        for client in self.clients:
            with trio.move_on_after(1):
                try:
                    await client.aclose()
                except Exception:
                    pass


@pytest.fixture(params=["zmq", "ws"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def harness(
    nursery: trio.Nursery, zmq_context: zmq.Context, runtime_dir: Path, transport: str
) -> AsyncIterator[Harness]:
    h = Harness(nursery, zmq_context, runtime_dir, transport)
    try:
        yield h
    finally:
        with trio.CancelScope(shield=True):
            await h.aclose()


@pytest.fixture
async def zmq_harness(
    nursery: trio.Nursery, zmq_context: zmq.Context, runtime_dir: Path
) -> AsyncIterator[Harness]:
    h = Harness(nursery, zmq_context, runtime_dir, "zmq")
    try:
        yield h
    finally:
        with trio.CancelScope(shield=True):
            await h.aclose()
