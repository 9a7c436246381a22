"""Consume load, like kafka-consumer-perf-test, over the read-by-offset API.

Every partition is read concurrently from its start (offset 0, or `start_offsets`)
with `GET /topics/{t}/partitions/{p}/records?offset=..&max_bytes=..`, asked of the
partition's leader directly (leader_id from /v3/.../partitions, its address from
/v3/.../brokers). A run ends when `records` records have arrived in total; without
`records`, when every partition has been read up to the end offset it had when the
run started. It is also bounded by `timeout_s` overall and by `idle_timeout_s`
without any new record. On an error answer (e.g. NOT_LEADER after a leader change)
the partition's leader is looked up again.

MB/s counts the record values' bytes (what kafka-consumer-perf-test counts as
message bytes); the response bytes are in `extra["response_bytes"]`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import orjson

from kraft.perf import meta
from kraft.perf.produce_load import V2_JSON, new_session
from kraft.perf.stats import LoadResult


def _value_bytes(value) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode())
    return len(orjson.dumps(value))


async def consume_load(bootstrap: str, topic: str, records: int | None = None, *,
                       max_bytes: int = 1024 * 1024, timeout_s: float = 300.0,
                       idle_timeout_s: float = 10.0, start_offsets: dict[int, int] | None = None,
                       partitions: list[int] | None = None,
                       session: aiohttp.ClientSession | None = None,
                       progress: Callable[[int], None] | None = None,
                       on_goal: Callable[[int], None] | None = None) -> LoadResult:
    own = session is None
    session = session or new_session(16)
    try:
        return await _consume(bootstrap, topic, records, max_bytes, timeout_s, idle_timeout_s,
                              start_offsets or {}, partitions, session, progress, on_goal)
    finally:
        if own:
            await session.close()


async def _consume(bootstrap, topic, records, max_bytes, timeout_s, idle_timeout_s, start_offsets,
                   only, session, progress, on_goal) -> LoadResult:
    cid = await meta.with_retries(lambda: meta.cluster_id(session, bootstrap))
    urls = await meta.with_retries(lambda: meta.brokers(session, bootstrap, cid))
    leaders = await meta.with_retries(lambda: meta.partition_leaders(session, bootstrap, topic, cid))
    parts = sorted(p for p in leaders if only is None or p in only)
    ends: dict[int, int] = {}
    for p in parts:
        ends[p] = (await meta.with_retries(lambda p=p: meta.end_offset(session, bootstrap, topic, p)))[1]
    result = LoadResult()
    result.extra.update({"partitions": len(parts), "end_offsets": dict(ends), "response_bytes": 0,
                         "max_bytes": max_bytes})
    goal = records if records is not None else sum(max(0, ends[p] - start_offsets.get(p, 0)) for p in parts)
    if on_goal is not None:
        on_goal(goal)
    if goal <= 0:
        return result
    readers = _Readers(session, bootstrap, topic, cid, urls, ends, result, records, max_bytes,
                       timeout_s, idle_timeout_s, progress)
    await asyncio.gather(*(readers.read(p, start_offsets.get(p, 0), urls.get(leaders[p])) for p in parts))
    result.elapsed_s = max(readers.last_done - readers.t0, 1e-9)
    result.extra["goal_records"] = goal
    result.extra["complete"] = result.records >= goal
    return result


class _Readers:
    """One reader per partition, sharing the run's bounds and its result."""

    def __init__(self, session, bootstrap, topic, cid, urls, ends, result: LoadResult, records,
                 max_bytes, timeout_s, idle_timeout_s, progress) -> None:
        self.session, self.bootstrap, self.topic, self.cid = session, bootstrap, topic, cid
        self.urls, self.ends, self.result = urls, ends, result
        self.records, self.max_bytes, self.idle_timeout_s, self.progress = records, max_bytes, idle_timeout_s, progress
        self.done = asyncio.Event()
        self.t0 = time.perf_counter()
        self.hard_deadline = self.t0 + timeout_s
        self.last_progress = self.t0
        self.last_done = self.t0
        self.headers = {"Accept": V2_JSON}
        self.req_timeout = aiohttp.ClientTimeout(total=30)

    async def leader_url(self, p: int) -> str | None:
        try:
            fresh = await meta.partition_leaders(self.session, self.bootstrap, self.topic, self.cid)
            leader = fresh.get(p, -1)
            if leader not in self.urls:
                self.urls = await meta.brokers(self.session, self.bootstrap, self.cid)
            return self.urls.get(leader)
        except (TimeoutError, meta.MetadataError, aiohttp.ClientError):
            return None

    async def read(self, p: int, offset: int, url: str | None) -> None:
        while not self.done.is_set():
            now = time.perf_counter()
            if now >= self.hard_deadline or now - self.last_progress >= self.idle_timeout_s:
                self.done.set()
                return
            if self.records is None and offset >= self.ends[p]:
                return
            if url is None:
                await asyncio.sleep(0.2)
                url = await self.leader_url(p)
                continue
            answer = await self._fetch(url, p, offset)
            if answer is None:  # an error, counted: ask for the leader again
                url = await self.leader_url(p)
                await asyncio.sleep(0.1)
                continue
            body, end = answer
            if not body:
                continue
            offset = self._count(body, end)
            if self.records is not None and self.result.records >= self.records:
                self.done.set()
                return

    async def _fetch(self, url: str, p: int, offset: int) -> tuple[list, float] | None:
        """The records at `offset` and when they arrived; None on an error (counted)."""
        result = self.result
        wait_ms = 500 if offset >= self.ends[p] else 0
        q = (f"{url}/topics/{self.topic}/partitions/{p}/records?offset={offset}&max_bytes={self.max_bytes}"
             f"&timeout={wait_ms}")
        sent = time.perf_counter()
        try:
            async with self.session.get(q, headers=self.headers, timeout=self.req_timeout) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            result.errors.add(f"client:{type(exc).__name__}", str(exc) or type(exc).__name__)
            return None
        end = time.perf_counter()
        result.requests += 1
        result.latencies_s.append(end - sent)
        result.extra["response_bytes"] += len(raw)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if status != 200 or not isinstance(body, list):
            code = body.get("error_code", status) if isinstance(body, dict) else status
            result.errors.add(code, body.get("message") if isinstance(body, dict) else str(raw[:200]))
            return None
        return body, end

    def _count(self, body: list, end: float) -> int:
        """Counts the records read; the next offset to read."""
        n = len(body)
        size = 0
        for rec in body:
            size += _value_bytes(rec.get("value"))
        self.result.records += n
        self.result.bytes += size
        self.last_progress = end
        self.last_done = end
        if self.progress is not None:
            self.progress(n)
        return body[-1]["offset"] + 1


def run_consume(bootstrap: str, topic: str, records: int | None = None, *,
                max_bytes: int = 1024 * 1024, timeout_s: float = 300.0,
                progress: Callable[[int], None] | None = None,
                on_goal: Callable[[int], None] | None = None) -> LoadResult:
    return asyncio.run(consume_load(bootstrap, topic, records, max_bytes=max_bytes,
                                    timeout_s=timeout_s, progress=progress, on_goal=on_goal))
