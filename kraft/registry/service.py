"""The registry as a node serves it: reads answer from the state this node follows, once it
has caught up with what `_schemas`'s leader had committed; writes go to the writer on the
leader of `_schemas` partition 0, here or on another node (forwarded, signed as every
node-to-node call), and are answered once this node's state holds them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from kraft.broker.access import AccessControl, Identity
from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, LeaderNotAvailable, TopicAlreadyExists
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.registry.access_table import check_write
from kraft.registry.follower import SchemaLogFollower
from kraft.registry.schemas_topic import PARTITION, TOPIC, create_request
from kraft.registry.writer import SchemaWriter
from kraft.schemas.formats import SchemaFormat
from kraft.schemas.registry_errors import FORWARDING_ERROR, OPERATION_TIMEOUT, STORE_ERROR, RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import WriteRequest, to_json
from kraft.schemas.registry_state import RegistryState

log = logging.getLogger(__name__)

WRITE_PATH = "/internal/v1/schemas/write"
WRITE_TIMEOUT_S = 30.0  # leader elections and the topic's creation fit well inside
RETRY_S = 0.1
LOAD_WAIT_S = 15.0
READ_CATCH_UP_S = 2.0  # then the read answers from what this node has
RETRY_REASON = "retry"  # a forwarded write's answer when the node asked does not lead (any more)


class SchemaRegistry:
    def __init__(self, services: BrokerServices, formats: Mapping[str, SchemaFormat], peers: Peers) -> None:
        self._services = services
        self.parser = Parser(formats)
        self.follower = SchemaLogFollower(self._read, self._high_watermark,
                                          lambda: services.image.topic(TOPIC) is not None, services.is_ready)
        self.writer = SchemaWriter(self.follower, self.parser, services.data_plane)
        self.peers = peers
        self._creating: asyncio.Task[None] | None = None

    @property
    def access(self) -> AccessControl:
        return self._services.access

    @property
    def cluster_id(self) -> str:
        return self._services.cluster_id

    async def _read(self, topic: str, partition: int, offset: int, max_bytes: int, timeout_ms: int) -> bytes:
        data, _ = await self._services.partition_reader.read(topic, partition, offset, max_bytes, timeout_ms)
        return data

    async def _high_watermark(self, topic: str, partition: int) -> int:
        return await self._services.partition_reader.high_watermark(topic, partition)

    async def run(self) -> None:
        await self.follower.run()

    async def loaded_state(self) -> RegistryState:
        """The state, once this node has read `_schemas` as far as it went at start (reads
        wait for it, as Confluent's registry answers only once it has read its topic)."""
        if not self.follower.loaded.is_set():
            try:
                async with asyncio.timeout(LOAD_WAIT_S):
                    await self.follower.loaded.wait()
            except TimeoutError:
                raise RegistryError(OPERATION_TIMEOUT, "the registry is still reading its log; retry") from None
        return self.follower.state

    async def current_state(self) -> RegistryState:
        """The loaded state, once it holds what `_schemas`'s leader had committed when asked
        (at most READ_CATCH_UP_S): a read through any node sees a write another node has
        acknowledged before it (Confluent's followers may answer from behind)."""
        await self.loaded_state()
        await self.follower.catch_up(READ_CATCH_UP_S)
        return self.follower.state

    # -- writes ---------------------------------------------------------------------------
    async def write(self, request: WriteRequest, who: Identity | None = None) -> Any:
        """who: the client asking (its ACL is asked where the write is decided, once); None:
        this node itself."""
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        last_problem: Exception = LeaderNotAvailable("no leader of _schemas yet")
        while time.monotonic() < deadline:
            try:
                outcome = await self._write_once(request, who)
            except RegistryError:
                raise
            except PeerUnreachable as exc:
                outcome, last_problem = None, exc
            except KraftError as exc:
                if not exc.retriable:  # the cluster refused the write itself: no retry will change that
                    raise RegistryError(STORE_ERROR, f"Error while writing to the registry's log: {exc}") from None
                outcome, last_problem = None, exc  # not leader, leader moving, being created: wait and retry
            if outcome is not None:
                answer, offset = outcome
                if not await self.follower.wait_applied(offset, max(0.1, deadline - time.monotonic())):
                    raise RegistryError(OPERATION_TIMEOUT, "the write was made but this node has not read it "
                                        "back yet; retry the read")
                return answer
            await asyncio.sleep(RETRY_S)
        code = FORWARDING_ERROR if isinstance(last_problem, PeerUnreachable) else OPERATION_TIMEOUT
        raise RegistryError(code, f"the registry's writer could not be reached in {WRITE_TIMEOUT_S:.0f}s: "
                            f"{last_problem}")

    async def _write_once(self, request: WriteRequest, who: Identity | None) -> tuple[Any, int] | None:
        topic = self._services.image.topic(TOPIC)
        if topic is None:
            await self._create_topic()
            return None
        leader = topic.partitions[PARTITION].leader
        if leader < 0:
            return None
        if leader == self._services.node_id:
            return await self._decide_here(request, who)
        return await self._forward(leader, request, who)

    async def _decide_here(self, request: WriteRequest, who: Identity | None) -> tuple[Any, int]:
        check_write(self.access, request, who)  # the one check, where the write is decided
        return await self.writer.write(request)

    async def _forward(self, node_id: int, request: WriteRequest, who: Identity | None) -> tuple[Any, int]:
        answer = await self.peers.request(node_id, "POST", WRITE_PATH, timeout_s=WRITE_TIMEOUT_S,
                                          data=_json_bytes(to_json(request)),
                                          headers={"Content-Type": "application/json"},
                                          on_behalf=None if who is None else (who.principal, who.host))
        body = _json_or_none(answer.body)
        if answer.status == 200 and isinstance(body, dict) and "answer" in body:
            return body["answer"], int(body["offset"])
        if answer.status == 200:  # the node asked does not lead (any more): find the leader again
            raise LeaderNotAvailable(f"node {node_id}: {body.get(RETRY_REASON) if isinstance(body, dict) else body}")
        if isinstance(body, dict) and isinstance(body.get("error_code"), int):
            raise RegistryError(body["error_code"], str(body.get("message", "")))
        raise RegistryError(FORWARDING_ERROR, f"node {node_id} answered the forwarded write with HTTP "
                            f"{answer.status}")

    async def write_here(self, request: WriteRequest, who: Identity | None) -> dict[str, Any]:
        """A write another node forwarded for `who` (None: for itself): done here when this
        node leads, else `retry`."""
        try:
            answer, offset = await self._decide_here(request, who)
        except RegistryError:
            raise
        except KraftError as exc:
            return {RETRY_REASON: str(exc)}
        return {"answer": answer, "offset": offset}

    async def _create_topic(self) -> None:
        """One creation at a time on this node; another node's at the same time is fine."""
        if self._creating is None or self._creating.done():
            self._creating = asyncio.create_task(self._create(), name="create-_schemas")
        try:
            await asyncio.shield(self._creating)
        except TopicAlreadyExists:
            pass

    async def _create(self) -> None:
        # capped at the live hosts: a host holds one replica of a partition at most
        result = await self._services.node.controller_call_raw("create_topic",
                                                               create_request(self._services.image.live_hosts()))
        await self._services.wait_metadata(result.get("metadata_offset", 0), 5.0, raise_on_timeout=False)


def _json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _json_or_none(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
