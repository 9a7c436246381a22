"""Committed records and offsets of any partition, read from its leader wherever it is.

The consumer instances of this node read through here: locally when this node leads
the partition, otherwise from the leader's internal read endpoint (raw batches, so no
JSON round trip). Errors arrive as the same KraftErrors a local read raises.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from kraft.api.internal_routes import FORWARDED_HEADER, SECRET_HEADER
from kraft.broker.data_plane import OffsetOutOfRange
from kraft.errors import Retriable, error_from_json


class PartitionReader:
    def __init__(self, node, session: aiohttp.ClientSession):
        self._node = node
        self._session = session

    async def read(self, topic: str, partition: int, offset: int, max_bytes: int, timeout_ms: int) -> bytes:
        plane = self._node.data_plane
        leader = plane.leader_of(topic, partition)
        if leader == self._node.node_id:
            return await plane.read(topic, partition, offset, max_bytes, timeout_ms)
        params = {"topic": topic, "partition": str(partition), "offset": str(offset),
                  "max_bytes": str(max_bytes), "timeout_ms": str(timeout_ms)}
        status, body = await self._get(leader, "/internal/v1/read", params, timeout_ms / 1000 + 5)
        if status != 200:
            error = _error(status, body)
            if error.error_code == OffsetOutOfRange.error_code:  # 40402 is shared with "no such
                raise OffsetOutOfRange(error.message)  # partition", which leader_of ruled out
            raise error
        return body

    async def offsets(self, topic: str, partition: int) -> tuple[int, int]:
        """(log start offset, high watermark) as the leader sees them."""
        plane = self._node.data_plane
        leader = plane.leader_of(topic, partition)
        if leader == self._node.node_id:
            return plane.offsets(topic, partition)
        path = f"/topics/{topic}/partitions/{partition}/offsets"
        status, body = await self._get(leader, path, {}, 5.0)
        if status != 200:
            raise _error(status, body)
        answer = orjson.loads(body)
        return answer["beginning_offset"], answer["end_offset"]

    async def _get(self, node_id: int, path: str, params: dict, timeout_s: float) -> tuple[int, bytes]:
        headers = {SECRET_HEADER: self._node.internal_secret, FORWARDED_HEADER: "1"}
        try:
            async with self._session.get(self._node.node_url(node_id) + path, params=params, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Retriable(f"NOT_LEADER: leader node {node_id} unreachable ({type(exc).__name__}); retry") from None


def _error(status: int, body: bytes):
    try:
        return error_from_json(status, orjson.loads(body))
    except orjson.JSONDecodeError:
        return Retriable(f"leader answered HTTP {status}: {body[:200]!r}")
