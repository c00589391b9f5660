"""The supervisor against real reference images in subprocesses, over real TCP (ZeroMQ) and WebSocket.

Real time throughout (no autojump clock over sockets), short heartbeats (0.2 s) to keep the whole file
quick, and timing assertions only as generous upper bounds that prove "fails fast / declared lost in
time", never as speed targets.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trio
from stui.actors.errors import EvaluationError, ImageDisconnected, SessionError, UnsupportedAddress
from stui.actors.supervisor import SupervisorConfig, open_supervisor
from stui.protocol import (
    ConnectionHealth,
    ConnectionStatus,
    ErrorCode,
    ImageHealthChanged,
    ImageRestarted,
    ImageStatusChanged,
)

from stui.image.launcher import ImageProcess, start_image_process

H = ConnectionHealth
S = ConnectionStatus

pytestmark = pytest.mark.timeout(90)

INTERVAL, MISSES = 0.2, 3
CONFIG = SupervisorConfig(
    connect_timeout=2.0,
    reconnect_initial=0.05,
    reconnect_max=0.3,
    restart_initial=0.05,
    restart_max=0.3,
    shutdown_timeout=2.0,
)
SLACK = 1.0  # scheduling noise on two shared cores

Starter = Callable[..., Awaitable[ImageProcess]]


@pytest.fixture
async def images(tmp_path) -> AsyncIterator[Starter]:
    """Start reference images (killed at the end of the test), optionally on a fixed port."""
    started: list[ImageProcess] = []
    env = {**os.environ, "STUI_RUNTIME_DIR": str(tmp_path / "run")}

    async def start(
        name: str, *, ws: bool = False, port_of: ImageProcess | None = None
    ) -> ImageProcess:
        extra = ["--no-connection-file", "--session-expiry", "3600"]
        zmq = not ws
        if port_of is not None:  # come back where a killed image was
            if port_of.zmq_address:
                extra += ["--port", port_of.zmq_address.rsplit(":", 1)[1]]
            if port_of.ws_address:  # the launcher's ws=True asks for a free port: pass --ws instead
                extra += ["--ws", port_of.ws_address]
                ws, zmq = False, True
        image = await start_image_process(
            name,
            ws=ws,
            zmq=zmq,
            key=b"integration-key",
            state_dir=tmp_path / f"state-{name}",
            env=env,
            extra_args=extra,
        )
        started.append(image)
        return image

    yield start
    for image in started:
        image.thaw()
        image.kill()
    for image in started:
        await image.wait()


async def first(events, predicate, timeout: float):
    with trio.fail_after(timeout):
        async for event in events:
            if predicate(event):
                return event
    raise AssertionError("event stream ended")


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_kill_mid_evaluation_fails_fast_and_restart_is_detected(images, transport):
    ws = transport == "ws"
    victim, bystander = await images("victim", ws=ws), await images("bystander", ws=ws)
    async with open_supervisor(CONFIG) as sup, sup.subscribe() as events:
        await sup.connect(victim.address, key=victim.key, heartbeat_interval=INTERVAL)
        await sup.connect(bystander.address, key=bystander.key, heartbeat_interval=INTERVAL)
        old_session = sup.active_session("victim")
        await sup.evaluate("x := 42", image="victim")
        outcome: dict[str, object] = {}

        async def endless() -> None:
            try:
                await sup.evaluate("[true] whileTrue", image="victim")
            except ImageDisconnected as exc:
                outcome["error"] = exc
                outcome["at"] = trio.current_time()

        async with trio.open_nursery() as n:
            n.start_soon(endless)
            await trio.sleep(0.3)  # the loop is running in the image
            killed_at = trio.current_time()
            victim.kill()
            await victim.wait()
        assert isinstance(outcome["error"], ImageDisconnected)
        assert outcome["at"] - killed_at <= (MISSES + 1) * INTERVAL + SLACK
        # the other image never noticed
        assert (await sup.evaluate("3 + 4", image="bystander")).print_string == "7"
        assert sup.status("bystander").status is S.CONNECTED
        assert sup.status("victim").status is S.RECONNECTING
        with pytest.raises(ImageDisconnected):
            await sup.evaluate("1", image="victim")

        reborn = await images("victim", ws=ws, port_of=victim)
        restarted = await first(events, lambda e: isinstance(e, ImageRestarted), timeout=15)
        assert restarted.old_instance_id == victim.instance_id
        assert restarted.new_instance_id == reborn.instance_id
        assert restarted.lost_sessions == (old_session,)
        await first(
            events, lambda e: isinstance(e, ImageStatusChanged) and e.new is S.CONNECTED, timeout=5
        )
        assert sup.status("victim").image_id == victim.image_id == reborn.image_id  # state dir
        new_session = sup.active_session("victim")
        assert new_session != old_session
        assert (await sup.evaluate("6 * 7", image="victim")).print_string == "42"
        assert sup.status("bystander").restarts == sup.status("victim").restarts == 0


async def test_quick_restart_on_the_same_port_is_caught_by_the_next_heartbeat(images):
    # ZeroMQ reconnects the old DEALER to the new process before any heartbeat is missed; the new
    # process answers Pings but knows nothing of our Hello. Its instance id in the Pong gives it away.
    interval = 1.0
    victim = await images("quick")
    async with open_supervisor(CONFIG) as sup, sup.subscribe() as events:
        await sup.connect(victim.address, key=victim.key, heartbeat_interval=interval)
        victim.kill()
        await victim.wait()
        reborn = await images("quick", port_of=victim)
        restarted = await first(
            events, lambda e: isinstance(e, ImageRestarted), timeout=MISSES * interval
        )
        assert restarted.new_instance_id == reborn.instance_id
        await first(
            events, lambda e: isinstance(e, ImageStatusChanged) and e.new is S.CONNECTED, timeout=5
        )
        assert (await sup.evaluate("6 * 7", image="quick")).print_string == "42"


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_frozen_image_is_declared_lost_in_time_and_recovers(images, transport):
    image = await images("frozen", ws=transport == "ws")
    async with open_supervisor(CONFIG) as sup, sup.subscribe() as events:
        await sup.connect(image.address, key=image.key, heartbeat_interval=INTERVAL)
        session = sup.active_session()
        await sup.evaluate("y := 7")
        await trio.sleep(3 * INTERVAL)
        assert sup.status().health is H.HEALTHY
        frozen_at = trio.current_time()
        image.freeze()
        healths = []

        def lost(event) -> bool:
            if isinstance(event, ImageHealthChanged):
                healths.append(event.new)
            return isinstance(event, ImageStatusChanged) and event.new is S.RECONNECTING

        await first(events, lost, timeout=10)
        assert trio.current_time() - frozen_at <= (MISSES + 1) * INTERVAL + SLACK
        assert H.WARNING in healths and H.CRITICAL in healths
        assert healths.index(H.WARNING) < healths.index(H.CRITICAL)
        image.thaw()
        await first(
            events, lambda e: isinstance(e, ImageStatusChanged) and e.new is S.CONNECTED, timeout=15
        )
        assert sup.active_session() == session  # same instance: re-attached, workspace intact
        assert (await sup.evaluate("y + 1")).print_string == "8"


async def test_ten_images_with_one_flapping(images):
    procs: list[ImageProcess] = [None] * 10  # type: ignore[list-item]

    async def start(i: int) -> None:
        procs[i] = await images(f"img{i}")

    async with trio.open_nursery() as n:
        for i in range(10):
            n.start_soon(start, i)
    async with open_supervisor(CONFIG) as sup:
        async with trio.open_nursery() as n:
            for p in procs:
                n.start_soon(
                    lambda p=p: sup.connect(p.address, key=p.key, heartbeat_interval=INTERVAL)
                )
        assert len(sup.images()) == 10

        async def flap() -> None:
            flapper = procs[0]
            for _ in range(2):
                flapper.kill()
                await flapper.wait()
                await trio.sleep(0.5)
                flapper = await images("img0", port_of=flapper)
                await trio.sleep(0.5)

        async def work(i: int) -> None:
            for j in range(10):
                result = await sup.evaluate(f"{i} * {j}", image=f"img{i}")
                assert result.print_string == str(i * j)
                await trio.sleep(0.05)

        async with trio.open_nursery() as n:
            n.start_soon(flap)
            for i in range(1, 10):
                n.start_soon(work, i)
        with trio.fail_after(15):
            while sup.status("img0").status is not S.CONNECTED:
                await trio.sleep(0.05)
        assert (await sup.evaluate("1 + 1", image="img0")).print_string == "2"
        assert all(s.status is S.CONNECTED and s.restarts == 0 for s in sup.images())


async def test_sessions_are_isolated_across_images_and_supervisors(images):
    alpha, beta = await images("alpha"), await images("beta", ws=True)
    async with open_supervisor(CONFIG) as one, open_supervisor(CONFIG) as two:
        await one.connect(alpha.address, key=alpha.key)
        await one.connect(beta.address, key=beta.key)
        await two.connect(alpha.address, key=alpha.key)
        await one.evaluate("secret := 'alpha-one'", image="alpha")
        await one.evaluate("secret := 'beta-one'", image="beta")
        assert (await one.evaluate("secret", image="alpha")).print_string == "'alpha-one'"
        assert (await one.evaluate("secret", image="beta")).print_string == "'beta-one'"
        # the other supervisor's session on the same image has its own workspace
        assert (await two.evaluate("secret", image="alpha")).print_string == "nil"
        alpha_session = one.active_session("alpha")
        with pytest.raises(SessionError):
            one.use_session(alpha_session, image="beta")
        with pytest.raises(SessionError):
            await one.evaluate("1", image="beta", session=alpha_session)
        with pytest.raises(EvaluationError) as info:
            await one.evaluate("nil foo", image="alpha")
        assert info.value.code is ErrorCode.EVALUATION_ERROR
        assert info.value.details.error_class == "MessageNotUnderstood"


async def test_unreachable_addresses_fail_connect_cleanly():
    config = SupervisorConfig(connect_timeout=0.5)
    with (
        socket.socket() as probe
    ):  # a port nobody listens on (low ports may be taken: we run as root)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with open_supervisor(config) as sup:
        for address in (f"tcp://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/stui"):
            with pytest.raises(ImageDisconnected, match="cannot connect"):
                await sup.connect(address)
        with pytest.raises(UnsupportedAddress):
            await sup.connect("http://127.0.0.1:1/")
        assert sup.images() == [] and sup.current is None
