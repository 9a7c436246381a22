"""A command forwarded to the controller: refusal or unknown outcome, told apart.

Real sockets on loopback: a port nobody listens on (the request never left, so trying
again is safe and a timeout there is a refusal), and a listener that takes the request
and never answers (the controller may have applied it: the outcome is unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from kraft.server.controller_link import ControllerLink
from kraft.internode.peers import Peers
from kraft.errors import NoActiveController, OutcomeUnknown


@contextlib.contextmanager
def refusing_port():
    """A port bound but not listening: connecting is refused, and while it is held no
    other process can take it, nor can the kernel pick it as a client's own source port
    (a closed ephemeral port can connect to itself, or be taken by another test's node)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
    finally:
        s.close()


async def link_to(port: int) -> tuple[ControllerLink, Peers]:
    peers = Peers(b"k" * 32, lambda node_id: f"http://127.0.0.1:{port}")
    await peers.open()
    return ControllerLink(1, None, lambda: 2, {}, peers, timeout_s=1.0), peers


async def test_unreachable_controller_is_a_refusal():
    with refusing_port() as port:
        link, peers = await link_to(port)
        try:
            with pytest.raises(NoActiveController):
                await link.call("create_topic", {"name": "t"})
        finally:
            await peers.close()


async def test_controller_that_took_the_request_and_went_silent_is_unknown():
    received = asyncio.Event()

    async def swallow(reader, writer):
        await reader.read(1)
        received.set()
        await asyncio.sleep(5)  # never answers within the caller's deadline
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link, peers = await link_to(port)
    try:
        with pytest.raises(OutcomeUnknown):
            await link.call("create_topic", {"name": "t"})
        assert received.is_set()
    finally:
        await peers.close()
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def silent_then_answering(timeout_s: float):
    """A link whose controller (node 2) takes requests and never answers (frozen), and
    node 3, which answers; the test moves the link's target from 2 to 3."""
    from aiohttp import web

    async def swallow(reader, writer):
        await reader.read(1)
        await asyncio.sleep(30)
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    silent_port = silent.sockets[0].getsockname()[1]
    seen: list[str] = []

    async def answer(request):
        seen.append(request.match_info["op"])
        return web.json_response({"fenced": False, "metadata_offset": 7})

    app = web.Application()
    app.router.add_post("/internal/v1/controller/{op}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    live_port = runner.addresses[0][1]
    target = [2]
    peers = Peers(b"k" * 32, lambda node_id: f"http://127.0.0.1:{silent_port if node_id == 2 else live_port}")
    await peers.open()
    try:
        yield ControllerLink(1, None, lambda: target[0], {}, peers, timeout_s=timeout_s), target, seen
    finally:
        await peers.close()
        await runner.cleanup()
        silent.close()


async def test_a_heartbeat_held_by_a_silent_controller_goes_to_the_new_one():
    async with silent_then_answering(timeout_s=30.0) as (link, target, seen):
        call = asyncio.ensure_future(link.call("heartbeat", {"broker_id": 1}))
        await asyncio.sleep(0.5)
        assert not call.done()  # node 2 took it and is silent
        target[0] = 3  # this node learns of a new active controller
        async with asyncio.timeout(10):  # far below the 30 s request timeout it would wait
            answer = await call
        assert answer == {"fenced": False, "metadata_offset": 7} and seen == ["heartbeat"]


async def test_a_create_held_by_a_silent_controller_is_not_sent_again():
    async with silent_then_answering(timeout_s=1.5) as (link, target, seen):
        call = asyncio.ensure_future(link.call("create_topic", {"name": "t"}))
        await asyncio.sleep(0.5)
        target[0] = 3
        with pytest.raises(OutcomeUnknown):  # node 2 may have applied it
            await call
        assert seen == []
