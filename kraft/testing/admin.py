"""A small admin client for tests, over the cluster's own REST API (v3).

Answers are read from every running node and the freshest kept (kraft/scenario/targets),
so a test sees the state the cluster has reached, not one node's older view.
"""

from __future__ import annotations

import time
import uuid

from kraft.scenario import targets
from kraft.server.local_cluster import LocalCluster, http_json

REQUEST_TIMEOUT_S = 10.0
# Reads retry what the cluster calls retriable, as Kafka's AdminClient retries
# COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR and the like: 50003 (a coordinator or a
# leader moving, API.md), 50301 (no active controller yet), and a node that went down
# between being chosen and answering; for up to Kafka's default.api.timeout.ms.
RETRIABLE_CODES = frozenset({50003, 50301})
API_TIMEOUT_S = 60.0
RETRY_BACKOFF_S = 0.1  # Kafka's retry.backoff.ms


class AdminError(RuntimeError):
    """The cluster refused an admin request; the message carries its error code and text,
    `code` the code alone (API.md's, e.g. 404 or 40403; None when no node answered)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class Admin:
    def __init__(self, cluster: LocalCluster):
        self._cluster = cluster

    def _running_node(self) -> int:
        for node_id in sorted(self._cluster.hosts):  # a paused node would only time out
            if self._cluster.running(node_id) and not self._cluster.paused(node_id):
                return node_id
        raise AdminError("no node is running unpaused")

    def _call(self, method: str, path: str, body=None):
        """The answer; a GET is retried while the cluster answers it retriably (the
        other methods are not: one whose outcome is unknown must not run twice)."""
        deadline = time.monotonic() + API_TIMEOUT_S
        while True:
            try:
                return self._call_once(method, path, body)
            except AdminError as refused:
                if method != "GET" or refused.code not in RETRIABLE_CODES or time.monotonic() >= deadline:
                    raise
            except OSError:  # the node chosen went down: another answers
                if method != "GET" or time.monotonic() >= deadline:
                    raise
            time.sleep(RETRY_BACKOFF_S)

    def _call_once(self, method: str, path: str, body=None):
        c = self._cluster
        status, answer = http_json(method, c.v3(self._running_node()) + path, body, headers=c.headers,
                                   timeout=REQUEST_TIMEOUT_S, context=c.tls)
        if status >= 300:
            detail = answer.get("message") if isinstance(answer, dict) else answer
            code = answer.get("error_code") if isinstance(answer, dict) else status
            raise AdminError(f"{method} {path} failed ({code}): {detail}", code)
        return answer

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int | None = None,
                     configs: dict[str, str] | None = None) -> str:
        """Create the topic and return once every partition has a leader."""
        body: dict = {"topic_name": name, "partitions_count": partitions}
        if replication_factor is not None:
            body["replication_factor"] = replication_factor
        if configs:
            body["configs"] = [{"name": k, "value": str(v)} for k, v in configs.items()]
        self._call("POST", "/topics", body)
        for p in range(partitions):
            self._cluster.wait_until(lambda p=p: self.partition(name, p).get("leader_id") is not None,
                                     timeout_s=60.0, what=f"a leader for {name}-{p}")
        return name

    def new_topic(self, partitions: int = 1, replication_factor: int | None = None,
                  configs: dict[str, str] | None = None, prefix: str = "test") -> str:
        """A topic with a name no other test uses, so tests sharing a cluster stay apart.
        replication_factor: default, every node up to 3 (Kafka's usual 3, as far as it goes)."""
        if replication_factor is None:
            # one replica per host ([[hosts]] entries run several nodes on one)
            host_of = getattr(self._cluster, "host_of", {})
            replication_factor = min(3, len({host_of.get(n, n) for n in self._cluster.hosts}))
        return self.create_topic(f"{prefix}-{uuid.uuid4().hex[:12]}", partitions, replication_factor, configs)

    def delete_topic(self, name: str) -> None:
        self._call("DELETE", f"/topics/{name}")

    def topics(self) -> list[str]:
        return sorted(t["topic_name"] for t in self._call("GET", "/topics")["data"])

    def partition(self, topic: str, partition: int) -> dict:
        """The partition's freshest view: leader_id, leader_epoch, replicas, isr, ..."""
        try:
            return targets.partition_view(self._cluster, topic, partition)
        except targets.TargetUnavailable as exc:
            raise AdminError(str(exc)) from None

    def leader(self, topic: str, partition: int) -> int | None:
        return self.partition(topic, partition).get("leader_id")

    def isr(self, topic: str, partition: int) -> list[int]:
        return sorted(self.partition(topic, partition).get("isr", []))

    def brokers(self) -> dict[int, dict]:
        """Registered brokers by id, as the running nodes list them (fenced or not)."""
        return {b["broker_id"]: b for b in self._call("GET", "/brokers")["data"]}

    def active_controller(self) -> int:
        return targets.active_controller(self._cluster)

    def group_coordinator(self, group: str) -> int:
        return targets.coordinator(self._cluster, "group-coordinator", group)

    def txn_coordinator(self, transactional_id: str) -> int:
        return targets.coordinator(self._cluster, "txn-coordinator", transactional_id)

    def group(self, group: str) -> dict:
        return self._call("GET", f"/consumer-groups/{group}")

    def group_members(self, group: str) -> list[dict]:
        return self._call("GET", f"/consumer-groups/{group}/consumers")["data"]
