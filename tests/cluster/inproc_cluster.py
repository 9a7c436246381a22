"""A 3-node cluster in the test process: the real `kraft.server.node.Node` of each node, on
the in-memory metadata quorum (kraft/quorum/memory.py) instead of pysyncobj, serving HTTP
and Kafka on its own 127.0.0.N address exactly as a node process does. For tests of what a
request and its answer look like (request shapes, bad input), not of processes, faults,
durability or the real quorum: those stay on LocalCluster.

It starts in well under a second (no interpreters to start, no election), against several
seconds for three node processes on a busy 2-core machine.

The nodes run on an event loop in a thread of their own, so a test talks to them as to
real nodes, with the same blocking helpers (http_json, cluster_client.call). The object is
a LocalCluster (same config file, data dirs, url/v3/wait_until/...) whose processes are
that thread's Node tasks; kill/pause/stop of one node are not offered.

ALL construction of in-process nodes is in `InProcessCluster._run_nodes`: the one place to
change when the way a Node is built or handed to its doors changes.
"""

from __future__ import annotations

import asyncio
import threading

from kraft.config.data_dir import read_identity
from kraft.quorum.memory import MemoryRaft
from kraft.server.local_cluster import LocalCluster

CATCH_UP_S = 0.005  # how often every seat applies the shared log (a follower's replication)
CLOSE_WAIT_S = 1.0  # then the nodes finish closing their logs (an fsync each) behind the next test


class InProcessCluster(LocalCluster):
    """LocalCluster(...) with the same settings, its nodes in this process (see the module)."""

    def __init__(self, nodes: int = 3, **settings):
        for unsupported in ("lazy_fs", "partitions_fs_mb", "env"):
            if settings.get(unsupported):
                raise ValueError(f"{unsupported} needs node processes: use LocalCluster")
        super().__init__(nodes, **settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._failed: BaseException | None = None
        self._cleanup_deferred = False
        self.nodes: dict = {}

    # -- processes: the node tasks of one thread ----------------------------------------
    def start(self, node_ids=None) -> "InProcessCluster":
        assert node_ids is None and self._thread is None, "all nodes start together, once"
        started = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(started,),
                                        name="inproc-cluster", daemon=True)
        self._thread.start()
        started.wait(30)
        if self._failed is not None:
            raise RuntimeError("in-process nodes failed to start") from self._failed
        return self

    def _thread_main(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run_nodes(started))
        except BaseException as exc:  # noqa: BLE001 - reported by start() and running()
            self._failed = exc
        finally:
            started.set()
            self._loop.close()
            if self._cleanup_deferred:
                LocalCluster.close(self)  # the data dirs, once nothing writes to them

    async def _run_nodes(self, started: threading.Event) -> None:
        from kraft.server.node import Node

        self._stop = asyncio.Event()
        controllers = [n.id for n in self.config.controllers]
        raft = MemoryRaft(controllers)
        raft.elect(controllers[0])  # the in-memory quorum has no election: the first controller leads
        for node in self.config.nodes:
            seat = raft.seat(node.id) if node.is_controller else None
            self.nodes[node.id] = Node(self.config, node.id, read_identity(node.data_path), quorum=seat)
        runs = {node_id: asyncio.create_task(node.run(self._stop), name=f"node-{node_id}")
                for node_id, node in self.nodes.items()}

        async def replicate_metadata():
            while True:
                for seat in raft.seats.values():
                    seat.catch_up()
                await asyncio.sleep(CATCH_UP_S)

        replication = asyncio.create_task(replicate_metadata(), name="memory-quorum")
        started.set()
        await self._stop.wait()
        # as kill -9 would: no controlled shutdown (it waits seconds for moves nobody needs here)
        replication.cancel()
        for task in runs.values():
            task.cancel()
        done = await asyncio.gather(replication, *runs.values(), return_exceptions=True)
        failures = [r for r in done if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        if failures:
            raise failures[0]

    def start_node(self, node_id: int) -> None:
        raise NotImplementedError("in-process nodes start together: InProcessCluster.start()")

    def running(self, node_id: int) -> bool:
        return self._thread is not None and self._thread.is_alive() and node_id in self.nodes

    def kill(self, node_id: int) -> None:
        raise NotImplementedError("faults need node processes: use LocalCluster")

    stop = pause = resume = power_cut = kill  # type: ignore[assignment]

    def close(self) -> None:
        if self._thread is not None and self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass  # the loop has already ended
            self._thread.join(CLOSE_WAIT_S)
            if self._thread.is_alive():  # closing logs on a busy disk: the thread removes the data
                self._cleanup_deferred = True
                return
        self._thread = None
        super().close()
