"""The failure lab with security on: the workload runs as a user holding only the ACLs
it needs, and an intruder keeps trying, on every node, through every fault, to do what
it may not (write, read, grant itself an ACL, delete the topic, with no or wrong
credentials). The `access` checker fails on any intruder request that was served and
on any intruder value found in a log."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import orjson

from kraft.client.admin_client import basic_auth_header
from kraft.scenario.history import History
from kraft.server.local_cluster import security_toml

V2 = "application/vnd.kafka.json.v2+json"
PROBE_INTERVAL_S = 0.3
INTRUDER_PREFIX = "intruder-"


def basic(user: str, password: str) -> dict:
    return {"Authorization": basic_auth_header(user, password)}


LAB_PASSWORD = "lab-password-1"
LAB = basic("lab", LAB_PASSWORD)  # a super user: the runner's own calls
WRITER = basic("writer", "writer-password-1")  # the workload: ACLs on the scenario topic only
INTRUDER = basic("intruder", "intruder-password-1")  # no ACL at all

CLUSTER_TOML = security_toml({"lab": LAB_PASSWORD, "writer": "writer-password-1",
                              "intruder": "intruder-password-1"}, super_users=["lab"])


def writer_acls(topic: str) -> list[dict]:
    """What the workload needs: write and read its topic, describe the cluster (the
    sampler reads the quorum)."""
    return [{"resource_type": rtype, "resource_name": name, "pattern_type": "LITERAL",
             "principal": "User:writer", "host": "*", "operation": op, "permission": "ALLOW"}
            for rtype, name, op in (("TOPIC", topic, "WRITE"), ("TOPIC", topic, "READ"),
                                    ("CLUSTER", "kafka-cluster", "DESCRIBE"))]


class IntruderProbes:
    """Owned by the runner's task group; stops when `stop` is set."""

    def __init__(self, h: History, urls: dict[int, str], cluster_id: str, running, now_ms, seed: int):
        self.h, self.urls, self.cluster_id = h, urls, cluster_id
        self.running, self.now_ms = running, now_ms
        self.rng = random.Random(seed)
        self.count = 0

    def _attempts(self, url: str):
        topic, v3 = self.h.topic, f"{url}/v3/clusters/{self.cluster_id}"
        value = f"{INTRUDER_PREFIX}{self.count}"
        produce = ("POST", f"{url}/topics/{topic}", orjson.dumps({"records": [{"value": value}]}), V2)
        acl = {"resource_type": "TOPIC", "resource_name": topic, "pattern_type": "LITERAL",
               "principal": "User:intruder", "host": "*", "operation": "ALL", "permission": "ALLOW"}
        return {
            "produce as intruder": (INTRUDER, *produce),
            "produce without credentials": ({}, *produce),
            "produce with a wrong password": (basic("writer", "guess-password"), *produce),
            "read as intruder": (INTRUDER, "GET", f"{url}/topics/{topic}/partitions/0/records?offset=0&timeout=0",
                                 None, None),
            "grant itself an ACL": (INTRUDER, "POST", f"{v3}/acls", orjson.dumps(acl), "application/json"),
            "delete the topic": (INTRUDER, "DELETE", f"{v3}/topics/{topic}", None, None),
            "make itself a user": (INTRUDER, "POST", f"{url}/v1/security/users",
                                   orjson.dumps({"username": "intruder2", "password": "x-password"}),
                                   "application/json"),
        }

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                nodes = [n for n in self.urls if self.running(n)]
                if nodes:
                    await self._probe(session, self.urls[self.rng.choice(nodes)])
                try:
                    await asyncio.wait_for(stop.wait(), PROBE_INTERVAL_S)
                except TimeoutError:
                    pass

    async def _probe(self, session: aiohttp.ClientSession, url: str) -> None:
        self.count += 1
        what, (headers, method, target, body, ctype) = self.rng.choice(list(self._attempts(url).items()))
        headers = {**headers, **({"Content-Type": ctype} if ctype else {}), "Accept": V2 if "records" in target
                   else "application/json"}
        started = self.now_ms()
        try:
            async with session.request(method, target, data=body, headers=headers) as resp:
                status = resp.status
                if what == "read as intruder" and status == 200:
                    await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = 0  # the node is down, paused or cut off: nothing was served
        self.h.access_probes.append((started, what, url, status))

