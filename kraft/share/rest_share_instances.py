"""REST share consumer instances (kraft's HTTP door to share groups): each is a share
group member kept by the group's coordinator node on a script's behalf. Pure: the
clock is passed in.

An instance is made empty, subscribes to topics (it then joins the group), polls records
and acknowledges them one by one. It is the member's client: its requests are its
heartbeats, and a member whose session ran out joins again under the same member id
(its acquired records stay its own, so its acknowledgements still count). An instance
not heard from for its timeout is deleted; what it held comes back when the locks run
out.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

FORMATS = ("binary", "json")
MAX_INSTANCES = 10_000  # a node's REST share instances, over every group


@dataclass
class RestShareInstance:
    group_id: str
    name: str
    format: str
    timeout_ms: int
    last_seen_ms: int
    member_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    reset: str | None = None  # where a partition the group never read starts (else the group's config)
    topics: tuple[str, ...] = ()
    member_epoch: int = 0  # 0: not (or no longer) in the group
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request of an instance at a time


class InstanceRefused(Exception):
    pass


class RestShareInstances:
    def __init__(self) -> None:
        self.instances: dict[tuple[str, str], RestShareInstance] = {}

    def create(self, group_id: str, name: str, fmt: str, timeout_ms: int, now_ms: int,
               reset: str | None = None) -> RestShareInstance:
        self.expire(now_ms)
        if (group_id, name) in self.instances:
            raise InstanceRefused(f"share consumer instance {name!r} already exists in group {group_id!r}")
        if len(self.instances) >= MAX_INSTANCES:
            raise InstanceRefused(f"this node holds {len(self.instances)} share consumer instances, its limit")
        instance = self.instances[(group_id, name)] = RestShareInstance(group_id, name, fmt, timeout_ms, now_ms,
                                                                        reset=reset)
        return instance

    def get(self, group_id: str, name: str, now_ms: int) -> RestShareInstance | None:
        self.expire(now_ms)
        return self.instances.get((group_id, name))

    def delete(self, group_id: str, name: str) -> RestShareInstance | None:
        return self.instances.pop((group_id, name), None)

    def expire(self, now_ms: int) -> list[RestShareInstance]:
        gone = [i for i in self.instances.values() if now_ms - i.last_seen_ms > i.timeout_ms and not i.lock.locked()]
        for instance in gone:
            del self.instances[(instance.group_id, instance.name)]
        return gone
