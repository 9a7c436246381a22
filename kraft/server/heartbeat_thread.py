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
import contextlib
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
MAX_IN_FLIGHT = 4  # heartbeats awaiting their answers (each gives up at the controller request timeout)
LOCAL_CHECK_S = 0.05  # how often a forward in flight looks whether the controller became this node's

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
        """A heartbeat every interval_s, whether or not the ones before were answered: one
        the controller holds (committing it while newly elected, say) must not hold up the
        next, which is noted when it arrives. At most MAX_IN_FLIGHT at once."""
        stale = asyncio.Event()
        in_flight: set[asyncio.Task] = set()
        try:
            while not stale.is_set():
                if len(in_flight) < MAX_IN_FLIGHT:
                    beat = asyncio.ensure_future(self._beat(payload(), self._clock(), accepted, stale))
                    in_flight.add(beat)
                    beat.add_done_callback(in_flight.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stale.wait(), interval_s)
        finally:
            for beat in in_flight:
                beat.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _beat(self, body: dict, sent: float, accepted: Callable[[float], None], stale: asyncio.Event) -> None:
        try:
            await self._send(body)
            accepted(sent)
        except StaleBrokerEpoch:
            stale.set()
        except KraftError as exc:
            log.debug("heartbeat failed: %s", exc.message)

    async def _send(self, body: dict) -> dict:
        """Forwarded from here while the controller is another node's; handed to the main
        loop once it is this node's, also in the middle of a forward (the thread's link
        has no controller of its own and would wait out its deadline for one, past the
        session a new controller on this node has just given its broker)."""
        assert self._link is not None and self._main_loop is not None
        if not self._local():
            forward = asyncio.ensure_future(self._link.call("heartbeat", body))
            while not forward.done() and not self._local():
                await asyncio.wait({forward}, timeout=LOCAL_CHECK_S)
            if forward.done():
                return forward.result()
            forward.cancel()  # a heartbeat may be sent twice: the main loop's goes now
            with contextlib.suppress(asyncio.CancelledError, KraftError):
                await forward
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
            tasks = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:  # their own cleanup (the beats' in flight) runs before the loop closes
                await asyncio.wait(tasks, timeout=JOIN_BOUND_S / 2)
            await peers.close()
