"""Watches a scenario's nodes while it runs: a node process that ends and a broker the
controller fences are recorded as seen (History.node_exits, fenced_seen), for the
nodes_alive and unfenced checkers. Owned by the runner's task group; stops when told.
"""

from __future__ import annotations

import asyncio

from kraft.scenario.history import History
from kraft.server.local_cluster import http_json

EVERY_S = 0.5
ASK_TIMEOUT_S = 2.0


class NodeWatch:
    def __init__(self, cluster, h: History, now_ms):
        self.cluster, self.h, self.now_ms = cluster, h, now_ms
        self.gone: set[int] = set()  # pids already recorded as ended
        self.fenced: set[int] = set()  # brokers fenced at the last look

    async def run(self, stop: asyncio.Event) -> None:
        self.h.watched = True
        while not stop.is_set():
            self._look_at_processes()
            await asyncio.to_thread(self._look_at_brokers)
            try:
                await asyncio.wait_for(stop.wait(), EVERY_S)
            except TimeoutError:
                pass

    def _look_at_processes(self) -> None:
        for node, proc in list(self.cluster.procs.items()):
            code = proc.poll()
            if code is not None and proc.pid not in self.gone:
                self.gone.add(proc.pid)
                self.h.node_exits.append((self.now_ms(), node, code))

    def _look_at_brokers(self) -> None:
        """A broker newly fenced, as the first running node that answers tells."""
        c = self.cluster
        for node in [n for n in c.hosts if c.running(n)]:
            try:
                status, body = http_json("GET", c.v3(node) + "/brokers", None, c.headers, timeout=ASK_TIMEOUT_S)
            except OSError:
                continue
            if status != 200 or not isinstance(body, dict):
                continue
            now = {b["broker_id"] for b in body.get("data", []) if b.get("fenced")}
            for broker in sorted(now - self.fenced):
                self.h.fenced_seen.append((self.now_ms(), broker))
            self.fenced = now
            return
