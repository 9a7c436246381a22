"""The `hostile` scenario's abuse as fault kinds: each event starts one bounded abuse
against the live cluster, from an address of its own, as a task this module owns.

`Abuse` starts an abuse (`start`), ends it at its event's `duration` or at the heal
(`end`: its stop is set, it is awaited, cancelled past a bound) and ends whatever is
left when the run stops (`close`). Each answer the cluster gave is judged as it comes
(`Ctx.answer`, into History.abuse_answers; the `hostile_answers` checker reads them).
The bytes are built in hostile_frames; the Kafka I/O is hostile_wire, the abuses
themselves hostile_kafka and hostile_rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kraft.scenario import lab_security

from kraft.scenario.hostile import kafka as hostile_kafka

from kraft.scenario.hostile import requests as hostile_requests

from kraft.scenario.hostile import rest as hostile_rest
from kraft.scenario.history import History
from kraft.config.scenarios import HOSTILE_KINDS
from kraft.server.local_cluster import http_json

ABUSES = {
    "hostile-frames": hostile_kafka.send_frames,
    "hostile-fetch-below-start": hostile_kafka.fetch_below_start,
    "hostile-huge-batch": hostile_kafka.huge_batch,
    "hostile-idle-connections": hostile_kafka.idle_connections,
    "hostile-slow-frames": hostile_kafka.slow_frames,
    "hostile-wrong-passwords": hostile_kafka.wrong_passwords,
    "hostile-internal-topic": hostile_rest.internal_topic,
    "hostile-share-acks": hostile_requests.share_acks,
    "hostile-share-hijack": hostile_requests.share_hijack,
    "hostile-redos": hostile_requests.redos,
    "hostile-transitive": hostile_requests.transitive,
    "hostile-wide-read": hostile_requests.wide_read,
    "hostile-broker-apis": hostile_requests.broker_apis,
}
KINDS = HOSTILE_KINDS
assert set(ABUSES) == set(KINDS)
END_BOUND_S = 30.0  # an abuse told to stop has this long to finish before it is cancelled
ABUSE_TOPIC = "hostile-abuse"  # the abuse's own topic: the workload's is never touched


@dataclass
class Ctx:
    """What every abuse gets: the cluster, its own source address, the history."""

    cluster: Any  # a LocalCluster
    h: History
    now_ms: Callable[[], float]
    source: str  # 127.0.0.N: no node's, no workload client's
    crowd_source: str  # the idle connections' first address (the crowd may spread over the next ones)
    secured: bool
    seed: int
    topic_ready: asyncio.Lock = field(default_factory=asyncio.Lock)
    topic_made: bool = False

    def answer(self, kind: str, node: int, what: str, outcome: str, ok: bool) -> None:
        self.h.abuse_answers.append((self.now_ms(), kind, node, what, outcome, ok))

    def kafka_address(self, node: int) -> tuple[str, int]:
        conf = self.cluster.config.node(node)
        return conf.host, conf.kafka_port

    @property
    def lab_login(self) -> tuple[str, str] | None:
        """The super user's SASL login when security is on (else none is needed)."""
        return ("lab", lab_security.LAB_PASSWORD) if self.secured else None

    async def abuse_topic(self) -> str:
        """The abuse's topic (one partition, three replicas), created once and served."""
        async with self.topic_ready:
            if not self.topic_made:
                await asyncio.to_thread(self._make_topic)
                self.topic_made = True
        return ABUSE_TOPIC

    def _make_topic(self) -> None:
        c = self.cluster
        node = next(n for n in c.hosts if c.running(n))
        body = {"topic_name": ABUSE_TOPIC, "partitions_count": 1, "replication_factor": 3}
        status, out = http_json("POST", c.v3(node) + "/topics", body, c.headers)
        if status not in (201, 409):
            raise RuntimeError(f"could not create {ABUSE_TOPIC}: {status}")

        def served():
            return http_json("GET", c.url(node) + f"/topics/{ABUSE_TOPIC}/partitions/0/offsets",
                             timeout=2, headers=c.headers)[0] == 200
        c.wait_until(served, 30, f"topic {ABUSE_TOPIC} served")


@dataclass
class Running:
    kind: str
    task: asyncio.Task
    stop: asyncio.Event


class Abuse:
    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.running: list[Running] = []

    def start(self, kind: str, nodes: list[int], params: dict) -> tuple[Running, str]:
        stop = asyncio.Event()
        task = asyncio.create_task(ABUSES[kind](self.ctx, kind, nodes, params, stop), name=kind)
        run = Running(kind, task, stop)
        self.running.append(run)
        source = self.ctx.source
        if kind == "hostile-idle-connections":
            spread = int(params.get("addresses", 1))
            source = self.ctx.crowd_source + (f" and the {spread - 1} after it" if spread > 1 else "")
        return run, f"started from {source}"

    async def end(self, run: Running) -> str:
        """Stop one abuse and say what it did (or how it failed)."""
        run.stop.set()
        if run in self.running:
            self.running.remove(run)
        try:
            return await asyncio.wait_for(asyncio.shield(run.task), END_BOUND_S)
        except TimeoutError:
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
            return f"cancelled: not finished {END_BOUND_S:g} s after it was told to stop"
        except Exception as exc:  # noqa: BLE001 - the abuse's own failure is part of the report
            return f"failed: {exc.__class__.__name__}: {exc}"

    async def close(self) -> None:
        for run in list(self.running):
            await self.end(run)


def source_addresses(cluster) -> tuple[str, str]:
    """The two 127.0.0.N after the cluster's own addresses (spares included): the
    abuse's, and the idle connections' first (a crowd spread over several addresses
    takes the ones after it: the workload's clients are all on 127.0.0.1)."""
    last = max(int(host.rsplit(".", 1)[1]) for host in cluster.hosts.values())
    if last >= 253:
        raise ValueError("no loopback addresses are left after the cluster's for the abuse")
    return f"127.0.0.{last + 1}", f"127.0.0.{last + 2}"
