"""Produce load, like kafka-producer-perf-test, over the v2 JSON produce API.

`C` workers keep `C` requests in flight over keep-alive connections (aiohttp), each
request `POST /topics/{t}` (or `/topics/{t}/partitions/{p}`) with a body of `batch`
records whose values are strings of `record_size` bytes. Requests go round-robin to
the given URLs (every node of a cluster, or one server). A run ends after `records`
records or `duration_s` seconds (no new request starts after that), whichever
comes first, or when `stop` is set; `throughput` caps the rate in records/s.

Callable from Python (`run_produce` / `produce_load`) and used by `kraft bench produce`
and bench/data_bench.py.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import orjson

from kraft.perf import meta
from kraft.perf.stats import LoadResult

V2_JSON = "application/vnd.kafka.json.v2+json"
V2_ANSWER = "application/vnd.kafka.v2+json"  # a produce answer is not embedded JSON data


@dataclass
class ProduceSpec:
    topic: str
    records: int | None = 50_000          # None: bounded by duration_s only
    duration_s: float | None = None       # None: bounded by records only
    record_size: int = 1024
    batch: int = 100
    acks: str = "all"
    concurrency: int = 8
    throughput: float = -1                # records/s cap; -1 = as fast as possible
    partition: int | None = None          # None: the server picks (sticky per request)
    timeout_ms: int = 30_000              # the produce's own timeout_ms query parameter
    request_timeout_s: float = 60.0       # client-side bound on one request

    def __post_init__(self):
        if self.records is None and self.duration_s is None:
            raise ValueError("a produce run needs records or duration_s")
        if self.batch < 1 or self.record_size < 0 or self.concurrency < 1:
            raise ValueError("batch and concurrency must be >= 1, record_size >= 0")
        if self.acks not in ("all", "-1", "1", "0"):
            raise ValueError(f"acks must be all, -1, 1 or 0, got {self.acks!r}")


def value_string(size: int, prefix: str = "") -> str:
    """A JSON string value of exactly `size` ASCII bytes (the prefix counts)."""
    filler = "abcdefghijklmnopqrstuvwxyz0123456789"
    body = (prefix + filler * (size // len(filler) + 1))[:max(size, len(prefix))]
    return body


def build_body(record_size: int, batch: int, prefix: str = "") -> bytes:
    value = value_string(record_size, prefix)
    return orjson.dumps({"records": [{"value": value}] * batch})


def produce_path(topic: str, partition: int | None) -> str:
    return f"/topics/{topic}" if partition is None else f"/topics/{topic}/partitions/{partition}"


# Called once per finished request: (request index, records in it, sent at, done at,
# records acknowledged). Times are time.perf_counter() values.
OnRequest = Callable[[int, int, float, float, int], None]
BodyFactory = Callable[[int, int], bytes]  # (request index, record count) -> body


async def produce_load(urls: list[str], spec: ProduceSpec, *,
                       session: aiohttp.ClientSession | None = None,
                       progress: Callable[[int], None] | None = None,
                       body_factory: BodyFactory | None = None,
                       on_request: OnRequest | None = None,
                       stop: asyncio.Event | None = None,
                       leaders: dict[int, str] | None = None) -> LoadResult:
    """Run one produce load against `urls` (HTTP base URLs, e.g. http://127.0.0.2:8081).

    With `leaders` (partition -> its leader's base URL) the load is partition-aware
    instead: request k goes to partition k mod P at its leader (`POST
    /topics/{t}/partitions/{p}`), so no node forwards; `urls` is then ignored."""
    if leaders:
        urls = [leaders[p] for p in sorted(leaders)]
    if not urls:
        raise ValueError("no URLs to produce to")
    own_session = session is None
    if session is None:
        session = new_session(spec.concurrency + 4)
    result = LoadResult()
    try:
        await _run(urls, spec, session, result, progress, body_factory, on_request, stop, leaders)
    finally:
        if own_session:
            await session.close()
    return result


def new_session(limit: int) -> aiohttp.ClientSession:
    conn = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False,
                                enable_cleanup_closed=True, ttl_dns_cache=None, ssl=meta.session_tls())
    return aiohttp.ClientSession(connector=conn, headers=meta.session_headers(),
                                 json_serialize=lambda o: orjson.dumps(o).decode())


async def _run(urls, spec: ProduceSpec, session, result: LoadResult, progress, body_factory,
               on_request, stop, leaders=None) -> None:
    n_requests = math.ceil(spec.records / spec.batch) if spec.records is not None else None
    full_body = None if body_factory else build_body(spec.record_size, spec.batch)
    tail = spec.records % spec.batch if spec.records is not None else 0  # records in a short last request
    tail_body = None
    if tail and not body_factory:
        tail_body = build_body(spec.record_size, tail)
    targets = _targets(urls, spec, leaders)
    params = {"acks": spec.acks, "timeout_ms": str(spec.timeout_ms)}
    headers = {"Content-Type": V2_JSON, "Accept": V2_ANSWER}
    timeout = aiohttp.ClientTimeout(total=spec.request_timeout_s)
    interval = spec.batch / spec.throughput if spec.throughput and spec.throughput > 0 else 0.0
    payload_per_record = spec.record_size
    counter = 0
    t0 = time.perf_counter()
    deadline = t0 + spec.duration_s if spec.duration_s is not None else None
    last_done = t0

    def next_request() -> int | None:
        nonlocal counter
        if n_requests is not None and counter >= n_requests:
            return None
        if stop is not None and stop.is_set():
            return None
        k = counter
        counter += 1
        return k

    async def worker() -> None:
        nonlocal last_done
        while True:
            k = next_request()
            if k is None:
                return
            if interval:
                wait = t0 + k * interval - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            if deadline is not None and time.perf_counter() >= deadline:
                return
            if stop is not None and stop.is_set():
                return
            count = spec.batch
            if n_requests is not None and k == n_requests - 1 and tail:
                count = tail
            if body_factory:
                body = body_factory(k, count)
            else:
                body = full_body if count == spec.batch else tail_body
            ok, sent, done = await _send(session, targets[k % len(targets)], params, body, headers, timeout,
                                         result, count)
            result.requests += 1
            result.latencies_s.append(done - sent)
            result.records += ok
            result.bytes += ok * payload_per_record
            last_done = max(last_done, done)
            if on_request is not None:
                on_request(k, count, sent, done, ok)
            if progress is not None:
                progress(count)
            if not ok and (stop is None or not stop.is_set()):
                await asyncio.sleep(0.01)  # a failing target: do not spin

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    result.elapsed_s = max(last_done - t0, 1e-9)
    result.extra.update({"acks": spec.acks, "batch": spec.batch, "record_size": spec.record_size,
                         "concurrency": spec.concurrency, "targets": len(targets),
                         "partition_aware": bool(leaders)})


def _targets(urls, spec: ProduceSpec, leaders) -> list[str]:
    """Where requests go, in turn: each partition's leader, or every node."""
    if leaders:
        return [leaders[p].rstrip("/") + produce_path(spec.topic, p) for p in sorted(leaders)]
    path = produce_path(spec.topic, spec.partition)
    return [u.rstrip("/") + path for u in urls]


async def _send(session, url: str, params: dict, body, headers: dict, timeout, result: LoadResult,
                count: int) -> tuple[int, float, float]:
    """One produce request of `count` records: how many got in, when it was sent and answered."""
    sent = time.perf_counter()
    ok = 0
    try:
        async with session.post(url, params=params, data=body, headers=headers, timeout=timeout) as resp:
            raw = await resp.read()
            status = resp.status
        done = time.perf_counter()
        ok = _account(result, status, raw, count)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        done = time.perf_counter()
        result.errors.add(f"client:{type(exc).__name__}", str(exc) or type(exc).__name__, count)
    return ok, sent, done


def _account(result: LoadResult, status: int, raw: bytes, count: int) -> int:
    """Count errors of one answer; returns the records acknowledged."""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if status != 200 or not isinstance(body, dict) or "offsets" not in body:
        code = body.get("error_code", status) if isinstance(body, dict) else status
        message = body.get("message") if isinstance(body, dict) else raw[:200].decode(errors="replace")
        result.errors.add(code, message, count)
        return 0
    ok = 0
    for slot in body["offsets"]:
        code = slot.get("error_code")
        if code is None:
            ok += 1
        else:
            result.errors.add(code, slot.get("error"))
    return ok


async def cluster_urls(bootstrap: str, session: aiohttp.ClientSession | None = None) -> list[str]:
    """Every unfenced broker's http://host:port, from GET /v3/clusters/{cid}/brokers."""
    own = session is None
    session = session or new_session(4)
    try:
        return list((await meta.with_retries(lambda: meta.brokers(session, bootstrap))).values())
    finally:
        if own:
            await session.close()


async def leader_urls(bootstrap: str, topic: str, session: aiohttp.ClientSession) -> dict[int, str]:
    """partition -> its leader's base URL (partitions without a leader are left out)."""
    cid = await meta.with_retries(lambda: meta.cluster_id(session, bootstrap))
    brokers = await meta.with_retries(lambda: meta.brokers(session, bootstrap, cid))
    leaders = await meta.with_retries(lambda: meta.partition_leaders(session, bootstrap, topic, cid))
    return {p: brokers[b] for p, b in leaders.items() if b in brokers}


def run_produce(bootstrap: str | None, spec: ProduceSpec, urls: list[str] | None = None,
                progress: Callable[[int], None] | None = None,
                partition_aware: bool = False) -> LoadResult:
    """Synchronous entry point: discover the brokers through `bootstrap` unless `urls`
    are given, then run the load (partition-aware: straight to each partition's leader,
    found through `bootstrap`, or else through the first of `urls`)."""
    # any node answers the metadata questions: a given URL stands in for a missing bootstrap
    discover = bootstrap or (urls[0] if urls else None)
    if discover is None:
        raise ValueError("run_produce needs a bootstrap URL or a list of urls")

    async def main():
        async with new_session(spec.concurrency + 4) as session:
            leaders = None
            if partition_aware:
                leaders = await leader_urls(discover, spec.topic, session)
                if spec.partition is not None:
                    leaders = {spec.partition: leaders[spec.partition]}
                targets = sorted(set(leaders.values()))
            else:
                targets = urls or await cluster_urls(discover, session)
            res = await produce_load(targets, spec, session=session, progress=progress, leaders=leaders)
            res.extra["urls"] = targets
            return res
    return asyncio.run(main())
