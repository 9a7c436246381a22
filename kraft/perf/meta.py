"""Cluster metadata the load generators need, read through the public v3 API."""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import aiohttp
import orjson

from kraft.client.admin_client import basic_auth_header, credentials_from_env, credentials_hint, tls_context


class MetadataError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


async def get_json(session: aiohttp.ClientSession, url: str, timeout_s: float = 5.0):
    """(status, parsed body) of a GET; raises aiohttp/asyncio errors for transport failures."""
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
        raw = await resp.read()
        try:
            return resp.status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return resp.status, raw.decode(errors="replace")


def session_headers() -> dict[str, str]:
    """Every request of the load generators: KRAFT_USER/KRAFT_PASSWORD, as the other
    kraft commands send them, when set."""
    auth = credentials_from_env()
    return {"Authorization": basic_auth_header(*auth)} if auth else {}


def session_tls() -> ssl.SSLContext | bool:
    """https nodes are checked against KRAFT_CA when set, else the system's CAs."""
    return tls_context(None) or True


def _strip(url: str) -> str:
    return url.rstrip("/")


async def cluster_id(session: aiohttp.ClientSession, bootstrap: str) -> str:
    status, body = await get_json(session, _strip(bootstrap) + "/v3/clusters")
    if status != 200:
        message = body.get("message", body) if isinstance(body, dict) else body
        raise MetadataError(f"GET /v3/clusters on {bootstrap}: {status} {message}"
                            f"{credentials_hint(status, credentials_from_env())}", status)
    return body["data"][0]["cluster_id"]


async def brokers(session: aiohttp.ClientSession, bootstrap: str, cid: str | None = None,
                  include_fenced: bool = False) -> dict[int, str]:
    """broker_id -> http(s)://host:port (the bootstrap's scheme), from GET /v3/clusters/{cid}/brokers."""
    cid = cid or await cluster_id(session, bootstrap)
    status, body = await get_json(session, f"{_strip(bootstrap)}/v3/clusters/{cid}/brokers")
    if status != 200:
        raise MetadataError(f"GET brokers on {bootstrap}: {status} {body}", status)
    out = {}
    scheme = urlsplit(bootstrap).scheme or "http"
    for b in body["data"]:
        if b.get("fenced") and not include_fenced:
            continue
        out[int(b["broker_id"])] = f"{scheme}://{b['host']}:{b['port']}"  # TLS on every node or none
    if not out:
        raise MetadataError(f"no unfenced broker listed by {bootstrap}")
    return dict(sorted(out.items()))


async def partition_leaders(session: aiohttp.ClientSession, bootstrap: str, topic: str,
                            cid: str | None = None) -> dict[int, int]:
    """partition -> leader_id (-1 when offline), from GET .../topics/{t}/partitions."""
    cid = cid or await cluster_id(session, bootstrap)
    status, body = await get_json(session, f"{_strip(bootstrap)}/v3/clusters/{cid}/topics/{topic}/partitions")
    if status != 200:
        raise MetadataError(f"GET partitions of {topic!r} on {bootstrap}: {status} {body}", status)
    return {int(p["partition_id"]): int(p.get("leader_id", -1) if p.get("leader_id") is not None else -1)
            for p in body["data"]}


async def end_offset(session: aiohttp.ClientSession, url: str, topic: str, partition: int) -> tuple[int, int]:
    """(beginning_offset, end_offset) of a partition, asked of `url` (forwarded if needed)."""
    status, body = await get_json(session, f"{_strip(url)}/topics/{topic}/partitions/{partition}/offsets")
    if status != 200:
        raise MetadataError(f"GET offsets of {topic}-{partition} on {url}: {status} {body}", status)
    return int(body["beginning_offset"]), int(body["end_offset"])


async def with_retries(factory, attempts: int = 20, delay_s: float = 0.25):
    """Call `factory()` (a coroutine factory) until it succeeds, bounded in attempts."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return await factory()
        except MetadataError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                raise  # the caller's mistake (e.g. no such topic): retrying will not help
            last = exc
        except (TimeoutError, aiohttp.ClientError, KeyError) as exc:
            last = exc
        await asyncio.sleep(delay_s)
    raise MetadataError(f"gave up after {attempts} attempts: {type(last).__name__}: {last}")
