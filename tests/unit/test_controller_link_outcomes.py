"""A command forwarded to the controller: refusal or unknown outcome, told apart.

Real sockets on loopback: a port nobody listens on (the request never left, so trying
again is safe and a timeout there is a refusal), and a listener that takes the request
and never answers (the controller may have applied it: the outcome is unknown).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from kraft.broker.controller_link import ControllerLink
from kraft.broker.peers import Peers
from kraft.errors import NoActiveController, OutcomeUnknown


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def link_to(port: int) -> tuple[ControllerLink, Peers]:
    peers = Peers(b"k" * 32, lambda node_id: f"http://127.0.0.1:{port}")
    await peers.open()
    return ControllerLink(1, None, lambda: 2, {}, peers, timeout_s=1.0), peers


async def test_unreachable_controller_is_a_refusal():
    link, peers = await link_to(closed_port())
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
