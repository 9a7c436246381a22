"""The broker's heartbeat thread stops with nothing left running on its loop: a heartbeat
still waiting for its answer when the node stops is ended, not destroyed pending."""

from __future__ import annotations

import asyncio

from kraft.internode.peers import Peers
from kraft.server.controller_link import ControllerLink
from kraft.server.heartbeat_thread import HeartbeatThread


def test_a_stop_with_heartbeats_in_flight_leaves_no_task_pending():
    async def scenario() -> set:
        answered = asyncio.Event()  # never set: the controller holds every heartbeat

        async def main_call(op: str, body: dict) -> dict:
            await answered.wait()
            return {}

        def make_peers() -> Peers:
            return Peers(b"k" * 32, lambda node_id: "http://127.0.0.1:9")

        def make_link(peers: Peers) -> ControllerLink:
            return ControllerLink(1, None, lambda: 1, {}, peers, 5.0)

        beats = HeartbeatThread(make_peers, make_link, lambda: True, main_call)
        beats.start()
        beating = asyncio.ensure_future(beats.beat_until_stale(lambda: {"broker_id": 1}, lambda sent: None, 0.05))
        await asyncio.sleep(0.3)  # several heartbeats in flight, each waiting on the main loop
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        await asyncio.to_thread(beats.stop)
        assert beats._thread is not None and not beats._thread.is_alive()
        assert beats._loop is not None
        return asyncio.all_tasks(beats._loop)
    assert asyncio.run(scenario()) == set()
