"""A broker's heartbeats, timed and sent from a thread of their own.

Request work runs on the node's event loop; a request that holds the loop for seconds
(however it got past the bounds on request work) would otherwise hold the heartbeat
too, and the controller would fence the broker and move its leaderships for a slow
request. This thread runs its own event loop, with its own connections to the other
nodes, so heartbeats go on while the main loop is busy: Python switches threads every
few milliseconds however long a piece of Python work runs. The one exception is a
heartbeat to the controller of this very node: that controller runs on the main loop,
and a stalled controller credits every broker with the time it lost
(QuorumController._credit_stall), so the heartbeat is handed to it there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kraft.errors import KraftError, StaleBrokerEpoch
from kraft.internode.peers import Peers
from kraft.server.controller_link import ControllerLink

log = logging.getLogger(__name__)

START_BOUND_S = 5.0  # for the thread's loop and connections to be made
JOIN_BOUND_S = 5.0  # a stopping node waits this long for the thread to end

Call = Callable[[str, dict], Coroutine[Any, Any, dict]]


class HeartbeatThread:
    """Owned by BrokerLifecycle: started by its run, stopped when that ends. make_link
    gets the thread's own Peers and makes a ControllerLink with no controller of its own
    (it only forwards); local_controller() says when the controller is this node's."""

    def __init__(self, make_peers: Callable[[], Peers], make_link: Callable[[Peers], ControllerLink],
                 local_controller: Callable[[], bool], main_call: Call,
                 clock: Callable[[], float] = time.monotonic):
        self._make_peers = make_peers
        self._make_link = make_link
        self._local = local_controller  # whether this node is (believed) the active controller
        self._main_call = main_call
        self._clock = clock
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link: ControllerLink | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """From the main loop (blocks until the thread's loop runs, at most START_BOUND_S)."""
        self._main_loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, name="broker-heartbeat", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_BOUND_S):
            raise RuntimeError("the heartbeat thread did not start")

    def stop(self) -> None:
        """Blocking: the thread's loop ends and its connections close."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(JOIN_BOUND_S)

    async def beat_until_stale(self, payload: Callable[[], dict], accepted: Callable[[float], None],
                               interval_s: float) -> None:
        """Heartbeats every interval_s from the thread until one is answered with
        StaleBrokerEpoch (the broker must register again); accepted(sent) on the thread
        for each accepted one. Awaited on the main loop; cancelling it stops the beats."""
        assert self._loop is not None, "beat_until_stale before start"
        future = asyncio.run_coroutine_threadsafe(self._beats(payload, accepted, interval_s), self._loop)
        await asyncio.wrap_future(future)

    async def _beats(self, payload: Callable[[], dict], accepted: Callable[[float], None], interval_s: float) -> None:
        while True:
            sent = self._clock()
            try:
                await self._send(payload())
                accepted(sent)
            except StaleBrokerEpoch:
                return
            except KraftError as exc:
                log.debug("heartbeat failed: %s", exc.message)
            await asyncio.sleep(max(0.0, interval_s - (self._clock() - sent)))

    async def _send(self, body: dict) -> dict:
        assert self._link is not None and self._main_loop is not None
        if not self._local():
            return await self._link.call("heartbeat", body)
        on_main = asyncio.run_coroutine_threadsafe(self._main_call("heartbeat", body), self._main_loop)
        return await asyncio.wrap_future(on_main)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(loop))
        except Exception:  # the node runs on; its heartbeats then stop and the controller fences it
            log.exception("the heartbeat thread ended")
        finally:
            loop.close()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        peers = self._make_peers()
        await peers.open()
        self._stopping = asyncio.Event()
        self._link = self._make_link(peers)
        self._loop = loop
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            for task in [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]:
                task.cancel()
            await peers.close()
