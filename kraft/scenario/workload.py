"""The scenario workload: producers, consumers and a sampler, recording a History.

Producers write unique values ("p0-17") one at a time with the scenario's acks and
classify each attempt the Jepsen way: ok, fail (definitely not written: refused
before appending, or a 4xx, or the connection was refused before sending) or
unknown (timeouts, 5xx, lost connections, "outcome unknown"). Consumers read every
partition from offset 0; the sampler records leaders, ISR, epochs and the HW as
clients see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import threading
import time
import traceback

import aiohttp
import orjson

from kraft.errors import ERROR_CLASS_HEADER
from kraft.scenario.history import FAIL, OK, UNKNOWN, History, Read, Sample, Write, admin_retention_ms
from kraft.scenario.compacted_writer import CompactedWriter
from kraft.scenario.group_members import GroupMember
from kraft.scenario.kafka_producer import KafkaProducer, paced

log = logging.getLogger(__name__)

V2 = "application/vnd.kafka.json.v2+json"
MEMBER_STOP_BOUND_S = 30.0  # a member's final commit (10 s) and close, with room to spare
STUCK_AFTER_S = 30.0  # a member's consume() returns every 0.2 s; this long inside the client is a stall
STUCK_CHECK_EVERY_S = 5.0
# Errors the cluster raises before appending anything: the write definitely failed.
# (Produce requests ask for the class with ERROR_CLASS_HEADER.)
DEFINITE_FAILURES = {"NotEnoughReplicas", "NotLeaderOrFollower", "LeaderNotAvailable"}


def classify(status: int | None, body) -> tuple[str, int | None, str | None]:
    """(outcome, offset, error) for one single-record v2 produce answer."""
    if status == 200 and isinstance(body, dict) and body.get("offsets"):
        slot = body["offsets"][0]
        if slot.get("error_code") is None:
            offset = slot.get("offset")
            return OK, offset if offset is not None and offset >= 0 else None, None
        message = str(slot.get("error") or "")
        definite = slot.get("error_class") in DEFINITE_FAILURES
        return (FAIL if definite else UNKNOWN), None, f"{slot.get('error_code')}: {message}"
    message = body.get("message", "") if isinstance(body, dict) else str(body)[:200]
    if status is not None and 400 <= status < 500:
        return FAIL, None, f"{status}: {message}"
    definite = isinstance(body, dict) and body.get("error_class") in DEFINITE_FAILURES
    return (FAIL if definite else UNKNOWN), None, f"{status}: {message}"



class Workload:
    def __init__(self, history: History, urls: dict[int, str], cluster_id: str, acks: str,
                 rate: float, producers: int, timeout_ms: int, t0: float, admin_rate: float = 0.0,
                 kafka_bootstrap: str | None = None, headers: dict | None = None, kafka_producers: bool = False,
                 group_members: int = 0, compacted_keys: int = 0, compacted_rate: float = 50.0, seed: int = 0):
        """kafka_bootstrap: the Kafka listeners, for the Kafka clients: producers when
        kafka_producers (else they use REST), group members, the compacted topic's writer;
        headers: sent with every request (a user's credentials when security is on)."""
        self.h = history
        self.urls = urls
        self.cluster_id = cluster_id
        self.acks = acks
        self.rate = rate
        self.producers = producers
        self.timeout_ms = timeout_ms
        self.t0 = t0
        self.admin_rate = admin_rate
        self.kafka_bootstrap = kafka_bootstrap
        self.kafka_producers = kafka_producers
        self.group_members = group_members
        self.compacted_keys, self.compacted_rate, self.seed = compacted_keys, compacted_rate, seed
        self.group_stop = threading.Event()  # the members' threads end when it is set (with stop_all)
        self.headers = dict(headers or {})  # credentials, when security is on
        self.stop_writes = asyncio.Event()
        self.stop_all = asyncio.Event()
        self.producer_tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None

    def now_ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Workload used outside run()"
        return self._session

    @property
    def bootstrap(self) -> str:
        assert self.kafka_bootstrap is not None, "a Kafka client without kafka_bootstrap"
        return self.kafka_bootstrap

    async def run(self, consumers: bool) -> None:
        """Owned by the runner; returns when stop_all is set and every loop ended."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_ms / 1000 + 5)
        async with aiohttp.ClientSession(timeout=timeout, headers=self.headers) as session:
            self._session = session
            try:
                await self._run_all(consumers)
            finally:  # also when a task failed: the members' threads must end for the run to end
                self.group_stop.set()

    async def _run_all(self, consumers: bool) -> None:
        async with asyncio.TaskGroup() as tg:
            self.producer_tasks = [tg.create_task(self._produce_kafka(f"p{i}") if self.kafka_producers
                                                  else self._produce(f"p{i}", i))
                                   for i in range(self.producers)]
            if self.compacted_keys:
                writer = CompactedWriter(self.bootstrap, self.h, self.compacted_keys, self.seed,
                                         self.timeout_ms, self.now_ms)
                self.producer_tasks.append(tg.create_task(writer.run(self.compacted_rate, self.stop_writes)))
            if self.group_members:
                tg.create_task(self._run_group_members())
            if consumers:
                for p in range(self.h.partitions):
                    tg.create_task(self._consume(f"c{p}", p))
            tg.create_task(self._sample())
            if self.admin_rate > 0:
                tg.create_task(self._admin())

    async def _run_group_members(self) -> None:
        """One thread per member (their calls block; the shared executor's few workers
        are for short calls), stopped with the rest and waited for, within a bound."""
        members = [GroupMember(f"g{i}", self.bootstrap, self.h, self.now_ms) for i in range(self.group_members)]
        threads = [threading.Thread(target=m.run, args=(self.group_stop,), name=f"lab-group-member-{m.name}",
                                    daemon=True) for m in members]
        for t in threads:
            t.start()
        try:
            reported: set[str] = set()  # members whose current stall is logged
            while not self.stop_all.is_set():
                _report_stuck_members(members, threads, reported)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_all.wait(), STUCK_CHECK_EVERY_S)
        finally:
            self.group_stop.set()
            deadline = time.monotonic() + MEMBER_STOP_BOUND_S
            while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stuck = [t.name for t in threads if t.is_alive()]
            if stuck:  # blocked inside the client library: a thread cannot be killed; daemon, so exit still works
                log.warning("group members still in the client after %.0f s: %s", MEMBER_STOP_BOUND_S, stuck)

    def group_caught_up(self, end_offsets: dict[int, int]) -> bool:
        """Whether the group has consumed every partition up to these offsets."""
        seen: dict[int, int] = {}
        for p, offset, _ in self.h.group_consumed:
            seen[p] = max(seen.get(p, -1), offset)
        return all(seen.get(p, -1) + 1 >= end for p, end in end_offsets.items())

    async def writes_finished(self) -> None:
        """After stop_writes: until every in-flight write has completed."""
        self.stop_writes.set()
        if self.producer_tasks:
            await asyncio.wait(self.producer_tasks)

    # -- producers ----------------------------------------------------------------------
    async def _produce(self, name: str, index: int) -> None:
        nodes = itertools.cycle(sorted(self.urls))
        for _ in range(index):
            next(nodes)
        async for seq in paced(self.rate / self.producers, self.stop_writes):
            partition = seq % self.h.partitions
            write = Write(name, seq, f"{name}-{seq}", partition, self.acks, self.now_ms())
            self.h.writes.append(write)
            await self._send(write, self.urls[next(nodes)])

    async def _produce_kafka(self, name: str) -> None:
        producer = KafkaProducer(name, self.bootstrap, self.h.topic, self.h.partitions, self.acks,
                                 self.timeout_ms, self.now_ms)
        await producer.run(self.h.writes, self.rate / self.producers, self.stop_writes, self.acks)

    async def _send(self, write: Write, url: str) -> None:
        target = (f"{url}/topics/{self.h.topic}/partitions/{write.partition}"
                  f"?acks={self.acks}&timeout_ms={self.timeout_ms}")
        body = orjson.dumps({"records": [{"value": write.value}]})
        try:
            async with self.session.post(target, data=body,
                                         headers={"Content-Type": V2, ERROR_CLASS_HEADER: "1"}) as resp:
                raw = await resp.read()
                try:
                    parsed = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    parsed = raw.decode(errors="replace")
                outcome, offset, error = classify(resp.status, parsed)
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            outcome, offset, error = FAIL, None, f"connect: {exc.__class__.__name__}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            outcome, offset, error = UNKNOWN, None, f"client: {exc.__class__.__name__}"
        write.complete_ms = self.now_ms()
        write.outcome, write.offset, write.error = outcome, offset, error

    # -- metadata writes -----------------------------------------------------------------
    async def _admin(self) -> None:
        """Create small topics one after another, each with its own retention.ms; each is
        one committed metadata write whose name and config must both survive."""
        nodes = itertools.cycle(sorted(self.urls))
        for i in itertools.count():
            if self.stop_writes.is_set():
                return
            name = f"meta-{i}"
            url = f"{self.urls[next(nodes)]}/v3/clusters/{self.cluster_id}/topics"
            body = orjson.dumps({"topic_name": name, "partitions_count": 1, "replication_factor": 1,
                                 "configs": [{"name": "retention.ms", "value": admin_retention_ms(name)}]})
            try:
                async with self.session.post(url, data=body,
                                             headers={"Content-Type": "application/json"}) as resp:
                    outcome = OK if resp.status == 201 else (FAIL if resp.status < 500 else UNKNOWN)
            except aiohttp.ClientConnectorError:
                outcome = FAIL
            except (aiohttp.ClientError, asyncio.TimeoutError):
                outcome = UNKNOWN
            self.h.topics_created.append((name, outcome, self.now_ms()))
            await asyncio.sleep(1 / self.admin_rate)

    # -- consumers ------------------------------------------------------------------------
    async def _consume(self, name: str, partition: int) -> None:
        offset = 0
        nodes = itertools.cycle(sorted(self.urls))
        url = self.urls[next(nodes)]
        while not self.stop_all.is_set():
            target = f"{url}/topics/{self.h.topic}/partitions/{partition}/records?offset={offset}&timeout=500"
            try:
                async with self.session.get(target, headers={"Accept": V2},
                                            timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    body = orjson.loads(await resp.read()) if resp.status == 200 else None
            except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError):
                body = None
            if body is None:
                url = self.urls[next(nodes)]
                await asyncio.sleep(0.1)
                continue
            for rec in body:
                self.h.reads.append(Read(name, partition, rec["offset"], str(rec["value"]),
                                         self.now_ms()))
                offset = rec["offset"] + 1

    # -- sampler ------------------------------------------------------------------------------
    async def _sample(self) -> None:
        while not self.stop_all.is_set():
            await self.sample_once()
            await asyncio.sleep(0.25)

    async def _get(self, url: str, path: str):
        try:
            async with self.session.get(url + path, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                if resp.status != 200:
                    return None
                return orjson.loads(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError):
            return None

    async def sample_once(self) -> None:
        """Metadata from the Raft leader itself, the one of the highest term (the newest
        image: epochs seen through it never go back; a node still replaying its journal
        would show old ones),
        the HW as clients see it from each partition's leader."""
        # every node asked: a Raft leader just resumed from SIGSTOP still calls itself
        # leader, with its old image, until it hears the newer term
        answers = await asyncio.gather(*(self._get(url, f"/v3/clusters/{self.cluster_id}/quorum")
                                         for _, url in sorted(self.urls.items())))
        leaders = [q for q in answers if q is not None and q.get("leader_id") is not None
                   and q.get("answered_by") == q["leader_id"]]
        if not leaders:
            return
        quorum = max(leaders, key=lambda q: q.get("leader_epoch") or -1)
        via = self.urls.get(quorum["leader_id"])
        if via is None:
            return
        parts = await self._get(via, f"/v3/clusters/{self.cluster_id}/topics/{self.h.topic}/partitions")
        if parts is None:
            return
        now = self.now_ms()
        for p in parts["data"]:
            hw = None
            offsets = await self._get(via, f"/topics/{self.h.topic}/partitions/{p['partition_id']}/offsets")
            if offsets is not None:
                hw = offsets["end_offset"]
            self.h.samples.append(Sample(now, p["partition_id"], p["leader_id"], p["leader_epoch"],
                                         p["isr"], hw, p["unclean_elections"],
                                         quorum.get("controller_id"), quorum.get("controller_epoch")))


def _report_stuck_members(members: list[GroupMember], threads: list[threading.Thread],
                          reported: set[str]) -> None:
    """Log, once per stall, a member whose client call has not returned for STUCK_AFTER_S,
    with the thread's stack: which call (consume, commit, a rebalance callback) holds it."""
    now = time.monotonic()
    for m, t in zip(members, threads):
        stuck_s = now - m.last_return
        if stuck_s < STUCK_AFTER_S:
            reported.discard(m.name)
            continue
        if m.name in reported:
            continue
        reported.add(m.name)
        if not t.is_alive():
            log.warning("group member %s ended %.0f s ago, before the run did", m.name, stuck_s)
            continue
        frame = sys._current_frames().get(t.ident) if t.ident is not None else None
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
        log.warning("group member %s has been inside the client for %.0f s:\n%s", m.name, stuck_s, stack)
