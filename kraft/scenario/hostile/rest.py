"""The `hostile` scenario's abuse over HTTP (hostile_abuse owns it): REST reads where
there is nothing or too much, wrong Basic passwords, internal topics created by hand.

Every request leaves from the abuse's own source address. An answer passes when it is
what docs/API.md promises (a 4xx with its error code, or a bounded 200); a 5xx, no
answer, or an answer showing a traceback or a file path fails.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from kraft.scenario.hostile import frames
from kraft.scenario import lab_security

BINARY_V2 = "application/vnd.kafka.binary.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"
REQUEST_TIMEOUT_S = 30.0
SMALL_READ_BOUND = 256 << 10  # max_bytes=1000 may round up to whole records, not to megabytes
INTERNAL_TOPICS = ("__transaction_state", "__consumer_offsets")


def session(ctx, headers: dict | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(ctx.source, 0), force_close=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                 headers=ctx.cluster.headers if headers is None else headers)


async def call(session, method: str, url: str, **kw) -> tuple[int, bytes]:
    """(status, body); status 0 when no answer came."""
    try:
        async with session.request(method, url, **kw) as resp:
            return resp.status, await resp.read()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return 0, b""


def judge(status: int, body: bytes, fine: bool) -> tuple[str, bool]:
    text = body[:4096].decode(errors="replace")
    code = ""
    try:
        code = f" {orjson.loads(body).get('error_code')}" if 400 <= status < 500 else ""
    except (orjson.JSONDecodeError, AttributeError):
        pass
    outcome = f"HTTP {status}{code}" if status else "no answer"
    if frames.leaks_internals(text):
        return outcome + " showing internal detail", False
    return outcome, fine and status != 0


def running(ctx, nodes: list[int]) -> list[int]:
    return [n for n in nodes if ctx.cluster.running(n)] or list(nodes)


async def end_offset(ctx, topic: str) -> int | None:
    c = ctx.cluster
    async with session(ctx) as s:
        for node in running(ctx, list(c.hosts)):
            status, body = await call(s, "GET", f"{c.url(node)}/topics/{topic}/partitions/0/offsets")
            if status == 200:
                return orjson.loads(body)["end_offset"]
    return None


async def write_and_delete(ctx, topic: str, records: int) -> int:
    """`records` records written, the first half deleted; the new log start."""
    c = ctx.cluster
    node = running(ctx, list(c.hosts))[0]
    async with session(ctx) as s:
        body = orjson.dumps({"records": [{"value": f"doomed-{i}"} for i in range(records)]})
        status, out = await call(s, "POST", f"{c.url(node)}/topics/{topic}/partitions/0", data=body,
                                  headers={"Content-Type": JSON_V2})
        if status != 200:
            raise RuntimeError(f"could not write to {topic}: HTTP {status}")
        end = max(o["offset"] for o in orjson.loads(out)["offsets"]) + 1
        before = end - records // 2
        status, out = await call(s, "POST", f"{c.v3(node)}/topics/{topic}/partitions/0/records:delete",
                                  json={"before_offset": before})
        if status != 200:
            raise RuntimeError(f"could not delete records of {topic}: HTTP {status}")
        return orjson.loads(out)["low_watermark"]


async def read_below_start(ctx, kind: str, nodes: list[int], topic: str, start: int) -> list[str]:
    """A REST read from offset 0 (below the log start) through each node: a 4xx."""
    out = []
    async with session(ctx) as s:
        for node in running(ctx, nodes):
            status, body = await call(s, "GET", f"{ctx.cluster.url(node)}/topics/{topic}/partitions/0/records"
                                       "?offset=0&timeout=0", headers={"Accept": BINARY_V2})
            outcome, ok = judge(status, body, 400 <= status < 500)
            ctx.answer(kind, node, f"REST read at 0, below the log start {start}", outcome, ok)
            out.append(f"REST read at 0 via node {node}: {outcome}")
    return out


async def read_small(ctx, kind: str, nodes: list[int], topic: str, offset: int) -> list[str]:
    """A REST read with max_bytes=1000 from `offset` through each node: a small 200 (or a 4xx)."""
    out = []
    async with session(ctx) as s:
        for node in running(ctx, nodes):
            status, body = await call(s, "GET", f"{ctx.cluster.url(node)}/topics/{topic}/partitions/0/records"
                                       f"?offset={offset}&timeout=0&max_bytes=1000", headers={"Accept": BINARY_V2})
            fine = (status == 200 and len(body) <= SMALL_READ_BOUND) or 400 <= status < 500
            outcome, ok = judge(status, body, fine)
            outcome += f", {len(body):,} bytes" if status == 200 else ""
            ctx.answer(kind, node, f"REST read of {topic}-0 at {offset} with max_bytes=1000", outcome, ok)
            out.append(f"REST read with max_bytes=1000 via node {node}: {outcome}")
    return out


async def wrong_basic(ctx, kind: str, node: int, user: str, password: str) -> str:
    """One request with a wrong HTTP Basic password: 401 (or 429 while backing off)."""
    headers = lab_security.basic(user, password)
    async with session(ctx, headers) as s:
        status, body = await call(s, "GET", f"{ctx.cluster.v3(node)}/topics")
    outcome, ok = judge(status, body, status in (401, 429))
    ctx.answer(kind, node, f"HTTP Basic as {user} with a wrong password", outcome, ok)
    return outcome


async def internal_topic(ctx, kind, nodes, params, stop) -> str:
    """Creating Kafka's internal topics by hand, as the super user, through each node: a
    4xx every time (they are the cluster's own)."""
    parts: list[str] = []
    async with session(ctx) as s:
        for node in running(ctx, nodes):
            for name in INTERNAL_TOPICS:
                if stop.is_set():
                    return "; ".join(parts + ["stopped before the end"])
                body = {"topic_name": name, "partitions_count": 1, "replication_factor": 1}
                status, out = await call(s, "POST", f"{ctx.cluster.v3(node)}/topics", json=body)
                outcome, ok = judge(status, out, 400 <= status < 500)
                ctx.answer(kind, node, f"REST create of {name}", outcome, ok)
                parts.append(f"create {name} via node {node}: {outcome}")
    return "; ".join(parts)
